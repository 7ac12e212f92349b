"""The auditors' API (R23): the events, their verification, and a case's access log."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.audit import service
from app.audit.repository import EventFilter, Order
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
OrderParameter = Annotated[
    Order,
    Query(
        description="asc (the default): oldest first, in the log's order; desc: newest first. "
        "A cursor continues the order it was given in."
    ),
]
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
    order: OrderParameter = "asc",
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
        session, principal=principal, where=where, limit=limit, cursor=cursor, order=order
    )
    return _answer(request, page, format)


@router.get(
    "/audit/events.csv",
    responses={
        **responses(401, 403, 422),
        200: {
            "description": "Every event of the period, oldest first, one CSV line each with "
            "fixed columns: " + ", ".join(service.EXPORT_COLUMNS),
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
    },
    response_class=StreamingResponse,
    summary="R23: a period's events as one CSV file, for an inspection (auditors); logged",
)
def export_audit_events(
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    since: Annotated[Instant | None, Query(description="Inclusive, with a time zone")] = None,
    until: Annotated[Instant | None, Query(description="Exclusive, with a time zone")] = None,
) -> StreamingResponse:
    where = EventFilter(since=since, until=until)
    up_to = service.start_export(session, principal=principal, where=where)
    return export_response(request, where, up_to, export_name(since, until))


def export_name(since: datetime | date | None, until: datetime | date | None) -> str:
    """The file's name: the period's bounds as given (dates or instants), without colons."""

    def bound(value: datetime | date | None, missing: str) -> str:
        if value is None:
            return missing
        return value.isoformat().replace(":", "").replace("+", "p")

    return f"journal-audit-{bound(since, 'debut')}-{bound(until, 'fin')}.csv"


def export_response(
    request: Request, where: EventFilter, up_to: int, name: str
) -> StreamingResponse:
    """The export streamed, read in a session of its own (``service.export_csv``)."""
    return StreamingResponse(
        service.export_csv(request.app.state.sessionmaker, where=where, up_to=up_to),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        },
    )


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
    order: OrderParameter = "asc",
) -> AuditEventPage | Response:
    page = service.access_log(
        session, principal=principal, case_id=case_id, limit=limit, cursor=cursor, order=order
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
