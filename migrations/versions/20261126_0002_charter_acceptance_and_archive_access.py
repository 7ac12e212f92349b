"""Charter acceptance (R1) and motivated archive access (R17).

The archive access reason is free text that may name people: it is stored sealed with the
case's data key (reason_enc), like every nominative value.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "charter_acceptance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_charter_acceptance_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charter_acceptance")),
        sa.UniqueConstraint(
            "user_id", "version", name=op.f("uq_charter_acceptance_user_id_version")
        ),
    )
    op.create_table(
        "archive_access",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_archive_access_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_archive_access_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_access")),
    )
    op.create_index(
        op.f("ix_archive_access_case_id"), "archive_access", ["case_id"], unique=False
    )
    op.create_index(
        "ix_archive_access_user_expiry", "archive_access", ["user_id", "expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_archive_access_user_expiry", table_name="archive_access")
    op.drop_index(op.f("ix_archive_access_case_id"), table_name="archive_access")
    op.drop_table("archive_access")
    op.drop_table("charter_acceptance")
