from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response, status
from sqlalchemy.orm import Session

from app.auth import CurrentPrincipal
from app.clock import Today
from app.config import CurrentSettings, Settings
from app.crypto.dependency import CurrentVault
from app.crypto.vault import Vault
from app.db import DbSession, utcnow
from app.errors import responses
from app.meetings import documents, service
from app.meetings.models import Meeting
from app.meetings.schemas import (
    AgendaCaseIn,
    AgendaOrderIn,
    AttendanceIn,
    MeetingChange,
    MeetingCreate,
    MeetingPage,
    MeetingRead,
)
from app.principal import Principal
from app.schemas import RowId

router = APIRouter(prefix="/meetings", tags=["meetings"])
MERGE_PATCH = "application/merge-patch+json"
# A change to a meeting: the meeting's rules (409), a value refused (422).
CHANGE_ERRORS = responses(401, 403, 404, 409, 422)


@dataclass(frozen=True, slots=True)
class MeetingCall:
    """What every meeting route needs, and the meeting as its caller may see it afterwards."""

    principal: Principal
    session: Session
    vault: Vault
    today: date
    settings: Settings

    def present(self, meeting: Meeting) -> MeetingRead:
        return service.meeting_read(
            self.session,
            principal=self.principal,
            vault=self.vault,
            meeting=meeting,
            today=self.today,
        )


def _call(
    principal: CurrentPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
    settings: CurrentSettings,
) -> MeetingCall:
    return MeetingCall(principal, session, vault, on, settings)


Call = Annotated[MeetingCall, Depends(_call)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MeetingRead,
    responses=responses(401, 403, 409, 422),
    summary="The coordinator convenes a cell meeting (day, start time HH:MM, place); the cell's "
    "members are invited",
)
def create_meeting(body: MeetingCreate, call: Call) -> MeetingRead:
    meeting = service.create_meeting(
        call.session,
        principal=call.principal,
        data=body,
        today=call.today,
        meeting_record_days=call.settings.meeting_record_days,
    )
    return call.present(meeting)


@router.get(
    "",
    response_model=MeetingPage,
    responses=responses(401, 403, 422),
    summary="The meetings of the caller's cells (or one of them) in a period, by day: when, "
    "where, status and agenda size (nothing nominative)",
)
def list_meetings(
    call: Call,
    cell_id: Annotated[RowId | None, Query()] = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: Annotated[date | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> MeetingPage:
    return service.meetings_page(
        call.session,
        principal=call.principal,
        cell_id=cell_id,
        first=from_,
        last=to,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/{meeting_id}",
    response_model=MeetingRead,
    responses=responses(401, 403, 404),
    summary="A meeting: its agenda, the not-retained situations the parquet presents, the "
    "feedback expected, and its participants",
)
def read_meeting(meeting_id: uuid.UUID, call: Call) -> MeetingRead:
    meeting = service.get_meeting(call.session, principal=call.principal, meeting_id=meeting_id)
    return call.present(meeting)


@router.patch(
    "/{meeting_id}",
    response_model=MeetingRead,
    responses=CHANGE_ERRORS,
    summary="Reschedules a meeting still to be held (JSON Merge Patch of held_on, starts_at, "
    "place); refused, naming the cases, if a new day breaks the one-month rule for its agenda",
)
def reschedule_meeting(
    meeting_id: uuid.UUID,
    body: Annotated[MeetingChange, Body(media_type=MERGE_PATCH)],
    call: Call,
) -> MeetingRead:
    meeting = service.reschedule(
        call.session,
        principal=call.principal,
        meeting_id=meeting_id,
        data=body,
        today=call.today,
    )
    return call.present(meeting)


@router.post(
    "/{meeting_id}/cancellation",
    response_model=MeetingRead,
    responses=CHANGE_ERRORS,
    summary="Cancels a meeting still to be held: its cases go back to research, ready for "
    "another meeting",
)
def cancel_meeting(meeting_id: uuid.UUID, call: Call) -> MeetingRead:
    meeting = service.cancel(
        call.session, principal=call.principal, meeting_id=meeting_id, today=call.today
    )
    return call.present(meeting)


@router.post(
    "/{meeting_id}/cases",
    response_model=MeetingRead,
    responses=CHANGE_ERRORS,
    summary="Step 4: puts a retained case at the end of the agenda (one calendar month after "
    "receipt)",
)
def put_on_agenda(meeting_id: uuid.UUID, body: AgendaCaseIn, call: Call) -> MeetingRead:
    meeting = service.put_on_agenda(
        call.session,
        principal=call.principal,
        meeting_id=meeting_id,
        case_id=body.case_id,
        today=call.today,
        meeting_record_days=call.settings.meeting_record_days,
    )
    return call.present(meeting)


@router.delete(
    "/{meeting_id}/cases/{case_id}",
    response_model=MeetingRead,
    responses=CHANGE_ERRORS,
    summary="Takes a case off the agenda before the cell decided on it: back to research",
)
def remove_from_agenda(meeting_id: uuid.UUID, case_id: uuid.UUID, call: Call) -> MeetingRead:
    meeting = service.remove_from_agenda(
        call.session,
        principal=call.principal,
        meeting_id=meeting_id,
        case_id=case_id,
        today=call.today,
    )
    return call.present(meeting)


@router.put(
    "/{meeting_id}/agenda-order",
    response_model=MeetingRead,
    responses=CHANGE_ERRORS,
    summary="The order in which the cell will examine the agenda's cases (each once)",
)
def order_agenda(meeting_id: uuid.UUID, body: AgendaOrderIn, call: Call) -> MeetingRead:
    meeting = service.order_agenda(
        call.session, principal=call.principal, meeting_id=meeting_id, case_ids=body.case_ids
    )
    return call.present(meeting)


@router.put(
    "/{meeting_id}/attendance",
    response_model=MeetingRead,
    responses=CHANGE_ERRORS,
    summary="Who attended (from the meeting's day on): every other participant was absent",
)
def record_attendance(meeting_id: uuid.UUID, body: AttendanceIn, call: Call) -> MeetingRead:
    meeting = service.record_attendance(
        call.session,
        principal=call.principal,
        meeting_id=meeting_id,
        attended=body.attended,
        today=call.today,
    )
    return call.present(meeting)


@router.post(
    "/{meeting_id}/held",
    response_model=MeetingRead,
    responses=CHANGE_ERRORS,
    summary="Records that the meeting was held (on or after its day, every case of its agenda "
    "decided)",
)
def mark_meeting_held(meeting_id: uuid.UUID, call: Call) -> MeetingRead:
    meeting = service.mark_held(
        call.session, principal=call.principal, meeting_id=meeting_id, today=call.today
    )
    return call.present(meeting)


# --- printed documents (issue 17): generated on demand, never stored ------------------------

PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The document as the charter lets the caller see each case (PDF)",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    },
    **responses(401, 403, 404, 409),
}


def pdf_response(document: documents.Printed) -> Response:
    """A printed document as a download, never kept by a cache."""
    return Response(
        document.content,
        media_type="application/pdf",
        headers={
            "content-disposition": f'attachment; filename="{document.filename}"',
            "cache-control": "no-store",
        },
    )


def _download(call: MeetingCall, meeting_id: uuid.UUID, document: documents.Document) -> Response:
    return pdf_response(
        documents.printed(
            call.session,
            principal=call.principal,
            vault=call.vault,
            meeting_id=meeting_id,
            document=document,
            today=call.today,
            now=utcnow(),
        )
    )


@router.get(
    "/{meeting_id}/agenda.pdf",
    response_class=Response,
    responses=PDF_RESPONSE,
    summary="The meeting's agenda as a PDF (not for a cancelled meeting): each case as the "
    "charter shows it to the caller, an audited read of each",
)
def print_agenda(meeting_id: uuid.UUID, call: Call) -> Response:
    return _download(call, meeting_id, documents.Document.AGENDA)


@router.get(
    "/{meeting_id}/minutes.pdf",
    response_class=Response,
    responses=PDF_RESPONSE,
    summary="The meeting's minutes (relevé de décisions) as a PDF, from its day on: each case's "
    "decision and orientations as the charter shows them to the caller, an audited read of each",
)
def print_minutes(meeting_id: uuid.UUID, call: Call) -> Response:
    return _download(call, meeting_id, documents.Document.MINUTES)
