"""Retention (R18): what the purge needs to know, and what it leaves.

``birth_month_on`` is the first day of the person's birth month, kept in clear until the case
is purged so the 25-year rule can be applied without decrypting anything; ``purged_at`` and
``purge_rule`` say when and under which rule the nominative data was destroyed. Cases
submitted before this migration have no birth month: ``cenomed purge`` fills it in once, from
the encrypted birth date.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_file") as batch:
        batch.add_column(sa.Column("birth_month_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("purge_rule", sa.String(length=60), nullable=True))
        batch.create_index(op.f("ix_case_file_birth_month_on"), ["birth_month_on"], unique=False)


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+): a batch copy of case_file would cascade-delete the
    # rows that refer to it.
    op.drop_index(op.f("ix_case_file_birth_month_on"), table_name="case_file")
    for column in ("purge_rule", "purged_at", "birth_month_on"):
        op.execute(f"ALTER TABLE case_file DROP COLUMN {column}")
