from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from app.auth import CurrentPrincipal
from app.clock import Today
from app.config import CurrentSettings
from app.crypto.dependency import CurrentVault
from app.db import DbSession
from app.errors import responses
from app.meetings import service
from app.meetings.schemas import AgendaCaseIn, MeetingCreate, MeetingRead

router = APIRouter(prefix="/meetings", tags=["meetings"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MeetingRead,
    responses=responses(401, 403, 422),
    summary="The coordinator schedules a cell meeting",
)
def create_meeting(
    body: MeetingCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
    settings: CurrentSettings,
) -> MeetingRead:
    meeting = service.create_meeting(
        session,
        principal=principal,
        data=body,
        today=on,
        meeting_record_days=settings.meeting_record_days,
    )
    return service.meeting_read(
        session, principal=principal, vault=vault, meeting=meeting, today=on
    )


@router.get(
    "/{meeting_id}",
    response_model=MeetingRead,
    responses=responses(401, 403, 404),
    summary="A meeting's agenda and the not-retained situations the parquet presents",
)
def read_meeting(
    meeting_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> MeetingRead:
    meeting = service.get_meeting(session, principal=principal, meeting_id=meeting_id)
    return service.meeting_read(
        session, principal=principal, vault=vault, meeting=meeting, today=on
    )


@router.post(
    "/{meeting_id}/cases",
    response_model=MeetingRead,
    responses=responses(401, 403, 404, 409, 422),
    summary="Step 4: puts a retained case on the agenda (one calendar month after receipt)",
)
def put_on_agenda(
    meeting_id: uuid.UUID,
    body: AgendaCaseIn,
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
    settings: CurrentSettings,
) -> MeetingRead:
    meeting = service.put_on_agenda(
        session,
        principal=principal,
        meeting_id=meeting_id,
        case_id=body.case_id,
        today=on,
        meeting_record_days=settings.meeting_record_days,
    )
    return service.meeting_read(
        session, principal=principal, vault=vault, meeting=meeting, today=on
    )
