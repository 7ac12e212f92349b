"""Refusals and errors met by a browser: a French page with the same status as the API's
problem, and the same audit trail (the application's handlers call these)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.principal import Principal
from app.web import labels
from app.web.rendering import page
from app.web.returns import CHARTER, HOME, LANDING, SIGN_IN, safe_return

ARCHIVE_ACCESS_REQUIRED = "archive-access-required"


def error_page(request: Request, status: int, slug: str, headers: Any = None) -> HTMLResponse:
    title, message = labels.problem_text(status, slug)
    back = back_of(request, status)
    case_id = request.path_params.get("case_id") if slug == ARCHIVE_ACCESS_REQUIRED else None
    response = page(
        request,
        "error.html",
        {
            "title": title,
            "message": message,
            "back": back,
            "back_text": labels.back_text(back),
            "archive_case_id": case_id,
            "sent": None,
            "principal": getattr(request.state, "web_principal", None),
        },
        status_code=status,
    )
    for name, value in (headers or {}).items():
        if name.lower() != "www-authenticate":  # the API's bearer challenge, not a page's
            response.headers[name] = value
    return response


def _path_and_query(path: str, query: str) -> str:
    return path + ("?" + query if query else "")


def back_of(request: Request, status: int) -> str:
    """Where an error page leads back to: the page the user was on (the request's Referer,
    when it is a page of this service and not the refused page itself), else, for a case
    not found, the list of their cases (a cell's member has one), else their home."""
    here = _path_and_query(request.url.path, request.url.query)
    referer = request.headers.get("referer", "")
    parts = urlsplit(referer)
    ours = urlsplit(str(request.base_url))
    if parts.scheme == ours.scheme and parts.netloc == ours.netloc:
        came_from = safe_return(_path_and_query(parts.path, parts.query))
        if came_from != LANDING and (came_from != here or request.method != "GET"):
            return came_from
    principal: Principal | None = getattr(request.state, "web_principal", None)
    if status == 404 and "case_id" in request.path_params and principal and principal.cell_ids:
        return HOME
    return LANDING


def _come_back(request: Request, page_path: str) -> RedirectResponse:
    """To ``page_path``, then back to this page (a GET's path and query; a form's post is not
    replayed, so it comes back to the landing page)."""
    target = LANDING
    if request.method == "GET":
        target = safe_return(_path_and_query(request.url.path, request.url.query))
    query = "" if target == LANDING else "?" + urlencode({"suite": target})
    return RedirectResponse(page_path + query, status_code=303)


def to_sign_in(request: Request) -> RedirectResponse:
    return _come_back(request, SIGN_IN)


def to_charter(request: Request) -> RedirectResponse:
    """R1: the charter first; once accepted, the page the visitor was going to."""
    return _come_back(request, CHARTER)
