"""The web front end (issue 9): server-side sessions and the local sign-in's password hash.

``web_session`` holds the SHA-256 of each browser's session token (never the token), its
CSRF token, its times (for the idle and absolute timeouts) and, while signing in with the
OIDC provider, that attempt's state. ``user_account.password_hash`` is the argon2id hash of
the embedded default's local sign-in, empty for every account until an operator sets it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("user_account", sa.Column("password_hash", sa.String(length=255), nullable=True))
    op.create_table(
        "web_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sign_in", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_web_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_session")),
    )
    op.create_index(op.f("ix_web_session_user_id"), "web_session", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_web_session_user_id"), table_name="web_session")
    op.drop_table("web_session")
    # DROP COLUMN in place (SQLite 3.35+): a batch copy of user_account would cascade-delete
    # the rows that refer to it.
    op.execute("ALTER TABLE user_account DROP COLUMN password_hash")
