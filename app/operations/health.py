"""Readiness: whether this worker can serve the charter's guarantees right now.

Each check answers ``ok`` or a short code, never an exception's text (which could name a
host, a path or a value). A worker that is alive but not ready is taken out of the load
balancer until it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from app.audit import checkpoint
from app.audit.checkpoint import Signer
from app.config import Settings
from app.crypto.keyring import KeyProvider

log = logging.getLogger(__name__)
OK = "ok"


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(result == OK for result in self.checks.values())


def check_readiness(
    *,
    engine: Engine,
    expected_revisions: frozenset[str],
    keys: KeyProvider,
    settings: Settings,
    signer: Signer,
) -> Readiness:
    database, migrations = _database_and_migrations(engine, expected_revisions)
    return Readiness(
        {
            "database": database,
            "migrations": migrations,
            "keys": _keys(keys),
            "audit_signing_key": _signing_key(settings, signer),
        }
    )


def _database_and_migrations(engine: Engine, expected: frozenset[str]) -> tuple[str, str]:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            try:
                found = frozenset(
                    connection.scalars(text("SELECT version_num FROM alembic_version")).all()
                )
            except SQLAlchemyError:
                return OK, "not-initialised"
    except SQLAlchemyError as error:
        log.warning("readiness: database unreachable (%s)", type(error).__name__)
        return "unreachable", "unknown"
    if found == expected:
        return OK, OK
    return OK, "not-at-head"


def _keys(keys: KeyProvider) -> str:
    """The key-encryption keys can be read: without them no case opens and none is sealed."""
    try:
        keys.active_key_id()
        keys.index_key()
    except Exception as error:  # any failure to read the keyring means not ready
        log.warning("readiness: keyring unavailable (%s)", type(error).__name__)
        return "unavailable"
    return OK


def _signing_key(settings: Settings, signer: Signer) -> str:
    """The audit log's signing key is still where it was, and is the one this worker signs
    with: a checkpoint signed by a key the partners do not hold proves nothing."""
    try:
        on_disk = checkpoint.load_signer(settings)
    except Exception as error:  # missing, unreadable, wrong mode or type
        log.warning("readiness: audit signing key unavailable (%s)", type(error).__name__)
        return "unavailable"
    if on_disk.verifier.key_id != signer.verifier.key_id:
        return "changed"
    return OK
