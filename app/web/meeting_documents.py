"""A meeting's printed documents from the web front end: its agenda and its minutes (relevé de
décisions) as PDFs, with the web session's principal.

The same service functions as the API's ``/api/v1/meetings/{id}/agenda.pdf`` and
``minutes.pdf``: what each document shows of each case is the charter's decision, and printing
it is an audited read of each case shown (refusals logged under the document's action).
"""

from __future__ import annotations

import uuid

from fastapi import Response
from fastapi.routing import APIRouter

from app.audit.context import audited_as
from app.audit.trail import Action
from app.clock import Today
from app.crypto.dependency import CurrentVault
from app.db import DbSession, utcnow
from app.directory import repository as directory
from app.meetings import documents, service
from app.web.deps import WebPrincipal

router = APIRouter(include_in_schema=False)
MEETINGS = "/reunions"


def _pdf(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "no-store",
        },
    )


@router.get(
    MEETINGS + "/{meeting_id}/ordre-du-jour.pdf", dependencies=[audited_as(Action.PRINT_AGENDA)]
)
def agenda_document(
    meeting_id: uuid.UUID,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> Response:
    meeting = service.get_meeting(session, principal=principal, meeting_id=meeting_id)
    cell = directory.get_cell(session, meeting.cell_id)
    content = documents.agenda_pdf(
        session,
        principal=principal,
        vault=vault,
        meeting=meeting,
        today=on,
        cell_name=cell.name if cell else "",
        now=utcnow(),
    )
    return _pdf(content, documents.agenda_filename(meeting))


@router.get(
    MEETINGS + "/{meeting_id}/releve-de-decisions.pdf",
    dependencies=[audited_as(Action.PRINT_MINUTES)],
)
def minutes_document(
    meeting_id: uuid.UUID,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> Response:
    meeting = service.get_meeting(session, principal=principal, meeting_id=meeting_id)
    cell = directory.get_cell(session, meeting.cell_id)
    content = documents.minutes_pdf(
        session,
        principal=principal,
        vault=vault,
        meeting=meeting,
        today=on,
        cell_name=cell.name if cell else "",
        now=utcnow(),
    )
    return _pdf(content, documents.minutes_filename(meeting))
