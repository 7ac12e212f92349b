"""Cell meetings: creating them, putting cases on the agenda (step 4), and what they show."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from app.audit import trail
from app.audit.trail import Action, Read
from app.cases import personal
from app.cases import repository as cases
from app.cases import service as case_service
from app.cases.models import Case
from app.crypto.vault import Vault
from app.db import utcnow
from app.directory import repository as directory
from app.errors import Forbidden, Gone, IntegrityFailure, InvalidInput, NotFound
from app.meetings import repository
from app.meetings.models import Meeting
from app.meetings.schemas import (
    AgendaItem,
    MeetingCreate,
    MeetingRead,
    NotRetainedItem,
    PersonShown,
)
from app.policy import decisions
from app.policy.visibility import Block, case_view
from app.principal import Principal
from app.workflow import guards
from app.workflow.guards import GuardFailed, InvalidStepInput
from app.workflow.machine import ALLOWED_FROM, IllegalStep, fire
from app.workflow.states import CaseState, Step

MEETING_WINDOW = timedelta(days=366)
MEETINGS_LISTED = 100
CANDIDATES_LISTED = 200


def create_meeting(
    session: Session,
    *,
    principal: Principal,
    data: MeetingCreate,
    today: date,
    meeting_record_days: int,
) -> Meeting:
    """A meeting of the cell: to come (within a year), or held at most
    ``meeting_record_days`` ago (recorded afterwards, never invented long after)."""
    if directory.get_cell(session, data.cell_id) is None:
        raise Forbidden("You are not a member of this cell.", slug="not-a-cell-member")
    decisions.require_in_cell(principal, "schedule_meeting", data.cell_id, "schedule a meeting")
    try:
        guards.check_meeting_recordable(data.held_on, today, meeting_record_days)
    except InvalidStepInput as refused:
        raise case_service.as_invalid_input(refused) from refused
    if (data.held_on - today).days > MEETING_WINDOW.days:
        raise InvalidInput(
            "held_on must be within a year of today.",
            errors=[
                {
                    "loc": ["body", "held_on"],
                    "msg": "held_on must be within a year of today",
                    "type": "date_out_of_window",
                }
            ],
        )
    meeting = Meeting(
        id=uuid.uuid4(),
        cell_id=data.cell_id,
        held_on=data.held_on,
        created_by=principal.user_id,
        created_at=utcnow(),
    )
    session.add(meeting)
    session.flush()
    trail.record(session, principal, Action.CREATE_MEETING, detail=f"meeting:{meeting.id}")
    case_service.schedule_presentations(session, meeting=meeting, today=today)
    return meeting


def get_meeting(session: Session, *, principal: Principal, meeting_id: uuid.UUID) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or not principal.is_member_of(meeting.cell_id):
        # Another cell's meeting or none: one statement either way, the probe logged.
        raise NotFound(
            "No meeting with this id in your cells.",
            slug="meeting-not-found",
            meeting_id=meeting_id,
        )
    decisions.require_in_cell(principal, "read_meeting", meeting.cell_id, "read a meeting")
    return meeting


def put_on_agenda(
    session: Session,
    *,
    principal: Principal,
    meeting_id: uuid.UUID,
    case_id: uuid.UUID,
    today: date,
    meeting_record_days: int,
) -> Meeting:
    meeting = get_meeting(session, principal=principal, meeting_id=meeting_id)
    case_service.examine_at_meeting(
        session,
        principal=principal,
        meeting=meeting,
        case_id=case_id,
        today=today,
        meeting_record_days=meeting_record_days,
    )
    return meeting


def meeting_read(
    session: Session, *, principal: Principal, vault: Vault, meeting: Meeting, today: date
) -> MeetingRead:
    """The meeting as this reader may see it: each case of its agenda shown as a direct read
    of that case would show it (the charter's decision, case by case), those it shows nothing
    of left out; every case shown is an audited read of the blocks shown (R23)."""
    agenda = [
        item
        for case in cases.on_agenda(session, meeting_id=meeting.id)
        if (item := agenda_item(principal, vault, case)) is not None
    ]
    # R7/R12: the parquet presents its not-retained situations at the meeting: identities
    # and the mark are shown on the meeting's day to those attending; on another day, each
    # reader sees what the charter shows them of the case.
    presenting = meeting.held_on == today and decisions.may_in_cell(
        principal, "see_presented_identities", meeting.cell_id
    )
    not_retained = [
        presented
        for case in cases.presented_at(session, meeting_id=meeting.id)
        if (presented := _presented_item(principal, vault, case, presenting)) is not None
    ]
    lines: list[AgendaItem | NotRetainedItem] = [*agenda, *not_retained]
    trail.record_reads(
        session, principal, Action.READ_MEETING, [Read(i.case_id, _shown(i)) for i in lines]
    )
    return MeetingRead(
        id=meeting.id,
        cell_id=meeting.cell_id,
        held_on=meeting.held_on,
        agenda=agenda,
        not_retained=not_retained,
    )


def agenda_item(principal: Principal, vault: Vault, case: Case) -> AgendaItem | None:
    """A case of an agenda as this reader may see it; None if the charter shows them nothing
    of it now (a direct read would refuse it). Like a direct read, a line shows the state of
    any case it lists."""
    view = case_view(principal, case_service.facts_of(case))
    if not view.blocks:
        return None
    minor = _person(vault, case) if Block.IDENTITY in view.blocks else None
    return AgendaItem(
        case_id=case.id,
        reference=case.reference,
        state=CaseState(case.state),
        minor=minor,
        withheld=_withheld(minor),
    )


def _presented_item(
    principal: Principal, vault: Vault, case: Case, presenting: bool
) -> NotRetainedItem | None:
    """A not-retained situation the parquet presents: identity and mark to those attending on
    the meeting's day (R7), otherwise what the charter shows this reader of the case."""
    if not presenting:
        view = case_view(principal, case_service.facts_of(case))
        if not view.blocks:
            return None
        if Block.IDENTITY not in view.blocks:
            return NotRetainedItem(
                case_id=case.id, reference=case.reference, minor=None, withheld=_withheld(None)
            )
    minor = _person(vault, case)
    return NotRetainedItem(
        case_id=case.id, reference=case.reference, minor=minor, withheld=_withheld(minor)
    )


# What a line of a meeting shows of a case: its state or "not retained" mark (workflow), and
# the minor's identity; it says which of the two it withholds (R16).
_LINE_BLOCKS = (Block.WORKFLOW, Block.IDENTITY)


def _withheld(minor: PersonShown | None) -> list[Block]:
    return [] if minor is not None else [Block.IDENTITY]


def _shown(item: AgendaItem | NotRetainedItem) -> frozenset[str]:
    return frozenset(b.value for b in _LINE_BLOCKS if b not in item.withheld)


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


# --- the meeting screen (app.web.meetings_pages) ----------------------------------------------


def list_meetings(session: Session, *, principal: Principal) -> Sequence[Meeting]:
    """The meetings (latest first) of the caller's cells whose agendas the charter lets them
    read: ids, cells and dates only, nothing nominative."""
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
    return repository.meetings_of_cells(session, cell_ids=cells, limit=MEETINGS_LISTED)


def agenda_sizes(session: Session, *, meetings: Sequence[Meeting]) -> dict[uuid.UUID, int]:
    """How many cases each meeting has on its agenda (a count, nothing nominative)."""
    return repository.agenda_sizes(session, meeting_ids=[m.id for m in meetings])


def may_schedule(principal: Principal, cell_id: int) -> bool:
    """Whether the charter lets the caller schedule a meeting of this cell (R7)."""
    return decisions.may_in_cell(principal, "schedule_meeting", cell_id)


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
    identity the caller may see; every identity shown is an audited read."""
    states = [state.value for state in ALLOWED_FROM[Step.EXAMINE_AT_MEETING]]
    found = repository.awaiting_examination(
        session, cell_id=meeting.cell_id, states=states, limit=CANDIDATES_LISTED
    )
    ready: list[AgendaItem] = []
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
        item = agenda_item(principal, vault, case)
        if item is not None:
            ready.append(item)
    trail.record_reads(
        session, principal, Action.READ_MEETING, [Read(i.case_id, _shown(i)) for i in ready]
    )
    return Candidates(ready, later)
