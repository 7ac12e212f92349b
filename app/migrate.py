"""Runs the Alembic migrations from code (``cenomed init``, ``cenomed restore``, the tests).

A data migration may need the keyring (0008 re-seals names and re-computes the blind index):
it asks for it through ``keys``, a loader called only when there is data to open, so an
empty database (a fresh install) migrates without any key. Without a loader, the migration
loads the keyring the settings name (``CENOMED_KEYRING``, ``CENOMED_KEYRING_FILE`` or the data
dir's), as the service would; that is also what ``alembic upgrade`` run by hand does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from app.config import get_settings
from app.crypto.keyring import KeyProvider, configured_provider

_PACKAGE = Path(__file__).resolve().parent

# Where a data migration finds its key loader, and how many cases it reads at a time (for
# the tests, which page through a few cases), in the Alembic configuration's attributes.
KEYS = "cenomed.keys"
BATCH = "cenomed.batch"
KeyLoader = Callable[[], KeyProvider]


def migrations_dir() -> Path:
    """The repository's ``migrations/`` in a checkout, the packaged copy in an installed wheel."""
    for candidate in (_PACKAGE.parent / "migrations", _PACKAGE / "_migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError("The migrations are missing from this installation.")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def configured_keys() -> KeyProvider:
    """The keyring the process's settings name (what a migration uses when given none)."""
    return configured_provider(get_settings())


def upgrade(
    url: str, revision: str = "head", *, keys: KeyLoader | None = None, batch: int | None = None
) -> None:
    config = alembic_config(url)
    config.attributes[KEYS] = keys or configured_keys
    if batch is not None:
        config.attributes[BATCH] = batch
    command.upgrade(config, revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def head_revisions(url: str) -> frozenset[str]:
    """The revisions the code expects the database to be at (read from the scripts)."""
    return frozenset(ScriptDirectory.from_config(alembic_config(url)).get_heads())
