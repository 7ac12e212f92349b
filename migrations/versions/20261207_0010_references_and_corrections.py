"""Case references and corrections (issue 16).

* ``case_file.reference``: the human reference of every case (``18-2026-0042``; recidivism
  groups ``R18-2026-0007``), unique. Existing cases get theirs here, numbered within their cell
  and year of receipt in the order they were submitted; ``case_reference_counter`` keeps the
  last number given, so the service goes on from there.
* ``case_file.state`` may be ``withdrawn``; ``withdrawal_reason``/``withdrawn_at`` say why and
  when, ``returned_reason``/``returned_at`` that the coordinator sent the signalement back to
  its author.
* Indexes for the lists' two orders (received, changed) within a cell.
* ``case_revision``: the values an amendment replaced, sealed with the case's key;
  ``research_note.amended_at``: its author amended it.

SQLite cannot alter a CHECK constraint or a column's nullability, and a batch copy of
``case_file`` would cascade-delete every row that refers to it: the table's definition is
edited in place in ``sqlite_master`` (every existing row satisfies the new definition: the
states are a superset, and every case has just received its reference).

Downgrade refuses while a withdrawn case exists (the previous code has no such state), then
drops what this revision added.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = (
    "'submitted', 'parquet_review', 'not_retained', 'research', 'cell_review', 'oriented', "
    "'feedback', 'closed', 'purged'"
)
NEW_STATES = OLD_STATES + ", 'withdrawn'"
REFERENCE_NULL = "reference VARCHAR(16)"
REFERENCE_NOT_NULL = "reference VARCHAR(16) NOT NULL"


def _edit_sqlite_definition(replacements: list[tuple[str, str]]) -> None:
    """Rewrites case_file's CREATE TABLE text (see the module's docstring)."""
    bind = op.get_bind()
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'case_file'")
    ).scalar_one()
    for old, new in replacements:
        if old not in sql:
            raise RuntimeError(f"case_file's definition does not hold {old!r}: not edited")
        sql = sql.replace(old, new, 1)
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'case_file'"),
        {"sql": sql},
    )
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def _reference(kind: str, arrondissement: int, year: int, sequence: int) -> str:
    prefix = "R" if kind == "recidivism" else ""
    return f"{prefix}{arrondissement:02d}-{year}-{sequence:04d}"


def _number_existing_cases() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT c.id, c.cell_id, c.received_on, cell.kind, cell.arrondissement "
            "FROM case_file c JOIN cell ON cell.id = c.cell_id "
            "ORDER BY c.cell_id, c.received_on, c.submitted_at, c.id"
        )
    ).all()
    last: dict[tuple[int, int], int] = {}
    updates = []
    for case_id, cell_id, received_on, kind, arrondissement in rows:
        year = (
            received_on.year
            if isinstance(received_on, date)
            else date.fromisoformat(str(received_on)[:10]).year
        )
        sequence = last.get((cell_id, year), 0) + 1
        last[(cell_id, year)] = sequence
        updates.append(
            {"id": case_id, "reference": _reference(kind, arrondissement, year, sequence)}
        )
    if updates:
        bind.execute(
            sa.text("UPDATE case_file SET reference = :reference WHERE id = :id"), updates
        )
    if last:
        bind.execute(
            sa.text(
                "INSERT INTO case_reference_counter (cell_id, year, last) "
                "VALUES (:cell_id, :year, :last)"
            ),
            [
                {"cell_id": cell_id, "year": year, "last": sequence}
                for (cell_id, year), sequence in last.items()
            ],
        )


def upgrade() -> None:
    op.create_table(
        "case_reference_counter",
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["cell.id"], name=op.f("fk_case_reference_counter_cell_id_cell")
        ),
        sa.PrimaryKeyConstraint("cell_id", "year", name=op.f("pk_case_reference_counter")),
    )
    op.create_table(
        "case_revision",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("note_id", sa.Uuid(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("fields", sa.String(length=255), nullable=False),
        sa.Column("previous_enc", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user_account.id"], name=op.f("fk_case_revision_actor_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_case_revision_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["research_note.id"],
            name=op.f("fk_case_revision_note_id_research_note"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_revision")),
    )
    op.create_index(op.f("ix_case_revision_case_id"), "case_revision", ["case_id"], unique=False)

    op.add_column("case_file", sa.Column("reference", sa.String(length=16), nullable=True))
    for column, kind in (
        ("withdrawal_reason", sa.String(length=30)),
        ("withdrawn_at", sa.DateTime(timezone=True)),
        ("returned_reason", sa.String(length=30)),
        ("returned_at", sa.DateTime(timezone=True)),
    ):
        op.add_column("case_file", sa.Column(column, kind, nullable=True))
    op.add_column(
        "research_note", sa.Column("amended_at", sa.DateTime(timezone=True), nullable=True)
    )
    _number_existing_cases()
    op.create_index(op.f("ix_case_file_reference"), "case_file", ["reference"], unique=True)
    op.create_index(
        "ix_case_file_cell_received", "case_file", ["cell_id", "received_on", "id"], unique=False
    )
    op.create_index(
        "ix_case_file_cell_updated", "case_file", ["cell_id", "updated_at", "id"], unique=False
    )

    if op.get_bind().dialect.name == "sqlite":
        _edit_sqlite_definition(
            [
                (f"state IN ({OLD_STATES})", f"state IN ({NEW_STATES})"),
                (REFERENCE_NULL, REFERENCE_NOT_NULL),
            ]
        )
    else:
        op.alter_column("case_file", "reference", nullable=False)
        op.drop_constraint(op.f("ck_case_file_state_known"), "case_file", type_="check")
        op.create_check_constraint(
            op.f("ck_case_file_state_known"), "case_file", f"state IN ({NEW_STATES})"
        )


def downgrade() -> None:
    withdrawn = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM case_file WHERE state = 'withdrawn'"))
        .scalar_one()
    )
    if withdrawn:
        raise RuntimeError(
            f"{withdrawn} withdrawn case(s): the previous schema has no such state. Purge them "
            "(cenomed purge) before downgrading."
        )
    if op.get_bind().dialect.name == "sqlite":
        _edit_sqlite_definition(
            [
                (f"state IN ({NEW_STATES})", f"state IN ({OLD_STATES})"),
                (REFERENCE_NOT_NULL, REFERENCE_NULL),
            ]
        )
    else:
        op.drop_constraint(op.f("ck_case_file_state_known"), "case_file", type_="check")
        op.create_check_constraint(
            op.f("ck_case_file_state_known"), "case_file", f"state IN ({OLD_STATES})"
        )
    op.drop_index("ix_case_file_cell_updated", table_name="case_file")
    op.drop_index("ix_case_file_cell_received", table_name="case_file")
    op.drop_index(op.f("ix_case_file_reference"), table_name="case_file")
    for column in ("returned_at", "returned_reason", "withdrawn_at", "withdrawal_reason"):
        op.execute(f"ALTER TABLE case_file DROP COLUMN {column}")
    op.execute("ALTER TABLE case_file DROP COLUMN reference")
    op.execute("ALTER TABLE research_note DROP COLUMN amended_at")
    op.drop_index(op.f("ix_case_revision_case_id"), table_name="case_revision")
    op.drop_table("case_revision")
    op.drop_table("case_reference_counter")
