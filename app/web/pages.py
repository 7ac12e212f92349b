"""The pages: signing in and out, the charter, my cases, a new signalement, a case.

Each page calls the same service functions as the API, with the web session's principal:
what a page shows and what its buttons do are the charter's decisions, never the page's.
Paths and titles carry case ids at most, never a name; nominative values travel in form
bodies and page bodies only.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BeforeValidator, Field, ValidationError
from starlette.datastructures import FormData

from app.audit import trail
from app.audit.context import audited_as
from app.audit.trail import Action
from app.cases import search, service
from app.cases.references import looks_like_reference
from app.cases.schemas import (
    CaseCreate,
)
from app.cases.serialise import case_read
from app.cases.service import ListSort
from app.clock import Today
from app.config import CurrentSettings, Settings
from app.crypto.dependency import CurrentVault
from app.db import DbSession, utcnow
from app.directory import repository as directory
from app.directory import service as directory_service
from app.errors import Forbidden, InvalidInput
from app.http_hardening import AuthFailureLimiter
from app.partners import service as partners
from app.principal import Principal
from app.vocabulary import (
    GuardianRelationship,
    Motif,
    ReceivedVia,
    Role,
    Sex,
)
from app.web import labels, sessions, signin
from app.web.deps import (
    CheckedForm,
    CurrentVisit,
    WebPrincipal,
    WebPrincipalBeforeCharter,
    clear_session_cookie,
    set_session_cookie,
    timeouts,
)
from app.web.forms import (
    FORM,
    field_errors,
    refusal_errors,
    text,
    texts,
)
from app.web.labels import choices
from app.web.rendering import page
from app.web.returns import CHARTER, HOME, LANDING, SIGN_IN, home_of, safe_return
from app.workflow.states import CaseState

router = APIRouter(include_in_schema=False)
GUARDIAN_SLOTS = 2
DEMO = "demo-"  # the demo accounts' prefix (cenomed demo)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/")
def home(visit: CurrentVisit) -> RedirectResponse:
    if visit.principal is None:
        return _see_other(SIGN_IN)
    if not visit.principal.charter_accepted:
        return _see_other(CHARTER)  # R1: then, once accepted, back here and home
    return _see_other(home_of(visit.principal.role))


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
        return _see_other(LANDING)
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
    fait: str | None = Query(default=None, max_length=40),
    tri: Annotated[ListSort | None, BLANK_IS_NONE] = None,
) -> HTMLResponse:
    sort = tri or ListSort.RECEIVED_ON
    items, next_cursor = service.list_cases(
        session,
        principal=principal,
        vault=vault,
        cell_id=cellule,
        state=etat,
        limit=50,
        cursor=suite,
        sort=sort,
    )
    return _cases_page(
        request, session, principal, items, next_cursor, etat, cellule, sort, done=fait
    )


def _cases_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    items: list[Any],
    next_cursor: str | None,
    etat: CaseState | None,
    cellule: int | None,
    sort: ListSort,
    *,
    done: str | None = None,
    reference: str = "",
    reference_error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    cells = _cells(session, principal)
    names = {cell_id: name for cell_id, name, _ in cells}
    rows = [case_read(item, principal, in_list=True) for item in items]
    next_url = None
    if next_cursor:
        query = {
            "etat": etat.value if etat else None,
            "cellule": cellule,
            "tri": sort.value,
            "suite": next_cursor,
        }
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
            "sorts": choices(ListSort),
            "sort": sort.value,
            "reference": reference,
            "reference_error": reference_error,
            "may_submit": service.may_submit(principal),
            "may_search": search.may_search(principal),
            # The step just taken, when it took the case out of this user's sight (a closure).
            "done": labels.DONE.get(done or ""),
            "managed_cells": [
                (cell_id, name)
                for cell_id, name, _ in cells
                if partners.may_manage(principal, cell_id)
            ],
        },
        status_code=status_code,
    )


@router.post(HOME + "/reference", dependencies=[audited_as(Action.LIST_CASES)])
def find_by_reference(
    request: Request,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
) -> Response:
    """The search box: a reference posted (never in an address, where a name typed by mistake
    would be logged), on to its case; else back to the list saying why, with what was typed."""
    typed = text(form, "reference")[:40]
    wanted = typed.strip().upper()
    sort = ListSort.RECEIVED_ON
    if not looks_like_reference(wanted):
        return _cases_page(
            request, session, principal, [], None, None, None, sort,
            reference=typed, reference_error=labels.REFERENCE_FORMAT, status_code=422,
        )  # fmt: skip
    items, _ = service.list_cases(
        session,
        principal=principal,
        vault=vault,
        cell_id=None,
        state=None,
        limit=1,
        cursor=None,
        reference=wanted,
    )
    if not items:
        return _cases_page(
            request, session, principal, [], None, None, None, sort,
            reference=typed, reference_error=labels.REFERENCE_UNKNOWN, status_code=404,
        )  # fmt: skip
    return _see_other(f"{HOME}/{items[0].case.id}")


# --- a new signalement (step 1) --------------------------------------------------------------


def _new_case_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    settings: Settings,
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
            # R4: the day and the channel of a signalement received outside the service are
            # the coordinator's to declare; anyone else's is received the day it is sent.
            "declares": service.may_declare_receipt(principal),
            "channels": choices(ReceivedVia),
            "received_on_max_days": settings.received_on_max_days,
        },
        status_code=status_code,
    )


@router.get(HOME + "/nouveau", dependencies=[audited_as(Action.SUBMIT_CASE)])
def new_case_page(
    request: Request, principal: WebPrincipal, session: DbSession, settings: CurrentSettings
) -> HTMLResponse:
    return _new_case_page(request, session, principal, settings)


# The form's field for each place pydantic (or the procedure) reports an error at.
RECEIVED_ON_NOT_ALLOWED = "received-on-not-allowed"
_FIELD_OF = {
    ("cell_id",): "cell_id",
    ("received_on",): "received_on",
    ("received_via",): "received_via",
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
        "received_via": text(form, "received_via") or None,
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
    settings: CurrentSettings,
) -> Any:
    body = _case_body(form)
    try:
        data = CaseCreate.model_validate(body)
        case = service.submit_case(
            session,
            principal=principal,
            vault=vault,
            data=data,
            today=on,
            received_on_max_days=settings.received_on_max_days,
        )
    except (ValidationError, InvalidInput, Forbidden) as error:
        # Nothing was written: the service checks the procedure's rules on dates and age
        # before it adds anything.
        if isinstance(error, ValidationError):
            errors = field_errors(error.errors(include_input=False), _new_case_field)
        elif isinstance(error, Forbidden) and error.slug != RECEIVED_ON_NOT_ALLOWED:
            raise
        else:
            errors = refusal_errors(error, _new_case_field)
        values: dict[str, Any] = {key: text(form, key) for key in form if key != "motifs"}
        values["motifs"] = body["motifs"]
        status = 403 if isinstance(error, Forbidden) else 422
        return _new_case_page(
            request, session, principal, settings, values=values, errors=errors, status_code=status
        )
    return _see_other(f"{HOME}/{case.id}?fait=signalement")
