"""Refusals and errors met by a browser: a French page with the same status as the API's
problem, and the same audit trail (the application's handlers call these)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.web import labels
from app.web.rendering import page

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
            "back": "/dossiers",
            "archive_case_id": case_id,
            "principal": getattr(request.state, "web_principal", None),
        },
        status_code=status,
    )
    for name, value in (headers or {}).items():
        if name.lower() != "www-authenticate":  # the API's bearer challenge, not a page's
            response.headers[name] = value
    return response


def to_sign_in(request: Request) -> RedirectResponse:
    """Back to this page after signing in (a GET's path; a form's post is not replayed)."""
    target = request.url.path if request.method == "GET" else "/dossiers"
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    query = "" if target in ("/", "/dossiers") else "?" + urlencode({"suite": target})
    return RedirectResponse("/connexion" + query, status_code=303)


def to_charter() -> RedirectResponse:
    return RedirectResponse("/charte", status_code=303)
