from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from app.audit import service as audit_service
from app.audit.schemas import AuditEventRead
from app.auth import CurrentPrincipal
from app.cases import movements, service
from app.cases.schemas import (
    ArchiveAccessHeld,
    ArchiveAccessIn,
    ArchiveAccessRead,
    CaseCreate,
    CasePage,
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
    ReviewDecisionIn,
    SubjectAccessExportRead,
    TransferDecisionIn,
    TransferIn,
    TransferRead,
)
from app.cases.serialise import case_read, transfer_read
from app.clock import Today
from app.config import CurrentSettings
from app.crypto.dependency import CurrentVault
from app.db import DbSession, utcnow
from app.directory.principal import Principal
from app.errors import InvalidInput, responses
from app.schemas import MAX_ROW_ID
from app.vocabulary import ClosureReason, Organisation
from app.workflow.states import CaseState

router = APIRouter(prefix="/cases", tags=["cases"])
STEP_ERRORS = responses(401, 403, 404, 409, 422)


def _present(
    session: DbSession, principal: Principal, vault: CurrentVault, case_id: uuid.UUID
) -> CaseRead:
    """The case after a step, as the caller may now see it (the step may have hidden it)."""
    view = service.view_case(session, principal=principal, vault=vault, case_id=case_id)
    return case_read(view, principal)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseRead,
    responses=responses(401, 403, 422),
    summary="Step 1: send a worrying situation to the cell's coordinator (received today; "
    "the coordinator declares an earlier day and the channel of one received elsewhere)",
    response_model_exclude_unset=True,
)
def submit_case(
    body: CaseCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
    settings: CurrentSettings,
) -> CaseRead:
    case = service.submit_case(
        session,
        principal=principal,
        vault=vault,
        data=body,
        today=on,
        received_on_max_days=settings.received_on_max_days,
    )
    return _present(session, principal, vault, case.id)


@router.get(
    "",
    response_model=CasePage,
    responses=responses(401, 403, 422),
    summary="The cases of your cells that the charter lets you see",
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
) -> CasePage:
    items, next_cursor = service.list_cases(
        session,
        principal=principal,
        vault=vault,
        cell_id=cell_id,
        state=state,
        limit=limit,
        cursor=cursor,
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


@router.post(
    "/{case_id}/parquet-referral",
    response_model=CaseRead,
    responses=STEP_ERRORS,
    summary="Step 2: the coordinator sends the situation to the parquet",
    response_model_exclude_unset=True,
)
def refer_to_parquet(
    case_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> CaseRead:
    service.refer_to_parquet(session, principal=principal, case_id=case_id, today=on)
    return _present(session, principal, vault, case_id)


@router.post(
    "/{case_id}/parquet-decision",
    response_model=CaseRead,
    responses=STEP_ERRORS,
    summary="Step 2: the parquet retains the situation or not (judicial follow-up under way)",
    response_model_exclude_unset=True,
)
def decide_parquet(
    case_id: uuid.UUID,
    body: ParquetDecisionIn,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> CaseRead:
    service.decide_parquet(
        session, principal=principal, case_id=case_id, retained=body.retained, today=on
    )
    return _present(session, principal, vault, case_id)


@router.post(
    "/{case_id}/research-notes",
    status_code=status.HTTP_201_CREATED,
    response_model=ResearchNoteCreated,
    # 410: a note is sealed with the case's key, which a destroyed case no longer has.
    responses={**STEP_ERRORS, **responses(410)},
    summary="Step 3: a member shares what their institution knows (never the CST)",
)
def add_research_note(
    case_id: uuid.UUID,
    body: ResearchNoteIn,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> ResearchNoteCreated:
    note = service.add_research_note(
        session, principal=principal, vault=vault, case_id=case_id, content=body.content, today=on
    )
    return ResearchNoteCreated(id=note.id, case_id=case_id, created_at=note.created_at)


@router.post(
    "/{case_id}/review-decision",
    response_model=CaseRead,
    responses=STEP_ERRORS,
    summary="Step 5: the cell's decision: orient (with destinations) or no action (closes)",
    response_model_exclude_unset=True,
)
def review_decision(
    case_id: uuid.UUID,
    body: ReviewDecisionIn,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> CaseRead:
    service.review_decision(session, principal=principal, case_id=case_id, data=body, today=on)
    return _present(session, principal, vault, case_id)


@router.post(
    "/{case_id}/family-information",
    response_model=CaseRead,
    responses=STEP_ERRORS,
    summary="Step 5: the coordinator records that the family was informed",
    response_model_exclude_unset=True,
)
def record_family_information(
    case_id: uuid.UUID,
    body: FamilyInformationIn,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> CaseRead:
    service.record_family_information(
        session, principal=principal, case_id=case_id, data=body, today=on
    )
    return _present(session, principal, vault, case_id)


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


@router.post(
    "/{case_id}/orientations/{orientation_id}/transmission",
    response_model=CaseRead,
    responses=STEP_ERRORS,
    summary="Step 5: transmission to the destination (social services via the CST)",
    response_model_exclude_unset=True,
    dependencies=[Depends(no_content)],
)
def transmit(
    case_id: uuid.UUID,
    orientation_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> CaseRead:
    service.transmit(
        session, principal=principal, case_id=case_id, orientation_id=orientation_id, today=on
    )
    return _present(session, principal, vault, case_id)


@router.post(
    "/{case_id}/orientations/{orientation_id}/feedback",
    response_model=CaseRead,
    responses=STEP_ERRORS,
    summary="Step 6: the service seized says whether support could be set up (closed form)",
    response_model_exclude_unset=True,
)
def record_feedback(
    case_id: uuid.UUID,
    orientation_id: uuid.UUID,
    body: FeedbackIn,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> CaseRead:
    service.record_feedback(
        session,
        principal=principal,
        case_id=case_id,
        orientation_id=orientation_id,
        data=body,
        today=on,
    )
    return _present(session, principal, vault, case_id)


@router.post(
    "/{case_id}/orientations",
    response_model=CaseRead,
    responses=STEP_ERRORS,
    summary="Step 5: orients the case elsewhere after the decision (the family unreachable, a "
    "service that could not take it)",
    response_model_exclude_unset=True,
)
def add_orientation(
    case_id: uuid.UUID,
    body: OrientationIn,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> CaseRead:
    service.add_orientation(session, principal=principal, case_id=case_id, data=body, today=on)
    return _present(session, principal, vault, case_id)


@router.post(
    "/{case_id}/closure",
    response_model=CaseRead,
    responses=STEP_ERRORS,
    summary="Closes the case, saying why; it joins the archive (R17)",
    response_model_exclude_unset=True,
)
def close(
    case_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
    body: ClosureIn | None = None,
) -> CaseRead:
    reason = ClosureReason(body.reason) if body and body.reason else None
    service.close(session, principal=principal, case_id=case_id, reason=reason, today=on)
    return _present(session, principal, vault, case_id)


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
        hours=settings.archive_access_hours,
    )
    return ArchiveAccessRead(
        case_id=case_id, granted_at=access.granted_at, expires_at=access.expires_at
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
    case_id: uuid.UUID,
    body: DuplicateDecisionIn,
    principal: CurrentPrincipal,
    session: DbSession,
    on: Today,
) -> DuplicateDecisionRead:
    outcome = movements.decide_duplicate(
        session, principal=principal, case_id=case_id, data=body, today=on
    )
    merged = {}
    if outcome.kept is not None and outcome.closed is not None:
        merged = {"kept_case_id": outcome.kept.id, "closed_case_id": outcome.closed.id}
    return DuplicateDecisionRead(
        decision=outcome.decision, case_id=outcome.case.id, other_case_id=outcome.other.id, **merged
    )


@router.post(
    "/{case_id}/transfer",
    response_model=CaseRead,
    responses=STEP_ERRORS,
    summary="Proposes to transfer the case to another cell of the same kind (the case's "
    "coordinator; the receiving cell's coordinator answers)",
    response_model_exclude_unset=True,
)
def propose_transfer(
    case_id: uuid.UUID,
    body: TransferIn,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> CaseRead:
    movements.propose_transfer(session, principal=principal, case_id=case_id, data=body, today=on)
    return _present(session, principal, vault, case_id)


@router.post(
    "/{case_id}/transfer/decision",
    response_model=TransferRead,
    responses=STEP_ERRORS,
    summary="Accepts (the case moves to your cell) or declines (it stays) the transfer "
    "waiting for your cell's answer (the receiving cell's coordinator)",
)
def decide_transfer(
    case_id: uuid.UUID,
    body: TransferDecisionIn,
    principal: CurrentPrincipal,
    session: DbSession,
    on: Today,
) -> TransferRead:
    transfer = movements.decide_transfer(
        session, principal=principal, case_id=case_id, data=body, today=on
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
                case_state=CaseState(case.state),
                received_on=case.received_on,
                origin=Organisation(case.origin),
            )
        )
    return PendingTransferPage(items=items)
