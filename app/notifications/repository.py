"""Every query of the notifications: recipients, the outbox, the sender's lease."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.cases.models import Case, Orientation
from app.directory.models import Cell, Membership, User
from app.meetings.models import MeetingParticipant
from app.notifications.models import (
    MeetingCalendar,
    Notification,
    NotificationAttempt,
    NotificationMessage,
    SenderLease,
)
from app.workflow.states import CaseState


def cell_accounts(session: Session, *, cell_id: int, role: str) -> Sequence[int]:
    """The active accounts of a role in a cell that have an address to write to."""
    return session.scalars(
        select(User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.cell_id == cell_id,
            User.role == role,
            User.active.is_(True),
            User.email.is_not(None),
        )
        .order_by(User.id)
    ).all()


def account_with_address(session: Session, user_id: int) -> int | None:
    return session.scalar(
        select(User.id).where(User.id == user_id, User.active.is_(True), User.email.is_not(None))
    )


def meeting_accounts(session: Session, *, meeting_id: uuid.UUID) -> Sequence[int]:
    """The meeting's participants that are active and have an address."""
    return session.scalars(
        select(User.id)
        .join(MeetingParticipant, MeetingParticipant.user_id == User.id)
        .where(
            MeetingParticipant.meeting_id == meeting_id,
            User.active.is_(True),
            User.email.is_not(None),
        )
        .order_by(User.id)
    ).all()


def next_sequence(session: Session, meeting_id: uuid.UUID) -> int:
    """The meeting's next iCalendar SEQUENCE: 0 for the first invitation, then one more."""
    calendar = session.get(MeetingCalendar, meeting_id)
    if calendar is None:
        session.add(MeetingCalendar(meeting_id=meeting_id, sequence=0))
        return 0
    calendar.sequence += 1
    return calendar.sequence


# --- the sender -------------------------------------------------------------------------------


def overdue_transmissions(session: Session, *, before: datetime) -> Sequence[tuple[uuid.UUID, int]]:
    """Transmissions made before ``before``, of open cases, still without feedback (R9), not
    yet told: each orientation's id and its case's cell."""
    told = select(Notification.id).where(
        Notification.orientation_id == Orientation.id,
        Notification.kind == "feedback_overdue",
    )
    rows = session.execute(
        select(Orientation.id, Case.cell_id)
        .join(Case, Case.id == Orientation.case_id)
        .where(
            Orientation.transmitted_at.is_not(None),
            Orientation.transmitted_at < before,
            Orientation.feedback_outcome.is_(None),
            Case.state.in_((CaseState.ORIENTED.value, CaseState.FEEDBACK.value)),
            ~told.exists(),
        )
        .order_by(Orientation.transmitted_at, Orientation.id)
    ).all()
    return [(orientation_id, int(cell_id)) for orientation_id, cell_id in rows]


def skip_unreachable(session: Session) -> int:
    """Pending notifications of accounts that chose ``none``, lost their address or were
    deactivated since: marked skipped, never sent."""
    unreachable = select(User.id).where(
        (User.notify_mode == "none") | User.email.is_(None) | User.active.is_(False)
    )
    result = session.execute(
        update(Notification)
        .where(Notification.status == "pending", Notification.user_id.in_(unreachable))
        .values(status="skipped")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def pending_by_account(session: Session) -> Sequence[tuple[int, str, datetime]]:
    """Each account with pending notifications: its mode and its oldest pending one."""
    rows = session.execute(
        select(Notification.user_id, User.notify_mode, func.min(Notification.created_at))
        .join(User, User.id == Notification.user_id)
        .where(Notification.status == "pending")
        .group_by(Notification.user_id, User.notify_mode)
    ).all()
    return [(int(user_id), str(mode), oldest) for user_id, mode, oldest in rows]


def pending_of(session: Session, user_id: int, created_before: datetime) -> Sequence[Notification]:
    return session.scalars(
        select(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.status == "pending",
            Notification.created_at <= created_before,
        )
        .order_by(Notification.created_at, Notification.id)
    ).all()


def due_messages(session: Session, now: datetime) -> Sequence[NotificationMessage]:
    return session.scalars(
        select(NotificationMessage)
        .where(NotificationMessage.status == "pending", NotificationMessage.next_attempt_at <= now)
        .order_by(NotificationMessage.next_attempt_at, NotificationMessage.id)
    ).all()


def notifications_of(session: Session, message_id: uuid.UUID) -> Sequence[Notification]:
    return session.scalars(
        select(Notification)
        .where(Notification.message_id == message_id)
        .order_by(Notification.created_at, Notification.id)
    ).all()


def cell_names(session: Session, cell_ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(Cell.id, Cell.name).where(Cell.id.in_(cell_ids))).all()
    return {int(cell_id): str(name) for cell_id, name in rows}


def address_of(session: Session, user_id: int) -> str | None:
    return session.scalar(select(User.email).where(User.id == user_id, User.active.is_(True)))


def record_attempt(
    session: Session, message_id: uuid.UUID, at: datetime, error: str | None
) -> None:
    session.add(NotificationAttempt(message_id=message_id, attempted_at=at, error=error))


# --- figures for the operators ------------------------------------------------------------------


def outbox_figures(session: Session) -> tuple[int, datetime | None, int]:
    """How many notifications wait (pending or in an unsent message), since when, and how many
    delivery attempts failed."""
    waiting = (
        select(Notification.created_at)
        .outerjoin(NotificationMessage, NotificationMessage.id == Notification.message_id)
        .where(
            (Notification.status == "pending")
            | ((Notification.status == "queued") & (NotificationMessage.status == "pending"))
        )
        .subquery()
    )
    depth, oldest = session.execute(select(func.count(), func.min(waiting.c.created_at))).one()
    failures = session.scalar(
        select(func.count())
        .select_from(NotificationAttempt)
        .where(NotificationAttempt.error.is_not(None))
    )
    return int(depth), oldest, int(failures or 0)


# --- the SQLite lease -------------------------------------------------------------------------

LEASE = "sender"


def take_lease(session: Session, *, holder: str, now: datetime, until: datetime) -> bool:
    """Takes (or renews) the sender's lease in one conditional UPDATE: true if it is ours."""
    result = session.execute(
        update(SenderLease)
        .where(
            SenderLease.name == LEASE,
            (SenderLease.holder == holder)
            | SenderLease.expires_at.is_(None)
            | (SenderLease.expires_at <= now),
        )
        .values(holder=holder, expires_at=until)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) == 1:
        return True
    if session.get(SenderLease, LEASE) is None:
        session.add(SenderLease(name=LEASE, holder=holder, expires_at=until))
        session.flush()
        return True
    return False


def release_lease(session: Session, *, holder: str) -> None:
    session.execute(
        update(SenderLease)
        .where(SenderLease.name == LEASE, SenderLease.holder == holder)
        .values(holder=None, expires_at=None)
        .execution_options(synchronize_session=False)
    )
