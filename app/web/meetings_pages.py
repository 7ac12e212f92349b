"""The meeting screens: the meetings of my cells, convening one, and a meeting's page, where
the coordinator prepares and runs it (issue 17): the agenda in the order the cell will take
it, cases added (every one the procedure allows for that day) or taken off, the cell's
decision on each case recorded in that order without leaving the page, attendance, the
meeting marked held, rescheduled or cancelled, and its documents printed.

The same service functions as the API's ``/api/v1/meetings`` routes, with the web session's
principal: each action is offered exactly when the function that will judge it allows it now
(:func:`app.meetings.service.meeting_actions`, the charter's decisions and the procedure's
guards). A refusal brings the meeting's page back with the form as it was typed and the
error on its field; nothing is changed, and the refusal is an audit event naming the meeting
(and the case, where there is one).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRouter
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.audit import trail
from app.audit.context import audited_as
from app.audit.trail import Action, Actor
from app.cases import service as case_service
from app.cases.schemas import ReviewDecisionIn
from app.clock import Today
from app.config import CurrentSettings, Settings
from app.crypto.dependency import CurrentVault
from app.crypto.vault import Vault
from app.db import DbSession
from app.directory import repository as directory
from app.errors import AppError, Conflict, InvalidInput
from app.meetings import repository as meetings_repository
from app.meetings import service
from app.meetings.models import Meeting
from app.meetings.schemas import AgendaCaseIn, AttendanceIn, MeetingChange, MeetingCreate
from app.operations import metrics
from app.partners import repository as partners
from app.policy import decisions
from app.principal import Principal
from app.vocabulary import DESTINATIONS_BY_KIND, CellKind, Destination, MeetingStatus
from app.web import labels
from app.web.deps import CheckedForm, WebPrincipal
from app.web.forms import FORM, SentBack, field_errors, first_part, refusal_errors, text, texts
from app.web.labels import choices
from app.web.rendering import page
from app.workflow.states import Step

router = APIRouter(include_in_schema=False)
MEETINGS = "/reunions"
CONFIRMED = "confirme"


def _cell_names(session: Session, cell_ids: set[int]) -> dict[int, str]:
    return {cell.id: cell.name for cell in directory.get_cells(session, cell_ids)}


# --- the list, and convening a meeting --------------------------------------------------------


def _meetings_page(
    request: Request,
    session: Session,
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
            "starts_at": m.starts_at,
            "place": m.place,
            "status": m.status,
            "agenda": sizes.get(m.id, 0),
            "upcoming": m.held_on >= on and m.status == MeetingStatus.SCHEDULED.value,
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


@router.get(MEETINGS, dependencies=[audited_as(Action.LIST_MEETINGS)])
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
    values = {name: text(form, name) for name in ("cell_id", "held_on", "starts_at", "place")}
    try:
        data = MeetingCreate.model_validate({k: v for k, v in values.items() if v})
        meeting = service.create_meeting(
            session,
            principal=principal,
            data=data,
            today=on,
            meeting_record_days=settings.meeting_record_days,
        )
    except ValidationError as error:
        errors = field_errors(error.errors(include_input=False))
        status, slug = 422, "validation-error"
    except (InvalidInput, Conflict) as error:
        errors = _errors_of(error)
        status, slug = error.status, error.slug
    else:
        return RedirectResponse(f"{MEETINGS}/{meeting.id}?fait=convoquee", status_code=303)
    session.rollback()
    trail.record_refusal(
        session,
        Actor.of(principal),
        Action.CREATE_MEETING,
        status=status,
        slug=slug,
        case_id=None,
    )
    metrics.count_refusal(status, slug)
    return _meetings_page(
        request, session, principal, on, values=values, errors=errors, status_code=status
    )


def _errors_of(error: AppError) -> dict[str, str]:
    """A refusal's messages on their fields; the cases a rescheduling would examine too early
    are named (by reference) in the form's message."""
    errors = refusal_errors(error)
    cases = error.extra.get("cases")
    if isinstance(cases, list) and cases and FORM in errors:
        errors[FORM] += " Situations concernées : " + ", ".join(str(c) for c in cases) + "."
    return errors


# --- a meeting's page -------------------------------------------------------------------------


def _waiting(session: Session, principal: Principal, meeting: Meeting, on: date) -> list[str]:
    """The cell's decisions this user may record on the agenda's cases that a guard of the
    procedure refuses now (the meeting still to come): when they will be possible, said once,
    from the refusal itself."""
    found: list[str] = []
    for case in meetings_repository.on_agenda(session, meeting_id=meeting.id):
        facts = case_service.review_facts(session, case, on)
        for step in (Step.ORIENT, Step.CLOSE_WITHOUT_ACTION):
            if not decisions.may_step(principal, step, case_service.facts_of(case)):
                continue
            refusal = case_service.guard_refusal(step, case, facts)
            sentence = labels.waiting(refusal.slug, day=refusal.day) if refusal else None
            if sentence is not None and sentence not in found:
                found.append(sentence)
    return found


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
    done: str | None = None,
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
    actions = service.meeting_actions(session, principal=principal, meeting=meeting, today=on)
    cell = directory.get_cell(session, meeting.cell_id)
    kind = CellKind(cell.kind) if cell is not None else CellKind.CENOMED
    destinations = [d for d in Destination if d in DESTINATIONS_BY_KIND[kind]]
    services: dict[str, list[tuple[int, str]]] = {}
    if actions.decidable:
        for found in partners.services_of(session, cell_id=meeting.cell_id, active_only=True):
            services.setdefault(found.destination, []).append((found.id, found.name))
    reschedule = {
        "held_on": meeting.held_on.isoformat(),
        "starts_at": meeting.starts_at.strftime("%H:%M") if meeting.starts_at else "",
        "place": meeting.place or "",
    }
    return page(
        request,
        "meeting.html",
        {
            "principal": principal,
            "meeting": shown,
            "cell_name": cell.name if cell is not None else "",
            "held": meeting.held_on <= on,
            "today": meeting.held_on == on,
            "candidates": candidates.ready,
            "later": candidates.later,
            "actions": actions,
            "may_run": service.may_run(principal, meeting),
            "destinations": choices(Destination, destinations),
            "services": services,
            "reschedule": reschedule,
            # R7: those who attend see the presented identities on the meeting's day only.
            "shown_on_the_day": meeting.held_on != on
            and decisions.may_in_cell(principal, "see_presented_identities", meeting.cell_id),
            "minutes_ready": meeting.held_on <= on
            and meeting.status != MeetingStatus.CANCELLED.value,
            "sent": sent,
            "done": labels.DONE.get(done or ""),
            "waiting": _waiting(session, principal, meeting, on),
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
    fait: str | None = Query(default=None, max_length=40),
) -> HTMLResponse:
    return _meeting_page(
        request,
        session,
        principal,
        vault,
        on,
        meeting_id,
        settings.meeting_record_days,
        done=fait,
    )


@dataclass
class MeetingPost:
    """A form posted from a meeting's page: who, on which meeting, and the checked form."""

    request: Request
    meeting_id: uuid.UUID
    form: Any
    principal: Principal
    session: Session
    vault: Vault
    on: date
    settings: Settings

    def text(self, name: str) -> str:
        return text(self.form, name)

    def run(
        self,
        name: str,
        typed: dict[str, Any],
        act: Callable[[], object],
        *,
        done: str,
        case_id: uuid.UUID | None = None,
        place: Callable[[tuple[str, ...]], str] = first_part,
    ) -> Response:
        """Runs ``act`` (the API's validation and service function), then back to the
        meeting saying it is done (at the case's line, for a case). A refusal sends the page
        back with the form ``name`` as typed and its errors; nothing is changed, and the
        refusal is logged with the meeting and the case."""
        try:
            act()
        except ValidationError as error:
            errors = field_errors(error.errors(include_url=False, include_input=False), place)
            return self._send_back(name, typed, errors, 422, "validation-error", case_id)
        except (InvalidInput, Conflict) as error:
            errors = _errors_of(error)
            return self._send_back(
                name, typed, errors, error.status, error.slug, error.case_id or case_id
            )
        anchor = f"#situation-{case_id}" if case_id else ""
        return RedirectResponse(
            f"{MEETINGS}/{self.meeting_id}?fait={done}{anchor}", status_code=303
        )

    def _send_back(
        self,
        name: str,
        typed: dict[str, Any],
        errors: dict[str, str],
        status: int,
        slug: str,
        case_id: uuid.UUID | None,
    ) -> HTMLResponse:
        self.session.rollback()
        trail.record_refusal(
            self.session,
            Actor.of(self.principal),
            self.request.state.audit_action,
            status=status,
            slug=slug,
            case_id=case_id,
            meeting_id=self.meeting_id,
        )
        metrics.count_refusal(status, slug)
        return _meeting_page(
            self.request,
            self.session,
            self.principal,
            self.vault,
            self.on,
            self.meeting_id,
            self.settings.meeting_record_days,
            sent=SentBack(name, typed, errors),
            status_code=status,
        )


def meeting_post(
    request: Request,
    meeting_id: uuid.UUID,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
    settings: CurrentSettings,
) -> MeetingPost:
    return MeetingPost(request, meeting_id, form, principal, session, vault, on, settings)


CurrentMeetingPost = Annotated[MeetingPost, Depends(meeting_post)]


@router.post(MEETINGS + "/{meeting_id}/situations", dependencies=[audited_as(Action.PUT_ON_AGENDA)])
def put_on_agenda(post: CurrentMeetingPost) -> Response:
    """Puts every case ticked on the agenda, in the order listed: all or none."""
    chosen = texts(post.form, "case_id")
    typed = {"case_id": chosen}

    def act() -> None:
        if not chosen:
            AgendaCaseIn.model_validate({})  # the API's refusal of a missing case
        for value in chosen:
            data = AgendaCaseIn.model_validate({"case_id": value})
            try:
                service.put_on_agenda(
                    post.session,
                    principal=post.principal,
                    meeting_id=post.meeting_id,
                    case_id=data.case_id,
                    today=post.on,
                    meeting_record_days=post.settings.meeting_record_days,
                )
            except (InvalidInput, Conflict) as error:
                error.case_id = error.case_id or data.case_id
                raise

    return post.run("agenda", typed, act, done="inscrites")


def _case_action(
    post: MeetingPost, case_id: uuid.UUID, name: str, act: Callable[[], object], done: str
) -> Response:
    return post.run(name, {"case_id": str(case_id)}, act, done=done, case_id=case_id)


@router.post(
    MEETINGS + "/{meeting_id}/situations/{case_id}/retrait",
    dependencies=[audited_as(Action.REMOVE_FROM_AGENDA)],
)
def remove_from_agenda(case_id: uuid.UUID, post: CurrentMeetingPost) -> Response:
    return _case_action(
        post,
        case_id,
        f"retrait-{case_id}",
        lambda: service.remove_from_agenda(
            post.session,
            principal=post.principal,
            meeting_id=post.meeting_id,
            case_id=case_id,
            today=post.on,
        ),
        "hors-ordre-du-jour",
    )


@router.post(
    MEETINGS + "/{meeting_id}/situations/{case_id}/deplacement",
    dependencies=[audited_as(Action.ORDER_AGENDA)],
)
def move_in_agenda(case_id: uuid.UUID, post: CurrentMeetingPost) -> Response:
    offset = -1 if post.text("sens") == "haut" else 1
    return _case_action(
        post,
        case_id,
        f"ordre-{case_id}",
        lambda: service.move_in_agenda(
            post.session,
            principal=post.principal,
            meeting_id=post.meeting_id,
            case_id=case_id,
            offset=offset,
        ),
        "ordre",
    )


def _decision_field(loc: tuple[str, ...]) -> str:
    return "destinations" if loc[:1] == ("orientations",) else first_part(loc)


@router.post(
    MEETINGS + "/{meeting_id}/situations/{case_id}/decision",
    dependencies=[audited_as(Action.REVIEW_DECISION)],
)
def review_decision(case_id: uuid.UUID, post: CurrentMeetingPost) -> Response:
    """The cell's decision on a case of the agenda, recorded from the meeting's page (the case
    page's step, with its confirmation as a box ticked in the same form)."""
    chosen = texts(post.form, "destinations")
    typed: dict[str, Any] = {
        "decision": post.text("decision"),
        "destinations": chosen,
        CONFIRMED: post.text(CONFIRMED),
    }
    typed |= {f"service_{d}": post.text(f"service_{d}") for d in chosen}

    def act() -> None:
        data = ReviewDecisionIn.model_validate(
            {
                "decision": typed["decision"] or None,
                "orientations": [
                    {
                        "destination": d,
                        "service_id": int(typed[f"service_{d}"])
                        if typed[f"service_{d}"].isdigit()
                        else None,
                    }
                    for d in chosen
                ],
            }
        )
        meeting = service.get_meeting(
            post.session, principal=post.principal, meeting_id=post.meeting_id
        )
        case = case_service.case_of(post.session, principal=post.principal, case_id=case_id)
        if case.meeting_id != meeting.id:
            raise Conflict(
                "This case is not on this meeting's agenda.",
                slug="not-on-agenda",
                case_id=case_id,
                meeting_id=meeting.id,
            )
        if typed[CONFIRMED] != "oui":
            why = "Cochez la case pour confirmer la décision, qui ne peut pas être annulée."
            raise InvalidInput(
                why,
                slug="confirmation-required",
                case_id=case_id,
                errors=[{"loc": [CONFIRMED], "msg": why, "type": "confirmation_required"}],
            )
        case_service.review_decision(
            post.session, principal=post.principal, case_id=case_id, data=data, today=post.on
        )

    return post.run(
        f"decision-{case_id}",
        typed,
        act,
        done="decision-enregistree",
        case_id=case_id,
        place=_decision_field,
    )


@router.post(
    MEETINGS + "/{meeting_id}/report", dependencies=[audited_as(Action.RESCHEDULE_MEETING)]
)
def reschedule_meeting(post: CurrentMeetingPost) -> Response:
    typed = {name: post.text(name) for name in ("held_on", "starts_at", "place")}

    def act() -> None:
        data = MeetingChange.model_validate({k: v for k, v in typed.items() if v})
        service.reschedule(
            post.session,
            principal=post.principal,
            meeting_id=post.meeting_id,
            data=data,
            today=post.on,
        )

    return post.run("report", typed, act, done="reportee")


@router.post(
    MEETINGS + "/{meeting_id}/annulation", dependencies=[audited_as(Action.CANCEL_MEETING)]
)
def cancel_meeting(post: CurrentMeetingPost) -> Response:
    typed = {CONFIRMED: post.text(CONFIRMED)}

    def act() -> None:
        if typed[CONFIRMED] != "oui":
            why = "Cochez la case pour confirmer l'annulation."
            raise InvalidInput(
                why,
                slug="confirmation-required",
                errors=[{"loc": [CONFIRMED], "msg": why, "type": "confirmation_required"}],
            )
        service.cancel(
            post.session, principal=post.principal, meeting_id=post.meeting_id, today=post.on
        )

    return post.run("annulation", typed, act, done="annulee")


@router.post(
    MEETINGS + "/{meeting_id}/presences", dependencies=[audited_as(Action.RECORD_ATTENDANCE)]
)
def record_attendance(post: CurrentMeetingPost) -> Response:
    present = texts(post.form, "present")
    typed = {"present": present}

    def act() -> None:
        data = AttendanceIn.model_validate({"attended": present})
        service.record_attendance(
            post.session,
            principal=post.principal,
            meeting_id=post.meeting_id,
            attended=data.attended,
            today=post.on,
        )

    return post.run(
        "presences",
        typed,
        act,
        done="presences",
        place=lambda loc: "present" if loc[:1] == ("attended",) else first_part(loc),
    )


@router.post(MEETINGS + "/{meeting_id}/tenue", dependencies=[audited_as(Action.MARK_MEETING_HELD)])
def mark_meeting_held(post: CurrentMeetingPost) -> Response:
    return post.run(
        "tenue",
        {},
        lambda: service.mark_held(
            post.session, principal=post.principal, meeting_id=post.meeting_id, today=post.on
        ),
        done="tenue",
    )
