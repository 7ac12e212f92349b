"""The worklist's queries: each a bounded page of one kind of waiting work, in the order it
became due, with what the charter's decision on each case needs."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from app.cases.models import ArchiveAccess, Case, CaseStep, CaseTransfer, Orientation
from app.meetings.models import Meeting
from app.vocabulary import MeetingStatus, ReviewDecision, TransferOutcome
from app.workflow.states import CaseState, Step


def _facts() -> list[LoaderOption]:
    """What the policies look at (``app.cases.service.facts_of``)."""
    return [
        selectinload(Case.orientations),
        selectinload(Case.research_notes),
        selectinload(Case.transfers),
        selectinload(Case.agenda_participants),
    ]


def _cases(session: Session, query: Select[Case], limit: int) -> Sequence[Case]:
    return session.scalars(query.limit(limit).options(*_facts())).all()


def in_state(
    session: Session,
    *,
    cell_ids: Collection[int],
    state: CaseState,
    limit: int,
    returned: bool | None = None,
    received_by: date | None = None,
    off_agenda: bool = False,
) -> Sequence[Case]:
    """The cells' cases in ``state``, received first first: sent back to their author or not
    (``returned``), received on or before a day, on no agenda."""
    query = select(Case).where(Case.cell_id.in_(cell_ids), Case.state == state.value)
    if returned is not None:
        query = query.where(
            Case.returned_reason.is_not(None) if returned else Case.returned_reason.is_(None)
        )
    if received_by is not None:
        query = query.where(Case.received_on <= received_by)
    if off_agenda:
        query = query.where(Case.meeting_id.is_(None))
    return _cases(session, query.order_by(Case.received_on, Case.id), limit)


def referred(
    session: Session, *, cell_ids: Collection[int], limit: int
) -> Sequence[tuple[Case, datetime]]:
    """The parquet's referrals awaiting its decision, with when each was referred, the oldest
    first."""
    referred_at = (
        select(CaseStep.case_id, func.max(CaseStep.at).label("at"))
        .where(CaseStep.step == Step.REFER_TO_PARQUET.value)
        .group_by(CaseStep.case_id)
        .subquery()
    )
    query = (
        select(Case, referred_at.c.at)
        .join(referred_at, referred_at.c.case_id == Case.id)
        .where(Case.cell_id.in_(cell_ids), Case.state == CaseState.PARQUET_REVIEW.value)
        .order_by(referred_at.c.at, Case.id)
        .limit(limit)
        .options(*_facts())
    )
    return [(case, at) for case, at in session.execute(query)]


def family_to_inform(session: Session, *, cell_ids: Collection[int], limit: int) -> Sequence[Case]:
    """Oriented cases whose family has not been informed yet (R8)."""
    query = select(Case).where(
        Case.cell_id.in_(cell_ids),
        Case.state.in_([CaseState.ORIENTED.value, CaseState.FEEDBACK.value]),
        Case.review_decision == ReviewDecision.ORIENT.value,
        Case.family_informed_on.is_(None),
    )
    return _cases(session, query.order_by(Case.updated_at, Case.id), limit)


def orientations(
    session: Session,
    *,
    cell_ids: Collection[int],
    transmitted: bool,
    limit: int,
    transmitted_before: datetime | None = None,
    destination: str | None = None,
) -> Sequence[tuple[Orientation, Case]]:
    """Orientations of open cases not transmitted yet, or transmitted (before an instant)
    and still without feedback; the oldest decided or transmitted first."""
    condition: list[ColumnElement[bool]] = [
        Case.cell_id.in_(cell_ids),
        Case.state.in_([CaseState.ORIENTED.value, CaseState.FEEDBACK.value]),
        Orientation.feedback_outcome.is_(None),
    ]
    if transmitted:
        condition.append(Orientation.transmitted_at.is_not(None))
        if transmitted_before is not None:
            condition.append(Orientation.transmitted_at < transmitted_before)
        order = [Orientation.transmitted_at, Orientation.id]
    else:
        condition.append(Orientation.transmitted_at.is_(None))
        order = [Orientation.decided_at, Orientation.id]
    if destination is not None:
        condition.append(Orientation.destination == destination)
    query = (
        select(Orientation, Case)
        .join(Case, Case.id == Orientation.case_id)
        .where(and_(*condition))
        .order_by(*order)
        .limit(limit)
        .options(*[selectinload(Orientation.service)])
    )
    rows = session.execute(query).all()
    # The cases' facts, for the charter's decision on each.
    ids = {case.id for _, case in rows}
    if ids:
        session.scalars(select(Case).where(Case.id.in_(ids)).options(*_facts())).all()
    return [(orientation, case) for orientation, case in rows]


def transfers_to(
    session: Session, *, cell_ids: Collection[int], limit: int
) -> Sequence[tuple[Case, datetime]]:
    """Cases proposed to these cells, waiting for their answer, the oldest proposal first."""
    query = (
        select(Case, CaseTransfer.proposed_at)
        .join(CaseTransfer, CaseTransfer.case_id == Case.id)
        .where(
            CaseTransfer.to_cell_id.in_(cell_ids),
            CaseTransfer.outcome == TransferOutcome.PENDING.value,
        )
        .order_by(CaseTransfer.proposed_at, Case.id)
        .limit(limit)
        .options(*_facts())
    )
    return [(case, at) for case, at in session.execute(query)]


def archive_accesses_expiring(
    session: Session, *, user_id: int, now: datetime, until: datetime, limit: int
) -> Sequence[tuple[Case, datetime]]:
    """The caller's running archive accesses that end before ``until``."""
    query = (
        select(Case, ArchiveAccess.expires_at)
        .join(ArchiveAccess, ArchiveAccess.case_id == Case.id)
        .where(
            ArchiveAccess.user_id == user_id,
            ArchiveAccess.expires_at > now,
            ArchiveAccess.expires_at <= until,
        )
        .order_by(ArchiveAccess.expires_at)
        .limit(limit)
        .options(*_facts())
    )
    return [(case, at) for case, at in session.execute(query)]


def submitted_by(session: Session, *, user_id: int, limit: int) -> Sequence[Case]:
    """The user's own signalements still followed (not closed, destroyed or withdrawn), the
    latest received first."""
    query = select(Case).where(
        Case.submitted_by == user_id,
        Case.state.not_in(
            [CaseState.CLOSED.value, CaseState.PURGED.value, CaseState.WITHDRAWN.value]
        ),
    )
    return _cases(session, query.order_by(Case.received_on.desc(), Case.id), limit)


def meetings(
    session: Session,
    *,
    cell_ids: Collection[int],
    first: date,
    last: date | None,
    limit: int,
) -> Sequence[Meeting]:
    """The cells' scheduled meetings from ``first`` (to ``last``), the nearest first."""
    query = select(Meeting).where(
        Meeting.cell_id.in_(cell_ids),
        Meeting.status == MeetingStatus.SCHEDULED.value,
        Meeting.held_on >= first,
    )
    if last is not None:
        query = query.where(Meeting.held_on <= last)
    return session.scalars(
        query.order_by(Meeting.held_on, Meeting.starts_at, Meeting.id).limit(limit)
    ).all()
