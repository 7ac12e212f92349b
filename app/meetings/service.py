"""Cell meetings (steps 4 to 6): convening them, rescheduling or cancelling them, their
agendas and their order, who attended, marking them held, and what they show each reader.

The meeting's own rules are pure functions (:mod:`app.meetings.rules`); a case's moves onto and
off an agenda are steps of the procedure (:mod:`app.cases.service`), decided by the charter.
Every change to an agenda bumps the meeting's version, so that a rescheduling that re-checked
the agenda and a concurrent change to it cannot both be saved (the second is a 409).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.audit import trail
from app.audit.trail import Action, Read
from app.cases import personal
from app.cases import service as case_service
from app.cases.models import Case, Orientation
from app.clock import PARIS, start_of_day
from app.crypto.vault import Vault
from app.db import utcnow
from app.directory import repository as directory
from app.errors import Conflict, Forbidden, Gone, IntegrityFailure, InvalidInput, NotFound
from app.meetings import repository, rules
from app.meetings.models import Meeting, MeetingParticipant
from app.meetings.schemas import (
    AgendaItem,
    FeedbackItem,
    MeetingChange,
    MeetingCreate,
    MeetingPage,
    MeetingRead,
    MeetingSummary,
    NotRetainedItem,
    OrientationShown,
    ParticipantRead,
    PersonShown,
)
from app.notifications import service as notifications
from app.policy import decisions
from app.policy.visibility import Block, CaseView, case_view
from app.principal import Principal
from app.vocabulary import (
    Destination,
    FeedbackOutcome,
    MeetingStatus,
    Organisation,
    ReorientedTo,
    ReviewDecision,
    Role,
)
from app.workflow import guards
from app.workflow.guards import GuardFailed, InvalidStepInput
from app.workflow.machine import ALLOWED_FROM, IllegalStep, fire
from app.workflow.states import CaseState, Step

MEETING_WINDOW = timedelta(days=366)
MEETINGS_LISTED = 100
CANDIDATES_LISTED = 200
# The states in which a case on an agenda is still to be decided by the cell.
UNDECIDED = CaseState.CELL_REVIEW.value
# Kept for the record: what a line says of a case the reader can no longer read (issue 17).
RECORD_STATES = (CaseState.CLOSED, CaseState.PURGED)
RECORD_LINE = "record_line"
# What a line of a meeting may show of a case: its state and the cell's decision (workflow),
# the identity, the orientations and their feedback. ``withheld`` names those of them the
# charter does not show the reader (R16).
LINE_BLOCKS = (Block.WORKFLOW, Block.IDENTITY, Block.ORIENTATION, Block.FEEDBACK)


def _withheld(view: CaseView) -> list[Block]:
    return [block for block in LINE_BLOCKS if block not in view.blocks]


# --- refusals -------------------------------------------------------------------------------


@contextmanager
def _refusals(meeting_id: uuid.UUID | None = None) -> Iterator[None]:
    """The meeting's rules as problems: a value refused is a 422, a state that forbids the
    change a 409, each with its own type and the meeting it named."""
    try:
        yield
    except InvalidStepInput as refused:
        error = case_service.as_invalid_input(refused)
        error.meeting_id = meeting_id
        raise error from refused
    except GuardFailed as refused:
        raise Conflict(refused.detail, slug=refused.slug, meeting_id=meeting_id) from refused


def _status(meeting: Meeting) -> MeetingStatus:
    return MeetingStatus(meeting.status)


def _save(session: Session, meeting: Meeting) -> None:
    """Flushes the meeting's change; a concurrent change to it, or a slot taken meanwhile by
    another meeting, is a 409 (the request's transaction is then rolled back whole)."""
    try:
        session.flush()
    except StaleDataError as error:
        raise Conflict(
            "Someone changed this meeting at the same moment; reload it and try again.",
            slug="concurrent-change",
            meeting_id=meeting.id,
        ) from error
    except IntegrityError as error:
        raise _slot_taken(meeting.id) from error


def _slot_taken(meeting_id: uuid.UUID | None) -> Conflict:
    return Conflict(
        "The cell already has a meeting scheduled on this day at this time.",
        slug="meeting-slot-taken",
        meeting_id=meeting_id,
    )


def _touch(meeting: Meeting) -> None:
    """A change to the meeting or its agenda: its version moves on when the session flushes."""
    meeting.updated_at = utcnow()


def _changed(
    session: Session, principal: Principal, meeting: Meeting, action: Action, more: str = ""
) -> None:
    """Saves a change to the meeting (its version checked) and records it, naming the meeting
    (and ``more``: codes and counts, never a value typed)."""
    _touch(meeting)
    _save(session, meeting)
    detail = f"meeting:{meeting.id}" + (f" {more}" if more else "")
    trail.record(session, principal, action, detail=detail)


# --- convening and rescheduling -------------------------------------------------------------


def create_meeting(
    session: Session,
    *,
    principal: Principal,
    data: MeetingCreate,
    today: date,
    meeting_record_days: int,
) -> Meeting:
    """A meeting of the cell at a day, a time and a place: to come (within a year), or held at
    most ``meeting_record_days`` ago (recorded afterwards, never invented long after). The
    cell's members who take part in meetings are invited."""
    if directory.get_cell(session, data.cell_id) is None:
        raise Forbidden("You are not a member of this cell.", slug="not-a-cell-member")
    decisions.require_in_cell(principal, "schedule_meeting", data.cell_id, "schedule a meeting")
    with _refusals():
        guards.check_meeting_recordable(data.held_on, today, meeting_record_days)
        rules.check_starts_at(data.starts_at)
        place = rules.clean_place(data.place)
    _check_within_a_year(data.held_on, today)
    if repository.slot_taken(
        session, cell_id=data.cell_id, held_on=data.held_on, starts_at=data.starts_at
    ):
        raise _slot_taken(None)
    now = utcnow()
    meeting = Meeting(
        id=uuid.uuid4(),
        cell_id=data.cell_id,
        held_on=data.held_on,
        starts_at=data.starts_at,
        place=place,
        status=MeetingStatus.SCHEDULED.value,
        created_by=principal.user_id,
        created_at=now,
        participants=[
            MeetingParticipant(user_id=user.id, invited_at=now)
            for user in repository.active_members(session, cell_id=data.cell_id)
        ],
    )
    session.add(meeting)
    _save(session, meeting)
    trail.record(session, principal, Action.CREATE_MEETING, detail=f"meeting:{meeting.id}")
    case_service.schedule_presentations(session, meeting=meeting, today=today)
    notifications.meeting_scheduled(session, meeting=meeting)
    return meeting


def _check_within_a_year(held_on: date, today: date) -> None:
    if (held_on - today).days > MEETING_WINDOW.days:
        raise InvalidInput(
            "held_on must be within a year of today.",
            slug="meeting-too-far",
            errors=[
                {
                    "loc": ["body", "held_on"],
                    "msg": "held_on must be within a year of today",
                    "type": "date_out_of_window",
                }
            ],
        )


def reschedule(
    session: Session,
    *,
    principal: Principal,
    meeting_id: uuid.UUID,
    data: MeetingChange,
    today: date,
) -> Meeting:
    """Moves a meeting still to be held (day, time, place). A new day is today or later, and
    keeps R7's month for every case of the agenda: otherwise nothing changes and the refusal
    names the cases (by reference) it would examine too early."""
    meeting = _meeting_to_run(session, principal, meeting_id, "reschedule a meeting")
    changes = data.model_dump(exclude_none=True)
    if not changes:
        raise InvalidInput(
            "Send the meeting's new held_on, starts_at or place.",
            slug="nothing-to-change",
            meeting_id=meeting.id,
        )
    held_on = data.held_on or meeting.held_on
    starts_at = data.starts_at or meeting.starts_at
    agenda = repository.on_agenda(session, meeting_id=meeting.id)
    with _refusals(meeting.id):
        rules.check_still_scheduled(_status(meeting))
        _check_nothing_decided(agenda)
        if data.held_on is not None:
            rules.check_rescheduled_on(data.held_on, today)
        if data.starts_at is not None:
            rules.check_starts_at(data.starts_at)
        place = rules.clean_place(data.place) if data.place is not None else None
    if data.held_on is not None:
        _check_within_a_year(data.held_on, today)
        too_early = rules.examined_too_early({c.reference: c.received_on for c in agenda}, held_on)
        if too_early:
            raise Conflict(
                f"On {held_on.isoformat()} these cases of the agenda would be examined less "
                f"than one calendar month after their receipt (R7): {', '.join(too_early)}. "
                "Take them off the agenda first, or choose a later day.",
                slug="one-month-rule",
                meeting_id=meeting.id,
                cases=too_early,
            )
    if starts_at is not None and repository.slot_taken(
        session,
        cell_id=meeting.cell_id,
        held_on=held_on,
        starts_at=starts_at,
        other_than=meeting.id,
    ):
        raise _slot_taken(meeting.id)
    if held_on != meeting.held_on and meeting.attendance_recorded_at is not None:
        # Recorded on the day it no longer takes place: the meeting has not been held, and
        # a sheet of that day would still withhold from those it said absent what the
        # charter shows the members of a case on an agenda (R7, R12). Recorded anew then.
        meeting.attendance_recorded_at = None
        for participant in meeting.participants:
            participant.attended = None
    meeting.held_on = held_on
    meeting.starts_at = starts_at
    if place is not None:
        meeting.place = place
    _changed(session, principal, meeting, Action.RESCHEDULE_MEETING, ",".join(sorted(changes)))
    notifications.meeting_rescheduled(session, meeting=meeting)
    return meeting


def _check_nothing_decided(agenda: Sequence[Case]) -> None:
    decided = sum(case.state != UNDECIDED for case in agenda)
    if decided:
        raise GuardFailed(
            "meeting-has-decisions",
            "The cell has already decided on cases of this meeting: its day and agenda are "
            "part of the record.",
        )


def cancel(
    session: Session, *, principal: Principal, meeting_id: uuid.UUID, today: date
) -> Meeting:
    """Cancels a meeting still to be held: its cases go back to research, ready for another
    meeting, and the not-retained situations it was to present go to the cell's next one."""
    meeting = _meeting_to_run(session, principal, meeting_id, "cancel a meeting")
    agenda = repository.on_agenda(session, meeting_id=meeting.id)
    with _refusals(meeting.id):
        rules.check_cancellable(_status(meeting), sum(case.state != UNDECIDED for case in agenda))
    for line in agenda:
        case = case_service.case_for_step(session, principal, line.id, Step.REMOVE_FROM_AGENDA)
        case_service.take_off_agenda(session, principal=principal, case=case, today=today)
    upcoming = repository.next_meeting(
        session, cell_id=meeting.cell_id, on_or_after=today, other_than=meeting.id
    )
    for case in repository.presented_at(session, meeting_id=meeting.id):
        if case.state == CaseState.NOT_RETAINED.value:
            case.presentation_meeting_id = upcoming.id if upcoming else None
    meeting.status = MeetingStatus.CANCELLED.value
    _changed(session, principal, meeting, Action.CANCEL_MEETING)
    notifications.meeting_cancelled(session, meeting=meeting)
    return meeting


def mark_held(
    session: Session, *, principal: Principal, meeting_id: uuid.UUID, today: date
) -> Meeting:
    """The meeting took place: on or after its day, once the cell decided on every case of its
    agenda (the others taken off it, for a later meeting). Its agenda is then the record."""
    meeting = _meeting_to_run(session, principal, meeting_id, "record a meeting as held")
    agenda = repository.on_agenda(session, meeting_id=meeting.id)
    undecided = sorted(case.reference for case in agenda if case.state == UNDECIDED)
    with _refusals(meeting.id):
        rules.check_may_mark_held(_status(meeting), meeting.held_on, today, undecided)
    meeting.status = MeetingStatus.HELD.value
    _changed(session, principal, meeting, Action.MARK_MEETING_HELD)
    return meeting


def record_attendance(
    session: Session,
    *,
    principal: Principal,
    meeting_id: uuid.UUID,
    attended: Sequence[int],
    today: date,
) -> Meeting:
    """Who attended, from the meeting's day on: each participant (and each member of the cell
    who takes part in meetings, invited or not) is marked present or absent. A member absent
    does not gain from this meeting the view of its cases that the charter gives to those
    who attend (R7, R12)."""
    meeting = _meeting_to_run(session, principal, meeting_id, "record who attended a meeting")
    with _refusals(meeting.id):
        rules.check_attendance_recordable(_status(meeting), meeting.held_on, today)
    present = set(attended)
    if len(present) != len(attended):
        raise _invalid_attendance(meeting.id, "Name each participant once.")
    known = {p.user_id: p for p in meeting.participants}
    members = {u.id for u in repository.active_members(session, cell_id=meeting.cell_id)}
    unknown = present - set(known) - members
    if unknown:
        raise _invalid_attendance(
            meeting.id, "Only the cell's members invited to its meetings can have attended."
        )
    now = utcnow()
    for user_id in sorted(members - set(known)):
        participant = MeetingParticipant(user_id=user_id, invited_at=now)
        meeting.participants.append(participant)
        known[user_id] = participant
    for user_id, participant in known.items():
        participant.attended = user_id in present
    meeting.attendance_recorded_at = now
    _changed(
        session,
        principal,
        meeting,
        Action.RECORD_ATTENDANCE,
        f"present:{len(present)} absent:{len(known) - len(present)}",
    )
    return meeting


def _invalid_attendance(meeting_id: uuid.UUID, why: str) -> InvalidInput:
    return InvalidInput(
        why,
        slug="not-a-participant",
        meeting_id=meeting_id,
        errors=[{"loc": ["body", "attended"], "msg": why, "type": "not_a_participant"}],
    )


# --- the agenda -----------------------------------------------------------------------------


def put_on_agenda(
    session: Session,
    *,
    principal: Principal,
    meeting_id: uuid.UUID,
    case_id: uuid.UUID,
    today: date,
    meeting_record_days: int,
) -> Meeting:
    """Step 4: the case goes to the end of the agenda of a meeting still to be held."""
    meeting = get_meeting(session, principal=principal, meeting_id=meeting_id)
    agenda = repository.on_agenda(session, meeting_id=meeting.id)
    if _status(meeting) is not MeetingStatus.SCHEDULED:
        # The charter first: who may not put a case on an agenda learns nothing of its state.
        case_service.case_for_step(session, principal, case_id, Step.EXAMINE_AT_MEETING)
        with _refusals(meeting.id):
            rules.check_still_scheduled(_status(meeting))
    last = max((case.agenda_position or 0 for case in agenda), default=0)
    case_service.examine_at_meeting(
        session,
        principal=principal,
        meeting=meeting,
        case_id=case_id,
        today=today,
        meeting_record_days=meeting_record_days,
        position=max(last, len(agenda)) + 1,
    )
    _touch(meeting)
    _save(session, meeting)
    return meeting


def remove_from_agenda(
    session: Session,
    *,
    principal: Principal,
    meeting_id: uuid.UUID,
    case_id: uuid.UUID,
    today: date,
) -> Meeting:
    """Takes a case off the agenda of a meeting still to be held, before the cell decided on
    it: back to research, for another meeting."""
    meeting = get_meeting(session, principal=principal, meeting_id=meeting_id)
    case = case_service.case_for_step(session, principal, case_id, Step.REMOVE_FROM_AGENDA)
    if case.meeting_id != meeting.id:
        raise Conflict(
            "This case is not on this meeting's agenda.",
            slug="not-on-agenda",
            case_id=case.id,
            meeting_id=meeting.id,
        )
    with _refusals(meeting.id):
        rules.check_still_scheduled(_status(meeting))
    if case.state != UNDECIDED:
        raise Conflict(
            "The cell has decided on this case: it stays on the agenda of the meeting that "
            "decided it.",
            slug="case-already-decided",
            case_id=case.id,
            meeting_id=meeting.id,
        )
    case_service.take_off_agenda(session, principal=principal, case=case, today=today)
    _touch(meeting)
    _save(session, meeting)
    return meeting


def order_agenda(
    session: Session,
    *,
    principal: Principal,
    meeting_id: uuid.UUID,
    case_ids: Sequence[uuid.UUID],
) -> Meeting:
    """The order in which the cell will examine the agenda's cases: each of them once."""
    meeting = _meeting_to_run(session, principal, meeting_id, "order a meeting's agenda")
    with _refusals(meeting.id):
        rules.check_still_scheduled(_status(meeting))
    agenda = {case.id: case for case in repository.on_agenda(session, meeting_id=meeting.id)}
    if len(set(case_ids)) != len(case_ids) or set(case_ids) != set(agenda):
        why = "List each case of the agenda exactly once, and no other case."
        raise InvalidInput(
            why,
            slug="agenda-order-mismatch",
            meeting_id=meeting.id,
            errors=[{"loc": ["body", "case_ids"], "msg": why, "type": "agenda_order_mismatch"}],
        )
    for position, case_id in enumerate(case_ids, start=1):
        agenda[case_id].agenda_position = position
    _changed(session, principal, meeting, Action.ORDER_AGENDA)
    return meeting


def move_in_agenda(
    session: Session,
    *,
    principal: Principal,
    meeting_id: uuid.UUID,
    case_id: uuid.UUID,
    offset: int,
) -> Meeting:
    """One case up or down the agenda (the page's arrows): the same rule as a full order."""
    meeting = get_meeting(session, principal=principal, meeting_id=meeting_id)
    order = [case.id for case in repository.on_agenda(session, meeting_id=meeting.id)]
    if case_id in order:
        here = order.index(case_id)
        there = min(max(here + offset, 0), len(order) - 1)
        order.insert(there, order.pop(here))
    else:
        order.append(case_id)  # refused below as not on the agenda
    return order_agenda(session, principal=principal, meeting_id=meeting.id, case_ids=order)


# --- reading ----------------------------------------------------------------------------------


def get_meeting(session: Session, *, principal: Principal, meeting_id: uuid.UUID) -> Meeting:
    meeting = repository.get_meeting(session, meeting_id)
    if meeting is None or not principal.is_member_of(meeting.cell_id):
        # Another cell's meeting or none: one statement either way, the probe logged.
        raise NotFound(
            "No meeting with this id in your cells.",
            slug="meeting-not-found",
            meeting_id=meeting_id,
        )
    decisions.require_in_cell(principal, "read_meeting", meeting.cell_id, "read a meeting")
    repository.load_participants(session, meeting)
    return meeting


def _meeting_to_run(
    session: Session, principal: Principal, meeting_id: uuid.UUID, doing: str
) -> Meeting:
    """A meeting of the caller's cells that the charter lets them run (the coordinator, R7)."""
    meeting = get_meeting(session, principal=principal, meeting_id=meeting_id)
    try:
        decisions.require_in_cell(principal, "schedule_meeting", meeting.cell_id, doing)
    except Forbidden as refusal:
        refusal.meeting_id = meeting.id
        raise
    return meeting


def may_run(principal: Principal, meeting: Meeting) -> bool:
    """Whether the charter lets the caller run this meeting (the coordinator, R7)."""
    return decisions.may_in_cell(principal, "schedule_meeting", meeting.cell_id)


def attended(principal: Principal, meeting: Meeting) -> bool:
    """Present at the meeting, or attendance not recorded yet (every participant invited)."""
    if meeting.attendance_recorded_at is None:
        return True
    return any(p.user_id == principal.user_id and p.attended for p in meeting.participants)


def meeting_read(
    session: Session,
    *,
    principal: Principal,
    vault: Vault,
    meeting: Meeting,
    today: date,
    action: Action = Action.READ_MEETING,
) -> MeetingRead:
    """The meeting as this reader may see it: each case of its agenda, of the not-retained
    situations presented and of the feedback expected, shown as a direct read of that case
    would show it (the charter's decision, case by case), those it shows nothing of left out
    (or listed for the record once closed or destroyed); every case shown is an audited read
    of the blocks shown, under ``action`` (a page, or a printed document, R23)."""
    reads: list[Read] = []
    agenda = [
        item
        for case in repository.on_agenda(session, meeting_id=meeting.id)
        if (item := _agenda_line(principal, vault, case, reads)) is not None
    ]
    # R7/R12: the parquet presents its not-retained situations at the meeting: identities
    # and the mark are shown on the meeting's day to those attending; on another day, each
    # reader sees what the charter shows them of the case.
    presenting = (
        meeting.held_on == today
        and _status(meeting) is not MeetingStatus.CANCELLED
        and decisions.may_in_cell(principal, "see_presented_identities", meeting.cell_id)
        and attended(principal, meeting)
    )
    not_retained = [
        line
        for case in repository.presented_at(session, meeting_id=meeting.id)
        if (line := _presented_line(principal, vault, case, presenting, reads)) is not None
    ]
    feedback = _feedback_lines(session, principal, meeting, reads)
    _log_reads(session, principal, action, reads)
    return MeetingRead(
        id=meeting.id,
        cell_id=meeting.cell_id,
        held_on=meeting.held_on,
        starts_at=meeting.starts_at,
        place=meeting.place,
        status=_status(meeting),
        agenda=agenda,
        not_retained=not_retained,
        feedback=feedback,
        participants=_participants(session, meeting),
        attendance_recorded=meeting.attendance_recorded_at is not None,
    )


def _log_reads(session: Session, principal: Principal, action: Action, reads: list[Read]) -> None:
    """One event per case shown, naming every block the response showed of it; a case listed
    for the record only (its reference and that it was closed or destroyed, no block of it)
    is an event of its own, ``detail`` saying so."""
    merged: dict[uuid.UUID, set[str]] = {}
    for read in reads:
        merged.setdefault(read.case_id, set()).update(read.blocks)
    trail.record_reads(
        session,
        principal,
        action,
        [Read(case_id, frozenset(blocks)) for case_id, blocks in merged.items() if blocks],
    )
    for case_id in (case_id for case_id, blocks in merged.items() if not blocks):
        trail.record(session, principal, action, case_id=case_id, detail=RECORD_LINE)


def _participants(session: Session, meeting: Meeting) -> list[ParticipantRead]:
    users = repository.users_by_id(session, [p.user_id for p in meeting.participants])
    return sorted(
        (
            ParticipantRead(
                user_id=p.user_id,
                username=users[p.user_id].username,
                role=Role(users[p.user_id].role),
                organisation=Organisation(users[p.user_id].organisation),
                attended=p.attended,
            )
            for p in meeting.participants
            if p.user_id in users
        ),
        key=lambda p: p.username,
    )


def _agenda_line(
    principal: Principal, vault: Vault, case: Case, reads: list[Read]
) -> AgendaItem | None:
    """A case of an agenda as this reader may see it, and the read it is; None if the charter
    shows them nothing of it now (a direct read would refuse it), unless it was closed or
    destroyed since: then its reference and state, for the record."""
    view = case_view(principal, case_service.facts_of(case))
    if not view.blocks:
        if CaseState(case.state) not in RECORD_STATES:
            return None
        reads.append(Read(case.id, frozenset()))
        return AgendaItem(
            case_id=case.id,
            reference=case.reference,
            position=case.agenda_position,
            state=CaseState(case.state),
            minor=None,
            withheld=list(LINE_BLOCKS),
        )
    minor = _person(vault, case) if Block.IDENTITY in view.blocks else None
    orientations = _orientations(view, case.orientations)
    shown = {Block.WORKFLOW} if Block.WORKFLOW in view.blocks else set()
    if minor is not None:
        shown.add(Block.IDENTITY)
    if Block.ORIENTATION in view.blocks and case.orientations:
        shown.add(Block.ORIENTATION)
    if Block.FEEDBACK in view.blocks and any(o.feedback is not None for o in orientations):
        shown.add(Block.FEEDBACK)
    reads.append(Read(case.id, frozenset(b.value for b in shown)))
    decision = case.review_decision if Block.WORKFLOW in view.blocks else None
    return AgendaItem(
        case_id=case.id,
        reference=case.reference,
        position=case.agenda_position,
        state=CaseState(case.state),
        minor=minor,
        decision=ReviewDecision(decision) if decision else None,
        orientations=orientations,
        withheld=_withheld(view),
    )


def agenda_item(principal: Principal, vault: Vault, case: Case) -> AgendaItem | None:
    """A case as a line of a meeting (the agenda's candidates): see :func:`_agenda_line`."""
    return _agenda_line(principal, vault, case, [])


def _orientations(view: CaseView, orientations: Sequence[Orientation]) -> list[OrientationShown]:
    """The orientations the view shows (R13: the CST, the one to social services only), with
    their feedback where the view shows it."""
    if Block.ORIENTATION not in view.blocks:
        return []
    feedback = Block.FEEDBACK in view.blocks
    return [
        _orientation_shown(o, feedback)
        for o in orientations
        if view.only_destination is None or o.destination == view.only_destination
    ]


def _orientation_shown(orientation: Orientation, with_feedback: bool) -> OrientationShown:
    outcome = orientation.feedback_outcome if with_feedback else None
    return OrientationShown(
        id=orientation.id,
        destination=Destination(orientation.destination),
        service=orientation.service.name if orientation.service else None,
        transmitted_on=_paris_day(orientation.transmitted_at),
        feedback=FeedbackOutcome(outcome) if outcome else None,
        reoriented_to=(
            ReorientedTo(orientation.reoriented_to)
            if outcome and orientation.reoriented_to
            else None
        ),
        feedback_on=_paris_day(orientation.feedback_at) if outcome else None,
    )


def _paris_day(instant: datetime | None) -> date | None:
    return instant.astimezone(PARIS).date() if instant else None


def _presented_line(
    principal: Principal, vault: Vault, case: Case, presenting: bool, reads: list[Read]
) -> NotRetainedItem | None:
    """A not-retained situation the parquet presents: identity and mark to those attending on
    the meeting's day (R7), otherwise what the charter shows this reader of the case; once
    destroyed, its reference for the record."""
    if case.state == CaseState.PURGED.value:
        reads.append(Read(case.id, frozenset()))
        return NotRetainedItem(
            case_id=case.id,
            reference=case.reference,
            minor=None,
            destroyed=True,
            withheld=[Block.IDENTITY],
        )
    minor: PersonShown | None
    if presenting:
        minor = _person(vault, case)
    else:
        view = case_view(principal, case_service.facts_of(case))
        if not view.blocks:
            return None
        minor = _person(vault, case) if Block.IDENTITY in view.blocks else None
    shown = {Block.WORKFLOW.value} | ({Block.IDENTITY.value} if minor else set())
    reads.append(Read(case.id, frozenset(shown)))
    return NotRetainedItem(
        case_id=case.id,
        reference=case.reference,
        minor=minor,
        withheld=[] if minor is not None else [Block.IDENTITY],
    )


def _feedback_lines(
    session: Session, principal: Principal, meeting: Meeting, reads: list[Read]
) -> list[FeedbackItem]:
    """Step 6: the orientations transmitted by the meeting's day whose feedback is expected, or
    was received since the cell's previous meeting; each shown as far as the charter shows
    the reader the case's orientation (and feedback) blocks."""
    if _status(meeting) is MeetingStatus.CANCELLED:
        return []
    previous = repository.previous_meeting_day(
        session, cell_id=meeting.cell_id, before=meeting.held_on
    )
    orientations, cases = repository.feedback_expected(
        session,
        cell_id=meeting.cell_id,
        until=start_of_day(meeting.held_on + timedelta(days=1)),
        received_since=start_of_day(previous + timedelta(days=1)) if previous else None,
    )
    lines: list[FeedbackItem] = []
    for orientation in orientations:
        case = cases[orientation.case_id]
        view = case_view(principal, case_service.facts_of(case))
        if Block.ORIENTATION not in view.blocks:
            if CaseState(case.state) in RECORD_STATES:
                reads.append(Read(case.id, frozenset()))
                lines.append(
                    FeedbackItem(
                        case_id=case.id,
                        reference=case.reference,
                        state=CaseState(case.state),
                        orientation=None,
                        withheld=list(LINE_BLOCKS),
                    )
                )
            continue
        if view.only_destination not in (None, orientation.destination):
            continue
        shown_line = _orientation_shown(orientation, Block.FEEDBACK in view.blocks)
        shown = {Block.WORKFLOW, Block.ORIENTATION}
        if shown_line.feedback is not None:
            shown.add(Block.FEEDBACK)
        reads.append(Read(case.id, frozenset(b.value for b in shown)))
        lines.append(
            FeedbackItem(
                case_id=case.id,
                reference=case.reference,
                state=CaseState(case.state),
                orientation=shown_line,
                withheld=_withheld(view),
            )
        )
    return lines


def _person(vault: Vault, case: Case) -> PersonShown | None:
    """The identity shown at the meeting; none if the case's data is destroyed or damaged."""
    if case.personal is None:
        return None
    try:
        identity = personal.open_identity(case_service.cipher_of(vault, case), case.personal)
    except (Gone, IntegrityFailure):
        return None
    return PersonShown(
        last_name=identity.last_name,
        first_name=identity.first_name,
        birth_date=identity.birth_date,
    )


# --- lists ------------------------------------------------------------------------------------


def _readable_cells(principal: Principal) -> list[int]:
    """The caller's cells whose meetings the charter lets them read (403 if none)."""
    if not principal.charter_accepted:
        raise decisions.charter_refusal()
    if not principal.cell_ids:
        raise Forbidden(
            "You belong to no cell, so there is no meeting for you to list (R1, R2).",
            slug="not-a-cell-member",
        )
    cells = [c for c in principal.cell_ids if decisions.may_in_cell(principal, "read_meeting", c)]
    if not cells:
        raise Forbidden(
            "The charter does not let your role read meetings.", slug="role-not-allowed"
        )
    return sorted(cells)


def list_meetings(session: Session, *, principal: Principal) -> Sequence[Meeting]:
    """The meetings (latest first) of the caller's cells whose agendas the charter lets them
    read: ids, cells, days, times, places and status, nothing nominative."""
    cells = _readable_cells(principal)
    return repository.meetings_of_cells(session, cell_ids=cells, limit=MEETINGS_LISTED)


def meetings_page(
    session: Session,
    *,
    principal: Principal,
    cell_id: int | None,
    first: date | None,
    last: date | None,
    limit: int,
    cursor: str | None,
) -> MeetingPage:
    """``GET /meetings``: the meetings of the caller's cells (or of one of them) in a period,
    by day; nothing nominative, so no case is read."""
    cells = _readable_cells(principal)
    if cell_id is not None:
        if cell_id not in cells:
            raise Forbidden("You are not a member of this cell.", slug="not-a-cell-member")
        cells = [cell_id]
    found = repository.meetings_between(
        session,
        cell_ids=cells,
        first=first,
        last=last,
        after=_decode_cursor(cursor),
        batch=limit + 1,
    )
    shown = list(found[:limit])
    sizes = repository.agenda_sizes(session, meeting_ids=[m.id for m in shown])
    following = _encode_cursor(shown[-1]) if len(found) > limit else None
    return MeetingPage(
        items=[
            MeetingSummary(
                id=m.id,
                cell_id=m.cell_id,
                held_on=m.held_on,
                starts_at=m.starts_at,
                place=m.place,
                status=MeetingStatus(m.status),
                agenda_size=sizes.get(m.id, 0),
            )
            for m in shown
        ],
        next_cursor=following,
    )


def _encode_cursor(meeting: Meeting) -> str:
    raw = f"{meeting.held_on.isoformat()}|{meeting.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[date, uuid.UUID] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        day, meeting_id = raw.split("|")
        return date.fromisoformat(day), uuid.UUID(meeting_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "This cursor is not one the service gave; start again without it.",
            slug="invalid-cursor",
            errors=[{"loc": ["query", "cursor"], "msg": "unknown cursor", "type": "cursor"}],
        ) from None


def agenda_sizes(session: Session, *, meetings: Sequence[Meeting]) -> dict[uuid.UUID, int]:
    """How many cases each meeting has on its agenda (a count, nothing nominative)."""
    return repository.agenda_sizes(session, meeting_ids=[m.id for m in meetings])


def may_schedule(principal: Principal, cell_id: int) -> bool:
    """Whether the charter lets the caller schedule a meeting of this cell (R7)."""
    return decisions.may_in_cell(principal, "schedule_meeting", cell_id)


# --- what a meeting page offers (the same rules as the actions) -------------------------------


@dataclass(frozen=True, slots=True)
class Candidates:
    """The cases the caller may put on a meeting's agenda: ``ready`` ones this meeting may
    examine now, and how many more only a later meeting may (R7's month)."""

    ready: list[AgendaItem]
    later: int


def agenda_candidates(
    session: Session,
    *,
    principal: Principal,
    vault: Vault,
    meeting: Meeting,
    today: date,
    meeting_record_days: int,
) -> Candidates:
    """The cases of the meeting's cell whose examination at this meeting the procedure (its
    state machine and guards) and the charter (``examine_at_meeting``) both allow, with the
    identity the caller may see; every identity shown is an audited read. None once the
    meeting is held or cancelled."""
    if _status(meeting) is not MeetingStatus.SCHEDULED:
        return Candidates([], 0)
    states = [state.value for state in ALLOWED_FROM[Step.EXAMINE_AT_MEETING]]
    found = repository.awaiting_examination(
        session, cell_id=meeting.cell_id, states=states, limit=CANDIDATES_LISTED
    )
    ready: list[AgendaItem] = []
    reads: list[Read] = []
    later = 0
    for case in found:
        if not decisions.may_step(principal, Step.EXAMINE_AT_MEETING, case_service.facts_of(case)):
            continue
        facts = case_service.examination_facts(case, meeting, today, meeting_record_days)
        try:
            fire(Step.EXAMINE_AT_MEETING, CaseState(case.state), facts)  # pure: no row changes
        except (GuardFailed, IllegalStep):
            later += 1
            continue
        item = _agenda_line(principal, vault, case, reads)
        if item is not None:
            ready.append(item)
    _log_reads(session, principal, Action.READ_MEETING, reads)
    return Candidates(ready, later)


@dataclass(frozen=True, slots=True)
class MeetingActions:
    """What the coordinator may do with the meeting now, as the actions themselves decide."""

    reschedule: bool
    cancel: bool
    order: bool
    record_attendance: bool
    mark_held: bool
    # The agenda's cases that may be taken off it, and those the cell may decide now.
    removable: frozenset[uuid.UUID]
    decidable: frozenset[uuid.UUID]


def meeting_actions(
    session: Session, *, principal: Principal, meeting: Meeting, today: date
) -> MeetingActions:
    """The actions the meeting page offers: each exactly when its rule and the charter allow
    it now (the same rules the actions apply, asked without changing anything)."""
    if not may_run(principal, meeting):
        return MeetingActions(False, False, False, False, False, frozenset(), frozenset())
    agenda = repository.on_agenda(session, meeting_id=meeting.id)
    status = _status(meeting)
    undecided = sorted(case.reference for case in agenda if case.state == UNDECIDED)
    decided = len(agenda) - len(undecided)

    def passes(check: Callable[[], None]) -> bool:
        try:
            check()
        except (GuardFailed, InvalidStepInput):
            return False
        return True

    scheduled = passes(lambda: rules.check_still_scheduled(status))
    removable = frozenset(
        case.id
        for case in agenda
        if scheduled
        and case.state == UNDECIDED
        and decisions.may_step(principal, Step.REMOVE_FROM_AGENDA, case_service.facts_of(case))
    )
    review = frozenset(
        case.id
        for case in agenda
        if any(
            decisions.may_step(principal, step, case_service.facts_of(case))
            and case_service.allows(step, case, case_service.review_facts(session, case, today))
            for step in (Step.ORIENT, Step.CLOSE_WITHOUT_ACTION)
        )
    )
    return MeetingActions(
        reschedule=scheduled and decided == 0,
        cancel=passes(lambda: rules.check_cancellable(status, decided)),
        order=scheduled and len(agenda) > 1,
        record_attendance=passes(
            lambda: rules.check_attendance_recordable(status, meeting.held_on, today)
        ),
        mark_held=passes(
            lambda: rules.check_may_mark_held(status, meeting.held_on, today, undecided)
        ),
        removable=removable,
        decidable=review,
    )
