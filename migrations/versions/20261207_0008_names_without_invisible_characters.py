"""Names without invisible characters: every case's names re-sealed and re-indexed.

Until 0008, names, addresses and schools were stored as typed, zero-width characters and
bidirectional overrides included, and the blind index turned those characters into word
separators: "ZYX<zero-width space>WAVEL" did not match "ZYXWAVEL". The application now
stores one-line texts without them (``app.text.normalise_line``) and indexes names without
them (``app.crypto.blind_index``). This data migration brings the cases stored before to the
same state:

* the minor's last and first names, address and school, and the guardians' names, are
  re-sealed normalised when normalising changes them (same data key, new nonce). A value that
  would be left empty, or a name left without a letter, is kept as it was: a migration does
  not destroy what was entered, and the index leaves such a name out anyway;
* the blind-index digest of each case is computed again from its names and birth date.

It opens the cases, so it needs the keyring: the loader ``app.migrate.upgrade`` was given
(``cenomed init`` and ``cenomed restore`` give the deployment's), else the keyring the
settings name. A database without data keys (a fresh install, the tests' template, a
database whose cases were all purged) migrates without it. One with cases and no readable
keyring, or a keyring that unwraps none of their data keys (the wrong one), stops the
migration with a message that says so, changing nothing. A case whose data key or name
ciphertext alone fails to open is an integrity incident the service already reports on
every read: it is left as it was, and its id logged. Purged cases have no data key and no
digest: there is nothing to do for them.

Cases are read in batches of BATCH (500), in the order of their ids, so that memory stays flat;
the whole migration is one transaction (Alembic's), so a failure leaves the revision and
every case as they were, and running it again is harmless: normalised values stay as they
are, and a digest is only written when it differs.

The table shapes, the ciphertexts' places (table, column, row id) and the key-unwrapping
context (the case id's bytes) are written here as they are at this revision, so that a later
change of the models does not change what this migration does. The normalisation and the
digest are the application's: a later change of them brings its own re-indexing migration.

Downgrade does nothing, on purpose. Removed characters cannot be put back (that is the point
of removing them), and they need not be: the re-sealed names hold no invisible character, so
the previous code's normalisation gives them the digests written here; the previous code
reads and indexes these cases as it would cases it had stored itself.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from app import migrate
from app.crypto.blind_index import identity_digest
from app.crypto.envelope import FieldCipher, FieldIntegrityError
from app.crypto.keyring import KeyProvider, KeyUnavailable, WrapIntegrityError
from app.text import has_letter, normalise_line

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500
log = logging.getLogger("cenomed.migrations.0008")

PERSONAL = "case_personal"
GUARDIAN = "guardian"

case_key = sa.table(
    "case_key",
    sa.column("case_id", sa.Uuid()),
    sa.column("key_version", sa.Integer()),
    sa.column("kek_id", sa.String()),
    sa.column("wrapped_key", sa.LargeBinary()),
)
case_personal = sa.table(
    PERSONAL,
    sa.column("case_id", sa.Uuid()),
    sa.column("last_name_enc", sa.LargeBinary()),
    sa.column("first_name_enc", sa.LargeBinary()),
    sa.column("birth_date_enc", sa.LargeBinary()),
    sa.column("address_enc", sa.LargeBinary()),
    sa.column("school_enc", sa.LargeBinary()),
)
guardian = sa.table(
    GUARDIAN,
    sa.column("id", sa.Uuid()),
    sa.column("case_id", sa.Uuid()),
    sa.column("name_enc", sa.LargeBinary()),
)
identity_index = sa.table(
    "identity_index",
    sa.column("case_id", sa.Uuid()),
    sa.column("digest", sa.LargeBinary()),
)

# The one-line columns of case_personal, and whether each holds a person's name.
LINES = (
    ("last_name_enc", True),
    ("first_name_enc", True),
    ("address_enc", False),
    ("school_enc", False),
)


class Unreadable(Exception):
    """A case's data key or one of its name ciphertexts does not open."""


@dataclass
class Report:
    cases: int = 0
    resealed: int = 0
    reindexed: int = 0
    kept: int = 0
    unreadable: list[uuid.UUID] = field(default_factory=list)


def upgrade() -> None:
    bind = op.get_bind()
    with_keys = bind.scalar(sa.select(sa.func.count()).select_from(case_key)) or 0
    if not with_keys:
        return
    provider = _provider(with_keys)
    index_key = provider.index_key()
    batch: int = context.config.attributes.get(migrate.BATCH, BATCH)
    report = Report()
    after: uuid.UUID | None = None
    while True:
        rows = _batch(bind, after, batch)
        if not rows:
            break
        names = _guardians(bind, [row.case_id for row in rows])
        for row in rows:
            try:
                _renew(bind, provider, index_key, row, names.get(row.case_id, []), report)
            except Unreadable:
                report.unreadable.append(row.case_id)
        after = rows[-1].case_id
    if report.unreadable and report.cases == 0:
        raise RuntimeError(
            f"migration 0008 re-indexes names, but the keyring opens none of the "
            f"{len(report.unreadable)} cases' data keys: it is not this database's keyring; "
            "run the migration with the deployment's (CENOMED_DATA_DIR, CENOMED_KEYRING or "
            "CENOMED_KEYRING_FILE as the service has them); nothing was changed"
        )
    if report.unreadable:
        log.warning(
            "%d cases could not be opened and keep their previous names and index: %s",
            len(report.unreadable),
            ", ".join(str(case_id) for case_id in report.unreadable),
        )
    log.info(
        "%d cases re-indexed: %d digests changed, %d values re-sealed, %d kept as entered",
        report.cases,
        report.reindexed,
        report.resealed,
        report.kept,
    )


def downgrade() -> None:
    """Nothing to undo (see the module's docstring): the previous code reads these cases."""


def _provider(cases: int) -> KeyProvider:
    load: migrate.KeyLoader = context.config.attributes.get(migrate.KEYS) or (
        migrate.configured_keys
    )
    try:
        provider = load()
        provider.index_key()
    except (OSError, ValueError, RuntimeError, KeyUnavailable) as error:
        # The reason, without the provider's advice to run 'cenomed init': that would make a
        # new keyring, which opens none of these cases.
        reason = str(error).split(": run ", 1)[0] or type(error).__name__
        raise RuntimeError(
            f"migration 0008 re-indexes the names of {cases} cases and needs the keyring, "
            f"which cannot be read ({reason}); run it where the service's keys are "
            "(CENOMED_DATA_DIR, CENOMED_KEYRING or CENOMED_KEYRING_FILE as the service has "
            "them); nothing was changed"
        ) from None
    return provider


def _batch(bind: sa.Connection, after: uuid.UUID | None, batch: int) -> Sequence[Any]:
    """The next cases holding a data key, with their identity and current digest."""
    query = (
        sa.select(
            case_key.c.case_id,
            case_key.c.key_version,
            case_key.c.kek_id,
            case_key.c.wrapped_key,
            case_personal.c.last_name_enc,
            case_personal.c.first_name_enc,
            case_personal.c.birth_date_enc,
            case_personal.c.address_enc,
            case_personal.c.school_enc,
            identity_index.c.digest,
        )
        .join(case_personal, case_personal.c.case_id == case_key.c.case_id)
        .outerjoin(identity_index, identity_index.c.case_id == case_key.c.case_id)
        .order_by(case_key.c.case_id)
        .limit(batch)
    )
    if after is not None:
        query = query.where(case_key.c.case_id > after)
    return bind.execute(query).all()


def _guardians(bind: sa.Connection, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    rows = bind.execute(
        sa.select(guardian.c.id, guardian.c.case_id, guardian.c.name_enc).where(
            guardian.c.case_id.in_(case_ids)
        )
    )
    found: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        found.setdefault(row.case_id, []).append(row)
    return found


def _open(cipher: FieldCipher, table: str, column: str, row: uuid.UUID, blob: bytes) -> str:
    try:
        return cipher.open_text(table, column, str(row), blob)
    except FieldIntegrityError:
        raise Unreadable from None


def _normalised(value: str, *, name: bool) -> str | None:
    """The value as the application now stores it, or None to keep it as it is."""
    line = normalise_line(value)
    if line == value or not line or (name and not has_letter(line)):
        return None
    return line


def _renew(
    bind: sa.Connection,
    provider: KeyProvider,
    index_key: bytes,
    row: Any,
    guardians: list[Any],
    report: Report,
) -> None:
    case_id: uuid.UUID = row.case_id
    try:
        data_key = provider.unwrap(row.kek_id, row.wrapped_key, context=case_id.bytes)
    except (KeyUnavailable, WrapIntegrityError):
        raise Unreadable from None
    cipher = FieldCipher(data_key, row.key_version)
    current: dict[str, str] = {}
    changes: dict[str, bytes] = {}
    for column, name in LINES:
        blob = getattr(row, column)
        if blob is None:
            continue
        value = _open(cipher, PERSONAL, column, case_id, blob)
        renewed = _normalised(value, name=name)
        if renewed is None:
            report.kept += normalise_line(value) != value
            current[column] = value
        else:
            current[column] = renewed
            changes[column] = cipher.seal_text(PERSONAL, column, str(case_id), renewed)
    born = date.fromisoformat(
        _open(cipher, PERSONAL, "birth_date_enc", case_id, row.birth_date_enc)
    )
    renewed_guardians: list[tuple[uuid.UUID, bytes]] = []
    for held in guardians:
        value = _open(cipher, GUARDIAN, "name_enc", held.id, held.name_enc)
        renewed = _normalised(value, name=True)
        if renewed is None:
            report.kept += normalise_line(value) != value
        else:
            sealed = cipher.seal_text(GUARDIAN, "name_enc", str(held.id), renewed)
            renewed_guardians.append((held.id, sealed))
    # Everything opened: write.
    report.cases += 1
    if changes:
        bind.execute(
            sa.update(case_personal).where(case_personal.c.case_id == case_id).values(**changes)
        )
    for guardian_id, sealed in renewed_guardians:
        bind.execute(
            sa.update(guardian).where(guardian.c.id == guardian_id).values(name_enc=sealed)
        )
    report.resealed += len(changes) + len(renewed_guardians)
    digest = identity_digest(index_key, current["last_name_enc"], current["first_name_enc"], born)
    if digest == row.digest:
        return
    report.reindexed += 1
    if row.digest is not None:
        bind.execute(sa.delete(identity_index).where(identity_index.c.case_id == case_id))
    if digest is not None:
        bind.execute(sa.insert(identity_index).values(case_id=case_id, digest=digest))
