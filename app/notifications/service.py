"""Putting notifications in the outbox, in the transaction of the step that causes them.

The steps call these after their own change; they only add rows and flush (the request's
session commits, or rolls back the step and its notifications together). Nothing here talks
to SMTP: a step never waits for a mail server and never fails because one is down. With no
SMTP host configured (the sessionmaker's ``info`` says so), nothing is written at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from app.clock import PARIS, now, overdue_before
from app.meetings.models import Meeting
from app.notifications import repository
from app.notifications.models import Notification
from app.vocabulary import NotificationKind, Role

# The key, in a sessionmaker's ``info``, that turns notifications on (app.main sets it).
ENABLED = "notifications.enabled"


def session_info(enabled: bool) -> dict[str, bool]:
    return {ENABLED: enabled}


def _enabled(session: Session) -> bool:
    return bool(session.info.get(ENABLED))


def _add(
    session: Session,
    kind: NotificationKind,
    cell_id: int,
    user_ids: Iterable[int],
    *,
    actor_id: int | None,
    meeting: Meeting | None = None,
    sequence: int | None = None,
    orientation_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> None:
    """One notification per account, except the one who acted (they know)."""
    at = at or now()
    for user_id in user_ids:
        if user_id == actor_id:
            continue
        session.add(
            Notification(
                id=uuid.uuid4(),
                user_id=user_id,
                kind=kind.value,
                cell_id=cell_id,
                created_at=at,
                status="pending",
                meeting_id=meeting.id if meeting else None,
                meeting_on=meeting.held_on if meeting else None,
                meeting_starts_at=meeting.starts_at if meeting else None,
                meeting_place=meeting.place if meeting else None,
                meeting_sequence=sequence,
                orientation_id=orientation_id,
            )
        )
    session.flush()


def to_cell_role(
    session: Session, *, kind: NotificationKind, cell_id: int, role: Role, actor_id: int | None
) -> None:
    """A new signalement (coordinators), a referral (parquet), a transmission (CST), a
    transfer proposed (the receiving cell's coordinators)."""
    if not _enabled(session):
        return
    accounts = repository.cell_accounts(session, cell_id=cell_id, role=role.value)
    _add(session, kind, cell_id, accounts, actor_id=actor_id)


def to_account(
    session: Session, *, kind: NotificationKind, cell_id: int, user_id: int, actor_id: int | None
) -> None:
    """A case returned to its author."""
    if not _enabled(session):
        return
    account = repository.account_with_address(session, user_id)
    _add(session, kind, cell_id, [account] if account else [], actor_id=actor_id)


def meeting_changed(session: Session, *, kind: NotificationKind, meeting: Meeting) -> None:
    """A meeting scheduled, changed or cancelled: all its participants, the coordinator who
    convened it too (the invitation is what puts it in their calendar), with the next
    SEQUENCE (counted even when nobody has an address: a calendar never sees it go back)."""
    if not _enabled(session):
        return
    sequence = repository.next_sequence(session, meeting.id)
    accounts = repository.meeting_accounts(session, meeting_id=meeting.id)
    _add(
        session,
        kind,
        meeting.cell_id,
        accounts,
        actor_id=None,
        meeting=meeting,
        sequence=sequence,
    )


def meeting_scheduled(session: Session, *, meeting: Meeting) -> None:
    meeting_changed(session, kind=NotificationKind.MEETING_SCHEDULED, meeting=meeting)


def meeting_rescheduled(session: Session, *, meeting: Meeting) -> None:
    meeting_changed(session, kind=NotificationKind.MEETING_CHANGED, meeting=meeting)


def meeting_cancelled(session: Session, *, meeting: Meeting) -> None:
    meeting_changed(session, kind=NotificationKind.MEETING_CANCELLED, meeting=meeting)


def feedback_overdue(session: Session, *, at: datetime, due_days: int) -> int:
    """The sender's round: each transmission still without feedback ``due_days`` after it
    was made is told to its cell's coordinators, once (the notification names the
    orientation). With no coordinator to write to, it is told when one has an address."""
    overdue = repository.overdue_transmissions(
        session, before=overdue_before(at.astimezone(PARIS).date(), due_days)
    )
    for orientation_id, cell_id in overdue:
        accounts = repository.cell_accounts(session, cell_id=cell_id, role=Role.COORDINATOR.value)
        _add(
            session,
            NotificationKind.FEEDBACK_OVERDUE,
            cell_id,
            accounts,
            actor_id=None,
            orientation_id=orientation_id,
            at=at,
        )
    return len(overdue)
