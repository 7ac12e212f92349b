"""What awaits each user (issue 18, point 1), computed from the procedure's own data: no
second source of truth to keep in sync. Each case listed is shown as far as the charter lets
its reader see it (its reference and state need the workflow block, or, for a transfer
waiting for the caller's cell, the charter's ``see_pending_transfer``), and each listing is
an audited read of what it shows (R23).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from app.audit import trail
from app.audit.trail import Action, Read
from app.cases import service as case_service
from app.cases.models import Case, Orientation
from app.clock import PARIS, overdue_before
from app.meetings.models import Meeting
from app.policy import decisions
from app.policy.visibility import Block, case_view
from app.principal import Principal
from app.vocabulary import Destination, Role
from app.workflow.guards import add_calendar_months
from app.workflow.states import CaseState, Step
from app.worklist import repository
from app.worklist.schemas import WorkItem, WorkKind, Worklist

# Each kind lists at most this many items (the counts say when there are more).
PER_KIND = 50
# An archive access is "about to expire" in its last hour.
EXPIRING = timedelta(hours=1)
# The upcoming meetings a member is shown.
MEETINGS_AHEAD = 5
# R7's month, at its shortest: a pre-filter before the exact calendar rule.
SHORTEST_MONTH = timedelta(days=28)


@dataclass
class _Collector:
    """The items found so far, and the reads they are (one per case shown)."""

    principal: Principal
    today: date
    items: list[WorkItem]
    truncated: list[WorkKind]
    reads: dict[uuid.UUID, set[str]]

    def shows(self, case: Case) -> bool:
        """The charter shows the caller this case's reference and state (workflow block)."""
        return Block.WORKFLOW in case_view(self.principal, case_service.facts_of(case)).blocks

    def add(
        self,
        kind: WorkKind,
        case: Case,
        due_on: date,
        *,
        overdue: bool = False,
        age_days: int = 0,
    ) -> None:
        self.reads.setdefault(case.id, set()).add(Block.WORKFLOW.value)
        self.items.append(
            WorkItem(
                kind=kind,
                case_id=case.id,
                reference=case.reference,
                state=CaseState(case.state),
                due_on=due_on,
                overdue=overdue,
                age_days=age_days,
            )
        )

    def cases(
        self,
        kind: WorkKind,
        found: Iterable[Case],
        due_on: Callable[[Case], date],
        *,
        overdue: Callable[[Case], bool] = lambda _: False,
    ) -> None:
        listed = 0
        for case in found:
            if not self.shows(case):
                continue
            if listed == PER_KIND:
                self.truncated.append(kind)
                break
            self.add(kind, case, due_on(case), overdue=overdue(case))
            listed += 1


# The kinds that ask something of their reader (the navigation counts them); the others
# inform (where one's signalements stand, the research under way, the meetings to come).
TO_DO = frozenset(
    {
        WorkKind.REFER_TO_PARQUET,
        WorkKind.READY_FOR_MEETING,
        WorkKind.INFORM_FAMILY,
        WorkKind.TRANSMIT,
        WorkKind.FEEDBACK_OVERDUE,
        WorkKind.ANSWER_TRANSFER,
        WorkKind.ARCHIVE_ACCESS_EXPIRING,
        WorkKind.MEETING_TO_CLOSE,
        WorkKind.DECIDE_REFERRAL,
        WorkKind.COMPLETE_SIGNALEMENT,
        WorkKind.AWAITING_FEEDBACK,
    }
)


def _collect(
    session: Session, principal: Principal, today: date, now: datetime, feedback_days: int
) -> _Collector:
    found = _Collector(principal, today, [], [], {})
    cells = sorted(principal.cell_ids)
    if cells:
        if principal.role is Role.COORDINATOR:
            _coordinator(session, found, cells, now, feedback_days)
        elif principal.role is Role.PARQUET:
            _parquet(session, found, cells)
        elif principal.role is Role.MEMBER:
            _member(session, found, cells)
        elif principal.role is Role.CST:
            _cst(session, found, cells, feedback_days)
    return found


def worklist(
    session: Session, *, principal: Principal, today: date, now: datetime, feedback_days: int
) -> Worklist:
    """``GET /me/worklist``: what awaits the caller, by kind in the order of the procedure."""
    if not principal.charter_accepted:
        raise decisions.charter_refusal()
    found = _collect(session, principal, today, now, feedback_days)
    trail.record_reads(
        session,
        principal,
        Action.READ_WORKLIST,
        [Read(case_id, frozenset(blocks)) for case_id, blocks in found.reads.items()],
    )
    counts: dict[WorkKind, int] = {}
    for item in found.items:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return Worklist(items=found.items, counts=counts, truncated=found.truncated)


def to_do_count(
    session: Session, *, principal: Principal, today: date, now: datetime, feedback_days: int
) -> int:
    """How many items ask something of the caller (the navigation's count): a number, which
    shows no case, so no read to record."""
    if not principal.charter_accepted or not principal.cell_ids:
        return 0
    found = _collect(session, principal, today, now, feedback_days)
    return sum(item.kind in TO_DO for item in found.items)


def _day(instant: datetime) -> date:
    return instant.astimezone(PARIS).date()


def _transmitted_on(orientation: Orientation) -> date:
    return _day(orientation.transmitted_at or orientation.decided_at)


def _coordinator(
    session: Session, found: _Collector, cells: list[int], now: datetime, feedback_days: int
) -> None:
    today = found.today
    batch = PER_KIND + 1
    found.cases(
        WorkKind.REFER_TO_PARQUET,
        repository.in_state(
            session, cell_ids=cells, state=CaseState.SUBMITTED, returned=False, limit=batch
        ),
        lambda case: case.received_on,
    )
    found.cases(
        WorkKind.AWAITING_AUTHOR,
        repository.in_state(
            session, cell_ids=cells, state=CaseState.SUBMITTED, returned=True, limit=batch
        ),
        lambda case: _day(case.returned_at) if case.returned_at else case.received_on,
    )
    found.cases(
        WorkKind.READY_FOR_MEETING,
        _examinable(session, cells, today, batch),
        lambda case: add_calendar_months(case.received_on, 1),
    )
    found.cases(
        WorkKind.INFORM_FAMILY,
        repository.family_to_inform(session, cell_ids=cells, limit=batch),
        lambda case: min(_day(o.decided_at) for o in case.orientations),
    )
    _orientation_items(
        session,
        found,
        WorkKind.TRANSMIT,
        repository.orientations(session, cell_ids=cells, transmitted=False, limit=batch),
        lambda o: _day(o.decided_at),
        keep=lambda o, case: case_service.allows(
            Step.TRANSMIT, case, case_service.transmission_facts(session, case, o, today)
        ),
    )
    _orientation_items(
        session,
        found,
        WorkKind.FEEDBACK_OVERDUE,
        repository.orientations(
            session,
            cell_ids=cells,
            transmitted=True,
            transmitted_before=overdue_before(today, feedback_days),
            limit=batch,
        ),
        lambda o: _transmitted_on(o) + timedelta(days=feedback_days),
        overdue=True,
    )
    listed = 0
    for case, proposed_at in repository.transfers_to(session, cell_ids=cells, limit=batch):
        facts = case_service.facts_of(case)
        if not decisions.may_step(found.principal, Step.SEE_PENDING_TRANSFER, facts):
            continue
        if listed == PER_KIND:
            found.truncated.append(WorkKind.ANSWER_TRANSFER)
            break
        found.add(WorkKind.ANSWER_TRANSFER, case, _day(proposed_at))
        listed += 1
    for case, expires_at in repository.archive_accesses_expiring(
        session, user_id=found.principal.user_id, now=now, until=now + EXPIRING, limit=batch
    ):
        found.add(WorkKind.ARCHIVE_ACCESS_EXPIRING, case, _day(expires_at))
    _meetings_to_run(session, found, cells, batch)


def _examinable(session: Session, cells: list[int], on: date, limit: int) -> list[Case]:
    """Retained cases on no agenda that a meeting held on ``on`` may examine (R7's month,
    the guard's own calendar rule)."""
    return [
        case
        for case in repository.in_state(
            session,
            cell_ids=cells,
            state=CaseState.RESEARCH,
            received_by=on - SHORTEST_MONTH,
            off_agenda=True,
            limit=limit,
        )
        if add_calendar_months(case.received_on, 1) <= on
    ]


def _orientation_items(
    session: Session,
    found: _Collector,
    kind: WorkKind,
    rows: Iterable[tuple[Orientation, Case]],
    due_on: Callable[[Orientation], date],
    *,
    keep: Callable[[Orientation, Case], bool] = lambda _o, _c: True,
    overdue: bool | None = None,
) -> None:
    """One item per orientation the caller may see (the orientation block, R13's only
    destination for the CST), kept by ``keep``."""
    listed = 0
    for orientation, case in rows:
        view = case_view(found.principal, case_service.facts_of(case))
        if Block.ORIENTATION not in view.blocks or Block.WORKFLOW not in view.blocks:
            continue
        if view.only_destination not in (None, orientation.destination):
            continue
        if not keep(orientation, case):
            continue
        if listed == PER_KIND:
            found.truncated.append(kind)
            break
        due = due_on(orientation)
        late = overdue if overdue is not None else due < found.today
        found.reads.setdefault(case.id, set()).add(Block.ORIENTATION.value)
        found.add(kind, case, due, overdue=late)
        listed += 1


def _meetings_to_run(session: Session, found: _Collector, cells: list[int], batch: int) -> None:
    """The next meeting of each cell, with how many cases it could still examine; the past
    ones not yet marked held (overdue)."""
    today = found.today
    past = repository.meetings(
        session,
        cell_ids=cells,
        first=today - timedelta(days=366),
        last=today - timedelta(1),
        limit=batch,
    )
    for meeting in past:
        found.items.append(_meeting_item(WorkKind.MEETING_TO_CLOSE, meeting, overdue=True))
    seen: set[int] = set()
    for meeting in repository.meetings(
        session, cell_ids=cells, first=today, last=None, limit=batch
    ):
        if meeting.cell_id in seen:
            continue
        seen.add(meeting.cell_id)
        ready = _examinable(session, [meeting.cell_id], meeting.held_on, batch)
        shown = sum(found.shows(case) for case in ready)
        found.items.append(_meeting_item(WorkKind.NEXT_MEETING, meeting, count=shown))


def _meeting_item(
    kind: WorkKind, meeting: Meeting, *, overdue: bool = False, count: int | None = None
) -> WorkItem:
    return WorkItem(
        kind=kind,
        meeting_id=meeting.id,
        held_on=meeting.held_on,
        starts_at=meeting.starts_at,
        due_on=meeting.held_on,
        overdue=overdue,
        count=count,
    )


def _parquet(session: Session, found: _Collector, cells: list[int]) -> None:
    listed = 0
    for case, referred_at in repository.referred(session, cell_ids=cells, limit=PER_KIND + 1):
        if not found.shows(case):
            continue
        if listed == PER_KIND:
            found.truncated.append(WorkKind.DECIDE_REFERRAL)
            break
        day = _day(referred_at)
        found.add(WorkKind.DECIDE_REFERRAL, case, day, age_days=(found.today - day).days)
        listed += 1


def _member(session: Session, found: _Collector, cells: list[int]) -> None:
    user = found.principal.user_id
    own = repository.submitted_by(session, user_id=user, limit=PER_KIND + 1)
    found.cases(
        WorkKind.COMPLETE_SIGNALEMENT,
        [c for c in own if c.state == CaseState.SUBMITTED.value and c.returned_reason],
        lambda case: _day(case.returned_at) if case.returned_at else case.received_on,
    )
    found.cases(WorkKind.OWN_SIGNALEMENT, own, lambda case: case.received_on)
    found.cases(
        WorkKind.IN_RESEARCH,
        repository.in_state(session, cell_ids=cells, state=CaseState.RESEARCH, limit=PER_KIND + 1),
        lambda case: case.received_on,
    )
    for meeting in repository.meetings(
        session, cell_ids=cells, first=found.today, last=None, limit=MEETINGS_AHEAD
    ):
        found.items.append(_meeting_item(WorkKind.MEETING, meeting))


def _cst(session: Session, found: _Collector, cells: list[int], feedback_days: int) -> None:
    _orientation_items(
        session,
        found,
        WorkKind.AWAITING_FEEDBACK,
        repository.orientations(
            session,
            cell_ids=cells,
            transmitted=True,
            destination=Destination.SOCIAL_SERVICES.value,
            limit=PER_KIND + 1,
        ),
        lambda o: _transmitted_on(o) + timedelta(days=feedback_days),
    )
