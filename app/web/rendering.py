"""Pages from templates: the Jinja2 environment, the page's headers, the error pages.

Every page gets ``Cache-Control: no-store`` (they show nominative data, or could) and a
Content-Security-Policy that allows scripts and styles from this site only: no inline
script, no inline style, no third party, forms posting here only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.templating import Jinja2Templates
from starlette.types import Scope

from app.documents.french import french_date, french_typography
from app.documents.pdf import PRINT_CSS
from app.indicators.service import CELL_ACTION
from app.policy import decisions
from app.principal import Principal
from app.vocabulary import ArchivePurpose
from app.web import labels
from app.web.deps import CSRF_FIELD

HERE = Path(__file__).parent
PARIS = ZoneInfo("Europe/Paris")
WEB_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STATIC_MAX_AGE = 3600


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["label"] = labels.label
    env.globals["kinds"] = {kind.__name__: kind for kind in labels.LABELS}
    env.globals["awaits"] = labels.AWAITS
    env.globals["ended"] = labels.ENDED
    # The archive access's form is on the refusal's page, wherever a closed case is opened.
    env.globals["archive_purposes"] = labels.choices(ArchivePurpose)
    env.globals["awaits_returned"] = labels.AWAITS_RETURNED
    env.globals["amended_fields"] = labels.AMENDED_FIELDS
    env.globals["step_detail"] = labels.step_detail
    env.globals["CSRF_FIELD"] = CSRF_FIELD
    env.globals["print_css"] = PRINT_CSS
    env.filters["french_date"] = french_date
    env.filters["french"] = french_typography
    env.filters["short_id"] = lambda value: str(value)[:8]
    env.filters["without_rule_codes"] = labels.without_rule_codes
    env.filters["rule_title"] = labels.rule_title
    return env


templates = Jinja2Templates(env=_environment())


def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    principal = (context or {}).get("principal")
    values = {
        "request": request,
        "nav": navigation(principal),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "work_count": getattr(request.state, "work_count", 0),
        "principal": None,
        "active": "",
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, values, status_code=status_code)
    response.headers["content-security-policy"] = WEB_CSP
    response.headers["cache-control"] = "no-store"
    # Not the API's "no-referrer": under it a browser sends "Origin: null" with the page's own
    # form posts, which the CSRF check must refuse. "same-origin" keeps the page's origin on
    # its own posts and still sends nothing to another site.
    response.headers["referrer-policy"] = "same-origin"
    return response


def navigation(principal: Principal | None) -> dict[str, bool]:
    """Which screens the menu offers: those the charter lets this user open."""
    if principal is None:
        return {"audit": False, "indicators": False, "admin": False}
    return {
        "audit": decisions.may_read_audit_log(principal),
        "indicators": (bool(principal.cell_ids) and decisions.may_as_member(principal, CELL_ACTION))
        or decisions.may_read_all_indicators(principal),
        "admin": decisions.may_manage_directory(principal),
    }


def is_page_request(request: Request) -> bool:
    """Whether an error should be answered as a page (the browser's) or a problem (the API's)."""
    path = request.url.path
    return not path.startswith(("/api/", "/metrics", "/docs", "/openapi.json"))


class CachedStaticFiles(StaticFiles):
    """The vendored scripts and the style sheet: cacheable (they hold nothing personal)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["cache-control"] = f"public, max-age={STATIC_MAX_AGE}"
        return response


def static_files() -> CachedStaticFiles:
    return CachedStaticFiles(directory=HERE / "static")
