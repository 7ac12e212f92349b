"""Finding a case by the minor's identity (issue 16): the form and its results.

The form posts the three terms in its body (never in the address, so never in a history or an
access log), with the session's anti-forgery token like every form. What is typed goes through
the API's own schema (``CaseSearch``) and service function (``app.cases.search``): one
validation, one charter, one audit event per search with the number of results, one hourly
limit. A refused value brings the page back with each error on its field and what was typed,
the refusal logged (without the terms). The cases found are shown as the list shows them; the
closed ones as the archive's index lists them, each leading to the page where an archive access
is asked for (R17).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.audit import trail
from app.audit.context import audited_as
from app.audit.trail import Action, Actor
from app.cases import search
from app.cases.search_schemas import CaseSearch
from app.cases.serialise import case_read
from app.clock import Now
from app.config import CurrentSettings
from app.crypto.dependency import CurrentVault
from app.db import DbSession
from app.directory import repository as directory
from app.errors import TooManySearches
from app.operations import metrics
from app.principal import Principal
from app.web.deps import CheckedForm, WebPrincipal
from app.web.forms import field_errors, first_part, refusal_errors, text
from app.web.rendering import page
from app.web.returns import HOME

router = APIRouter(include_in_schema=False)
SEARCH_PAGE = HOME + "/recherche"
FIELDS = ("last_name", "first_name", "birth_date")


def _search_page(
    request: Request,
    session: Session,
    principal: Principal,
    per_hour: int,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    found: search.Found | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    cells = directory.get_cells(session, principal.cell_ids)
    context: dict[str, Any] = {
        "principal": principal,
        "values": values or {},
        "errors": errors or {},
        "per_hour": per_hour,
        "cell_names": {cell.id: cell.name for cell in cells},
        "searched": found is not None,
        "rows": [],
        "archived": False,
        "next_url": None,  # the list's table: one search, one page
    }
    if found is not None:
        context["rows"] = [case_read(v, principal, in_list=True) for v in found.cases]
        context["archived"] = any(v.archive_entry for v in found.cases)
    return page(request, "search.html", context, status_code=status_code)


@router.get(SEARCH_PAGE, dependencies=[audited_as(Action.SEARCH_CASES)])
def search_page(
    request: Request, principal: WebPrincipal, session: DbSession, settings: CurrentSettings
) -> HTMLResponse:
    # The charter first: a role that may not search is refused here, not after typing.
    search.searchable_cells(principal)
    return _search_page(request, session, principal, settings.searches_per_hour)


@router.post(SEARCH_PAGE, dependencies=[audited_as(Action.SEARCH_CASES)])
def search_cases(
    request: Request,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    settings: CurrentSettings,
    at: Now,
) -> HTMLResponse:
    typed = {name: text(form, name) for name in FIELDS}

    def sent_back(status: int, slug: str, errors: dict[str, str]) -> HTMLResponse:
        """The search page again, what was typed kept, the refusal logged (R23)."""
        session.rollback()
        actor = Actor.of(principal)
        trail.record_refusal(
            session, actor, Action.SEARCH_CASES, status=status, slug=slug, case_id=None
        )
        metrics.count_refusal(status, slug)
        return _search_page(
            request,
            session,
            principal,
            settings.searches_per_hour,
            values=typed,
            errors=errors,
            status_code=status,
        )

    try:
        data = CaseSearch.model_validate({name: typed[name] or None for name in FIELDS})
    except ValidationError as error:
        errors = field_errors(error.errors(include_url=False, include_input=False), first_part)
        return sent_back(422, "validation-error", errors)
    try:
        found = search.search_cases(
            session,
            principal=principal,
            vault=vault,
            data=data,
            now=at,
            per_hour=settings.searches_per_hour,
        )
    except TooManySearches as error:
        response = sent_back(error.status, error.slug, refusal_errors(error))
        response.headers["retry-after"] = str(error.retry_after)
        return response
    return _search_page(
        request, session, principal, settings.searches_per_hour, values=typed, found=found
    )
