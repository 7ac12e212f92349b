from __future__ import annotations

from fastapi import APIRouter

from app.auth import CurrentPrincipal
from app.clock import Today, now
from app.config import CurrentSettings
from app.db import DbSession
from app.errors import responses
from app.worklist import service
from app.worklist.schemas import Worklist

router = APIRouter(tags=["account"])


@router.get(
    "/me/worklist",
    response_model=Worklist,
    responses=responses(401, 403),
    summary="What awaits you: for each item its kind, the case's reference (or the meeting), "
    "the day it became due and whether it is overdue",
)
def read_worklist(
    principal: CurrentPrincipal, session: DbSession, on: Today, settings: CurrentSettings
) -> Worklist:
    return service.worklist(
        session,
        principal=principal,
        today=on,
        now=now(),
        feedback_days=settings.feedback_due_days,
    )
