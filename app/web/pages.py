"""The pages: signing in and out, the charter, my cases, a new signalement, a case.

Each page calls the same service functions as the API, with the web session's principal:
what a page shows and what its buttons do are the charter's decisions, never the page's.
Paths and titles carry case ids at most, never a name; nominative values travel in form
bodies and page bodies only.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BeforeValidator, Field, ValidationError
from starlette.datastructures import FormData

from app.audit import trail
from app.audit.trail import Action
from app.cases import service
from app.cases.schemas import (
    ArchiveAccessIn,
    CaseCreate,
    FamilyInformationIn,
    FeedbackIn,
    ReviewDecisionIn,
)
from app.cases.serialise import case_read
from app.clock import Today
from app.config import CurrentSettings, Settings
from app.crypto.dependency import CurrentVault
from app.db import DbSession, utcnow
from app.directory import repository as directory
from app.directory import service as directory_service
from app.directory.principal import Principal
from app.errors import InvalidInput, TooManyRequests
from app.http_hardening import AuthFailureLimiter
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
from app.web import sessions, signin
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
from app.web.labels import SUBMISSION_REFUSED, choices
from app.web.rendering import page
from app.workflow.machine import possible_steps
from app.workflow.states import CaseState, Step

router = APIRouter(include_in_schema=False)
HOME = "/dossiers"
SIGN_IN = "/connexion"
GUARDIAN_SLOTS = 2
DEMO = "demo-"  # the demo accounts' prefix (cenomed demo)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never //host or a scheme): no open redirect."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return HOME


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
            "next": _safe_next(request.query_params.get("suite")),
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
    if not limiter.allows(client):
        refusal = TooManyRequests("Too many failed sign-ins from this address.")
        refusal.retry_after = limiter.retry_after(client)
        raise refusal
    opened = signin.sign_in_locally(
        session,
        username=_text(form, "username"),
        password=_text(form, "password"),
        previous=visit.row,
        timeouts=timeouts(settings),
        now=utcnow(),
    )
    if opened is None:
        limiter.failed(client)
        return _sign_in_page(
            request,
            session,
            settings,
            error="Identifiant ou mot de passe incorrect.",
            status_code=401,
        )
    response = _see_other(_safe_next(_text(form, "next")))
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


@router.get("/charte")
def charter_page(
    request: Request, principal: WebPrincipalBeforeCharter, settings: CurrentSettings
) -> HTMLResponse:
    return page(
        request,
        "charter.html",
        {"principal": principal, "version": settings.charter_version},
    )


@router.post("/charte", dependencies=[audited_as(Action.ACCEPT_CHARTER)])
def accept_charter(
    form: CheckedForm,
    principal: WebPrincipalBeforeCharter,
    session: DbSession,
    settings: CurrentSettings,
) -> RedirectResponse:
    directory_service.accept_charter(
        session,
        principal=principal,
        version=_text(form, "version"),
        current_version=settings.charter_version,
    )
    return _see_other(HOME)


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


# The form's field for each place pydantic reports an error at.
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
_FIELD_MESSAGES = {
    "missing": "Ce champ est obligatoire.",
    "too_short": "Ce champ est obligatoire.",
    "string_too_long": "Ce texte est trop long.",
    "date_from_datetime_parsing": "Saisissez une date valide.",
    "date_parsing": "Saisissez une date valide.",
    "date_type": "Saisissez une date valide.",
    "enum": "Choisissez une valeur de la liste.",
    "string_pattern_mismatch": "Ce numéro n'a pas un format valide.",
    "name_without_letter": "Un nom contient au moins une lettre.",
    "int_parsing": "Choisissez une valeur de la liste.",
}


def _case_body(form: FormData) -> dict[str, Any]:
    guardians = []
    for slot in range(1, GUARDIAN_SLOTS + 1):
        name = _text(form, f"guardian_name_{slot}")
        if name:
            guardians.append(
                {
                    "name": name,
                    "relationship": _text(form, f"guardian_relationship_{slot}") or None,
                    "phone": _text(form, f"guardian_phone_{slot}") or None,
                }
            )
    return {
        "cell_id": _text(form, "cell_id") or None,
        "received_on": _text(form, "received_on") or None,
        "motifs": [m for m in form.getlist("motifs") if isinstance(m, str)],
        "facts": _text(form, "facts") or None,
        "minor": {
            "last_name": _text(form, "last_name") or None,
            "first_name": _text(form, "first_name") or None,
            "birth_date": _text(form, "birth_date") or None,
            "sex": _text(form, "sex") or None,
            "address": _text(form, "address") or None,
            "school": _text(form, "school") or None,
        },
        "guardians": guardians,
    }


def _field_errors(error: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for item in error.errors():
        loc = tuple(str(part) for part in item["loc"])
        if loc[:1] == ("guardians",):
            field = f"guardian_{loc[2] if len(loc) > 2 else 'name'}_{int(loc[1]) + 1}"
        else:
            field = _FIELD_OF.get(loc[:2]) or _FIELD_OF.get(loc[:1]) or "form"
        errors.setdefault(
            field, _FIELD_MESSAGES.get(item["type"], "Cette valeur n'est pas valide.")
        )
    return errors


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
    except ValidationError as error:
        values = {key: _text(form, key) for key in form if key != "motifs"}
        values["motifs"] = body["motifs"]
        return _new_case_page(
            request,
            session,
            principal,
            values=values,
            errors=_field_errors(error),
            status_code=422,
        )
    try:
        case = service.submit_case(session, principal=principal, vault=vault, data=data, today=on)
    except InvalidInput:
        # The procedure's rules on dates and age (nothing was written: the service checks
        # before it adds anything).
        values = {key: _text(form, key) for key in form if key != "motifs"}
        values["motifs"] = body["motifs"]
        return _new_case_page(
            request,
            session,
            principal,
            values=values,
            errors={"form": SUBMISSION_REFUSED},
            status_code=422,
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


@router.get(HOME + "/{case_id}", dependencies=[audited_as(Action.READ_CASE)])
def case_page(
    request: Request,
    case_id: uuid.UUID,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> HTMLResponse:
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
        },
    )


def _back_to(case_id: uuid.UUID) -> RedirectResponse:
    return _see_other(f"{HOME}/{case_id}")


@router.post(
    HOME + "/{case_id}/transmission-parquet", dependencies=[audited_as(Action.REFER_TO_PARQUET)]
)
def refer_to_parquet(
    case_id: uuid.UUID, _form: CheckedForm, principal: WebPrincipal, session: DbSession, on: Today
) -> RedirectResponse:
    service.refer_to_parquet(session, principal=principal, case_id=case_id, today=on)
    return _back_to(case_id)


@router.post(HOME + "/{case_id}/decision-parquet", dependencies=[audited_as(Action.DECIDE_PARQUET)])
def decide_parquet(
    case_id: uuid.UUID, form: CheckedForm, principal: WebPrincipal, session: DbSession, on: Today
) -> RedirectResponse:
    retained = _choice(form, "retained", {"oui": True, "non": False})
    service.decide_parquet(
        session, principal=principal, case_id=case_id, retained=retained, today=on
    )
    return _back_to(case_id)


@router.post(
    HOME + "/{case_id}/note-recherche", dependencies=[audited_as(Action.ADD_RESEARCH_NOTE)]
)
def add_research_note(
    case_id: uuid.UUID,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
) -> RedirectResponse:
    content = _text(form, "content").strip()
    if not content:
        raise InvalidInput("A research note cannot be empty.")
    service.add_research_note(
        session, principal=principal, vault=vault, case_id=case_id, content=content, today=on
    )
    return _back_to(case_id)


@router.post(
    HOME + "/{case_id}/decision-cellule", dependencies=[audited_as(Action.REVIEW_DECISION)]
)
def review_decision(
    case_id: uuid.UUID, form: CheckedForm, principal: WebPrincipal, session: DbSession, on: Today
) -> RedirectResponse:
    data = _validated(
        ReviewDecisionIn,
        {
            "decision": _text(form, "decision"),
            "orientations": [
                {"destination": d} for d in form.getlist("destinations") if isinstance(d, str)
            ],
        },
    )
    service.review_decision(session, principal=principal, case_id=case_id, data=data, today=on)
    return _back_to(case_id)


@router.post(
    HOME + "/{case_id}/information-famille",
    dependencies=[audited_as(Action.RECORD_FAMILY_INFORMATION)],
)
def record_family_information(
    case_id: uuid.UUID, form: CheckedForm, principal: WebPrincipal, session: DbSession, on: Today
) -> RedirectResponse:
    data = _validated(
        FamilyInformationIn,
        {"informed_on": _text(form, "informed_on"), "means": _text(form, "means")},
    )
    service.record_family_information(
        session, principal=principal, case_id=case_id, data=data, today=on
    )
    return _back_to(case_id)


@router.post(
    HOME + "/{case_id}/orientations/{orientation_id}/transmission",
    dependencies=[audited_as(Action.TRANSMIT)],
)
def transmit(
    case_id: uuid.UUID,
    orientation_id: uuid.UUID,
    _form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
    on: Today,
) -> RedirectResponse:
    service.transmit(
        session, principal=principal, case_id=case_id, orientation_id=orientation_id, today=on
    )
    return _back_to(case_id)


@router.post(
    HOME + "/{case_id}/orientations/{orientation_id}/retour",
    dependencies=[audited_as(Action.RECORD_FEEDBACK)],
)
def record_feedback(
    case_id: uuid.UUID,
    orientation_id: uuid.UUID,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
    on: Today,
) -> RedirectResponse:
    data = _validated(
        FeedbackIn,
        {"outcome": _text(form, "outcome"), "reoriented_to": _text(form, "reoriented_to") or None},
    )
    service.record_feedback(
        session,
        principal=principal,
        case_id=case_id,
        orientation_id=orientation_id,
        data=data,
        today=on,
    )
    return _back_to(case_id)


@router.post(HOME + "/{case_id}/cloture", dependencies=[audited_as(Action.CLOSE)])
def close(
    case_id: uuid.UUID, _form: CheckedForm, principal: WebPrincipal, session: DbSession, on: Today
) -> RedirectResponse:
    service.close(session, principal=principal, case_id=case_id, today=on)
    return _back_to(case_id)


@router.post(
    HOME + "/{case_id}/acces-archive", dependencies=[audited_as(Action.REQUEST_ARCHIVE_ACCESS)]
)
def request_archive_access(
    case_id: uuid.UUID,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    settings: CurrentSettings,
) -> RedirectResponse:
    service.grant_archive_access(
        session,
        principal=principal,
        vault=vault,
        case_id=case_id,
        reason=_validated(ArchiveAccessIn, {"reason": _text(form, "reason")}).reason,
        hours=settings.archive_access_hours,
    )
    return _back_to(case_id)


# --- form values ----------------------------------------------------------------------------


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _choice(form: FormData, name: str, options: dict[str, Any]) -> Any:
    value = _text(form, name)
    if value not in options:
        raise InvalidInput(f"Choose one of the offered values for {name}.")
    return options[value]


def _validated(model: Any, body: dict[str, Any]) -> Any:
    """A step's body, validated as the API validates it (the same schema); a refusal is a
    422 page that changes nothing."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in error.errors())
        raise InvalidInput(f"Correct these fields: {fields}.") from None
