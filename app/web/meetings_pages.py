"""The meeting screen: the meetings of my cells, scheduling one, a meeting's agenda, the
not-retained situations the parquet presents, and putting a case on the agenda (step 4).

The same service functions as the API's ``/api/v1/meetings`` routes, with the web session's
principal: who may schedule, what each agenda item shows and which cases may be put on the
agenda are the charter's and the procedure's decisions. The decisions on a case examined are
taken on its own page (``/dossiers/{id}``), which has the review-decision form.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRouter
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.audit import trail
from app.audit.context import audited_as
from app.audit.trail import Action, Actor
from app.clock import Today
from app.config import CurrentSettings
from app.crypto.dependency import CurrentVault
from app.crypto.vault import Vault
from app.db import DbSession
from app.directory import repository as directory
from app.errors import Conflict, InvalidInput
from app.meetings import service
from app.meetings.schemas import AgendaCaseIn, MeetingCreate
from app.operations import metrics
from app.policy import decisions
from app.principal import Principal
from app.web.deps import CheckedForm, WebPrincipal
from app.web.forms import SentBack, field_errors, refusal_errors, text
from app.web.rendering import page

router = APIRouter(include_in_schema=False)
MEETINGS = "/reunions"


def _cell_names(session: DbSession, cell_ids: set[int]) -> dict[int, str]:
    return {cell.id: cell.name for cell in directory.get_cells(session, cell_ids)}


def _meetings_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    on: date,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    meetings = service.list_meetings(session, principal=principal)
    sizes = service.agenda_sizes(session, meetings=meetings)
    names = _cell_names(session, {m.cell_id for m in meetings} | set(principal.cell_ids))
    schedulable = sorted(
        (
            (cell_id, name)
            for cell_id, name in names.items()
            if service.may_schedule(principal, cell_id)
        ),
        key=lambda cell: cell[1],
    )
    rows = [
        {
            "id": m.id,
            "cell": names.get(m.cell_id, ""),
            "held_on": m.held_on,
            "agenda": sizes.get(m.id, 0),
            "upcoming": m.held_on >= on,
        }
        for m in meetings
    ]
    return page(
        request,
        "meetings.html",
        {
            "principal": principal,
            "upcoming": [r for r in rows if r["upcoming"]][::-1],  # the nearest first
            "past": [r for r in rows if not r["upcoming"]],
            "listed": service.MEETINGS_LISTED,
            "schedulable": schedulable,
            "values": values or {"held_on": on.isoformat()},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get(MEETINGS, dependencies=[audited_as(Action.READ_MEETING)])
def meetings_page(
    request: Request, principal: WebPrincipal, session: DbSession, on: Today
) -> HTMLResponse:
    return _meetings_page(request, session, principal, on)


@router.post(MEETINGS, dependencies=[audited_as(Action.CREATE_MEETING)])
def schedule_meeting(
    request: Request,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
    on: Today,
    settings: CurrentSettings,
) -> Any:
    values = {"cell_id": text(form, "cell_id"), "held_on": text(form, "held_on")}
    try:
        data = MeetingCreate.model_validate(
            {"cell_id": values["cell_id"] or None, "held_on": values["held_on"] or None}
        )
        meeting = service.create_meeting(
            session,
            principal=principal,
            data=data,
            today=on,
            meeting_record_days=settings.meeting_record_days,
        )
    except ValidationError as error:
        errors = field_errors(error.errors(include_input=False))
    except InvalidInput as error:
        # The window around today (the service refuses before it adds anything).
        errors = refusal_errors(error)
    else:
        return RedirectResponse(f"{MEETINGS}/{meeting.id}", status_code=303)
    return _meetings_page(
        request, session, principal, on, values=values, errors=errors, status_code=422
    )


def _meeting_page(
    request: Request,
    session: Session,
    principal: Principal,
    vault: Vault,
    on: date,
    meeting_id: uuid.UUID,
    record_days: int,
    *,
    sent: SentBack | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    meeting = service.get_meeting(session, principal=principal, meeting_id=meeting_id)
    shown = service.meeting_read(
        session, principal=principal, vault=vault, meeting=meeting, today=on
    )
    candidates = service.agenda_candidates(
        session,
        principal=principal,
        vault=vault,
        meeting=meeting,
        today=on,
        meeting_record_days=record_days,
    )
    return page(
        request,
        "meeting.html",
        {
            "principal": principal,
            "meeting": shown,
            "cell_name": _cell_names(session, {meeting.cell_id}).get(meeting.cell_id, ""),
            "held": meeting.held_on <= on,
            "today": meeting.held_on == on,
            "candidates": candidates.ready,
            "later": candidates.later,
            "may_schedule": service.may_schedule(principal, meeting.cell_id),
            # R7: those who attend see the presented identities on the meeting's day only.
            "shown_on_the_day": meeting.held_on != on
            and decisions.may_in_cell(principal, "see_presented_identities", meeting.cell_id),
            "sent": sent,
        },
        status_code=status_code,
    )


@router.get(MEETINGS + "/{meeting_id}", dependencies=[audited_as(Action.READ_MEETING)])
def meeting_page(
    request: Request,
    meeting_id: uuid.UUID,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
    settings: CurrentSettings,
) -> HTMLResponse:
    return _meeting_page(
        request, session, principal, vault, on, meeting_id, settings.meeting_record_days
    )


@router.post(MEETINGS + "/{meeting_id}/situations", dependencies=[audited_as(Action.PUT_ON_AGENDA)])
def put_on_agenda(
    request: Request,
    meeting_id: uuid.UUID,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
    settings: CurrentSettings,
) -> Response:
    typed = {"case_id": text(form, "case_id")}
    try:
        data = AgendaCaseIn.model_validate(typed)
        service.put_on_agenda(
            session,
            principal=principal,
            meeting_id=meeting_id,
            case_id=data.case_id,
            today=on,
            meeting_record_days=settings.meeting_record_days,
        )
    except ValidationError as error:
        sent = SentBack("agenda", typed, field_errors(error.errors(include_input=False)))
        slug, status, case_id = "validation-error", 422, None
    except (InvalidInput, Conflict) as error:
        sent = SentBack("agenda", typed, refusal_errors(error))
        slug, status, case_id = error.slug, error.status, error.case_id
    else:
        return RedirectResponse(f"{MEETINGS}/{meeting_id}", status_code=303)
    # Back to the meeting, saying why; nothing of the step stays, its refusal is logged.
    session.rollback()
    trail.record_refusal(
        session,
        Actor.of(principal),
        Action.PUT_ON_AGENDA,
        status=status,
        slug=slug,
        case_id=case_id,
        meeting_id=meeting_id,
    )
    metrics.count_refusal(status, slug)
    return _meeting_page(
        request,
        session,
        principal,
        vault,
        on,
        meeting_id,
        settings.meeting_record_days,
        sent=sent,
        status_code=status,
    )
