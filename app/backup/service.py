"""``backup`` and ``restore``: every refusal happens before anything is written.

The backup's audit event is committed before the dump, so the backup holds the trace of its
own making and its manifest's head is at or after that event. The restore's event is appended
only once the restored database passed its checks, continuing the restored chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, func, make_url, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.audit import checkpoint, trail
from app.audit.chain import Anchor, verify
from app.audit.trail import Action
from app.backup import BackupRefused, RestoreCheckFailed, postgres, sqlite
from app.backup import keys as key_files
from app.backup.files import check_fresh_directory, make_private_directory, remove_created
from app.backup.manifest import (
    DATABASE_FILES,
    MANIFEST,
    Facts,
    Manifest,
    read_manifest,
    sha256_of,
)
from app.cases.models import Case
from app.config import Settings
from app.crypto.keyring import (
    KeyProvider,
    KeyUnavailable,
    LocalKeyringProvider,
    WrapIntegrityError,
    configured_provider,
    key_provider,
)
from app.crypto.models import CaseKey
from app.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from app.models import Base

# Sessions for an engine, as the CLI makes them (signing the log's checkpoints as they append).
SessionsFor = Callable[[Engine], sessionmaker[Session]]
KEY_BATCH = 500


class _Driver(Protocol):
    """What depends on the database's kind (the modules ``sqlite`` and ``postgres``)."""

    def check_dump(self, url: str) -> None: ...
    def check_load(self, url: str) -> None: ...
    def dump(self, url: str, target: Path) -> Facts: ...
    def table_names(self, url: str) -> set[str]: ...
    def load(self, source: Path, url: str) -> None: ...


_DRIVERS: dict[str, _Driver] = {"sqlite": sqlite, "postgresql": postgres}


def database_kind(url: str) -> str:
    kind = make_url(url).get_backend_name()
    if kind not in DATABASE_FILES:
        raise BackupRefused(f"backup and restore support SQLite and PostgreSQL, not {kind}")
    return kind


def _record(settings: Settings, sessions_for: SessionsFor, action: Action, detail: str) -> None:
    """A high-severity operator event, committed on its own."""
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(sessions_for(engine)) as session:
            trail.record(session, trail.OPERATOR, action, severity=trail.HIGH, detail=detail)
    finally:
        engine.dispose()


# --- backup ------------------------------------------------------------------------------------


@dataclass
class BackupSummary:
    """What ``cenomed backup`` prints: counts, hashes, the revision; no value of any case."""

    backup: str
    database_kind: str
    database_file: str
    bytes: int
    sha256: str
    alembic_revision: str
    audit_head: dict[str, Any]
    cases: int
    keys_copied: list[str] = field(default_factory=list)


@contextmanager
def _keyring_steady(settings: Settings, keys_to: Path | None) -> Iterator[None]:
    """Holds off key rotations while the dump and the keys are taken together, so that the
    copied keyring unwraps every data key of the dump. (Without it, the keys are still copied
    after the dump: a rotation in between keeps the retired key, which still unwraps.)"""
    path = settings.local_keyring_path
    if keys_to is None or settings.keyring or settings.keyring_file or not path.exists():
        yield
        return
    with LocalKeyringProvider(path).rotation_lock():
        yield


def backup(
    settings: Settings, dest: Path, *, keys_to: Path | None, sessions_for: SessionsFor
) -> BackupSummary:
    """Saves the database (never the keys) into ``dest``; the keys into ``keys_to`` if given."""
    url = settings.database_url
    kind = database_kind(url)
    check_fresh_directory(dest, "the backup directory")
    if keys_to is not None:
        key_files.check_export(settings, keys_to, dest)
    _DRIVERS[kind].check_dump(url)
    with _keyring_steady(settings, keys_to):
        # Committed before the dump: the backup holds the trace of its own making.
        _record(settings, sessions_for, Action.BACKUP, "database+keys" if keys_to else "database")
        return _save(settings, kind, dest, keys_to)


def _save(settings: Settings, kind: str, dest: Path, keys_to: Path | None) -> BackupSummary:
    """The dump, its manifest, then the keys; on any failure, what was written is removed."""
    created = make_private_directory(dest)
    database = dest / DATABASE_FILES[kind]
    try:
        facts = _DRIVERS[kind].dump(settings.database_url, database)
        manifest = Manifest.of(
            facts,
            kind=kind,
            created_at=utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
            sha256=sha256_of(database),
        )
        manifest.write(dest)
        # After the dump: a keyring copied before it could miss a key the dump needs.
        copied = key_files.export(settings, keys_to) if keys_to is not None else []
    except BaseException:
        remove_created([database, dest / MANIFEST], dest if created else None)
        raise
    return BackupSummary(
        backup=str(dest.resolve()),
        database_kind=kind,
        database_file=manifest.database_file,
        bytes=database.stat().st_size,
        sha256=manifest.sha256,
        alembic_revision=manifest.alembic_revision,
        audit_head=manifest.audit_head,
        cases=manifest.cases,
        keys_copied=copied,
    )


# --- restore -----------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    """What ``cenomed restore`` prints: what was loaded and what was checked."""

    database_kind: str
    cases: int
    alembic_revision: str
    migrated_from: str | None = None
    audit_events_verified: int = 0
    checkpoints_verified: int = 0
    data_keys_checked: int = 0
    keys_copied: list[str] = field(default_factory=list)


def _cenomed_tables() -> set[str]:
    return set(Base.metadata.tables) | {"alembic_version"}


def _migrations(url: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(migrate.alembic_config(url))


def restore(
    settings: Settings, source: Path, *, keys_from: Path | None, sessions_for: SessionsFor
) -> RestoreReport:
    """Loads the backup in ``source`` into the configured, empty database, then checks it."""
    url = settings.database_url
    manifest = read_manifest(source)
    kind = database_kind(url)
    if manifest.database_kind != kind:
        raise BackupRefused(
            f"the backup is of a {manifest.database_kind} database and the target is {kind}: "
            f"restore it into a {manifest.database_kind} database"
        )
    driver = _DRIVERS[kind]
    database = source / manifest.database_file
    if not database.is_file():
        raise BackupRefused(f"{database} is missing: the backup is incomplete")
    if sha256_of(database) != manifest.sha256:
        raise BackupRefused(
            f"{database.name} does not match the manifest's SHA-256: the backup is damaged or "
            "was altered; nothing was restored"
        )
    try:
        _migrations(url).get_revision(manifest.alembic_revision)
    except CommandError:
        raise BackupRefused(
            f"the backup's schema revision {manifest.alembic_revision} is unknown here: restore "
            "it with the cenomed version that made it, or a later one"
        ) from None
    driver.check_load(url)
    held = driver.table_names(url) & _cenomed_tables()
    if held:
        raise BackupRefused(
            f"the target database already holds {len(held)} cenomed tables: a restore never "
            "overwrites; give a new, empty database"
        )
    plan = key_files.plan_import(settings, keys_from) if keys_from is not None else []
    if not settings.data_dir.exists():
        make_private_directory(settings.data_dir)
    key_files.apply_import(plan)
    driver.load(database, url)
    report = RestoreReport(kind, manifest.cases, manifest.alembic_revision)
    report.keys_copied = sorted(target.name for _, target in plan)
    _check_restored(settings, manifest, report)
    _record(settings, sessions_for, Action.RESTORE, f"backup-head:{manifest.head_seq}")
    return report


def _check_restored(settings: Settings, manifest: Manifest, report: RestoreReport) -> None:
    """Migrates an older backup, then proves the restored database is the one saved and that
    the keys open it; raises RestoreCheckFailed, data left in place, at the first failure."""
    url = settings.database_url

    def failed(what: str) -> RestoreCheckFailed:
        return RestoreCheckFailed(
            f"the database was restored, but {what}; it is left in place for investigation",
            asdict(report),
        )

    head = _migrations(url).get_current_head()
    if head is not None and manifest.alembic_revision != head:
        try:
            migrate.upgrade(url, keys=lambda: configured_provider(settings))
        except (SQLAlchemyError, CommandError) as error:
            raise failed(f"its migration to {head} failed ({type(error).__name__})") from None
        except RuntimeError as error:  # a data migration that cannot open the cases says why
            raise failed(f"its migration to {head} failed: {error}") from None
        report.migrated_from, report.alembic_revision = manifest.alembic_revision, head
    engine = make_engine(url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            unverified = _check_audit(session, settings, manifest, report, failed)
            cases = session.scalar(select(func.count()).select_from(Case)) or 0
            if cases != manifest.cases:
                raise failed(f"it holds {cases} cases where the manifest says {manifest.cases}")
            _check_keys(session, settings, report, failed, unverified)
    finally:
        engine.dispose()


Failed = Callable[[str], RestoreCheckFailed]
_KEYS_HINT = "give this backup's keys with --keys-from"


def _audit_verifier(settings: Settings) -> checkpoint.VerifierKey | None:
    try:
        return checkpoint.load_signer(settings).verifier
    except (RuntimeError, PermissionError, ValueError):
        return None  # the key check says what is wrong with it


def _check_audit(
    session: Session, settings: Settings, manifest: Manifest, report: RestoreReport, failed: Failed
) -> list[str]:
    """The chain verifies and still holds the manifest's head, and each stored checkpoint the
    audit signing key verifies. Returns the stored checkpoints it does not verify: with the
    wrong key or none, that is the key check's failure, not the log's."""
    anchors: list[Anchor] = []
    unverified: list[str] = []
    verifier = _audit_verifier(settings)
    if verifier is not None:
        anchors, unverified = checkpoint.stored_anchors(session, verifier)
    stored = len(anchors)
    if manifest.head_seq:
        anchors.append(Anchor(manifest.head_seq, manifest.head_hash, "the backup's manifest"))
    verdict = verify(session, anchors=anchors)
    if not verdict.valid:
        raise failed(
            f"the audit log fails verification at event {verdict.first_bad_seq}: {verdict.problem}"
        )
    report.audit_events_verified = verdict.events
    report.checkpoints_verified = stored
    return unverified


def _check_keys(
    session: Session,
    settings: Settings,
    report: RestoreReport,
    failed: Failed,
    unverified_checkpoints: list[str],
) -> None:
    """The configured keyring unwraps every data key; the audit signing key is there and
    verifies the stored checkpoints."""
    try:
        provider = key_provider(
            inline=settings.keyring,
            secret_file=settings.keyring_file,
            local_path=settings.local_keyring_path,
        )
    except (FileNotFoundError, PermissionError, ValueError) as error:
        where = settings.keyring_file or settings.local_keyring_path
        problem = (
            f"no keyring at {where}"
            if isinstance(error, FileNotFoundError)
            else f"the keyring at {where} is unusable ({error})"
        )
        raise failed(f"the key check failed: {problem}; {_KEYS_HINT}") from None
    total, unreadable = _unwrap_all(session, provider)
    report.data_keys_checked = total
    if unreadable:
        raise failed(
            f"the key check failed: {unreadable} of {total} data keys cannot be unwrapped with "
            f"the configured keyring; {_KEYS_HINT}"
        )
    path = settings.audit_signing_key_path
    if not path.exists():
        raise failed(f"the key check failed: no audit signing key at {path}; {_KEYS_HINT}")
    try:
        checkpoint.load_signer(settings)
    except (RuntimeError, PermissionError, ValueError) as error:
        raise failed(f"the key check failed: the audit signing key is unusable: {error}") from None
    if unverified_checkpoints:
        raise failed(
            f"the key check failed: the audit signing key at {path} does not verify the stored "
            f"checkpoints ({unverified_checkpoints[0]}); {_KEYS_HINT}"
        )


def _unwrap_all(session: Session, provider: KeyProvider) -> tuple[int, int]:
    """How many data keys there are, and how many the provider cannot unwrap (keys are read
    in keyset batches; none is kept)."""
    total = unreadable = 0
    last = None
    while True:
        query = select(CaseKey.case_id, CaseKey.kek_id, CaseKey.wrapped_key)
        if last is not None:
            query = query.where(CaseKey.case_id > last)
        rows = session.execute(query.order_by(CaseKey.case_id).limit(KEY_BATCH)).all()
        if not rows:
            return total, unreadable
        for case_id, kek_id, wrapped in rows:
            total += 1
            try:
                # The context the vault binds each data key to: its case's id.
                provider.unwrap(kek_id, wrapped, context=case_id.bytes)
            except (KeyUnavailable, WrapIntegrityError):
                unreadable += 1
        last = rows[-1][0]
