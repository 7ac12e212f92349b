"""Every query of the meetings: their lists, agendas, participants and the feedback a
meeting expects."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import date, datetime, time

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from app.cases.models import Case, Orientation
from app.directory.models import Membership, User
from app.meetings.models import Meeting
from app.vocabulary import MeetingStatus, Role
from app.workflow.states import CaseState

_SCHEDULED = MeetingStatus.SCHEDULED.value


def _shown_on_a_meeting() -> list[LoaderOption]:
    """What a line of a meeting needs: the identity, the facts the policies look at, and the
    orientations with the services they name."""
    return [
        selectinload(Case.personal),
        selectinload(Case.orientations).joinedload(Orientation.service),
        selectinload(Case.research_notes),
        selectinload(Case.key),
        selectinload(Case.transfers),
        selectinload(Case.agenda_participants),
    ]


def get_meeting(session: Session, meeting_id: uuid.UUID) -> Meeting | None:
    """The meeting's own row: one statement, whether it exists or not (no existence oracle
    in the work done before the caller's cells are checked)."""
    return session.get(Meeting, meeting_id)


def load_participants(session: Session, meeting: Meeting) -> None:
    """Its participants, once the caller may read the meeting."""
    session.execute(
        select(Meeting).where(Meeting.id == meeting.id).options(selectinload(Meeting.participants))
    ).all()


def next_meeting(
    session: Session, *, cell_id: int, on_or_after: date, other_than: uuid.UUID | None = None
) -> Meeting | None:
    """The cell's next scheduled meeting (on or after a day)."""
    query = select(Meeting).where(
        Meeting.cell_id == cell_id,
        Meeting.held_on >= on_or_after,
        Meeting.status == _SCHEDULED,
    )
    if other_than is not None:
        query = query.where(Meeting.id != other_than)
    return session.scalar(query.order_by(Meeting.held_on, Meeting.starts_at, Meeting.created_at))


def slot_taken(
    session: Session,
    *,
    cell_id: int,
    held_on: date,
    starts_at: time,
    other_than: uuid.UUID | None = None,
) -> bool:
    """Whether another scheduled meeting of the cell starts on that day at that time."""
    query = select(Meeting.id).where(
        Meeting.cell_id == cell_id,
        Meeting.held_on == held_on,
        Meeting.starts_at == starts_at,
        Meeting.status == _SCHEDULED,
    )
    if other_than is not None:
        query = query.where(Meeting.id != other_than)
    return session.scalar(query.limit(1)) is not None


def meetings_of_cells(
    session: Session, *, cell_ids: Collection[int], limit: int
) -> Sequence[Meeting]:
    """The meetings of these cells, the latest first."""
    if not cell_ids:
        return []
    query = (
        select(Meeting)
        .where(Meeting.cell_id.in_(cell_ids))
        .order_by(Meeting.held_on.desc(), Meeting.starts_at.desc(), Meeting.created_at.desc())
        .limit(limit)
    )
    return session.scalars(query).all()


def meetings_between(
    session: Session,
    *,
    cell_ids: Collection[int],
    first: date | None,
    last: date | None,
    after: tuple[date, uuid.UUID] | None,
    batch: int,
) -> Sequence[Meeting]:
    """One batch of these cells' meetings in a period, by day (then id), after a keyset
    position."""
    query = select(Meeting).where(Meeting.cell_id.in_(cell_ids))
    if first is not None:
        query = query.where(Meeting.held_on >= first)
    if last is not None:
        query = query.where(Meeting.held_on <= last)
    if after is not None:
        day, meeting_id = after
        query = query.where(
            or_(Meeting.held_on > day, and_(Meeting.held_on == day, Meeting.id > meeting_id))
        )
    return session.scalars(query.order_by(Meeting.held_on, Meeting.id).limit(batch)).all()


def agenda_sizes(session: Session, *, meeting_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many cases each of these meetings has on its agenda (absent: none)."""
    if not meeting_ids:
        return {}
    query = (
        select(Case.meeting_id, func.count())
        .where(Case.meeting_id.in_(meeting_ids))
        .group_by(Case.meeting_id)
    )
    return {meeting_id: int(n) for meeting_id, n in session.execute(query) if meeting_id}


def on_agenda(session: Session, *, meeting_id: uuid.UUID) -> Sequence[Case]:
    """The agenda's cases in the order the coordinator gave (unordered ones after, by day of
    receipt), with what their lines show."""
    query = (
        select(Case)
        .where(Case.meeting_id == meeting_id)
        .order_by(
            Case.agenda_position.is_(None),
            Case.agenda_position,
            Case.received_on,
            Case.id,
        )
        .options(*_shown_on_a_meeting())
    )
    return session.scalars(query).all()


def presented_at(session: Session, *, meeting_id: uuid.UUID) -> Sequence[Case]:
    """The not-retained situations presented at the meeting, destroyed ones included (the
    record keeps their reference)."""
    query = (
        select(Case)
        .where(
            Case.presentation_meeting_id == meeting_id,
            Case.state.in_([CaseState.NOT_RETAINED.value, CaseState.PURGED.value]),
            Case.retained.is_(False),
        )
        .order_by(Case.parquet_decided_at, Case.id)
        .options(*_shown_on_a_meeting())
    )
    return session.scalars(query).all()


def awaiting_presentation(session: Session, *, cell_id: int) -> Sequence[Case]:
    query = select(Case).where(
        Case.cell_id == cell_id,
        Case.state == CaseState.NOT_RETAINED.value,
        Case.presentation_meeting_id.is_(None),
    )
    return session.scalars(query).all()


def previous_meeting_day(session: Session, *, cell_id: int, before: date) -> date | None:
    """The day of the cell's last meeting before ``before`` that was not cancelled."""
    query = select(func.max(Meeting.held_on)).where(
        Meeting.cell_id == cell_id,
        Meeting.held_on < before,
        Meeting.status != MeetingStatus.CANCELLED.value,
    )
    return session.scalar(query)


FEEDBACK_LISTED = 500


def feedback_expected(
    session: Session, *, cell_id: int, until: datetime, received_since: datetime | None
) -> tuple[Sequence[Orientation], dict[uuid.UUID, Case]]:
    """Step 6 at a meeting: the cell's orientations transmitted before ``until`` whose feedback
    is still missing, or arrived since ``received_since`` (the previous meeting), in the order
    of transmission; and their cases, with what their lines show."""
    received = Orientation.feedback_at.is_not(None) & (Orientation.feedback_at < until)
    if received_since is not None:
        received = received & (Orientation.feedback_at >= received_since)
    query = (
        select(Orientation)
        .join(Case, Case.id == Orientation.case_id)
        .where(
            Case.cell_id == cell_id,
            Orientation.transmitted_at.is_not(None),
            Orientation.transmitted_at < until,
            or_(Orientation.feedback_at.is_(None), received),
        )
        .order_by(Orientation.transmitted_at, Orientation.id)
        .limit(FEEDBACK_LISTED)
        .options(joinedload(Orientation.service))
    )
    orientations = session.scalars(query).all()
    case_ids = {o.case_id for o in orientations}
    cases = session.scalars(
        select(Case).where(Case.id.in_(case_ids)).options(*_shown_on_a_meeting())
    ).all()
    return orientations, {case.id: case for case in cases}


def awaiting_examination(
    session: Session, *, cell_id: int, states: Collection[str], limit: int
) -> Sequence[Case]:
    """The cell's cases in a state the examination at a meeting starts from, the oldest
    received first, with what the charter's decisions and the identity shown need."""
    query = (
        select(Case)
        .where(Case.cell_id == cell_id, Case.state.in_(states))
        .order_by(Case.received_on, Case.id)
        .limit(limit)
        .options(*_shown_on_a_meeting())
    )
    return session.scalars(query).all()


# Who takes part in a cell's meetings: its members who may read an agenda (R7).
PARTICIPANT_ROLES = (Role.COORDINATOR, Role.PARQUET, Role.MEMBER, Role.CST)


def active_members(session: Session, *, cell_id: int) -> Sequence[User]:
    """The cell's active accounts whose role takes part in its meetings, by name."""
    query = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.cell_id == cell_id,
            User.active.is_(True),
            User.role.in_([role.value for role in PARTICIPANT_ROLES]),
        )
        .order_by(User.username)
    )
    return session.scalars(query).all()


def users_by_id(session: Session, user_ids: Collection[int]) -> dict[int, User]:
    if not user_ids:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
