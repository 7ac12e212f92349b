"""Runs the Alembic migrations from code (``cenomed init``, the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

_PACKAGE = Path(__file__).resolve().parent


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


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def head_revisions(url: str) -> frozenset[str]:
    """The revisions the code expects the database to be at (read from the scripts)."""
    return frozenset(ScriptDirectory.from_config(alembic_config(url)).get_heads())
