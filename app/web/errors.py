"""Refusals and errors met by a browser: a French page with the same status as the API's
problem, and the same audit trail (the application's handlers call these)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.web import labels
from app.web.rendering import page
from app.web.returns import CHARTER, LANDING, SIGN_IN, safe_return

ARCHIVE_ACCESS_REQUIRED = "archive-access-required"


def error_page(request: Request, status: int, slug: str, headers: Any = None) -> HTMLResponse:
    title, message = labels.problem_text(status, slug)
    case_id = request.path_params.get("case_id") if slug == ARCHIVE_ACCESS_REQUIRED else None
    response = page(
        request,
        "error.html",
        {
            "title": title,
            "message": message,
            "back": LANDING,
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


def _come_back(request: Request, page_path: str) -> RedirectResponse:
    """To ``page_path``, then back to this page (a GET's path and query; a form's post is not
    replayed, so it comes back to the landing page)."""
    target = LANDING
    if request.method == "GET":
        target = safe_return(
            request.url.path + ("?" + request.url.query if request.url.query else "")
        )
    query = "" if target == LANDING else "?" + urlencode({"suite": target})
    return RedirectResponse(page_path + query, status_code=303)


def to_sign_in(request: Request) -> RedirectResponse:
    return _come_back(request, SIGN_IN)


def to_charter(request: Request) -> RedirectResponse:
    """R1: the charter first; once accepted, the page the visitor was going to."""
    return _come_back(request, CHARTER)
