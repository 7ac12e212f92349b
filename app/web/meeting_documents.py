"""A meeting's printed documents from the web front end: its agenda and its minutes (relevé de
décisions) as PDFs, with the web session's principal.

The same service functions as the API's ``/api/v1/meetings/{id}/agenda.pdf`` and
``minutes.pdf``: what each document shows of each case is the charter's decision, and printing
it is an audited read of each case shown (refusals logged under the document's action).
"""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import Response
from fastapi.routing import APIRouter
from sqlalchemy.orm import Session

from app.audit.context import audited_as
from app.audit.trail import Action
from app.clock import Today
from app.crypto.dependency import CurrentVault
from app.crypto.vault import Vault
from app.db import DbSession, utcnow
from app.meetings import documents
from app.meetings.router import pdf_response
from app.principal import Principal
from app.web.deps import WebPrincipal

router = APIRouter(include_in_schema=False)
MEETINGS = "/reunions"


def _download(
    meeting_id: uuid.UUID,
    principal: Principal,
    session: Session,
    vault: Vault,
    on: date,
    document: documents.Document,
) -> Response:
    return pdf_response(
        documents.printed(
            session,
            principal=principal,
            vault=vault,
            meeting_id=meeting_id,
            document=document,
            today=on,
            now=utcnow(),
        )
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
    return _download(meeting_id, principal, session, vault, on, documents.Document.AGENDA)


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
    return _download(meeting_id, principal, session, vault, on, documents.Document.MINUTES)
