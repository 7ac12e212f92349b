"""Every page of the web front end, in one router for the application to include."""

from __future__ import annotations

from fastapi import APIRouter

from app.web import (
    account_pages,
    admin_pages,
    audit_pages,
    case_pages,
    correction_pages,
    indicators_pages,
    meeting_documents,
    meetings_pages,
    oidc,
    pages,
    search_pages,
    services_pages,
    worklist_pages,
)

router = APIRouter(include_in_schema=False)
for screens in (
    pages,
    # Before the case pages: /dossiers/recherche is not a case's id.
    search_pages,
    case_pages,
    correction_pages,
    oidc,
    meeting_documents,
    meetings_pages,
    services_pages,
    audit_pages,
    indicators_pages,
    worklist_pages,
    account_pages,
    admin_pages,
):
    router.include_router(screens.router)
