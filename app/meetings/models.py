"""Cell meetings (steps 4 to 6): when and where, their agendas, who was invited and attended."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UtcDateTime, utcnow
from app.meetings.rules import PLACE_MAX_LENGTH
from app.vocabulary import MeetingStatus

_STATUSES = ", ".join(f"'{status.value}'" for status in MeetingStatus)


class Meeting(Base):
    """A meeting of one cell. ``starts_at`` and ``place`` are absent only on meetings recorded
    before they existed (migration 0012). Two scheduled meetings of a cell never share a day
    and a time (a partial unique index, on SQLite and PostgreSQL alike). ``version`` guards
    the agenda against a concurrent rescheduling: every change to the agenda bumps it."""

    __tablename__ = "meeting"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status_known"),
        Index(
            "uq_meeting_scheduled_slot",
            "cell_id",
            "held_on",
            "starts_at",
            unique=True,
            sqlite_where=text("status = 'scheduled'"),
            postgresql_where=text("status = 'scheduled'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    cell_id: Mapped[int] = mapped_column(ForeignKey("cell.id"), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[time | None] = mapped_column(Time)
    # Where the cell meets: a room, an address of a service; never a person (not nominative).
    place: Mapped[str | None] = mapped_column(String(PLACE_MAX_LENGTH))
    status: Mapped[str] = mapped_column(String(10), default=MeetingStatus.SCHEDULED.value)
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the coordinator recorded who attended (absent: not yet).
    attendance_recorded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    participants: Mapped[list[MeetingParticipant]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="MeetingParticipant.user_id",
    )

    __mapper_args__ = {"version_id_col": version}


class MeetingParticipant(Base):
    """A member of the cell invited to a meeting, and whether they attended (absent: not
    recorded yet). Attendance decides what the meeting itself shows them (R7, R12)."""

    __tablename__ = "meeting_participant"

    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id"), primary_key=True, index=True
    )
    invited_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    attended: Mapped[bool | None] = mapped_column(Boolean)
