"""Every page of the web front end, in one router for the application to include."""

from __future__ import annotations

from fastapi import APIRouter

from app.web import audit_pages, indicators_pages, meetings_pages, oidc, pages

router = APIRouter(include_in_schema=False)
for screens in (pages, oidc, meetings_pages, audit_pages, indicators_pages):
    router.include_router(screens.router)
