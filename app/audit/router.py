"""The auditors' API (R23): the events, their verification, and a case's access log."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from app.audit import service
from app.audit.repository import EventFilter
from app.audit.schemas import AuditEventPage, AuditEventRead, VerificationRead
from app.audit.service import MAX_PAGE, EventPage
from app.audit.trail import Action
from app.auth import CurrentPrincipal
from app.db import DbSession
from app.errors import responses
from app.schemas import MAX_ROW_ID, Instant

router = APIRouter(tags=["audit"])

CSV_COLUMNS = list(AuditEventRead.model_fields)
PageFormat = Literal["json", "csv"]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=200)]
EVENT_PAGE_RESPONSES = {
    **responses(401, 403, 422),
    200: {
        "description": "A page of events; as CSV, the next page's link is in the Link header",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    },
}


@router.get(
    "/audit/events",
    response_model=AuditEventPage,
    responses=EVENT_PAGE_RESPONSES,
    summary="R23: the audit log, filtered and paginated (auditors)",
)
def read_audit_events(
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    case_id: uuid.UUID | None = None,
    actor_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    action: Action | None = None,
    outcome: Literal["allowed", "denied"] | None = None,
    severity: Literal["info", "high"] | None = None,
    since: Annotated[Instant | None, Query(description="Inclusive, with a time zone")] = None,
    until: Annotated[Instant | None, Query(description="Exclusive, with a time zone")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    format: PageFormat = "json",
) -> AuditEventPage | Response:
    where = EventFilter(
        case_id=case_id,
        actor_id=actor_id,
        action=action.value if action else None,
        outcome=outcome,
        severity=severity,
        since=since,
        until=until,
    )
    page = service.list_events(
        session, principal=principal, where=where, limit=limit, cursor=cursor
    )
    return _answer(request, page, format)


@router.get(
    "/audit/verification",
    response_model=VerificationRead,
    responses=responses(401, 403),
    summary="R23: the verifier's verdict on the whole log and its signed checkpoints (auditors)",
)
def verify_audit_log(
    request: Request, principal: CurrentPrincipal, session: DbSession
) -> VerificationRead:
    verdict = service.verification(
        session, principal=principal, signer=request.app.state.audit_signer
    )
    return VerificationRead(**asdict(verdict))


@router.get(
    "/cases/{case_id}/access-log",
    response_model=AuditEventPage,
    responses={**EVENT_PAGE_RESPONSES, **responses(401, 403, 404, 422)},
    summary="R23: who accessed this case, when, what, with what outcome (coordinator, auditors)",
)
def read_access_log(
    request: Request,
    case_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    format: PageFormat = "json",
) -> AuditEventPage | Response:
    page = service.access_log(
        session, principal=principal, case_id=case_id, limit=limit, cursor=cursor
    )
    return _answer(request, page, format)


def _answer(request: Request, page: EventPage, format: PageFormat) -> AuditEventPage | Response:
    if format == "json":
        return AuditEventPage(
            items=[AuditEventRead(**item) for item in page.items], next_cursor=page.next_cursor
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in page.items:
        writer.writerow({**item, "blocks": " ".join(item["blocks"])})
    headers = {}
    if page.next_cursor:
        headers["Link"] = (
            f'<{request.url.include_query_params(cursor=page.next_cursor)}>; rel="next"'
        )
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
