"""Every read and write of case data goes through here: the one place where the procedure
(``app.workflow``), the role table and the charter's visibility (``app.policy``) meet the
database. Functions only ``flush()``; the request's session commits.

Order of the checks, the same for every step: the case must exist in the caller's cells (else
404, existence not revealed), the caller's role must be allowed the step (403), then the
procedure must allow it now (409).
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.audit import trail
from app.audit.trail import Action, Read
from app.cases import personal, repository
from app.cases.age import age_bracket
from app.cases.models import (
    ArchiveAccess,
    Case,
    CaseMotif,
    CaseStep,
    Orientation,
    ResearchNote,
)
from app.cases.references import format_reference
from app.cases.schemas import (
    CaseCreate,
    FamilyInformationIn,
    FeedbackIn,
    OrientationIn,
    ReviewDecisionIn,
)
from app.clock import PARIS
from app.crypto.envelope import FieldCipher
from app.crypto.vault import DataDestroyed, KeyIntegrityError, Vault
from app.db import utcnow
from app.directory import repository as directory
from app.directory.models import Cell
from app.errors import Conflict, Forbidden, Gone, IntegrityFailure, InvalidInput, NotFound
from app.meetings import repository as meetings
from app.meetings.models import Meeting
from app.notifications import service as notifications
from app.partners import service as partners
from app.partners.models import PartnerService
from app.policy import decisions
from app.policy.visibility import SEALED_BLOCKS, Block, CaseFacts, CaseView, case_view
from app.principal import Principal
from app.retention.policy import birth_month
from app.schemas import utc_instant
from app.vocabulary import (
    ArchivePurpose,
    CellKind,
    ClosureReason,
    Destination,
    FamilyOutcome,
    FeedbackOutcome,
    NotificationKind,
    Organisation,
    ReviewDecision,
    Role,
    TransferOutcome,
)
from app.workflow import guards
from app.workflow.guards import GuardFailed, InvalidStepInput, StepFacts
from app.workflow.machine import ALLOWED_FROM, IllegalStep, fire
from app.workflow.states import CaseState, Step

CASE_NOT_FOUND = "No case with this id in your cells."
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VisibleCase:
    case: Case
    view: CaseView
    possible_duplicates: list[uuid.UUID] | None
    # Present only when a visible block holds nominative fields: decrypt only what is shown.
    cipher: FieldCipher | None
    # A closed case listed for who may ask for an archive access: reference, dates, reason.
    archive_entry: bool = False


# --- reading ----------------------------------------------------------------------------------


def facts_of(case: Case) -> CaseFacts:
    social = [o for o in case.orientations if o.destination == Destination.SOCIAL_SERVICES]
    return CaseFacts(
        case_id=case.id,
        state=CaseState(case.state),
        cell_id=case.cell_id,
        submitted_by=case.submitted_by,
        origin=case.origin,
        on_agenda=case.meeting_id is not None,
        destinations=frozenset(o.destination for o in case.orientations),
        social_services_transmitted=any(o.transmitted_at is not None for o in social),
        research_authors=frozenset(n.author_id for n in case.research_notes),
        transfer_cell=next(
            (t.to_cell_id for t in case.transfers if t.outcome == TransferOutcome.PENDING), None
        ),
        transferred_from=frozenset(
            t.from_cell_id for t in case.transfers if t.outcome == TransferOutcome.ACCEPTED
        ),
        agenda_attendees=_attendees(case),
    )


def _attendees(case: Case) -> frozenset[int] | None:
    """Who attended the meeting whose agenda holds the case, once attendance is recorded."""
    if case.meeting_id is None:
        return None
    participants = case.agenda_participants
    if all(p.attended is None for p in participants):
        return None
    return frozenset(p.user_id for p in participants if p.attended)


def read_case(
    session: Session, *, principal: Principal, vault: Vault, case_id: uuid.UUID
) -> VisibleCase:
    visible = view_case(session, principal=principal, vault=vault, case_id=case_id)
    if visible.case.state == CaseState.PURGED:
        # R18: to those of its cells, a destroyed case is gone, not hidden.
        raise Gone(
            "The nominative data of this case was destroyed under the retention rules (R18).",
            case_id=visible.case.id,
        )
    if not visible.view.blocks:
        raise _why_nothing(principal, visible.case)
    return visible


def _why_nothing(principal: Principal, case: Case) -> Forbidden:
    """The refusal of a read that shows nothing, saying what (if anything) the caller can do."""
    if not principal.charter_accepted:
        return decisions.charter_refusal()
    if case.state == CaseState.CLOSED and decisions.may_step(
        principal, Step.REQUEST_ARCHIVE_ACCESS, facts_of(case)
    ):
        return Forbidden(
            "This case is closed and archived (R17): request a time-limited access with "
            f"POST /api/v1/cases/{case.id}/archive-access and the reason for it.",
            slug="archive-access-required",
        )
    return Forbidden(
        "The charter lets your role see nothing of this case at its current step.",
        slug="charter-withholds-case",
    )


def view_case(
    session: Session, *, principal: Principal, vault: Vault, case_id: uuid.UUID
) -> VisibleCase:
    """The caller's view of a case of their cells, possibly empty (after a step, for instance)."""
    case = _case_in_cells(session, principal, case_id)
    visible = _visible(session, principal, vault, case, in_list=False)
    trail.record_reads(session, principal, Action.READ_CASE, [_read(visible)])
    return visible


def _read(visible: VisibleCase) -> Read:
    """What a response shows of a case, for the audit log (R23)."""
    return Read(
        visible.case.id,
        frozenset(visible.view.blocks),
        archived=visible.case.state == CaseState.CLOSED,
    )


def _visible(
    session: Session, principal: Principal, vault: Vault, case: Case, *, in_list: bool
) -> VisibleCase:
    view = case_view(principal, facts_of(case))
    cipher = None
    if view.blocks & SEALED_BLOCKS:
        if not in_list:
            cipher = cipher_of(vault, case)
        else:
            # In a list, one destroyed or damaged key must not take the others down: that
            # row shows its clear blocks only (the single read reports the problem).
            try:
                cipher = cipher_of(vault, case)
            except (Gone, IntegrityFailure):
                log.warning("case %s listed without its nominative blocks", case.id)
                # What is shown (and logged as read) is what remains.
                view = replace(view, blocks=view.blocks - SEALED_BLOCKS)
    duplicates = None
    if not in_list and Block.IDENTITY in view.blocks:
        duplicates = _possible_duplicates(session, principal, case)
    return VisibleCase(case, view, duplicates, cipher)


def shown_in_list(
    session: Session, *, principal: Principal, vault: Vault, case: Case
) -> VisibleCase:
    """A case as a list shows it (its cipher opened only if a sealed block is shown), for
    another list than ``list_cases``'s: the cases a search found."""
    return _visible(session, principal, vault, case, in_list=True)


def archive_index_entry(case: Case) -> VisibleCase:
    """A closed case as the archive's index lists it (R17): no block, no key opened."""
    return VisibleCase(case, CaseView(blocks=frozenset()), None, None, archive_entry=True)


def read_of(visible: VisibleCase) -> Read:
    """What a response shows of a case, for the audit log (R23)."""
    return _read(visible)


def cipher_of(vault: Vault, case: Case) -> FieldCipher:
    """The case's cipher; a destroyed key is 410, a damaged one an integrity problem."""
    try:
        return vault.cipher_for(case.id, case.key)
    except DataDestroyed as error:
        raise Gone(
            "The nominative data of this case was destroyed under the retention rules."
        ) from error
    except KeyIntegrityError as error:
        raise IntegrityFailure(
            "This case's key failed its integrity check; the incident is logged. Report it to "
            "the service's administrators."
        ) from error


def _possible_duplicates(session: Session, principal: Principal, case: Case) -> list[uuid.UUID]:
    """Other cases of the same minor (blind-index match) in the same cell, that the caller sees."""
    candidate_ids = repository.same_identity_case_ids(session, case_id=case.id)
    return [
        other.id
        for other in repository.get_cases_for_policy(session, candidate_ids)
        if Block.IDENTITY in case_view(principal, facts_of(other)).blocks
    ]


MAX_PAGE = 100


class ListSort(StrEnum):
    """The date a list is sorted by, newest first."""

    RECEIVED_ON = "received_on"
    UPDATED_AT = "updated_at"


def list_cases(
    session: Session,
    *,
    principal: Principal,
    vault: Vault,
    cell_id: int | None,
    state: CaseState | None,
    limit: int,
    cursor: str | None,
    reference: str | None = None,
    sort: ListSort = ListSort.RECEIVED_ON,
) -> tuple[list[VisibleCase], str | None]:
    """A page of the cases the caller may see: SQL narrows to their cells, the policy per row.

    Closed cases, which only an archive access opens (R17), are listed (``state=closed``, or
    found by their reference) to those who may ask for one: as an index entry, their
    reference, state, dates and closure reason."""
    if not principal.charter_accepted:
        raise decisions.charter_refusal()
    if not principal.cell_ids:
        raise Forbidden(
            "You belong to no cell, so there is no case for you to list (R1, R2).",
            slug="not-a-cell-member",
        )
    cells = principal.cell_ids if cell_id is None else principal.cell_ids & {cell_id}
    if cell_id is not None and not cells:
        raise Forbidden("You are not a member of this cell.", slug="not-a-cell-member")
    limit = max(1, min(limit, MAX_PAGE))
    position = _decode_cursor(cursor, sort)
    # Rows the policy hides are skipped, so read on until one more visible row than a page.
    visible: list[VisibleCase] = []
    while len(visible) <= limit:
        batch = repository.cases_in_cells(
            session,
            cell_ids=cells,
            state=state.value if state else None,
            reference=reference,
            sort=sort.value,
            after=position,
            batch=limit + 1,
            author_id=principal.user_id,
        )
        for case in batch:
            facts = facts_of(case)
            if case_view(principal, facts).blocks:
                visible.append(_visible(session, principal, vault, case, in_list=True))
            elif (state is CaseState.CLOSED or reference) and _may_index_archive(principal, facts):
                visible.append(
                    VisibleCase(case, CaseView(blocks=frozenset()), None, None, archive_entry=True)
                )
        if len(batch) <= limit:
            break
        position = (_sort_value(batch[-1], sort), batch[-1].id)
    page = visible[:limit]
    trail.record_reads(session, principal, Action.LIST_CASES, [_read(v) for v in page])
    for entry in (v for v in page if v.archive_entry):
        # R17, R23: the archive's index shows no block, but its showing is an access too.
        trail.record(
            session, principal, Action.LIST_CASES, case_id=entry.case.id, detail="archive_index"
        )
    if len(visible) <= limit:
        return page, None
    return page, _encode_cursor(sort, _sort_value(page[-1].case, sort), page[-1].case.id)


def _may_index_archive(principal: Principal, facts: CaseFacts) -> bool:
    return decisions.may_step(principal, Step.REQUEST_ARCHIVE_ACCESS, facts)


def _sort_value(case: Case, sort: ListSort) -> date | datetime:
    return case.received_on if sort is ListSort.RECEIVED_ON else case.updated_at


def _encode_cursor(sort: ListSort, value: date | datetime, case_id: uuid.UUID) -> str:
    raw = f"{sort.value}|{value.isoformat()}|{case_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None, sort: ListSort) -> tuple[date | datetime, uuid.UUID] | None:
    if not cursor:
        return None
    refused = InvalidInput(
        "The cursor is not one this service gave for this sort; start again without it.",
        slug="invalid-cursor",
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        given_sort, stamp, case_id = raw.split("|")
        if given_sort != sort.value:
            raise refused
        value: date | datetime
        if sort is ListSort.RECEIVED_ON:
            value = date.fromisoformat(stamp)
        else:
            # A forged position must still be an instant of the calendar in UTC.
            value = utc_instant(datetime.fromisoformat(stamp))
        return value, uuid.UUID(case_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise refused from error


# --- step 1 -----------------------------------------------------------------------------------


def _prospective(principal: Principal, cell_id: int, origin: Organisation) -> CaseFacts:
    """The facts of a case this principal would submit in this cell."""
    return CaseFacts(
        state=CaseState.SUBMITTED,
        cell_id=cell_id,
        submitted_by=principal.user_id,
        origin=origin.value,
    )


def may_submit(principal: Principal) -> bool:
    """Whether the charter lets the caller send a situation in one of their cells (R4)."""
    own = principal.organisation
    return any(
        decisions.may_step(principal, Step.SUBMIT, _prospective(principal, cell_id, own))
        for cell_id in principal.cell_ids
    )


def may_declare_receipt(principal: Principal) -> bool:
    """Whether the caller may enter a signalement received outside the service, with the day
    and the way it was received (the coordinator: R4); anyone else's is received the day it
    is sent."""
    return any(
        decisions.may_step(
            principal,
            Step.DECLARE_RECEIPT,
            _prospective(principal, cell_id, principal.organisation),
        )
        for cell_id in principal.cell_ids
    )


def submit_case(
    session: Session,
    *,
    principal: Principal,
    vault: Vault,
    data: CaseCreate,
    today: date,
    received_on_max_days: int,
) -> Case:
    """Step 1. A signalement is received on the day it is submitted (Paris, the server's
    clock); only the coordinator declares an earlier day, for one received outside the service
    (``received_via``, required from them), at most ``received_on_max_days`` back."""
    cell = directory.get_cell(session, data.cell_id)
    if cell is None or not principal.is_member_of(cell.id):
        raise Forbidden("You are not a member of this cell.", slug="not-a-cell-member")
    origin = data.origin or principal.organisation
    prospective = _prospective(principal, cell.id, origin)
    if not decisions.may_step(principal, Step.SUBMIT, prospective) and decisions.may_step(
        principal, Step.SUBMIT, replace(prospective, origin=principal.organisation.value)
    ):
        raise Forbidden(
            "Only the coordinator may enter a situation on behalf of another organisation (R4); "
            "leave origin out.",
            slug="origin-reserved",
        )
    decisions.require_step(principal, Step.SUBMIT, prospective)
    declares = decisions.may_step(principal, Step.DECLARE_RECEIPT, prospective)
    if not declares and (data.received_on is not None or data.received_via is not None):
        raise Forbidden(
            "A signalement is received on the day it is sent: leave received_on and "
            "received_via out. Only the coordinator declares an earlier day, for a signalement "
            "received outside the service.",
            slug="received-on-not-allowed",
            errors=[
                {
                    "loc": ["body", "received_on" if data.received_on else "received_via"],
                    "msg": "the coordinator's only",
                    "type": "received_on_not_allowed",
                }
            ],
        )
    if declares and data.received_via is None:
        raise InvalidInput(
            "Say how the signalement reached you (received_via: letter, email, phone, "
            "meeting, in_person).",
            slug="received-via-required",
            errors=[{"loc": ["body", "received_via"], "msg": "required", "type": "missing"}],
        )
    received_on = data.received_on or today
    minor = data.minor
    with invalid_input_of_guards():
        guards.check_received_on(received_on, today, received_on_max_days)
        guards.check_public(CellKind(cell.kind), minor.birth_date, received_on)

    case_id = uuid.uuid4()
    case = Case(
        id=case_id,
        reference=_new_reference(session, cell, received_on),
        cell_id=cell.id,
        state=CaseState.SUBMITTED.value,
        origin=origin.value,
        received_on=received_on,
        received_on_declared=declares,
        received_via=data.received_via.value if data.received_via else None,
        sex=minor.sex.value if minor.sex else None,
        age_bracket=age_bracket(minor.birth_date, received_on),
        birth_month_on=birth_month(minor.birth_date),
        submitted_by=principal.user_id,
        submitted_at=utcnow(),
        motifs=[CaseMotif(motif=m.value) for m in sorted(set(data.motifs))],
        personal=None,
        guardians=[],
        research_notes=[],
        orientations=[],
        steps=[],
        transfers=[],
        additional_signalements=[],
    )
    session.add(case)
    session.flush()  # the case row first: its key and ciphertexts refer to it
    cipher = vault.new_case_key(session, case_id)
    case.personal = personal.seal_personal(
        cipher,
        case_id,
        last_name=minor.last_name,
        first_name=minor.first_name,
        birth_date=minor.birth_date,
        address=minor.address,
        school=minor.school,
        facts=data.facts,
    )
    case.guardians.extend(
        personal.seal_guardian(
            cipher,
            case_id,
            position=i,
            name=g.name,
            relationship=g.relationship.value,
            phone=g.phone,
        )
        for i, g in enumerate(data.guardians)
    )
    vault.index_identity(session, case_id, minor.last_name, minor.first_name, minor.birth_date)
    declared = f"declared:{data.received_via.value}" if data.received_via else None
    record_step(case, Step.SUBMIT, None, CaseState.SUBMITTED, principal, declared)
    trail.record(session, principal, Action.SUBMIT_CASE, case_id=case_id, detail=Step.SUBMIT.value)
    session.flush()
    notifications.to_cell_role(
        session,
        kind=NotificationKind.NEW_CASE,
        cell_id=cell.id,
        role=Role.COORDINATOR,
        actor_id=principal.user_id,
    )
    return case


def _new_reference(session: Session, cell: Cell, received_on: date) -> str:
    """The case's reference: its cell, its year of receipt, the next number of that year."""
    year = received_on.year
    sequence = repository.next_reference_number(session, cell_id=cell.id, year=year)
    return format_reference(CellKind(cell.kind), cell.arrondissement, year, sequence)


# --- steps 2 to 6 -----------------------------------------------------------------------------


def refer_to_parquet(
    session: Session, *, principal: Principal, case_id: uuid.UUID, today: date
) -> Case:
    case = case_for_step(session, principal, case_id, Step.REFER_TO_PARQUET)
    advance(session, case, Step.REFER_TO_PARQUET, receipt_facts(case, today), principal)
    save(session)
    notifications.to_cell_role(
        session,
        kind=NotificationKind.PARQUET_REFERRAL,
        cell_id=case.cell_id,
        role=Role.PARQUET,
        actor_id=principal.user_id,
    )
    return case


def decide_parquet(
    session: Session, *, principal: Principal, case_id: uuid.UUID, retained: bool, today: date
) -> Case:
    step = Step.RETAIN if retained else Step.NOT_RETAIN
    case = case_for_step(session, principal, case_id, step)
    advance(session, case, step, StepFacts(today=today), principal)
    # R5: a not-retained case records the decision and nothing about the judicial follow-up.
    case.retained = retained
    case.parquet_decided_at = utcnow()
    if not retained:
        # R7: the parquet presents it at the cell's next meeting (or the next one scheduled).
        upcoming = meetings.next_meeting(session, cell_id=case.cell_id, on_or_after=today)
        case.presentation_meeting_id = upcoming.id if upcoming else None
    save(session)
    return case


def schedule_presentations(session: Session, *, meeting: Meeting, today: date) -> None:
    """A new meeting takes the cell's not-retained situations still waiting to be presented."""
    if meeting.held_on < today:
        return
    for case in meetings.awaiting_presentation(session, cell_id=meeting.cell_id):
        case.presentation_meeting_id = meeting.id
    session.flush()


def add_research_note(
    session: Session,
    *,
    principal: Principal,
    vault: Vault,
    case_id: uuid.UUID,
    content: str,
    today: date,
) -> ResearchNote:
    case = case_for_step(session, principal, case_id, Step.ADD_RESEARCH_NOTE)
    note_id = uuid.uuid4()
    note = ResearchNote(
        id=note_id,
        case_id=case.id,
        author_id=principal.user_id,
        author_organisation=principal.organisation.value,
        created_at=utcnow(),
        content_enc=personal.seal_note(cipher_of(vault, case), note_id, content),
    )
    advance(session, case, Step.ADD_RESEARCH_NOTE, StepFacts(today=today), principal)
    case.research_notes.append(note)
    save(session)
    return note


def examine_at_meeting(
    session: Session,
    *,
    principal: Principal,
    meeting: Meeting,
    case_id: uuid.UUID,
    today: date,
    meeting_record_days: int,
    position: int,
) -> Case:
    case = case_for_step(session, principal, case_id, Step.EXAMINE_AT_MEETING)
    if case.meeting_id == meeting.id:
        raise Conflict(
            "This case is already on this meeting's agenda.",
            slug="already-on-agenda",
            case_id=case.id,
        )
    facts = examination_facts(case, meeting, today, meeting_record_days)
    advance(session, case, Step.EXAMINE_AT_MEETING, facts, principal)
    case.meeting_id = meeting.id
    case.agenda_position = position
    save(session)
    return case


def take_off_agenda(session: Session, *, principal: Principal, case: Case, today: date) -> None:
    """Back to research, for another meeting (issue 17): the coordinator takes the case off
    its meeting's agenda before the cell decided, or the meeting is cancelled."""
    advance(session, case, Step.REMOVE_FROM_AGENDA, StepFacts(today=today), principal)
    case.meeting_id = None
    case.agenda_position = None
    save(session)


def examination_facts(
    case: Case, meeting: Meeting, today: date, meeting_record_days: int
) -> StepFacts:
    """What the guards of step 4 look at (the same for the step and for the agenda's offer)."""
    return StepFacts(
        today=today,
        received_on=case.received_on,
        meeting_held_on=meeting.held_on,
        meeting_cell_matches=meeting.cell_id == case.cell_id,
        meeting_record_days=meeting_record_days,
    )


def review_decision(
    session: Session,
    *,
    principal: Principal,
    case_id: uuid.UUID,
    data: ReviewDecisionIn,
    today: date,
) -> Case:
    """Step 5: orient (each destination other than social services naming one of the cell's
    services, where it lists any) or no action (closes, with that reason)."""
    orient = data.decision is ReviewDecision.ORIENT
    step = Step.ORIENT if orient else Step.CLOSE_WITHOUT_ACTION
    case = case_for_step(session, principal, case_id, step)
    services = review_input(session, case, data, today)
    destinations = tuple(o.destination for o in data.orientations)
    facts = review_facts(session, case, today)
    detail = None if orient else ClosureReason.NO_ACTION.value
    advance(session, case, step, facts, principal, detail=detail)
    now = utcnow()
    case.review_decision = data.decision.value
    case.orientations.extend(
        Orientation(
            id=uuid.uuid4(),
            position=i,
            destination=d.value,
            service_id=service.id if service else None,
            decided_at=now,
        )
        for i, (d, service) in enumerate(zip(destinations, services, strict=True))
    )
    if not orient:
        case.closed_at = now
        case.closure_reason = ClosureReason.NO_ACTION.value
    save(session)
    return case


def review_input(
    session: Session, case: Case, data: ReviewDecisionIn, today: date
) -> list[PartnerService | None]:
    """The decision's destinations (open to the cell, each once; none with "no action") and
    the service each names: an InvalidInput otherwise. The services, in the orientations'
    order."""
    cell = cell_of(session, case)
    destinations = tuple(o.destination for o in data.orientations)
    with invalid_input_of_guards():
        if data.decision is ReviewDecision.ORIENT:
            guards.destinations_allowed(
                StepFacts(today=today, cell_kind=CellKind(cell.kind), destinations=destinations)
            )
        elif destinations:
            raise InvalidStepInput(
                "A 'no_action' decision takes no orientations.",
                code="orientations_with_no_action",
                field=("orientations",),
            )
    return [
        partners.check_named(
            session,
            cell_id=case.cell_id,
            destination=o.destination,
            service_id=o.service_id,
            at=f"orientations.{i}.service_id",
        )
        for i, o in enumerate(data.orientations)
    ]


def _decided_on(case: Case) -> date:
    """The Paris day the cell decided the case's orientation."""
    first = min(o.decided_at for o in case.orientations)
    return first.astimezone(PARIS).date()


def record_family_information(
    session: Session,
    *,
    principal: Principal,
    case_id: uuid.UUID,
    data: FamilyInformationIn,
    today: date,
) -> Case:
    """R8: the family was informed of the orientation (on a day between the decision and
    today), by what means, and its answer: informed, objects (recorded, shown to the CST with
    the transmission), unreachable (no transmission to social services)."""
    case = case_for_step(session, principal, case_id, Step.RECORD_FAMILY_INFORMATION)
    facts = family_information_facts(case, today)
    # The state and the rules first (a second record is a conflict, whatever its date).
    advance(
        session,
        case,
        Step.RECORD_FAMILY_INFORMATION,
        facts,
        principal,
        detail=f"outcome:{data.outcome.value}",
    )
    with invalid_input_of_guards():
        guards.check_informed_on(data.informed_on, _decided_on(case), today)
    case.family_informed_on = data.informed_on
    case.family_information_means = data.means.value
    case.family_information_outcome = data.outcome.value
    save(session)
    return case


def add_orientation(
    session: Session,
    *,
    principal: Principal,
    case_id: uuid.UUID,
    data: OrientationIn,
    today: date,
) -> Case:
    """Orients the case elsewhere after the decision, when the family could not be reached or
    a service could not take it: a destination open to the cell that the case does not have
    yet, naming one of the cell's services where it lists any."""
    case = case_for_step(session, principal, case_id, Step.ADD_ORIENTATION)
    cell = cell_of(session, case)
    existing = frozenset(Destination(o.destination) for o in case.orientations)
    with invalid_input_of_guards():
        guards.another_destination(
            StepFacts(
                today=today,
                cell_kind=CellKind(cell.kind),
                destinations=(data.destination,),
                existing_destinations=existing,
            )
        )
    service = partners.check_named(
        session,
        cell_id=case.cell_id,
        destination=data.destination,
        service_id=data.service_id,
        at="service_id",
    )
    advance(
        session,
        case,
        Step.ADD_ORIENTATION,
        StepFacts(today=today),
        principal,
        detail=f"destination:{data.destination.value}",
    )
    case.orientations.append(
        Orientation(
            id=uuid.uuid4(),
            position=len(case.orientations),
            destination=data.destination.value,
            service_id=service.id if service else None,
            decided_at=utcnow(),
        )
    )
    save(session)
    return case


def transmit(
    session: Session,
    *,
    principal: Principal,
    case_id: uuid.UUID,
    orientation_id: uuid.UUID,
    today: date,
) -> Case:
    case = case_for_step(session, principal, case_id, Step.TRANSMIT)
    orientation = _orientation(case, orientation_id)
    facts = transmission_facts(session, case, orientation, today)
    advance(session, case, Step.TRANSMIT, facts, principal, detail=f"orientation:{orientation.id}")
    orientation.transmitted_at = utcnow()
    orientation.transmitted_by = principal.user_id
    save(session)
    notifications.to_cell_role(
        session,
        kind=NotificationKind.TRANSMISSION,
        cell_id=case.cell_id,
        role=Role.CST,
        actor_id=principal.user_id,
    )
    return case


def record_feedback(
    session: Session,
    *,
    principal: Principal,
    case_id: uuid.UUID,
    orientation_id: uuid.UUID,
    data: FeedbackIn,
    today: date,
) -> Case:
    case = _case_in_cells(session, principal, case_id)
    # Who reports depends on the destination; refuse those who report on none before looking
    # the orientation up (a 403, not a 404 on an orientation id).
    case_facts = facts_of(case)
    if not any(
        decisions.may_step(principal, Step.RECORD_FEEDBACK, case_facts, d) for d in Destination
    ):
        decisions.require_step(principal, Step.RECORD_FEEDBACK, case_facts)
    orientation = _orientation(case, orientation_id)
    destination = Destination(orientation.destination)
    decisions.require_step(principal, Step.RECORD_FEEDBACK, case_facts, destination)
    reoriented = data.outcome is FeedbackOutcome.REORIENTED
    if reoriented != (data.reoriented_to is not None):
        raise InvalidInput(
            "Give reoriented_to (social or medico_social) with the outcome 'reoriented', "
            "and only with it (R9).",
            slug="invalid-feedback",
        )
    facts = feedback_facts(orientation, today)
    advance(session, case, Step.RECORD_FEEDBACK, facts, principal)
    orientation.feedback_outcome = data.outcome.value
    orientation.reoriented_to = data.reoriented_to.value if data.reoriented_to else None
    orientation.feedback_at = utcnow()
    orientation.feedback_by = principal.user_id
    save(session)
    return case


# R21: the month a person leaves the cell's public (18 in a CENOMED cell; in a recidivism
# group 25, the month the retention rules destroy the data anyway).
AGE_LIMIT = {CellKind.CENOMED: 18, CellKind.RECIDIVISM: 25}


def _aged_out(case: Case, kind: CellKind, today: date) -> bool:
    """Whether the month of the birthday that ends the cell's public has begun (the birth
    month is kept in clear until the purge; the day is not)."""
    if case.birth_month_on is None:
        return False
    return guards.add_calendar_months(case.birth_month_on, 12 * AGE_LIMIT[kind]) <= today


def close(
    session: Session,
    *,
    principal: Principal,
    case_id: uuid.UUID,
    reason: ClosureReason | None,
    today: date,
) -> Case:
    """Closes the case, saying why (a reason of the closed list that the record bears out:
    every feedback received, the family unreachable, the person out of the public); it joins
    the archive (R17)."""
    case = case_for_step(session, principal, case_id, Step.CLOSE)
    if CaseState(case.state) not in ALLOWED_FROM[Step.CLOSE]:
        # Out of turn whatever the reason: say that first.
        raise Conflict(
            str(IllegalStep(Step.CLOSE, CaseState(case.state))),
            slug="step-not-allowed-in-state",
            case_id=case.id,
        )
    if reason is None:
        raise InvalidInput(
            "Say why the case is closed (reason: feedback_received, moved_away, aged_out, "
            "judicial_follow_up, family_unreachable).",
            slug="closure-reason-required",
            errors=[{"loc": ["body", "reason"], "msg": "required", "type": "missing"}],
            case_id=case.id,
        )
    facts = closure_facts(session, case, reason, today)
    advance(session, case, Step.CLOSE, facts, principal, detail=reason.value)
    case.closed_at = utcnow()
    case.closure_reason = reason.value
    save(session)
    return case


# --- what the guards look at, for a step and for the page that offers it ----------------------


def _family_outcome(case: Case) -> FamilyOutcome | None:
    outcome = case.family_information_outcome
    return FamilyOutcome(outcome) if outcome else None


def review_facts(session: Session, case: Case, today: date) -> StepFacts:
    """The cell decides at its meeting, once held."""
    meeting = session.get(Meeting, case.meeting_id) if case.meeting_id else None
    return StepFacts(today=today, meeting_held_on=meeting.held_on if meeting else today)


def transmission_facts(
    session: Session, case: Case, orientation: Orientation, today: date
) -> StepFacts:
    destination = Destination(orientation.destination)
    return StepFacts(
        today=today,
        destination=destination,
        family_informed=case.family_informed_on is not None,
        family_outcome=_family_outcome(case),
        already_transmitted=orientation.transmitted_at is not None,
        has_social_coordinator=destination is Destination.SOCIAL_SERVICES
        and directory.has_active_member_with_role(session, case.cell_id, Role.CST),
    )


def feedback_facts(orientation: Orientation, today: date) -> StepFacts:
    return StepFacts(
        today=today,
        already_transmitted=orientation.transmitted_at is not None,
        feedback_recorded=orientation.feedback_outcome is not None,
    )


def closure_facts(
    session: Session, case: Case, reason: ClosureReason | None, today: date
) -> StepFacts:
    return StepFacts(
        today=today,
        closure_reason=reason,
        orientations=len(case.orientations),
        orientations_with_feedback=sum(o.feedback_outcome is not None for o in case.orientations),
        family_outcome=_family_outcome(case),
        aged_out=_aged_out(case, CellKind(cell_of(session, case).kind), today),
    )


def family_information_facts(case: Case, today: date) -> StepFacts:
    return StepFacts(today=today, family_informed=case.family_informed_on is not None)


def allows(step: Step, case: Case, facts: StepFacts) -> bool:
    """Whether the procedure lets ``step`` be taken on ``case`` now (its state and guards;
    pure: nothing changes). The pages offer a step only where this and the charter agree."""
    try:
        fire(step, CaseState(case.state), facts)
    except (IllegalStep, GuardFailed):
        return False
    return True


def guard_refusal(step: Step, case: Case, facts: StepFacts) -> GuardFailed | None:
    """The procedural rule that refuses ``step`` on ``case`` now, if one does (None when the
    step is allowed, or not a step of the case's state at all): a page says from it when the
    step will be possible, rather than keeping a copy of the rule."""
    try:
        fire(step, CaseState(case.state), facts)
    except GuardFailed as refusal:
        return refusal
    except IllegalStep:
        return None
    return None


# The reasons a caller may give (no_action is the review decision's, other_legacy the
# migration's).
CLOSURE_REASONS = tuple(
    r
    for r in ClosureReason
    if r not in (ClosureReason.NO_ACTION, ClosureReason.OTHER_LEGACY, ClosureReason.DUPLICATE)
)


def closure_reasons_open(session: Session, case: Case, today: date) -> list[ClosureReason]:
    """The reasons for which the case may be closed now, as the closure's guard decides."""
    return [
        reason
        for reason in CLOSURE_REASONS
        if allows(Step.CLOSE, case, closure_facts(session, case, reason, today))
    ]


# --- shared mechanics -------------------------------------------------------------------------


def _case_in_cells(session: Session, principal: Principal, case_id: uuid.UUID) -> Case:
    case = repository.get_case_in_cells(
        session, case_id, principal.cell_ids, author_id=principal.user_id
    )
    if case is None:
        # Another cell's case or no case at all: the same answer after the same work, and
        # the probe logged with the id asked either way.
        raise NotFound(CASE_NOT_FOUND, slug="case-not-found", case_id=case_id)
    return case


def case_of(session: Session, *, principal: Principal, case_id: uuid.UUID) -> Case:
    """A case of the caller's cells (404 otherwise), for a page that says what a step will do
    or where it leads: its record, not a read of its blocks (nothing is shown from it)."""
    return _case_in_cells(session, principal, case_id)


def case_for_step(session: Session, principal: Principal, case_id: uuid.UUID, step: Step) -> Case:
    """The case of the caller's cells (404) on which the charter lets them take ``step`` (403)."""
    case = _case_in_cells(session, principal, case_id)
    require_step_on(principal, step, case)
    return case


def require_step_on(principal: Principal, step: Step, case: Case) -> None:
    try:
        decisions.require_step(principal, step, facts_of(case))
    except Forbidden as refusal:
        refusal.case_id = case.id  # for the audit log (the id may come from the body)
        raise


def check_step(step: Step, case: Case, facts: StepFacts) -> None:
    """Raises the 409 the step would meet now, changing nothing: a step that validates its
    values after the procedure's checks asks this first."""
    try:
        fire(step, CaseState(case.state), facts)
    except IllegalStep as error:
        raise Conflict(str(error), slug="step-not-allowed-in-state", case_id=case.id) from error
    except GuardFailed as error:
        raise Conflict(error.detail, slug=error.slug, case_id=case.id) from error


def receipt_facts(case: Case, today: date) -> StepFacts:
    """What the steps on a received signalement look at: has it been sent back to its author."""
    return StepFacts(today=today, returned_to_author=case.returned_reason is not None)


def cell_of(session: Session, case: Case) -> Cell:
    cell = directory.get_cell(session, case.cell_id)
    assert cell is not None  # foreign key
    return cell


def _orientation(case: Case, orientation_id: uuid.UUID) -> Orientation:
    for orientation in case.orientations:
        if orientation.id == orientation_id:
            return orientation
    raise NotFound("This case has no orientation with this id.", slug="orientation-not-found")


def advance(
    session: Session,
    case: Case,
    step: Step,
    facts: StepFacts,
    principal: Principal,
    *,
    detail: str | None = None,
) -> None:
    """Fires the step on the machine and records it (with ``detail``, a code that says more
    of it in the history); the caller then saves (version bump)."""
    before = CaseState(case.state)
    check_step(step, case, facts)
    after = fire(step, before, facts)
    case.state = after.value
    case.updated_at = utcnow()
    record_step(case, step, before, after, principal, detail)
    trail.record(session, principal, STEP_ACTIONS[step], case_id=case.id, detail=step.value)


# The operation (as the API names it) through which each step is fired.
STEP_ACTIONS = {
    Step.SUBMIT: Action.SUBMIT_CASE,
    Step.DECLARE_RECEIPT: Action.SUBMIT_CASE,
    Step.REFER_TO_PARQUET: Action.REFER_TO_PARQUET,
    Step.RETAIN: Action.DECIDE_PARQUET,
    Step.NOT_RETAIN: Action.DECIDE_PARQUET,
    Step.ADD_RESEARCH_NOTE: Action.ADD_RESEARCH_NOTE,
    Step.EXAMINE_AT_MEETING: Action.PUT_ON_AGENDA,
    Step.REMOVE_FROM_AGENDA: Action.REMOVE_FROM_AGENDA,
    Step.ORIENT: Action.REVIEW_DECISION,
    Step.CLOSE_WITHOUT_ACTION: Action.REVIEW_DECISION,
    Step.RECORD_FAMILY_INFORMATION: Action.RECORD_FAMILY_INFORMATION,
    Step.ADD_ORIENTATION: Action.ADD_ORIENTATION,
    Step.TRANSMIT: Action.TRANSMIT,
    Step.RECORD_FEEDBACK: Action.RECORD_FEEDBACK,
    Step.CLOSE: Action.CLOSE,
    Step.REQUEST_ARCHIVE_ACCESS: Action.REQUEST_ARCHIVE_ACCESS,
    Step.EXPORT_SUBJECT_ACCESS: Action.EXPORT_SUBJECT_ACCESS,
    Step.AMEND: Action.AMEND_CASE,
    Step.CORRECT_IDENTITY: Action.AMEND_CASE,
    Step.WITHDRAW: Action.WITHDRAW,
    Step.RETURN_TO_AUTHOR: Action.RETURN_TO_AUTHOR,
    Step.AMEND_RESEARCH_NOTE: Action.AMEND_RESEARCH_NOTE,
    Step.READ_REVISIONS: Action.READ_REVISIONS,
    Step.DECIDE_DUPLICATE: Action.DECIDE_DUPLICATE,
    Step.CLOSE_AS_DUPLICATE: Action.DECIDE_DUPLICATE,
    Step.PROPOSE_TRANSFER: Action.PROPOSE_TRANSFER,
    Step.SEE_PENDING_TRANSFER: Action.LIST_TRANSFERS,
    Step.ACCEPT_TRANSFER: Action.DECIDE_TRANSFER,
    Step.DECLINE_TRANSFER: Action.DECIDE_TRANSFER,
}


def record_step(
    case: Case,
    step: Step,
    before: CaseState | None,
    after: CaseState,
    principal: Principal,
    detail: str | None = None,
) -> None:
    case.steps.append(
        CaseStep(
            step=step.value,
            from_state=before.value if before else None,
            to_state=after.value,
            actor_id=principal.user_id,
            actor_role=principal.role.value,
            at=utcnow(),
            detail=detail,
        )
    )


def save(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError as error:
        raise Conflict(
            "Someone changed this case at the same moment; reload it and try again.",
            slug="concurrent-change",
        ) from error


@contextmanager
def invalid_input_of_guards() -> Iterator[None]:
    """Turns a workflow input refusal into a 422 problem."""
    try:
        yield
    except InvalidStepInput as error:
        raise as_invalid_input(error) from error


def as_invalid_input(error: InvalidStepInput) -> InvalidInput:
    """A workflow input refusal as a 422 problem: its own type, and the field it refuses."""
    where = ["body", *error.field]
    return InvalidInput(
        error.detail,
        slug=error.slug,
        errors=[{"loc": where, "msg": error.detail, "type": error.code}],
    )


# --- archive (R17) ----------------------------------------------------------------------------


def grant_archive_access(
    session: Session,
    *,
    principal: Principal,
    vault: Vault,
    case_id: uuid.UUID,
    reason: str,
    hours: float,
    purpose: ArchivePurpose = ArchivePurpose.OTHER,
) -> ArchiveAccess:
    """A motivated, time-limited read of a closed case, by its coordinator or the parquet."""
    case = case_for_step(session, principal, case_id, Step.REQUEST_ARCHIVE_ACCESS)
    if case.state != CaseState.CLOSED:
        raise Conflict(
            "Only a closed (archived) case needs an archive access; read this one directly.",
            slug="not-archived",
        )
    access_id = uuid.uuid4()
    now = utcnow()
    access = ArchiveAccess(
        id=access_id,
        case_id=case.id,
        user_id=principal.user_id,
        reason_enc=personal.seal_archive_reason(cipher_of(vault, case), access_id, reason),
        purpose=purpose.value,
        granted_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(access)
    session.flush()
    # R17: the reason itself is nominative free text, kept encrypted with the case; the log
    # names the access that holds it and its purpose from the closed list (R23's "why").
    trail.record(
        session,
        principal,
        Action.REQUEST_ARCHIVE_ACCESS,
        case_id=case.id,
        severity=trail.HIGH,
        detail=f"archive_access:{access_id} purpose:{purpose.value}",
    )
    return access


# --- data-subject access (RGPD art. 15, R22) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubjectAccessExport:
    """Everything held about the minor in one case: every block, the archive accesses with
    their reasons; the router adds the case's access log."""

    visible: VisibleCase
    archive_accesses: list[tuple[ArchiveAccess, str]]


def export_for_subject(
    session: Session, *, principal: Principal, vault: Vault, case_id: uuid.UUID
) -> SubjectAccessExport:
    """The only nominative export (R22): by the coordinator of the case's cell, whatever the
    step (the person's right does not wait for the procedure), logged as a high-severity read
    of every block."""
    case = case_for_step(session, principal, case_id, Step.EXPORT_SUBJECT_ACCESS)
    if case.state == CaseState.PURGED:
        raise Gone(
            "The nominative data of this case was destroyed under the retention rules (R18): "
            "nothing is held to export.",
            case_id=case.id,
        )
    cipher = cipher_of(vault, case)
    everything = CaseView(blocks=frozenset(Block))
    duplicates = _possible_duplicates(session, principal, case)
    accesses = [
        (access, personal.open_archive_reason(cipher, access))
        for access in repository.archive_accesses(session, case_id=case.id)
    ]
    trail.record(
        session,
        principal,
        Action.EXPORT_SUBJECT_ACCESS,
        case_id=case.id,
        blocks=[b.value for b in Block],
        severity=trail.HIGH,
    )
    return SubjectAccessExport(VisibleCase(case, everything, duplicates, cipher), accesses)
