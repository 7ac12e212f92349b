"""E-mail notifications (issue 18): an account's address and choice, the outbox.

* ``user_account.email`` (empty: never written to) and ``user_account.notify_mode``
  (``immediate``, ``daily`` or ``none``; every existing account is ``immediate``, which sends
  nothing until an address is set).
* ``notification``: what one account should hear about, written with the step that causes it
  (or, for a feedback overdue, by the sender's round; ``orientation_id`` makes it once).
* ``notification_message`` and ``notification_attempt``: the e-mails the sender made of them
  and each delivery attempt.
* ``meeting_calendar``: the iCalendar SEQUENCE of each meeting's invitation.
* ``notification_sender_lease``: the one active sender on SQLite (PostgreSQL uses an
  advisory lock).

Downgrade drops all of it; notifications not yet sent are lost with it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MODE_KNOWN = "notify_mode IN ('immediate', 'daily', 'none')"
_KINDS = (
    "kind IN ('new_case', 'parquet_referral', 'transmission', 'case_returned', "
    "'transfer_proposed', 'feedback_overdue', 'meeting_scheduled', 'meeting_changed', "
    "'meeting_cancelled')"
)


def upgrade() -> None:
    # In place, never a batch copy: on SQLite, copying ``user_account`` would drop the table
    # so many others refer to (see 0011). SQLite adds a CHECK with its column.
    op.add_column("user_account", sa.Column("email", sa.String(length=254), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE user_account ADD COLUMN notify_mode VARCHAR(10) NOT NULL "
            f"DEFAULT 'immediate' CONSTRAINT ck_user_account_notify_mode_known CHECK ({_MODE_KNOWN})"
        )
    else:
        op.add_column(
            "user_account",
            sa.Column(
                "notify_mode", sa.String(length=10), nullable=False, server_default="immediate"
            ),
        )
        op.create_check_constraint("notify_mode_known", "user_account", _MODE_KNOWN)

    op.create_table(
        "notification_message",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=100), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')",
            name=op.f("ck_notification_message_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_notification_message_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_message")),
    )
    op.create_index(
        "ix_notification_message_status_next",
        "notification_message",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("meeting_id", sa.Uuid(), nullable=True),
        sa.Column("meeting_on", sa.Date(), nullable=True),
        sa.Column("meeting_starts_at", sa.Time(), nullable=True),
        sa.Column("meeting_place", sa.String(length=200), nullable=True),
        sa.Column("meeting_sequence", sa.Integer(), nullable=True),
        sa.Column("orientation_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(_KINDS, name=op.f("ck_notification_kind_known")),
        sa.CheckConstraint(
            "status IN ('pending', 'queued', 'skipped')",
            name=op.f("ck_notification_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_notification_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["cell.id"], name=op.f("fk_notification_cell_id_cell"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["notification_message.id"],
            name=op.f("fk_notification_message_id_notification_message"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    op.create_index(
        "ix_notification_status_user", "notification", ["status", "user_id", "created_at"]
    )
    op.create_index(op.f("ix_notification_message_id"), "notification", ["message_id"])
    op.create_index(op.f("ix_notification_orientation_id"), "notification", ["orientation_id"])
    op.create_table(
        "notification_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["notification_message.id"],
            name=op.f("fk_notification_attempt_message_id_notification_message"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_attempt")),
    )
    op.create_index(
        op.f("ix_notification_attempt_message_id"), "notification_attempt", ["message_id"]
    )
    op.create_table(
        "meeting_calendar",
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meeting.id"],
            name=op.f("fk_meeting_calendar_meeting_id_meeting"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meeting_id", name=op.f("pk_meeting_calendar")),
    )
    op.create_table(
        "notification_sender_lease",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("holder", sa.String(length=80), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_notification_sender_lease")),
    )


def downgrade() -> None:
    op.drop_table("notification_sender_lease")
    op.drop_table("meeting_calendar")
    op.drop_index(op.f("ix_notification_attempt_message_id"), table_name="notification_attempt")
    op.drop_table("notification_attempt")
    op.drop_index(op.f("ix_notification_orientation_id"), table_name="notification")
    op.drop_index(op.f("ix_notification_message_id"), table_name="notification")
    op.drop_index("ix_notification_status_user", table_name="notification")
    op.drop_table("notification")
    op.drop_index("ix_notification_message_status_next", table_name="notification_message")
    op.drop_table("notification_message")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_user_account_notify_mode_known"), "user_account", type_="check")
    # DROP COLUMN in place (SQLite 3.35+).
    op.execute("ALTER TABLE user_account DROP COLUMN notify_mode")
    op.execute("ALTER TABLE user_account DROP COLUMN email")
