from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Query, Request, status
from sqlalchemy.orm import Session

from app.audit import service as audit_service
from app.audit.schemas import AuditEventRead
from app.auth import CurrentPrincipal
from app.cases import corrections, movements, search, service
from app.cases.references import REFERENCE_PATTERN
from app.cases.schemas import (
    ArchiveAccessHeld,
    ArchiveAccessIn,
    ArchiveAccessRead,
    CaseCreate,
    CasePage,
    CasePatch,
    CaseRead,
    ClosureIn,
    DuplicateDecisionIn,
    DuplicateDecisionRead,
    FamilyInformationIn,
    FeedbackIn,
    OrientationIn,
    ParquetDecisionIn,
    PendingTransferPage,
    PendingTransferRead,
    ResearchNoteCreated,
    ResearchNoteIn,
    ResearchNoteRead,
    ReturnIn,
    ReviewDecisionIn,
    RevisionRead,
    SubjectAccessExportRead,
    TransferDecisionIn,
    TransferIn,
    TransferRead,
    WithdrawalIn,
)
from app.cases.search_schemas import CaseSearch, CaseSearchResults
from app.cases.serialise import case_read, transfer_read
from app.clock import Now, Today
from app.config import CurrentSettings
from app.crypto.dependency import CurrentVault
from app.crypto.vault import Vault
from app.db import DbSession, utcnow
from app.errors import PROBLEM_RESPONSE, InvalidInput, responses
from app.principal import Principal
from app.schemas import MAX_ROW_ID
from app.vocabulary import ClosureReason, Organisation
from app.workflow.states import CaseState

router = APIRouter(prefix="/cases", tags=["cases"])
STEP_ERRORS = responses(401, 403, 404, 409, 422)


@dataclass(frozen=True, slots=True)
class StepRequest:
    """What every step needs from its request: who asks, the session, the vault and the day.

    One dependency for all the steps, so that a step route says only its step."""

    principal: Principal
    session: Session
    vault: Vault
    today: date

    def present(self, case_id: uuid.UUID) -> CaseRead:
        """The case after a step, as the caller may now see it (the step may have hidden it)."""
        view = service.view_case(
            self.session, principal=self.principal, vault=self.vault, case_id=case_id
        )
        return case_read(view, self.principal)


def _step_request(
    principal: CurrentPrincipal, session: DbSession, vault: CurrentVault, on: Today
) -> StepRequest:
    return StepRequest(principal=principal, session=session, vault=vault, today=on)


CaseStep = Annotated[StepRequest, Depends(_step_request)]
Handler = TypeVar("Handler", bound=Callable[..., Any])


def step_route(
    path: str,
    *,
    summary: str,
    extra_responses: tuple[int, ...] = (),
    dependencies: Sequence[Any] = (),
) -> Callable[[Handler], Handler]:
    """A step of the procedure: a POST on the case that answers the case as the caller now sees it.

    The errors every step may meet are declared once here (401, 403, 404, 409, 422)."""
    return router.post(
        path,
        response_model=CaseRead,
        responses={**STEP_ERRORS, **responses(*extra_responses)},
        summary=summary,
        response_model_exclude_unset=True,
        dependencies=list(dependencies),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseRead,
    responses=responses(401, 403, 422),
    summary="Step 1: send a worrying situation to the cell's coordinator (received today; "
    "the coordinator declares an earlier day and the channel of one received elsewhere)",
    response_model_exclude_unset=True,
)
def submit_case(body: CaseCreate, step: CaseStep, settings: CurrentSettings) -> CaseRead:
    case = service.submit_case(
        step.session,
        principal=step.principal,
        vault=step.vault,
        data=body,
        today=step.today,
        received_on_max_days=settings.received_on_max_days,
    )
    return step.present(case.id)


@router.get(
    "",
    response_model=CasePage,
    responses=responses(401, 403, 422),
    summary="The cases of your cells that the charter lets you see, newest first by the date "
    "sort names (a reference finds one; state=closed: the archive's index, for who may ask "
    "for an archive access)",
    response_model_exclude_unset=True,
)
def list_cases(
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    cell_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    state: CaseState | None = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    reference: Annotated[str | None, Query(pattern=REFERENCE_PATTERN, max_length=16)] = None,
    sort: service.ListSort = service.ListSort.RECEIVED_ON,
) -> CasePage:
    items, next_cursor = service.list_cases(
        session,
        principal=principal,
        vault=vault,
        cell_id=cell_id,
        state=state,
        limit=limit,
        cursor=cursor,
        reference=reference,
        sort=sort,
    )
    return CasePage(
        items=[case_read(item, principal, in_list=True) for item in items], next_cursor=next_cursor
    )


@router.get(
    "/{case_id}",
    response_model=CaseRead,
    responses=responses(401, 403, 404, 410),
    summary="A case, with only the blocks the charter lets you see",
    response_model_exclude_unset=True,
)
def read_case(
    case_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, vault: CurrentVault
) -> CaseRead:
    visible = service.read_case(session, principal=principal, vault=vault, case_id=case_id)
    return case_read(visible, principal)


@step_route(
    "/{case_id}/parquet-referral",
    summary="Step 2: the coordinator sends the situation to the parquet",
)
def refer_to_parquet(case_id: uuid.UUID, step: CaseStep) -> CaseRead:
    service.refer_to_parquet(
        step.session, principal=step.principal, case_id=case_id, today=step.today
    )
    return step.present(case_id)


@step_route(
    "/{case_id}/parquet-decision",
    summary="Step 2: the parquet retains the situation or not (judicial follow-up under way)",
)
def decide_parquet(case_id: uuid.UUID, body: ParquetDecisionIn, step: CaseStep) -> CaseRead:
    service.decide_parquet(
        step.session,
        principal=step.principal,
        case_id=case_id,
        retained=body.retained,
        today=step.today,
    )
    return step.present(case_id)


@router.post(
    "/{case_id}/research-notes",
    status_code=status.HTTP_201_CREATED,
    response_model=ResearchNoteCreated,
    # 410: a note is sealed with the case's key, which a destroyed case no longer has.
    responses={**STEP_ERRORS, **responses(410)},
    summary="Step 3: a member shares what their institution knows (never the CST)",
)
def add_research_note(
    case_id: uuid.UUID, body: ResearchNoteIn, step: CaseStep
) -> ResearchNoteCreated:
    note = service.add_research_note(
        step.session,
        principal=step.principal,
        vault=step.vault,
        case_id=case_id,
        content=body.content,
        today=step.today,
    )
    return ResearchNoteCreated(id=note.id, case_id=case_id, created_at=note.created_at)


@step_route(
    "/{case_id}/review-decision",
    summary="Step 5: the cell's decision: orient (with destinations) or no action (closes)",
)
def review_decision(case_id: uuid.UUID, body: ReviewDecisionIn, step: CaseStep) -> CaseRead:
    service.review_decision(
        step.session, principal=step.principal, case_id=case_id, data=body, today=step.today
    )
    return step.present(case_id)


@step_route(
    "/{case_id}/family-information",
    summary="Step 5: the coordinator records that the family was informed",
)
def record_family_information(
    case_id: uuid.UUID, body: FamilyInformationIn, step: CaseStep
) -> CaseRead:
    service.record_family_information(
        step.session, principal=step.principal, case_id=case_id, data=body, today=step.today
    )
    return step.present(case_id)


async def no_content(request: Request, _caller: CurrentPrincipal) -> None:
    """R15: a transmission is recorded, never what was sent: this step takes no body at all.

    The caller is authenticated first, so a refused body is a logged refusal of a known user
    (and a request without a token is a 401, whatever its body)."""
    if (await request.body()).strip():
        raise InvalidInput(
            "A transmission records that the situation was transmitted, never its content "
            "(R15): send the request without a body.",
            slug="transmission-takes-no-content",
        )


@step_route(
    "/{case_id}/orientations/{orientation_id}/transmission",
    summary="Step 5: transmission to the destination (social services via the CST)",
    dependencies=[Depends(no_content)],
)
def transmit(case_id: uuid.UUID, orientation_id: uuid.UUID, step: CaseStep) -> CaseRead:
    service.transmit(
        step.session,
        principal=step.principal,
        case_id=case_id,
        orientation_id=orientation_id,
        today=step.today,
    )
    return step.present(case_id)


@step_route(
    "/{case_id}/orientations/{orientation_id}/feedback",
    summary="Step 6: the service seized says whether support could be set up (closed form)",
)
def record_feedback(
    case_id: uuid.UUID, orientation_id: uuid.UUID, body: FeedbackIn, step: CaseStep
) -> CaseRead:
    service.record_feedback(
        step.session,
        principal=step.principal,
        case_id=case_id,
        orientation_id=orientation_id,
        data=body,
        today=step.today,
    )
    return step.present(case_id)


@step_route(
    "/{case_id}/orientations",
    summary="Step 5: orients the case elsewhere after the decision (the family unreachable, a "
    "service that could not take it)",
)
def add_orientation(case_id: uuid.UUID, body: OrientationIn, step: CaseStep) -> CaseRead:
    service.add_orientation(
        step.session, principal=step.principal, case_id=case_id, data=body, today=step.today
    )
    return step.present(case_id)


@step_route("/{case_id}/closure", summary="Closes the case, saying why; it joins the archive (R17)")
def close(case_id: uuid.UUID, step: CaseStep, body: ClosureIn | None = None) -> CaseRead:
    reason = ClosureReason(body.reason) if body and body.reason else None
    service.close(
        step.session, principal=step.principal, case_id=case_id, reason=reason, today=step.today
    )
    return step.present(case_id)


# --- corrections (R4, R6, R10) -----------------------------------------------------------------

MERGE_PATCH = "application/merge-patch+json"


@router.patch(
    "/{case_id}",
    response_model=CaseRead,
    responses={**STEP_ERRORS, **responses(410)},
    summary="Amends the signalement (JSON Merge Patch of minor, contact, motifs, facts): its "
    "author or the coordinator until the parquet's decision, then the coordinator alone for "
    "the identity and contact while the case is open",
    response_model_exclude_unset=True,
)
def amend_case(
    case_id: uuid.UUID,
    body: Annotated[CasePatch, Body(media_type=MERGE_PATCH)],
    step: CaseStep,
) -> CaseRead:
    corrections.amend_case(
        step.session,
        principal=step.principal,
        vault=step.vault,
        case_id=case_id,
        patch=body,
        today=step.today,
    )
    return step.present(case_id)


@step_route(
    "/{case_id}/withdrawal",
    summary="Withdraws a signalement the parquet has not seen (its author or the coordinator); "
    "terminal, destroyed by the next purge",
)
def withdraw(case_id: uuid.UUID, body: WithdrawalIn, step: CaseStep) -> CaseRead:
    corrections.withdraw(
        step.session,
        principal=step.principal,
        case_id=case_id,
        reason=body.reason,
        today=step.today,
    )
    return step.present(case_id)


@step_route(
    "/{case_id}/return",
    summary="The coordinator sends an incomplete signalement back to its author, who amends it",
)
def return_to_author(case_id: uuid.UUID, body: ReturnIn, step: CaseStep) -> CaseRead:
    corrections.return_to_author(
        step.session,
        principal=step.principal,
        case_id=case_id,
        reason=body.reason,
        today=step.today,
    )
    return step.present(case_id)


@router.put(
    "/{case_id}/research-notes/{note_id}",
    response_model=ResearchNoteRead,
    responses={**STEP_ERRORS, **responses(410)},
    summary="Step 3: a note's author amends it during the research (the earlier text is kept "
    "for the coordinator)",
)
def amend_research_note(
    case_id: uuid.UUID, note_id: uuid.UUID, body: ResearchNoteIn, step: CaseStep
) -> ResearchNoteRead:
    note = corrections.amend_research_note(
        step.session,
        principal=step.principal,
        vault=step.vault,
        case_id=case_id,
        note_id=note_id,
        content=body.content,
        today=step.today,
    )
    return ResearchNoteRead(
        id=note.id,
        author_id=note.author_id,
        author_organisation=note.author_organisation,
        created_at=note.created_at,
        amended_at=note.amended_at,
        content=body.content,
    )


@router.get(
    "/{case_id}/revisions",
    response_model=list[RevisionRead],
    responses=responses(401, 403, 404, 410),
    summary="R10: the amendments of a case and the values they replaced (the coordinator; logged)",
)
def read_revisions(case_id: uuid.UUID, step: CaseStep) -> list[RevisionRead]:
    found = corrections.revisions(
        step.session, principal=step.principal, vault=step.vault, case_id=case_id
    )
    return [
        RevisionRead(
            id=r.id,
            at=r.at,
            actor_id=r.actor_id,
            actor_role=r.actor_role,
            note_id=r.note_id,
            fields=r.fields,
            previous=r.previous,
        )
        for r in found
    ]


@router.post(
    "/{case_id}/archive-access",
    status_code=status.HTTP_201_CREATED,
    response_model=ArchiveAccessRead,
    responses=STEP_ERRORS,
    summary="R17: a motivated, time-limited read of a closed case (coordinator, parquet)",
)
def request_archive_access(
    case_id: uuid.UUID,
    body: ArchiveAccessIn,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    settings: CurrentSettings,
) -> ArchiveAccessRead:
    access = service.grant_archive_access(
        session,
        principal=principal,
        vault=vault,
        case_id=case_id,
        reason=body.reason,
        purpose=body.purpose,
        hours=settings.archive_access_hours,
    )
    return ArchiveAccessRead(
        case_id=case_id,
        granted_at=access.granted_at,
        expires_at=access.expires_at,
        purpose=body.purpose,
    )


@router.get(
    "/{case_id}/subject-access-export",
    response_model=SubjectAccessExportRead,
    responses=responses(401, 403, 404, 410),
    summary="RGPD art. 15: everything held about the minor in this case, and its access log "
    "(the coordinator of its cell; logged)",
    response_model_exclude_unset=True,
)
def export_subject_access(
    case_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, vault: CurrentVault
) -> SubjectAccessExportRead:
    export = service.export_for_subject(session, principal=principal, vault=vault, case_id=case_id)
    return SubjectAccessExportRead(
        exported_at=utcnow(),
        case=case_read(export.visible, principal),
        archive_accesses=[
            ArchiveAccessHeld(
                id=access.id,
                user_id=access.user_id,
                granted_at=access.granted_at,
                expires_at=access.expires_at,
                reason=reason,
            )
            for access, reason in export.archive_accesses
        ],
        access_log=[
            AuditEventRead(**event) for event in audit_service.case_events(session, case_id=case_id)
        ],
    )


@router.post(
    "/search",
    response_model=CaseSearchResults,
    responses={
        **responses(401, 403, 422),
        429: {
            "description": "Too many searches by this account in the last hour "
            "(CENOMED_SEARCHES_PER_HOUR), or too many failed authentications",
            **PROBLEM_RESPONSE,
        },
    },
    summary="Find a case of your cells by the minor's full identity (exact, never partial); "
    "each case shown as the charter lets you see it; logged with the number of results",
    response_model_exclude_unset=True,
)
def search_cases(
    body: CaseSearch,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    settings: CurrentSettings,
    at: Now,
) -> CaseSearchResults:
    found = search.search_cases(
        session,
        principal=principal,
        vault=vault,
        data=body,
        now=at,
        per_hour=settings.searches_per_hour,
    )
    return CaseSearchResults(
        count=found.count,
        items=[case_read(v, principal, in_list=True) for v in found.cases],
    )


# --- duplicates and transfers (issue 16) ------------------------------------------------------


@router.post(
    "/{case_id}/duplicate-decision",
    response_model=DuplicateDecisionRead,
    responses=STEP_ERRORS,
    summary="Decides a possible duplicate (the coordinator): same_minor keeps the older case "
    "and closes the other as its duplicate; different_minor never flags the pair again",
    response_model_exclude_unset=True,
)
def decide_duplicate(
    case_id: uuid.UUID, body: DuplicateDecisionIn, step: CaseStep
) -> DuplicateDecisionRead:
    outcome = movements.decide_duplicate(
        step.session, principal=step.principal, case_id=case_id, data=body, today=step.today
    )
    merged = {}
    if outcome.kept is not None and outcome.closed is not None:
        merged = {"kept_case_id": outcome.kept.id, "closed_case_id": outcome.closed.id}
    return DuplicateDecisionRead(
        decision=outcome.decision, case_id=outcome.case.id, other_case_id=outcome.other.id, **merged
    )


@step_route(
    "/{case_id}/transfer",
    summary="Proposes to transfer the case to another cell of the same kind (the case's "
    "coordinator; the receiving cell's coordinator answers)",
)
def propose_transfer(case_id: uuid.UUID, body: TransferIn, step: CaseStep) -> CaseRead:
    movements.propose_transfer(
        step.session, principal=step.principal, case_id=case_id, data=body, today=step.today
    )
    return step.present(case_id)


@router.post(
    "/{case_id}/transfer/decision",
    response_model=TransferRead,
    responses=STEP_ERRORS,
    summary="Accepts (the case moves to your cell) or declines (it stays) the transfer "
    "waiting for your cell's answer (the receiving cell's coordinator)",
)
def decide_transfer(case_id: uuid.UUID, body: TransferDecisionIn, step: CaseStep) -> TransferRead:
    transfer = movements.decide_transfer(
        step.session, principal=step.principal, case_id=case_id, data=body, today=step.today
    )
    return transfer_read(transfer)


transfers_router = APIRouter(prefix="/transfers", tags=["cases"])


@transfers_router.get(
    "",
    response_model=PendingTransferPage,
    responses=responses(401, 403),
    summary="The transfers waiting for your cells' answer (their coordinator): each case's "
    "state and dates, nothing nominative before acceptance",
)
def list_transfers(principal: CurrentPrincipal, session: DbSession) -> PendingTransferPage:
    cases = movements.pending_transfers(session, principal=principal)
    items = []
    for case in cases:
        pending = movements.pending_transfer(case)
        assert pending is not None  # the query's condition
        items.append(
            PendingTransferRead(
                **transfer_read(pending).model_dump(),
                reference=case.reference,
                case_state=CaseState(case.state),
                received_on=case.received_on,
                origin=Organisation(case.origin),
            )
        )
    return PendingTransferPage(items=items)
