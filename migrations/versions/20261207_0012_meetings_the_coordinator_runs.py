"""Meetings the coordinator runs (issue 17): time, place, status, participants, agenda order.

* ``meeting.starts_at`` and ``meeting.place``: required of every new meeting by the service;
  left empty on the meetings recorded before (their time and place were never asked, and a
  migration does not invent them).
* ``meeting.status`` (``scheduled``, ``held``, ``cancelled``): every existing meeting is
  ``scheduled``; the coordinator marks a past one held, as for any other. Two scheduled
  meetings of a cell never share a day and a time: a partial unique index (existing meetings
  have no time, so none of them conflicts).
* ``meeting.updated_at``, ``meeting.attendance_recorded_at`` and ``meeting.version``
  (optimistic concurrency between a rescheduling and a change to the agenda).
* ``meeting_participant``: who was invited and who attended; existing meetings have none
  (nobody was invited through the service), so attendance narrows nothing on them.
* ``case_file.agenda_position``: the order of an agenda; existing agendas keep the order of
  receipt (the position is empty and sorts after the ordered ones).

Downgrade drops what this revision added; meetings that differ only by their time then share
a day, which the schema before this revision allowed.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCHEDULED = sa.text("status = 'scheduled'")


_STATUS_KNOWN = "status IN ('scheduled', 'held', 'cancelled')"


def upgrade() -> None:
    # In place, never a batch copy: on SQLite, copying ``meeting`` would drop the table that
    # case_file refers to (see 0011). SQLite adds a CHECK with its column.
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("meeting", sa.Column("starts_at", sa.Time(), nullable=True))
    op.add_column("meeting", sa.Column("place", sa.String(length=200), nullable=True))
    if sqlite:
        op.execute(
            "ALTER TABLE meeting ADD COLUMN status VARCHAR(10) NOT NULL DEFAULT 'scheduled' "
            f"CONSTRAINT ck_meeting_status_known CHECK ({_STATUS_KNOWN})"
        )
    else:
        op.add_column(
            "meeting",
            sa.Column("status", sa.String(length=10), nullable=False, server_default="scheduled"),
        )
        op.create_check_constraint("status_known", "meeting", _STATUS_KNOWN)
    op.add_column("meeting", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "meeting", sa.Column("attendance_recorded_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("meeting", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.create_index(
        "uq_meeting_scheduled_slot",
        "meeting",
        ["cell_id", "held_on", "starts_at"],
        unique=True,
        sqlite_where=_SCHEDULED,
        postgresql_where=_SCHEDULED,
    )

    op.create_table(
        "meeting_participant",
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attended", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meeting.id"],
            name=op.f("fk_meeting_participant_meeting_id_meeting"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_meeting_participant_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("meeting_id", "user_id", name=op.f("pk_meeting_participant")),
    )
    op.create_index(
        op.f("ix_meeting_participant_user_id"), "meeting_participant", ["user_id"], unique=False
    )

    # In place on SQLite: a batch copy of case_file would cascade-delete the rows that refer
    # to it (see 0011).
    op.add_column("case_file", sa.Column("agenda_position", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE case_file DROP COLUMN agenda_position")
    op.drop_index(op.f("ix_meeting_participant_user_id"), table_name="meeting_participant")
    op.drop_table("meeting_participant")
    op.drop_index("uq_meeting_scheduled_slot", table_name="meeting")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_meeting_status_known"), "meeting", type_="check")
    # DROP COLUMN in place (SQLite 3.35+, once nothing indexes the columns).
    for column in (
        "version",
        "attendance_recorded_at",
        "updated_at",
        "status",
        "place",
        "starts_at",
    ):
        op.execute(f"ALTER TABLE meeting DROP COLUMN {column}")
