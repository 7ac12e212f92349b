"""The outbox: notifications, the messages that carry them, each delivery attempt."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Time, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, utcnow
from app.vocabulary import NotificationKind

_KINDS = ", ".join(f"'{kind.value}'" for kind in NotificationKind)
NOTIFICATION_STATUSES = ("pending", "queued", "skipped")
MESSAGE_STATUSES = ("pending", "sent", "failed")


class Notification(Base):
    """One thing one account should hear about. ``pending`` until the sender puts it in a
    message (``queued``), or ``skipped`` (the account chose ``none`` or has no address). The
    meeting's day, time and place are those the step set: the invitation says what changed."""

    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_KINDS})", name="kind_known"),
        CheckConstraint("status IN ('pending', 'queued', 'skipped')", name="status_known"),
        Index("ix_notification_status_user", "status", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    cell_id: Mapped[int] = mapped_column(ForeignKey("cell.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notification_message.id", ondelete="SET NULL"), index=True
    )
    # Meetings only: which one, when and where, and the invitation's SEQUENCE (RFC 5545).
    meeting_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    meeting_on: Mapped[date | None] = mapped_column(Date)
    meeting_starts_at: Mapped[time | None] = mapped_column(Time)
    meeting_place: Mapped[str | None] = mapped_column(String(200))
    meeting_sequence: Mapped[int | None] = mapped_column(Integer)
    # A feedback overdue: the transmission it is about, so that it is told once.
    orientation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)


class NotificationMessage(Base):
    """One e-mail to one account. Its id makes the Message-ID, fixed before the first attempt:
    a message sent again after a crash between sending and recording carries the same one."""

    __tablename__ = "notification_message"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status_known"),
        Index("ix_notification_message_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The exception's type name only: its text may hold an address or a server's reply.
    last_error: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class NotificationAttempt(Base):
    """Each delivery attempt, as it ended."""

    __tablename__ = "notification_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_message.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(String(100))


class MeetingCalendar(Base):
    """The iCalendar SEQUENCE of a meeting's invitation: each change sends a higher one, so
    that a calendar replaces the event instead of adding a second."""

    __tablename__ = "meeting_calendar"

    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(Integer, default=0)


class SenderLease(Base):
    """SQLite's stand-in for PostgreSQL's advisory lock: the one active sender holds the lease
    until it expires; taking it is a single conditional UPDATE."""

    __tablename__ = "notification_sender_lease"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(80))
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
