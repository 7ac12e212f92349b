"""``/a-faire``: what awaits me (issue 18), the same worklist as ``GET /api/v1/me/worklist``,
grouped by kind in the order of the procedure, each line leading to where the work is done."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRouter

from app.audit.context import audited_as
from app.audit.trail import Action
from app.clock import Today, now
from app.config import CurrentSettings
from app.db import DbSession
from app.web.deps import WebPrincipal
from app.web.rendering import page
from app.web.returns import WORKLIST
from app.worklist import service
from app.worklist.schemas import WorkKind

router = APIRouter(include_in_schema=False)


@router.get(WORKLIST, dependencies=[audited_as(Action.READ_WORKLIST)])
def worklist_page(
    request: Request,
    principal: WebPrincipal,
    session: DbSession,
    on: Today,
    settings: CurrentSettings,
) -> HTMLResponse:
    found = service.worklist(
        session,
        principal=principal,
        today=on,
        now=now(),
        feedback_days=settings.feedback_due_days,
    )
    groups = [
        (kind, [item for item in found.items if item.kind is kind])
        for kind in WorkKind
        if found.counts.get(kind)
    ]
    return page(
        request,
        "worklist.html",
        {
            "principal": principal,
            "groups": groups,
            "truncated": set(found.truncated),
            "today": on,
        },
    )
