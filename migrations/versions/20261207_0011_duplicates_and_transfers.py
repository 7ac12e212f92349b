"""Duplicates resolved and cases transferred between cells (issue 16, points 5 and 6).

* ``case_file.merged_into_id``: a case closed as the duplicate of another (closure reason
  ``duplicate``) names the case it was merged into.
* ``additional_signalement``: the kept case records the merged signalement's origin and day of
  receipt (counted by origin in the indicators; nothing nominative).
* ``duplicate_dismissal``: pairs the coordinator found to be of two different minors, never
  flagged again.
* ``case_transfer``: transfers proposed to another cell of the same kind, and their answer; at
  most one pending per case (a partial unique index, on SQLite and PostgreSQL alike).

Existing cases need nothing: none was merged or transferred before. Downgrade drops what this
revision added (the merges' links and the transfers' record with it).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place: a batch copy of case_file would cascade-delete the rows that refer to it;
        # SQLite adds a column with an inline REFERENCES clause when its default is NULL.
        op.execute(
            "ALTER TABLE case_file ADD COLUMN merged_into_id CHAR(32) "
            "CONSTRAINT fk_case_file_merged_into_id_case_file REFERENCES case_file (id)"
        )
    else:
        op.add_column("case_file", sa.Column("merged_into_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            "fk_case_file_merged_into_id_case_file",
            "case_file",
            "case_file",
            ["merged_into_id"],
            ["id"],
        )
    op.create_index(
        op.f("ix_case_file_merged_into_id"), "case_file", ["merged_into_id"], unique=False
    )

    op.create_table(
        "additional_signalement",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("merged_case_id", sa.Uuid(), nullable=False),
        sa.Column("origin", sa.String(length=30), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_additional_signalement_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merged_case_id"],
            ["case_file.id"],
            name=op.f("fk_additional_signalement_merged_case_id_case_file"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_additional_signalement")),
        sa.UniqueConstraint(
            "merged_case_id", name=op.f("uq_additional_signalement_merged_case_id")
        ),
    )
    op.create_index(
        op.f("ix_additional_signalement_case_id"),
        "additional_signalement",
        ["case_id"],
        unique=False,
    )

    op.create_table(
        "duplicate_dismissal",
        sa.Column("first_case_id", sa.Uuid(), nullable=False),
        sa.Column("second_case_id", sa.Uuid(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "first_case_id < second_case_id", name=op.f("ck_duplicate_dismissal_pair_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["first_case_id"],
            ["case_file.id"],
            name=op.f("fk_duplicate_dismissal_first_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["second_case_id"],
            ["case_file.id"],
            name=op.f("fk_duplicate_dismissal_second_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["user_account.id"],
            name=op.f("fk_duplicate_dismissal_decided_by_user_account"),
        ),
        sa.PrimaryKeyConstraint(
            "first_case_id", "second_case_id", name=op.f("pk_duplicate_dismissal")
        ),
    )
    op.create_index(
        op.f("ix_duplicate_dismissal_second_case_id"),
        "duplicate_dismissal",
        ["second_case_id"],
        unique=False,
    )

    op.create_table(
        "case_transfer",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("from_cell_id", sa.Integer(), nullable=False),
        sa.Column("to_cell_id", sa.Integer(), nullable=False),
        sa.Column("proposed_by", sa.Integer(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('pending', 'accepted', 'declined')",
            name=op.f("ck_case_transfer_outcome_known"),
        ),
        sa.CheckConstraint(
            "from_cell_id <> to_cell_id", name=op.f("ck_case_transfer_another_cell")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_case_transfer_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["from_cell_id"], ["cell.id"], name=op.f("fk_case_transfer_from_cell_id_cell")
        ),
        sa.ForeignKeyConstraint(
            ["to_cell_id"], ["cell.id"], name=op.f("fk_case_transfer_to_cell_id_cell")
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by"],
            ["user_account.id"],
            name=op.f("fk_case_transfer_proposed_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["user_account.id"],
            name=op.f("fk_case_transfer_decided_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_transfer")),
    )
    for column in ("case_id", "from_cell_id", "to_cell_id"):
        op.create_index(op.f(f"ix_case_transfer_{column}"), "case_transfer", [column], unique=False)
    op.create_index(
        "uq_case_transfer_pending",
        "case_transfer",
        ["case_id"],
        unique=True,
        sqlite_where=sa.text("outcome = 'pending'"),
        postgresql_where=sa.text("outcome = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("uq_case_transfer_pending", table_name="case_transfer")
    for column in ("to_cell_id", "from_cell_id", "case_id"):
        op.drop_index(op.f(f"ix_case_transfer_{column}"), table_name="case_transfer")
    op.drop_table("case_transfer")
    op.drop_index(op.f("ix_duplicate_dismissal_second_case_id"), table_name="duplicate_dismissal")
    op.drop_table("duplicate_dismissal")
    op.drop_index(op.f("ix_additional_signalement_case_id"), table_name="additional_signalement")
    op.drop_table("additional_signalement")
    op.drop_index(op.f("ix_case_file_merged_into_id"), table_name="case_file")
    # DROP COLUMN in place (SQLite 3.35+, once nothing indexes it).
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("fk_case_file_merged_into_id_case_file", "case_file", type_="foreignkey")
    op.execute("ALTER TABLE case_file DROP COLUMN merged_into_id")
