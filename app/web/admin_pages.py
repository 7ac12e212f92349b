"""The admin console's pages (issue 19): accounts, cells and the charter's acceptances, in
French, over the same service functions and schemas as ``/api/v1/admin/...``.

Only an administrator gets in (the service asks the charter; anyone else meets the refusal
page, audited). A form refused comes back with what was typed and the message next to its
field, the refusal audited and nothing changed; a success says so on the page it leads to.
Also here: the page where an account chooses its password from a one-time link, the only
page of the console not signed in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.audit import trail
from app.audit.context import audited_as
from app.audit.trail import Action, Actor
from app.clock import Now
from app.config import CurrentSettings
from app.db import DbSession, utcnow
from app.directory import admin, service
from app.directory.admin import Account, UserFilter
from app.directory.admin_router import change_of, reset_url
from app.directory.admin_schemas import CellCreate, CellPatch, UserCreate, UserPatch
from app.errors import AppError, Conflict, Gone, InvalidInput, NotFound
from app.operations import metrics
from app.principal import Principal
from app.schemas import MAX_ROW_ID
from app.vocabulary import CellKind, Organisation, Role
from app.web import labels, sessions, signin
from app.web.deps import CheckedForm, CurrentVisit, WebPrincipal, set_session_cookie
from app.web.forms import FORM, SentBack, field_errors, text, texts
from app.web.labels import choices
from app.web.rendering import page
from app.web.returns import ADMIN, SIGN_IN

router = APIRouter(include_in_schema=False)
ACCOUNTS = ADMIN
ACCOUNT = ADMIN + "/comptes/{user_id}"
NEW_ACCOUNT = ADMIN + "/comptes/nouveau"
CELLS = ADMIN + "/cellules"
CHARTER = ADMIN + "/charte"
RESET = "/mot-de-passe/{token}"
UserId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
CellId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
ACTIVE_STATES = {"actifs": True, "inactifs": False}

# The form field a refusal of the service concerns, by its problem's slug.
FIELD_OF_SLUG = {
    "organisation-of-role": "organisation",
    "organisation-required": "organisation",
    "cells-not-allowed": "cells",
    "cell-required": "cells",
    "cell-not-found": "cells",
    "username-taken": "username",
    "invalid-email": "email",
    "own-role": "role",
    "last-active-admin": "role",
    "cell-name-taken": "name",
}


def _place_errors(error: AppError) -> dict[str, str]:
    """The refusal's sentence next to the field it concerns, else above the form."""
    items = error.extra.get("errors")
    if isinstance(items, list) and items:
        return field_errors(items)
    return {FIELD_OF_SLUG.get(error.slug, FORM): labels.problem_text(error.status, error.slug)[1]}


def _schema_errors(error: ValidationError) -> dict[str, str]:
    errors = field_errors(error.errors(include_url=False, include_input=False))
    if "username" in errors and any(
        item["loc"][:1] == ("username",) and item["type"] == "string_pattern_mismatch"
        for item in error.errors()
    ):
        errors["username"] = labels.ADMIN_FIELD_ERRORS["username_pattern"]
    return errors


def _refused(
    request: Request, session: Session, principal: Principal, status: int, slug: str
) -> None:
    """Undoes what the form began and logs its refusal (R23), as a case's forms do."""
    session.rollback()
    trail.record_refusal(
        session,
        Actor.of(principal),
        request.state.audit_action,
        status=status,
        slug=slug,
        case_id=None,
    )
    metrics.count_refusal(status, slug)


def _attempt(
    request: Request,
    session: Session,
    principal: Principal,
    act: Callable[[], Response],
    back: Callable[[dict[str, str], int], HTMLResponse],
) -> Response:
    """Runs ``act``; a refusal (schema or service) sends ``back`` the form with its errors."""
    try:
        return act()
    except ValidationError as error:
        _refused(request, session, principal, 422, "validation-error")
        return back(_schema_errors(error), 422)
    except (InvalidInput, Conflict, NotFound) as error:
        if isinstance(error, NotFound) and error.slug not in FIELD_OF_SLUG:
            raise
        _refused(request, session, principal, error.status, error.slug)
        return back(_place_errors(error), error.status)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _done(request: Request) -> str | None:
    return labels.DONE.get(request.query_params.get("fait", ""))


def _cell_names(session: Session, principal: Principal) -> dict[int, str]:
    return admin.cell_names(session, actor=principal)


# --- accounts ----------------------------------------------------------------------------------


def _enum_or_none(kind: Any, value: str | None) -> Any:
    try:
        return kind(value) if value else None
    except ValueError:
        return None


@router.get(ACCOUNTS, dependencies=[audited_as(Action.LIST_USERS)])
def accounts_page(request: Request, principal: WebPrincipal, session: DbSession) -> HTMLResponse:
    query = request.query_params
    cell = query.get("cellule", "")
    where = UserFilter(
        role=_enum_or_none(Role, query.get("role")),
        organisation=_enum_or_none(Organisation, query.get("organisation")),
        cell_id=int(cell) if cell.isdigit() and 0 < int(cell) <= MAX_ROW_ID else None,
        active=ACTIVE_STATES.get(query.get("etat", "")),
        name_contains=(query.get("nom") or "").strip()[:120] or None,
    )
    listed = admin.list_users(
        session, actor=principal, where=where, cursor=query.get("suite") or None
    )
    filters = {
        "role": where.role.value if where.role else "",
        "organisation": where.organisation.value if where.organisation else "",
        "cellule": str(where.cell_id or ""),
        "etat": query.get("etat", "") if query.get("etat") in ACTIVE_STATES else "",
        "nom": where.name_contains or "",
    }
    next_url = None
    if listed.next_cursor:
        shown = {key: value for key, value in filters.items() if value}
        next_url = ACCOUNTS + "?" + urlencode({**shown, "suite": listed.next_cursor})
    return page(
        request,
        "admin_accounts.html",
        {
            "principal": principal,
            "active": "admin",
            "section": "accounts",
            "accounts": listed.items,
            "filters": filters,
            "next_url": next_url,
            "cell_names": _cell_names(session, principal),
            "roles": choices(Role),
            "organisations": choices(Organisation),
            "done": _done(request),
        },
    )


def _new_account_page(
    request: Request,
    session: Session,
    principal: Principal,
    sent: SentBack | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "admin_new_account.html",
        {
            "principal": principal,
            "active": "admin",
            "section": "accounts",
            "roles": choices(Role),
            "organisations": choices(Organisation),
            "cell_names": _cell_names(session, principal),
            "sent": sent,
            "values": sent.value if sent else _blank,
        },
        status_code=status_code,
    )


def _blank(name: str) -> Any:
    return [] if name == "cells" else ""


@router.get(NEW_ACCOUNT, dependencies=[audited_as(Action.ADD_USER)])
def new_account_page(request: Request, principal: WebPrincipal, session: DbSession) -> HTMLResponse:
    service.require_admin(principal)
    return _new_account_page(request, session, principal)


def _account_form(form: FormData) -> dict[str, Any]:
    return {
        "username": text(form, "username"),
        "role": text(form, "role"),
        "organisation": text(form, "organisation"),
        "cells": texts(form, "cells"),
        "email": text(form, "email"),
    }


@router.post(NEW_ACCOUNT, dependencies=[audited_as(Action.ADD_USER)])
def add_account(
    request: Request, form: CheckedForm, principal: WebPrincipal, session: DbSession
) -> Response:
    typed = _account_form(form)

    def act() -> Response:
        body = UserCreate.model_validate(
            {
                **typed,
                "organisation": typed["organisation"] or None,
                "email": typed["email"] or None,
            }
        )
        user = service.create_user(
            session,
            username=body.username,
            role=body.role,
            organisation=body.organisation,
            cell_ids=list(body.cells),
            email=body.email,
            actor=principal,
        )
        return _see_other(ACCOUNT.format(user_id=user.id) + "?fait=compte-cree")

    return _attempt(
        request,
        session,
        principal,
        act,
        lambda errors, status: _new_account_page(
            request, session, principal, SentBack("account", typed, errors), status
        ),
    )


def _account_page(
    request: Request,
    session: Session,
    principal: Principal,
    user_id: int,
    *,
    sent: SentBack | None = None,
    reset: tuple[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    account: Account = admin.read_user(session, actor=principal, user_id=user_id)
    stored = {
        "role": account.role.value,
        "organisation": account.organisation.value,
        "cells": [str(cell) for cell in account.cell_ids],
        "email": account.email or "",
    }
    typed = sent.value if sent is not None and sent.name == "account" else stored.__getitem__
    return page(
        request,
        "admin_account.html",
        {
            "principal": principal,
            "active": "admin",
            "section": "accounts",
            "account": account,
            "itself": account.id == principal.user_id,
            "roles": choices(Role),
            "organisations": choices(Organisation),
            "cell_names": _cell_names(session, principal),
            "sent": sent,
            "reset": reset,
            "values": typed,
            "local_sign_in": not request.app.state.settings.oidc_enabled,
            "done": _done(request),
        },
        status_code=status_code,
    )


@router.get(ACCOUNT, dependencies=[audited_as(Action.READ_USER)])
def account_page(
    request: Request, user_id: UserId, principal: WebPrincipal, session: DbSession
) -> HTMLResponse:
    return _account_page(request, session, principal, user_id)


@router.post(ACCOUNT, dependencies=[audited_as(Action.UPDATE_USER)])
def update_account(
    request: Request,
    user_id: UserId,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
) -> Response:
    typed = _account_form(form)

    def act() -> Response:
        body = UserPatch.model_validate(
            {
                "role": typed["role"] or None,
                "organisation": typed["organisation"] or None,
                "cells": typed["cells"],
                "email": typed["email"] or None,
            }
        )
        admin.update_user(session, actor=principal, user_id=user_id, change=change_of(body))
        return _see_other(ACCOUNT.format(user_id=user_id) + "?fait=compte-modifie")

    return _attempt(
        request,
        session,
        principal,
        act,
        lambda errors, status: _account_page(
            request,
            session,
            principal,
            user_id,
            sent=SentBack("account", typed, errors),
            status_code=status,
        ),
    )


def _activation(
    request: Request, user_id: int, principal: Principal, session: Session, active: bool
) -> Response:
    def act() -> Response:
        admin.set_active(session, actor=principal, user_id=user_id, active=active)
        done = "compte-reactive" if active else "compte-desactive"
        return _see_other(ACCOUNT.format(user_id=user_id) + f"?fait={done}")

    return _attempt(
        request,
        session,
        principal,
        act,
        lambda errors, status: _account_page(
            request,
            session,
            principal,
            user_id,
            sent=SentBack("activation", {}, errors),
            status_code=status,
        ),
    )


@router.post(ACCOUNT + "/desactivation", dependencies=[audited_as(Action.DEACTIVATE_USER)])
def deactivate_account(
    request: Request,
    user_id: UserId,
    _form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
) -> Response:
    return _activation(request, user_id, principal, session, active=False)


@router.post(ACCOUNT + "/reactivation", dependencies=[audited_as(Action.REACTIVATE_USER)])
def reactivate_account(
    request: Request,
    user_id: UserId,
    _form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
) -> Response:
    return _activation(request, user_id, principal, session, active=True)


@router.post(ACCOUNT + "/mot-de-passe", dependencies=[audited_as(Action.START_PASSWORD_RESET)])
def start_password_reset(
    request: Request,
    user_id: UserId,
    _form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
    settings: CurrentSettings,
    now: Now,
) -> Response:
    """The link is in this answer only (never in a URL, never stored in clear): the page
    shows it once."""

    def act() -> Response:
        started = admin.start_password_reset(
            session,
            actor=principal,
            user_id=user_id,
            now=now,
            local_sign_in=not settings.oidc_enabled,
        )
        link = reset_url(settings, started.token)
        return _account_page(request, session, principal, user_id, reset=(link, started.expires_at))

    return _attempt(
        request,
        session,
        principal,
        act,
        lambda errors, status: _account_page(
            request,
            session,
            principal,
            user_id,
            sent=SentBack("reset", {}, errors),
            status_code=status,
        ),
    )


# --- cells -------------------------------------------------------------------------------------


def _cells_page(
    request: Request,
    session: Session,
    principal: Principal,
    sent: SentBack | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "admin_cells.html",
        {
            "principal": principal,
            "active": "admin",
            "section": "cells",
            "cells": admin.list_cells(session, actor=principal),
            "kinds_of_cell": choices(CellKind),
            "sent": sent,
            "done": _done(request),
        },
        status_code=status_code,
    )


@router.get(CELLS, dependencies=[audited_as(Action.LIST_CELLS)])
def cells_page(request: Request, principal: WebPrincipal, session: DbSession) -> HTMLResponse:
    return _cells_page(request, session, principal)


@router.post(CELLS, dependencies=[audited_as(Action.ADD_CELL)])
def add_cell(
    request: Request, form: CheckedForm, principal: WebPrincipal, session: DbSession
) -> Response:
    typed = {
        "name": text(form, "name"),
        "kind": text(form, "kind"),
        "arrondissement": text(form, "arrondissement"),
    }

    def act() -> Response:
        body = CellCreate.model_validate(typed)
        service.create_cell(
            session,
            name=body.name,
            kind=body.kind,
            arrondissement=body.arrondissement,
            actor=principal,
        )
        return _see_other(CELLS + "?fait=cellule-creee")

    return _attempt(
        request,
        session,
        principal,
        act,
        lambda errors, status: _cells_page(
            request, session, principal, SentBack("add", typed, errors), status
        ),
    )


@router.post(CELLS + "/{cell_id}", dependencies=[audited_as(Action.UPDATE_CELL)])
def update_cell(
    request: Request,
    cell_id: CellId,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
) -> Response:
    typed = {"name": text(form, "name"), "kind": text(form, "kind")}

    def act() -> Response:
        body = CellPatch.model_validate(typed)
        admin.update_cell(session, actor=principal, cell_id=cell_id, name=body.name, kind=body.kind)
        return _see_other(CELLS + "?fait=cellule-modifiee")

    return _attempt(
        request,
        session,
        principal,
        act,
        lambda errors, status: _cells_page(
            request, session, principal, SentBack(f"cell-{cell_id}", typed, errors), status
        ),
    )


# --- the charter -------------------------------------------------------------------------------


@router.get(CHARTER, dependencies=[audited_as(Action.READ_CHARTER_ACCEPTANCES)])
def charter_page(
    request: Request, principal: WebPrincipal, session: DbSession, settings: CurrentSettings
) -> HTMLResponse:
    rows = admin.charter_acceptances(session, actor=principal, version=settings.charter_version)
    return page(
        request,
        "admin_charter.html",
        {
            "principal": principal,
            "active": "admin",
            "section": "charter",
            "version": settings.charter_version,
            "accepted": [row for row in rows if row.accepted_at is not None],
            "waiting": [row for row in rows if row.accepted_at is None],
        },
    )


# --- choosing a password from a one-time link ---------------------------------------------------


def _reset_page(
    request: Request,
    *,
    usable: bool,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "password_reset.html",
        {"usable": usable, "errors": errors or {}, "message": message},
        status_code=status_code,
    )


def _reset_refusal(session: Session, token: str, error: AppError) -> None:
    """A refused use of a link, logged against the account it was made for (or, for a link
    this service never gave, against no account)."""
    session.rollback()
    actor = signin.reset_owner(session, token) or trail.ANONYMOUS
    trail.record_refusal(
        session, actor, Action.RESET_PASSWORD, status=error.status, slug=error.slug, case_id=None
    )
    metrics.count_refusal(error.status, error.slug)


def _link_state(session: Session, token: str, now: Any) -> AppError | None:
    """Why the link cannot serve now, or None."""
    reset = admin.find_reset(session, token)
    if reset is None:
        return NotFound("Unknown link.", slug="reset-link-unknown")
    if reset.used_at is not None:
        return Gone("Used link.", slug="reset-link-used")
    if now >= reset.expires_at:
        return Gone("Expired link.", slug="reset-link-expired")
    return None


@router.get(RESET)
def password_reset_page(
    request: Request, token: str, visit: CurrentVisit, session: DbSession, now: Now
) -> HTMLResponse:
    """The form, if the link can still serve; an anonymous session for its CSRF token."""
    refused = _link_state(session, token, now)
    opened = None
    if visit.row is None:
        opened = sessions.open_session(session, user_id=None, now=utcnow())
        request.state.csrf_token = opened.row.csrf_token
    if refused is not None:
        message = labels.PROBLEMS[refused.slug]
        response = _reset_page(request, usable=False, message=message, status_code=refused.status)
    else:
        response = _reset_page(request, usable=True)
    if opened is not None:
        set_session_cookie(request, response, opened.token)
    return response


@router.post(RESET, dependencies=[audited_as(Action.RESET_PASSWORD)])
def reset_password(
    request: Request, token: str, form: CheckedForm, session: DbSession, now: Now
) -> Response:
    password, again = text(form, "password"), text(form, "password_again")
    if password != again:
        error: AppError = InvalidInput("The two passwords differ.", slug="passwords-differ")
        _reset_refusal(session, token, error)
        errors = {"password_again": labels.PROBLEMS["passwords-differ"]}
        return _reset_page(request, usable=True, errors=errors, status_code=422)
    try:
        signin.reset_password(session, token=token, password=password, now=now)
    except InvalidInput as refused:
        _reset_refusal(session, token, refused)
        errors = {"password": labels.PROBLEMS["password-rule"]}
        return _reset_page(request, usable=True, errors=errors, status_code=422)
    except AppError as refused:
        _reset_refusal(session, token, refused)
        message = labels.PROBLEMS.get(refused.slug, labels.PROBLEMS["reset-link-unknown"])
        return _reset_page(request, usable=False, message=message, status_code=refused.status)
    return _see_other(SIGN_IN + "?" + urlencode({"mot-de-passe": "enregistre"}))
