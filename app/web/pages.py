"""The pages: signing in and out, the charter, my cases, a new signalement, a case.

Each page calls the same service functions as the API, with the web session's principal:
what a page shows and what its buttons do are the charter's decisions, never the page's.
Paths and titles carry case ids at most, never a name; nominative values travel in form
bodies and page bodies only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BeforeValidator, Field, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.audit import trail
from app.audit.trail import Action, Actor
from app.cases import service
from app.cases.schemas import (
    ArchiveAccessIn,
    CaseCreate,
    FamilyInformationIn,
    FeedbackIn,
    ParquetDecisionIn,
    ResearchNoteIn,
    ReviewDecisionIn,
)
from app.cases.serialise import case_read
from app.clock import Today
from app.config import CurrentSettings, Settings
from app.crypto.dependency import CurrentVault
from app.crypto.vault import Vault
from app.db import DbSession, utcnow
from app.directory import repository as directory
from app.directory import service as directory_service
from app.directory.principal import Principal
from app.errors import Conflict, InvalidInput
from app.http_hardening import AuthFailureLimiter
from app.operations import metrics
from app.policy import decisions
from app.vocabulary import (
    DESTINATIONS_BY_KIND,
    CellKind,
    Destination,
    FeedbackOutcome,
    GuardianRelationship,
    InformationMeans,
    Motif,
    ReorientedTo,
    Role,
    Sex,
)
from app.web import labels, sessions, signin
from app.web.deps import (
    CheckedForm,
    CurrentVisit,
    WebPrincipal,
    WebPrincipalBeforeCharter,
    audited_as,
    clear_session_cookie,
    set_session_cookie,
    timeouts,
)
from app.web.errors import ARCHIVE_ACCESS_REQUIRED
from app.web.forms import (
    FORM,
    SentBack,
    field_errors,
    first_part,
    refusal_errors,
    text,
    texts,
)
from app.web.labels import choices
from app.web.rendering import page
from app.web.returns import CHARTER, HOME, SIGN_IN, safe_return
from app.workflow.machine import possible_steps
from app.workflow.states import CaseState, Step

router = APIRouter(include_in_schema=False)
GUARDIAN_SLOTS = 2
DEMO = "demo-"  # the demo accounts' prefix (cenomed demo)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/")
def home(visit: CurrentVisit) -> RedirectResponse:
    return _see_other(HOME if visit.principal is not None else SIGN_IN)


# --- signing in and out -------------------------------------------------------------------


def _sign_in_page(
    request: Request,
    session: DbSession,
    settings: Settings,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    demo = []
    if settings.web_demo_accounts:
        demo = [(name, Role(role)) for name, role in directory.accounts_named_like(session, DEMO)]
    return page(
        request,
        "signin.html",
        {
            "error": error,
            "local": not settings.oidc_enabled,
            "oidc": settings.oidc_enabled and settings.oidc_client_id is not None,
            "demo_accounts": demo,
            "next": safe_return(request.query_params.get("suite")),
        },
        status_code=status_code,
    )


@router.get(SIGN_IN)
def sign_in_page(
    request: Request, visit: CurrentVisit, session: DbSession, settings: CurrentSettings
) -> Any:
    if visit.principal is not None:
        return _see_other(HOME)
    opened = None
    if visit.row is None:
        # An anonymous session, so that the sign-in form has its anti-forgery token too.
        opened = sessions.open_session(session, user_id=None, now=utcnow())
        request.state.csrf_token = opened.row.csrf_token
    response = _sign_in_page(request, session, settings)
    if opened is not None:
        set_session_cookie(request, response, opened.token)
    return response


@router.post(SIGN_IN, dependencies=[audited_as(Action.SIGN_IN)])
def sign_in(
    request: Request,
    form: CheckedForm,
    visit: CurrentVisit,
    session: DbSession,
    settings: CurrentSettings,
) -> Any:
    if settings.oidc_enabled:
        return _see_other(SIGN_IN)
    limiter: AuthFailureLimiter = request.app.state.auth_limiter
    client = request.client.host if request.client else "unknown"
    # Counted before the password is checked: simultaneous tries cannot outrun the limit.
    with limiter.attempt(client, "Too many failed sign-ins from this address.") as attempt:
        opened = signin.sign_in_locally(
            session,
            username=text(form, "username"),
            password=text(form, "password"),
            previous=visit.row,
            timeouts=timeouts(settings),
            now=utcnow(),
        )
        if opened is None:
            attempt.fail()
    if opened is None:
        return _sign_in_page(
            request,
            session,
            settings,
            error="Identifiant ou mot de passe incorrect.",
            status_code=401,
        )
    response = _see_other(safe_return(text(form, "next")))
    set_session_cookie(request, response, opened.token)
    return response


@router.post("/deconnexion", dependencies=[audited_as(Action.SIGN_OUT)])
def sign_out(
    request: Request,
    _form: CheckedForm,
    visit: CurrentVisit,
    session: DbSession,
) -> RedirectResponse:
    if visit.row is not None:
        sessions.close(session, visit.row)
    if visit.principal is not None:
        trail.record(session, visit.principal, Action.SIGN_OUT, detail="this-session")
    response = _see_other(SIGN_IN)
    clear_session_cookie(request, response)
    return response


@router.post("/deconnexion/partout", dependencies=[audited_as(Action.SIGN_OUT)])
def sign_out_everywhere(
    request: Request,
    _form: CheckedForm,
    principal: WebPrincipalBeforeCharter,
    session: DbSession,
) -> RedirectResponse:
    closed = sessions.close_everywhere(session, principal.user_id)
    trail.record(session, principal, Action.SIGN_OUT, detail=f"everywhere:{closed}")
    response = _see_other(SIGN_IN)
    clear_session_cookie(request, response)
    return response


# --- the charter (R1) -----------------------------------------------------------------------


@router.get(CHARTER)
def charter_page(
    request: Request, principal: WebPrincipalBeforeCharter, settings: CurrentSettings
) -> HTMLResponse:
    return page(
        request,
        "charter.html",
        {
            "principal": principal,
            "version": settings.charter_version,
            "next": safe_return(request.query_params.get("suite")),
        },
    )


@router.post(CHARTER, dependencies=[audited_as(Action.ACCEPT_CHARTER)])
def accept_charter(
    form: CheckedForm,
    principal: WebPrincipalBeforeCharter,
    session: DbSession,
    settings: CurrentSettings,
) -> RedirectResponse:
    directory_service.accept_charter(
        session,
        principal=principal,
        version=text(form, "version"),
        current_version=settings.charter_version,
    )
    return _see_other(safe_return(text(form, "next")))


# --- my cases -------------------------------------------------------------------------------

# A browser sends the filter form's "all" options as empty values (etat=&cellule=): no filter.
BLANK_IS_NONE = BeforeValidator(lambda value: value or None)
CellId = Annotated[int, Field(ge=1, le=2**31 - 1)]


def _cells(session: DbSession, principal: Principal) -> list[tuple[int, str, str]]:
    """(id, name, kind) of the caller's cells, by name."""
    return [(c.id, c.name, c.kind) for c in directory.get_cells(session, principal.cell_ids)]


@router.get(HOME, dependencies=[audited_as(Action.LIST_CASES)])
def my_cases(
    request: Request,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    etat: Annotated[CaseState | None, BLANK_IS_NONE] = None,
    cellule: Annotated[CellId | None, BLANK_IS_NONE] = None,
    suite: str | None = Query(default=None, max_length=200),
) -> HTMLResponse:
    items, next_cursor = service.list_cases(
        session,
        principal=principal,
        vault=vault,
        cell_id=cellule,
        state=etat,
        limit=50,
        cursor=suite,
    )
    cells = _cells(session, principal)
    names = {cell_id: name for cell_id, name, _ in cells}
    rows = [case_read(item, principal, in_list=True) for item in items]
    next_url = None
    if next_cursor:
        query = {"etat": etat.value if etat else None, "cellule": cellule, "suite": next_cursor}
        next_url = HOME + "?" + urlencode({k: v for k, v in query.items() if v is not None})
    template = "cases_table.html" if request.headers.get("hx-request") else "cases.html"
    return page(
        request,
        template,
        {
            "principal": principal,
            "rows": rows,
            "cell_names": names,
            "cells": cells,
            "states": choices(CaseState),
            "state": etat.value if etat else "",
            "cell": cellule,
            "next_url": next_url,
            "may_submit": service.may_submit(principal),
        },
    )


# --- a new signalement (step 1) --------------------------------------------------------------


def _new_case_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "new_case.html",
        {
            "principal": principal,
            "cells": _cells(session, principal),
            "motifs": choices(Motif),
            "sexes": choices(Sex),
            "relationships": choices(GuardianRelationship),
            "guardian_slots": range(1, GUARDIAN_SLOTS + 1),
            "values": values or {},
            "errors": errors or {},
            "facts_max": 2000,
        },
        status_code=status_code,
    )


@router.get(HOME + "/nouveau", dependencies=[audited_as(Action.SUBMIT_CASE)])
def new_case_page(request: Request, principal: WebPrincipal, session: DbSession) -> HTMLResponse:
    return _new_case_page(request, session, principal)


# The form's field for each place pydantic (or the procedure) reports an error at.
_FIELD_OF = {
    ("cell_id",): "cell_id",
    ("received_on",): "received_on",
    ("motifs",): "motifs",
    ("facts",): "facts",
    ("minor", "last_name"): "last_name",
    ("minor", "first_name"): "first_name",
    ("minor", "birth_date"): "birth_date",
    ("minor", "sex"): "sex",
    ("minor", "address"): "address",
    ("minor", "school"): "school",
}


def _new_case_field(loc: tuple[str, ...]) -> str:
    if loc[:1] == ("guardians",) and len(loc) > 1:
        return f"guardian_{loc[2] if len(loc) > 2 else 'name'}_{int(loc[1]) + 1}"
    return _FIELD_OF.get(loc[:2]) or _FIELD_OF.get(loc[:1]) or FORM


def _case_body(form: FormData) -> dict[str, Any]:
    guardians = []
    for slot in range(1, GUARDIAN_SLOTS + 1):
        name = text(form, f"guardian_name_{slot}")
        if name:
            guardians.append(
                {
                    "name": name,
                    "relationship": text(form, f"guardian_relationship_{slot}") or None,
                    "phone": text(form, f"guardian_phone_{slot}") or None,
                }
            )
    return {
        "cell_id": text(form, "cell_id") or None,
        "received_on": text(form, "received_on") or None,
        "motifs": texts(form, "motifs"),
        "facts": text(form, "facts") or None,
        "minor": {
            "last_name": text(form, "last_name") or None,
            "first_name": text(form, "first_name") or None,
            "birth_date": text(form, "birth_date") or None,
            "sex": text(form, "sex") or None,
            "address": text(form, "address") or None,
            "school": text(form, "school") or None,
        },
        "guardians": guardians,
    }


@router.post(HOME + "/nouveau", dependencies=[audited_as(Action.SUBMIT_CASE)])
def submit_case(
    request: Request,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> Any:
    body = _case_body(form)
    try:
        data = CaseCreate.model_validate(body)
        case = service.submit_case(session, principal=principal, vault=vault, data=data, today=on)
    except (ValidationError, InvalidInput) as error:
        # Nothing was written: the service checks the procedure's rules on dates and age
        # before it adds anything.
        if isinstance(error, ValidationError):
            errors = field_errors(error.errors(include_input=False), _new_case_field)
        else:
            errors = refusal_errors(error, _new_case_field)
        values: dict[str, Any] = {key: text(form, key) for key in form if key != "motifs"}
        values["motifs"] = body["motifs"]
        return _new_case_page(
            request, session, principal, values=values, errors=errors, status_code=422
        )
    return _see_other(f"{HOME}/{case.id}")


# --- a case ---------------------------------------------------------------------------------


def _actions(
    principal: Principal, visible: service.VisibleCase
) -> tuple[set[str], list[tuple[uuid.UUID, str]]]:
    """The steps this user may take on this case now (the procedure and the charter agree),
    and the orientations whose feedback is theirs to record (R9: it depends on the
    destination)."""
    facts = service.facts_of(visible.case)
    steps = possible_steps(CaseState(visible.case.state))
    actions = {step.value for step in steps if decisions.may_step(principal, step, facts)}
    if visible.case.family_informed_on is not None:
        actions.discard(Step.RECORD_FAMILY_INFORMATION.value)  # recorded once (R8)
    feedback: list[tuple[uuid.UUID, str]] = []
    if Step.RECORD_FEEDBACK in steps:
        feedback = [
            (o.id, o.destination)
            for o in visible.case.orientations
            if o.feedback_outcome is None
            and (o.transmitted_at is not None or o.destination != Destination.SOCIAL_SERVICES)
            and decisions.may_step(
                principal, Step.RECORD_FEEDBACK, facts, Destination(o.destination)
            )
        ]
    return actions, feedback


def _case_page(
    request: Request,
    session: Session,
    principal: Principal,
    vault: Vault,
    on: date,
    case_id: uuid.UUID,
    *,
    sent: SentBack | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The case as the charter shows it to this user, with the actions open to them (and a
    form sent back, if one was refused). An audited read."""
    visible = service.read_case(session, principal=principal, vault=vault, case_id=case_id)
    case = case_read(visible, principal)
    cell = directory.get_cell(session, visible.case.cell_id)
    kind = CellKind(cell.kind) if cell is not None else CellKind.CENOMED
    destinations = [d for d in Destination if d in DESTINATIONS_BY_KIND[kind]]
    actions, feedback = _actions(principal, visible)
    return page(
        request,
        "case.html",
        {
            "principal": principal,
            "case": case,
            "cell_name": cell.name if cell is not None else "",
            "actions": actions,
            "feedback_forms": feedback,
            "destinations": choices(Destination, destinations),
            "means": choices(InformationMeans),
            "outcomes": choices(FeedbackOutcome),
            "reoriented": choices(ReorientedTo),
            "today": on.isoformat(),
            "archived": visible.case.state == CaseState.CLOSED,
            "sent": sent,
        },
        status_code=status_code,
    )


@router.get(HOME + "/{case_id}", dependencies=[audited_as(Action.READ_CASE)])
def case_page(
    request: Request,
    case_id: uuid.UUID,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> HTMLResponse:
    return _case_page(request, session, principal, vault, on, case_id)


def _archive_access_page(post: CasePost, sent: SentBack, status_code: int) -> HTMLResponse:
    """Where the archive access is asked for: the page of the closed case's refusal."""
    title, message = labels.problem_text(403, ARCHIVE_ACCESS_REQUIRED)
    return page(
        post.request,
        "error.html",
        {
            "title": title,
            "message": message,
            "back": HOME,
            "archive_case_id": post.case_id,
            "principal": post.principal,
            "sent": sent,
        },
        status_code=status_code,
    )


@dataclass
class CasePost:
    """A form posted from a case's page: who, on which case, and the checked form."""

    request: Request
    case_id: uuid.UUID
    form: FormData
    principal: Principal
    session: Session
    vault: Vault
    on: date
    settings: Settings

    def text(self, name: str) -> str:
        return text(self.form, name)

    def step(
        self,
        name: str,
        typed: dict[str, Any],
        act: Callable[[], object],
        *,
        place: Callable[[tuple[str, ...]], str] = first_part,
        back: Callable[[CasePost, SentBack, int], HTMLResponse] | None = None,
    ) -> Response:
        """Runs the step (its body validated by the API's schema inside ``act``), then back
        to the case. A value refused by the schema or by the procedure sends the page back
        where it was, the form named ``name`` showing ``typed`` and each error on its field:
        nothing is changed, and the refusal is an audit event (R23)."""
        try:
            act()
        except ValidationError as error:
            errors = field_errors(error.errors(include_url=False, include_input=False), place)
            return self._send_back(name, typed, errors, 422, "validation-error", back)
        except (InvalidInput, Conflict) as error:
            errors = refusal_errors(error, place)
            return self._send_back(name, typed, errors, error.status, error.slug, back)
        return _see_other(f"{HOME}/{self.case_id}")

    def _send_back(
        self,
        name: str,
        typed: dict[str, Any],
        errors: dict[str, str],
        status: int,
        slug: str,
        back: Callable[[CasePost, SentBack, int], HTMLResponse] | None,
    ) -> HTMLResponse:
        self.session.rollback()  # whatever the step began, nothing of it stays
        trail.record_refusal(
            self.session,
            Actor.of(self.principal),
            self.request.state.audit_action,
            status=status,
            slug=slug,
            case_id=self.case_id,
        )
        metrics.count_refusal(status, slug)
        sent = SentBack(name, typed, errors)
        if back is not None:
            return back(self, sent, status)
        return _case_page(
            self.request,
            self.session,
            self.principal,
            self.vault,
            self.on,
            self.case_id,
            sent=sent,
            status_code=status,
        )


def case_post(
    request: Request,
    case_id: uuid.UUID,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
    settings: CurrentSettings,
) -> CasePost:
    return CasePost(request, case_id, form, principal, session, vault, on, settings)


CurrentCasePost = Annotated[CasePost, Depends(case_post)]


@router.post(
    HOME + "/{case_id}/transmission-parquet", dependencies=[audited_as(Action.REFER_TO_PARQUET)]
)
def refer_to_parquet(post: CurrentCasePost) -> Response:
    return post.step(
        "referral",
        {},
        lambda: service.refer_to_parquet(
            post.session, principal=post.principal, case_id=post.case_id, today=post.on
        ),
    )


_RETAINED = {"oui": True, "non": False}


@router.post(HOME + "/{case_id}/decision-parquet", dependencies=[audited_as(Action.DECIDE_PARQUET)])
def decide_parquet(post: CurrentCasePost) -> Response:
    typed = {"retained": post.text("retained")}

    def act() -> None:
        answer = _RETAINED.get(typed["retained"], typed["retained"])
        data = ParquetDecisionIn.model_validate({"retained": answer})
        service.decide_parquet(
            post.session,
            principal=post.principal,
            case_id=post.case_id,
            retained=data.retained,
            today=post.on,
        )

    return post.step("parquet", typed, act)


@router.post(
    HOME + "/{case_id}/note-recherche", dependencies=[audited_as(Action.ADD_RESEARCH_NOTE)]
)
def add_research_note(post: CurrentCasePost) -> Response:
    typed = {"content": post.text("content")}

    def act() -> None:
        data = ResearchNoteIn.model_validate(typed)
        service.add_research_note(
            post.session,
            principal=post.principal,
            vault=post.vault,
            case_id=post.case_id,
            content=data.content,
            today=post.on,
        )

    return post.step("note", typed, act)


def _destinations_field(loc: tuple[str, ...]) -> str:
    return "destinations" if loc[:1] == ("orientations",) else first_part(loc)


@router.post(
    HOME + "/{case_id}/decision-cellule", dependencies=[audited_as(Action.REVIEW_DECISION)]
)
def review_decision(post: CurrentCasePost) -> Response:
    typed: dict[str, Any] = {
        "decision": post.text("decision"),
        "destinations": texts(post.form, "destinations"),
    }

    def act() -> None:
        data = ReviewDecisionIn.model_validate(
            {
                "decision": typed["decision"],
                "orientations": [{"destination": d} for d in typed["destinations"]],
            }
        )
        service.review_decision(
            post.session, principal=post.principal, case_id=post.case_id, data=data, today=post.on
        )

    return post.step("decision", typed, act, place=_destinations_field)


@router.post(
    HOME + "/{case_id}/information-famille",
    dependencies=[audited_as(Action.RECORD_FAMILY_INFORMATION)],
)
def record_family_information(post: CurrentCasePost) -> Response:
    typed = {"informed_on": post.text("informed_on"), "means": post.text("means")}

    def act() -> None:
        data = FamilyInformationIn.model_validate(typed)
        service.record_family_information(
            post.session, principal=post.principal, case_id=post.case_id, data=data, today=post.on
        )

    return post.step("family", typed, act)


@router.post(
    HOME + "/{case_id}/orientations/{orientation_id}/transmission",
    dependencies=[audited_as(Action.TRANSMIT)],
)
def transmit(orientation_id: uuid.UUID, post: CurrentCasePost) -> Response:
    return post.step(
        f"transmission-{orientation_id}",
        {},
        lambda: service.transmit(
            post.session,
            principal=post.principal,
            case_id=post.case_id,
            orientation_id=orientation_id,
            today=post.on,
        ),
    )


@router.post(
    HOME + "/{case_id}/orientations/{orientation_id}/retour",
    dependencies=[audited_as(Action.RECORD_FEEDBACK)],
)
def record_feedback(orientation_id: uuid.UUID, post: CurrentCasePost) -> Response:
    typed = {"outcome": post.text("outcome"), "reoriented_to": post.text("reoriented_to")}

    def act() -> None:
        data = FeedbackIn.model_validate(
            {"outcome": typed["outcome"], "reoriented_to": typed["reoriented_to"] or None}
        )
        service.record_feedback(
            post.session,
            principal=post.principal,
            case_id=post.case_id,
            orientation_id=orientation_id,
            data=data,
            today=post.on,
        )

    return post.step(f"feedback-{orientation_id}", typed, act)


@router.post(HOME + "/{case_id}/cloture", dependencies=[audited_as(Action.CLOSE)])
def close(post: CurrentCasePost) -> Response:
    return post.step(
        "closure",
        {},
        lambda: service.close(
            post.session, principal=post.principal, case_id=post.case_id, today=post.on
        ),
    )


@router.post(
    HOME + "/{case_id}/acces-archive", dependencies=[audited_as(Action.REQUEST_ARCHIVE_ACCESS)]
)
def request_archive_access(post: CurrentCasePost) -> Response:
    typed = {"reason": post.text("reason")}

    def act() -> None:
        data = ArchiveAccessIn.model_validate(typed)
        service.grant_archive_access(
            post.session,
            principal=post.principal,
            vault=post.vault,
            case_id=post.case_id,
            reason=data.reason,
            hours=post.settings.archive_access_hours,
        )

    return post.step("archive", typed, act, back=_archive_access_page)
