"""Who is at the browser: the session cookie, the principal behind it, the CSRF check.

The cookie is ``HttpOnly`` and ``SameSite=Strict``, and over TLS ``Secure`` with the
``__Host-`` prefix (no domain, path ``/``: no sibling site can set or read it). It holds a
random token whose hash names the server-side session; the role, organisation and cells come
from the directory at every request, exactly as for a bearer token (R3).

Every form carries the session's synchroniser token (``csrf``; htmx sends it in the
``X-CSRF-Token`` header) and, when the browser says where the form came from (``Origin``),
it must be this site: a forged post is refused before anything is read or changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from starlette.datastructures import FormData

from app.audit.trail import Actor
from app.config import Settings
from app.db import DbSession, utcnow
from app.directory.service import load_principal
from app.errors import Forbidden
from app.principal import Principal
from app.web import sessions, work_count
from app.web.models import WebSession

COOKIE = "cenomed_session"
SECURE_COOKIE = "__Host-cenomed_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    """No live session: the browser goes to the sign-in page (and comes back after)."""


class CharterRequired(Exception):
    """R1: until the charter in force is accepted, the charter page is the only page."""


@dataclass
class Visit:
    """This request's session (None: none, or expired) and the principal it is signed in as."""

    row: WebSession | None
    principal: Principal | None


def timeouts(settings: Settings) -> sessions.Timeouts:
    return sessions.Timeouts(
        idle=timedelta(minutes=settings.web_idle_timeout_minutes),
        absolute=timedelta(hours=settings.web_absolute_timeout_hours),
    )


def cookie_name(request: Request) -> str:
    return SECURE_COOKIE if request.url.scheme == "https" else COOKIE


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        cookie_name(request),
        token,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        cookie_name(request),
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
        path="/",
    )


def current_visit(request: Request, session: DbSession) -> Visit:
    settings: Settings = request.app.state.settings
    token = request.cookies.get(cookie_name(request), "")
    found = sessions.find(session, token, timeouts=timeouts(settings), now=utcnow())
    if found is None:
        return Visit(None, None)
    principal = None
    if found.username is not None:
        principal = load_principal(
            session, found.username, charter_version=settings.charter_version
        )
        if principal is None:  # deactivated since (R3): refused now, deleted once expired
            return Visit(None, None)
        request.state.audit_actor = Actor.of(principal)
        request.state.web_principal = principal
        # The navigation's count of what awaits: a page shows it; a form's post changes it.
        if request.method == "GET":
            request.state.work_count = work_count.count(
                session, settings, principal, visit=found.row.token_hash
            )
        else:
            work_count.forget(visit=found.row.token_hash)
    # Plain values for the page (an error page renders after the request's rollback).
    request.state.csrf_token = found.row.csrf_token
    return Visit(found.row, principal)


CurrentVisit = Annotated[Visit, Depends(current_visit)]


def signed_in_anyhow(visit: CurrentVisit) -> Principal:
    """The principal, charter accepted or not (the charter page, signing out)."""
    if visit.principal is None:
        raise SignInRequired
    return visit.principal


def signed_in(principal: Annotated[Principal, Depends(signed_in_anyhow)]) -> Principal:
    """The principal of every other page: signed in, and the charter in force accepted."""
    if not principal.charter_accepted:
        raise CharterRequired
    return principal


WebPrincipal = Annotated[Principal, Depends(signed_in)]
WebPrincipalBeforeCharter = Annotated[Principal, Depends(signed_in_anyhow)]


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        # Browsers send Origin on every cross-site POST; its absence means same-site or a
        # client that is not a browser. "null" (a sandboxed or privacy-redirected form) is
        # refused: it cannot be told apart from a forgery.
        return origin is None
    parts = urlsplit(origin)
    return (parts.scheme, parts.netloc) == (request.url.scheme, request.url.netloc)


async def checked_form(request: Request, visit: CurrentVisit) -> FormData:
    """The posted form, once its CSRF token and origin are this session's and this site's."""
    if visit.row is None:
        raise SignInRequired  # no session (or an expired one): nothing to forge against
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    token = submitted if isinstance(submitted, str) else request.headers.get(CSRF_HEADER)
    if not _same_origin(request) or not sessions.csrf_matches(visit.row, token):
        raise Forbidden(
            "The form's anti-forgery token is missing or does not match your session; reload "
            "the page and send the form again.",
            slug="csrf-token-invalid",
        )
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]
