"""Cases that move (issue 16, points 5 and 6): duplicates resolved, transfers between cells.

Pure of HTTP, like ``app.cases.service``, whose mechanics it uses: the same order of checks
(the case in the caller's cells, else 404; the charter, else 403; the procedure, else 409),
each change a step of the machine, a line of the case's history and an audit event, in the
request's transaction (functions only flush).

**Duplicates.** A possible duplicate is another case of the same cell whose blind-indexed
identity equals this one's (``repository.same_identity_case_ids``). The coordinator decides:

* ``same_minor``: the older case (received first) is kept, the other is closed with the reason
  ``duplicate`` and ``merged_into`` the kept one; the kept case records the other's origin and
  day of receipt as an additional signalement (R19: not nominative). Research notes stay on the
  case where they were written; both records stay, linked. Both cases must still be followed
  (a not-retained situation waits for its purge and is not merged).
* ``different_minor``: the pair is never flagged again.

The other case must be of the same cell (404 otherwise, whatever the caller's other cells: a
decision never joins two cells' records), and flagged as a possible duplicate of this one
(409 ``not-a-possible-duplicate`` otherwise: the body is well formed, the records refuse it).

**Transfers.** The minor moved: the coordinator of the case's cell proposes another cell of
the same kind (422 for the same cell, another kind or an unknown cell), while the case has not
reached a meeting's agenda (submitted, parquet review, research; afterwards the cell that
examines it keeps it). One transfer waits at a time (409). While it waits, the case's own cell
goes on with it: steps stay possible, and the receiving cell's coordinator sees the case's
workflow facts only (state, dates, origin; no block, nothing nominative, R1). On acceptance the
case moves with its history, notes and key (the data key is bound to the case, not to the
cell: nothing is re-encrypted); ``received_on`` is kept, so the one-month rule (R7) still counts
from the original receipt. The acceptance needs a case still transferable (409 otherwise:
decline it). A decline leaves the case where it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from app.audit import trail
from app.cases import repository
from app.cases.models import AdditionalSignalement, Case, CaseTransfer, DuplicateDismissal
from app.cases.schemas import DuplicateDecisionIn, TransferDecisionIn, TransferIn
from app.cases.service import (
    CASE_NOT_FOUND,
    STEP_ACTIONS,
    advance,
    case_for_step,
    facts_of,
    record_step,
    save,
)
from app.db import utcnow
from app.directory import repository as directory
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.notifications import service as notifications
from app.policy import decisions
from app.principal import Principal
from app.vocabulary import (
    ClosureReason,
    DuplicateDecision,
    NotificationKind,
    Role,
    TransferDecision,
    TransferOutcome,
)
from app.workflow.guards import StepFacts
from app.workflow.machine import ALLOWED_FROM
from app.workflow.states import CaseState, Step

# --- duplicates -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DuplicateOutcome:
    decision: DuplicateDecision
    case: Case
    other: Case
    kept: Case | None = None
    closed: Case | None = None


def decide_duplicate(
    session: Session,
    *,
    principal: Principal,
    case_id: uuid.UUID,
    data: DuplicateDecisionIn,
    today: date,
) -> DuplicateOutcome:
    """The coordinator's decision on a possible duplicate of ``case_id`` (see the module)."""
    case = case_for_step(session, principal, case_id, Step.DECIDE_DUPLICATE)
    if data.other_case_id == case.id:
        raise InvalidInput(
            "A case is not its own duplicate: give the id of the other case.",
            slug="duplicate-of-itself",
            errors=[{"loc": ["body", "other_case_id"], "msg": "the same case", "type": "value"}],
            case_id=case.id,
        )
    # Only this case's cell is searched: another cell's case and no case answer alike.
    other = repository.get_case_in_cells(
        session, data.other_case_id, principal.cell_ids & {case.cell_id}
    )
    if other is None:
        raise NotFound(CASE_NOT_FOUND, slug="case-not-found", case_id=data.other_case_id)
    try:
        decisions.require_step(principal, Step.DECIDE_DUPLICATE, facts_of(other))
    except Forbidden as refusal:
        refusal.case_id = other.id
        raise
    if other.id not in repository.same_identity_case_ids(session, case_id=case.id):
        raise Conflict(
            "These two cases are not flagged as possible duplicates (the same minor's names "
            "and birth date in the same cell, not merged, not found to be two minors): there "
            "is nothing to decide.",
            slug="not-a-possible-duplicate",
            case_id=case.id,
        )
    facts = StepFacts(today=today)
    if data.decision is DuplicateDecision.DIFFERENT_MINOR:
        advance(session, case, Step.DECIDE_DUPLICATE, facts, principal, detail="different_minor")
        advance(session, other, Step.DECIDE_DUPLICATE, facts, principal, detail="different_minor")
        first, second = sorted((case.id, other.id), key=lambda i: i.int)
        session.add(
            DuplicateDismissal(
                first_case_id=first,
                second_case_id=second,
                decided_by=principal.user_id,
                decided_at=utcnow(),
            )
        )
        save(session)
        return DuplicateOutcome(data.decision, case, other)

    kept, closed = sorted((case, other), key=_seniority)
    for each in (kept, closed):
        if CaseState(each.state) not in ALLOWED_FROM[Step.CLOSE_AS_DUPLICATE]:
            raise Conflict(
                "Only cases still followed are merged: a not-retained situation waits for its "
                "purge (R18), a closed one is archived. Decide 'different_minor', or leave "
                "them as they are.",
                slug="duplicate-not-open",
                case_id=each.id,
            )
    advance(session, kept, Step.DECIDE_DUPLICATE, facts, principal, detail="same_minor:kept")
    advance(session, closed, Step.CLOSE_AS_DUPLICATE, facts, principal, detail="same_minor:closed")
    now = utcnow()
    closed.closed_at = now
    closed.closure_reason = ClosureReason.DUPLICATE.value
    closed.merged_into_id = kept.id
    kept.additional_signalements.append(
        AdditionalSignalement(
            id=uuid.uuid4(),
            case_id=kept.id,
            merged_case_id=closed.id,
            origin=closed.origin,
            received_on=closed.received_on,
            recorded_at=now,
        )
    )
    save(session)
    return DuplicateOutcome(data.decision, case, other, kept=kept, closed=closed)


def _seniority(case: Case) -> tuple[date, object, int]:
    """The older case first: received first, then submitted first (ids break a tie)."""
    return (case.received_on, case.submitted_at, case.id.int)


# --- transfers --------------------------------------------------------------------------------


def pending_transfer(case: Case) -> CaseTransfer | None:
    return next((t for t in case.transfers if t.outcome == TransferOutcome.PENDING), None)


def last_accepted_transfer(case: Case) -> CaseTransfer | None:
    accepted = [t for t in case.transfers if t.outcome == TransferOutcome.ACCEPTED]
    return accepted[-1] if accepted else None


def transfer_facts(case: Case, today: date) -> StepFacts:
    return StepFacts(today=today, transfer_pending=pending_transfer(case) is not None)


def transfer_cells(session: Session, case: Case) -> list[tuple[int, str]]:
    """The cells a case may be proposed to: the others of its cell's kind (id, name)."""
    here = directory.get_cell(session, case.cell_id)
    assert here is not None  # foreign key
    return [
        (cell.id, cell.name)
        for cell in directory.cells_of_kind(session, here.kind)
        if cell.id != here.id
    ]


def propose_transfer(
    session: Session, *, principal: Principal, case_id: uuid.UUID, data: TransferIn, today: date
) -> Case:
    """The case's coordinator proposes another cell of the same kind (see the module)."""
    case = case_for_step(session, principal, case_id, Step.PROPOSE_TRANSFER)
    here = directory.get_cell(session, case.cell_id)
    target = directory.get_cell(session, data.cell_id)
    assert here is not None  # foreign key
    refusal: tuple[str, str] | None = None
    if target is None:
        refusal = ("transfer-cell-unknown", "No cell has this id: choose one of the cells.")
    elif target.id == here.id:
        refusal = (
            "transfer-to-same-cell",
            "The case is already in this cell: choose the cell the minor moved to.",
        )
    elif target.kind != here.kind:
        refusal = (
            "transfer-to-other-kind",
            "A case moves only between cells of the same kind (a CENOMED cell to a CENOMED "
            "cell, a recidivism group to a recidivism group): choose another cell.",
        )
    if refusal is not None:
        slug, detail = refusal
        raise InvalidInput(
            detail,
            slug=slug,
            errors=[{"loc": ["body", "cell_id"], "msg": detail, "type": slug.replace("-", "_")}],
            case_id=case.id,
        )
    assert target is not None
    advance(
        session,
        case,
        Step.PROPOSE_TRANSFER,
        transfer_facts(case, today),
        principal,
        detail=f"to_cell:{target.id}",
    )
    case.transfers.append(
        CaseTransfer(
            id=uuid.uuid4(),
            case_id=case.id,
            from_cell_id=case.cell_id,
            to_cell_id=target.id,
            proposed_by=principal.user_id,
            proposed_at=utcnow(),
            outcome=TransferOutcome.PENDING.value,
        )
    )
    save(session)
    notifications.to_cell_role(
        session,
        kind=NotificationKind.TRANSFER_PROPOSED,
        cell_id=target.id,
        role=Role.COORDINATOR,
        actor_id=principal.user_id,
    )
    return case


def decide_transfer(
    session: Session,
    *,
    principal: Principal,
    case_id: uuid.UUID,
    data: TransferDecisionIn,
    today: date,
) -> CaseTransfer:
    """The receiving cell's coordinator accepts (the case, its history and key move to their
    cell) or declines (it stays where it is) the transfer waiting for their answer."""
    case = repository.get_case_for_transfer_decision(session, case_id, principal.cell_ids)
    if case is None:
        raise NotFound(CASE_NOT_FOUND, slug="case-not-found", case_id=case_id)
    transfer = pending_transfer(case)
    if transfer is None:
        # Found in the caller's own cells, with nothing waiting.
        raise Conflict(
            "No transfer of this case is waiting for an answer.",
            slug="no-pending-transfer",
            case_id=case.id,
        )
    accept = data.decision is TransferDecision.ACCEPT
    step = Step.ACCEPT_TRANSFER if accept else Step.DECLINE_TRANSFER
    try:
        decisions.require_step(principal, step, facts_of(case))
    except Forbidden as refusal:
        refusal.case_id = case.id
        raise
    detail = f"from_cell:{transfer.from_cell_id}"
    if accept:
        advance(session, case, step, transfer_facts(case, today), principal, detail=detail)
    else:
        # No move of the procedure: a line of the history and an audit event, the case as
        # it is (its own cell may have closed it meanwhile).
        state = CaseState(case.state)
        case.updated_at = utcnow()
        record_step(case, step, state, state, principal, detail)
        trail.record(session, principal, STEP_ACTIONS[step], case_id=case.id, detail=step.value)
    transfer.outcome = (TransferOutcome.ACCEPTED if accept else TransferOutcome.DECLINED).value
    transfer.decided_by = principal.user_id
    transfer.decided_at = utcnow()
    if accept:
        # The case's key is bound to the case, not to its cell: it moves with it untouched.
        case.cell_id = transfer.to_cell_id
    save(session)
    return transfer


def may_decide_transfer(principal: Principal, case: Case) -> bool:
    """Whether the caller may answer the transfer waiting on this case (the pages' offer)."""
    facts = facts_of(case)
    return pending_transfer(case) is not None and decisions.may_step(
        principal, Step.ACCEPT_TRANSFER, facts
    )


def pending_transfers(session: Session, *, principal: Principal) -> list[Case]:
    """The transfers waiting for the answer of the caller's cells that the charter lets them
    see (their coordinator's), as workflow facts only; each shown case is an audit event."""
    if not principal.charter_accepted:
        raise decisions.charter_refusal()
    cases = [
        case
        for case in repository.pending_transfers_to(session, cell_ids=principal.cell_ids)
        if decisions.may_step(principal, Step.SEE_PENDING_TRANSFER, facts_of(case))
    ]
    trail.record_reads(
        session,
        principal,
        trail.Action.LIST_TRANSFERS,
        [trail.Read(case.id, frozenset({"workflow"})) for case in cases],
    )
    return cases
