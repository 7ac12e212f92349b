"""The auditor's screen: the events with filters, the verification verdict, who looked at a file.

The same service functions as the API's ``/api/v1/audit/*`` and ``/cases/{id}/access-log``,
so each read of the log is itself an audit event, exactly as through the API, and the charter
decides who may read (``decisions.may_read_audit_log``; a case's coordinator may read its
access log). Events hold ids and codes only: nothing nominative reaches these pages.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRouter

from app.audit import service
from app.audit.context import audited_as
from app.audit.repository import EventFilter
from app.audit.service import EventPage
from app.audit.trail import OPERATOR_ROLE, Action
from app.cases import repository as cases
from app.cases.references import looks_like_reference
from app.cases.service import CASE_NOT_FOUND
from app.db import DbSession
from app.errors import InvalidInput, NotFound
from app.policy import decisions
from app.policy.visibility import Block
from app.principal import Principal
from app.schemas import MAX_ROW_ID, utc_instant
from app.vocabulary import Organisation, Role
from app.web import labels
from app.web.deps import WebPrincipal
from app.web.labels import choices, label
from app.web.rendering import PARIS, page

router = APIRouter(include_in_schema=False)
AUDIT = "/audit"
PAGE_SIZE = 50
Cursor = Annotated[str | None, Query(max_length=200)]
Text = Annotated[str, Query(max_length=100)]

_MESSAGES = {
    "action": "Choisissez une action de la liste.",
    "resultat": "Choisissez un résultat de la liste.",
    "gravite": "Choisissez une gravité de la liste.",
    "acteur": "Saisissez le numéro d'un compte (un nombre entier positif).",
    "dossier": (
        "Saisissez le numéro d'une situation (18-2026-0042) ou son identifiant complet "
        "(36 caractères, tirets compris)."
    ),
    "du": "Saisissez une date valide.",
    "au": "Saisissez une date valide, postérieure ou égale à la date de début.",
}


def _day_start(day: date) -> datetime:
    """Midnight in Paris: the days of the filters are the cells' calendar days (a ValueError
    for a day whose midnight the calendar cannot hold in UTC, as the API refuses it)."""
    return utc_instant(datetime.combine(day, time(), PARIS))


def _after(day: date) -> datetime:
    """The midnight that ends ``day`` (the filter's last day is included)."""
    if day == date.max:
        raise ValueError("no day after the calendar's last")
    return _day_start(day + timedelta(days=1))


def _filters(
    values: dict[str, str], case_of_reference: Callable[[str], uuid.UUID | None]
) -> tuple[EventFilter, dict[str, str]]:
    """The filter the form asks for, and the fields it got wrong (by their name)."""
    errors: dict[str, str] = {}

    def parse(name: str, convert: Any) -> Any:
        raw = values[name]
        if not raw:
            return None
        try:
            return convert(raw)
        except ValueError:
            errors[name] = _MESSAGES[name]
            return None

    def actor(raw: str) -> int:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_ROW_ID:
            raise ValueError(raw)
        return int(raw)

    def one_of(options: set[str]) -> Any:
        def check(raw: str) -> str:
            if raw not in options:
                raise ValueError(raw)
            return raw

        return check

    action = parse("action", one_of({a.value for a in Action}))
    outcome = parse("resultat", one_of(set(labels.AUDIT_OUTCOMES)))
    severity = parse("gravite", one_of(set(labels.AUDIT_SEVERITIES)))
    actor_id = parse("acteur", actor)

    def case(raw: str) -> uuid.UUID:
        if looks_like_reference(raw.upper()):
            # A reference nobody bears filters on nothing: no event, as for an unknown id.
            return case_of_reference(raw.upper()) or uuid.UUID(int=0)
        return uuid.UUID(raw)

    case_id = parse("dossier", case)
    first = parse("du", date.fromisoformat)
    last = parse("au", date.fromisoformat)
    if first and last and last < first:
        errors["au"] = _MESSAGES["au"]
    since = parse("du", lambda _raw: _day_start(first)) if first else None
    until = parse("au", lambda _raw: _after(last)) if last else None
    where = EventFilter(
        case_id=case_id,
        actor_id=actor_id,
        action=action,
        outcome=outcome,
        severity=severity,
        since=since,
        until=until,
    )
    return where, errors


def _row(item: dict[str, Any]) -> dict[str, Any]:
    """An event as the page shows it: its codes with their French words beside them; an
    unreadable one (``service.shown``) at its place, saying so."""
    if item["unreadable"]:
        return {
            **item,
            "role_text": "",
            "organisation_text": "",
            "action_text": labels.UNREADABLE_EVENT,
            "blocks_text": [],
            "outcome_text": "",
            "severity_text": "",
        }
    role = item["actor_role"]
    organisation = item["actor_organisation"]
    return {
        **item,
        "at": datetime.fromisoformat(item["at"]) if isinstance(item["at"], str) else item["at"],
        "role_text": (
            labels.OPERATOR_ROLE if role == OPERATOR_ROLE else label(Role, role) if role else ""
        ),
        "organisation_text": label(Organisation, organisation) if organisation else "",
        "action_text": label(Action, item["action"]),
        "blocks_text": [label(Block, block) for block in item["blocks"]],
        "outcome_text": labels.AUDIT_OUTCOMES.get(item["outcome"], item["outcome"]),
        "severity_text": labels.AUDIT_SEVERITIES.get(item["severity"], item["severity"]),
    }


def _next_url(path: str, query: dict[str, str], found: EventPage) -> str | None:
    if not found.next_cursor:
        return None
    kept = {name: value for name, value in query.items() if value}
    return path + "?" + urlencode({**kept, "suite": found.next_cursor})


def _audit_page(
    request: Request,
    principal: Principal,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    found: EventPage | None,
    next_url: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "audit.html",
        {
            "principal": principal,
            "values": values,
            "errors": errors,
            "actions": choices(Action),
            "outcomes": list(labels.AUDIT_OUTCOMES.items()),
            "severities": list(labels.AUDIT_SEVERITIES.items()),
            "rows": [_row(item) for item in found.items] if found else [],
            "searched": found is not None,
            "next_url": next_url,
        },
        status_code=status_code,
    )


@router.get(AUDIT, dependencies=[audited_as(Action.READ_AUDIT_EVENTS)])
def audit_events(
    request: Request,
    principal: WebPrincipal,
    session: DbSession,
    action: Text = "",
    resultat: Text = "",
    gravite: Text = "",
    acteur: Text = "",
    dossier: Text = "",
    du: Text = "",
    au: Text = "",
    suite: Cursor = None,
) -> HTMLResponse:
    # The charter's decision first (the service asks it again): a refused user learns nothing,
    # not even which filters are well formed.
    decisions.require_audit_log(principal)
    values = {
        "action": action,
        "resultat": resultat,
        "gravite": gravite,
        "acteur": acteur.strip(),
        "dossier": dossier.strip(),
        "du": du,
        "au": au,
    }
    where, errors = _filters(
        values, lambda reference: cases.case_id_of_reference(session, reference=reference)
    )
    if errors:
        return _audit_page(
            request,
            principal,
            values=values,
            errors=errors,
            found=None,
            next_url=None,
            status_code=422,
        )
    found = service.list_events(
        session, principal=principal, where=where, limit=PAGE_SIZE, cursor=suite
    )
    return _audit_page(
        request,
        principal,
        values=values,
        errors={},
        found=found,
        next_url=_next_url(AUDIT, values, found),
    )


@router.get(AUDIT + "/verification", dependencies=[audited_as(Action.VERIFY_AUDIT_LOG)])
def verification(request: Request, principal: WebPrincipal, session: DbSession) -> HTMLResponse:
    verdict = service.verification(
        session, principal=principal, signer=request.app.state.audit_signer
    )
    return page(
        request, "audit_verification.html", {"principal": principal, "verdict": asdict(verdict)}
    )


@router.get(AUDIT + "/dossiers", dependencies=[audited_as(Action.READ_ACCESS_LOG)])
def access_log_form(
    _principal: WebPrincipal, session: DbSession, dossier: Text = ""
) -> RedirectResponse:
    """The case form's target (a reference or an id): on to that case's access log (an id in
    the path, never a name)."""
    given = dossier.strip()
    if looks_like_reference(given.upper()):
        found = cases.case_id_of_reference(session, reference=given.upper())
        if found is None:
            raise NotFound(CASE_NOT_FOUND, slug="case-not-found")
        return RedirectResponse(f"{AUDIT}/dossiers/{found}", status_code=303)
    try:
        case_id = uuid.UUID(given)
    except ValueError:
        raise InvalidInput(
            "Give a case's reference (18-2026-0042) or its full id (36 characters)."
        ) from None
    return RedirectResponse(f"{AUDIT}/dossiers/{case_id}", status_code=303)


@router.get(AUDIT + "/dossiers/{case_id}", dependencies=[audited_as(Action.READ_ACCESS_LOG)])
def access_log(
    request: Request,
    case_id: uuid.UUID,
    principal: WebPrincipal,
    session: DbSession,
    suite: Cursor = None,
) -> HTMLResponse:
    found = service.access_log(
        session, principal=principal, case_id=case_id, limit=PAGE_SIZE, cursor=suite
    )
    return page(
        request,
        "audit_access_log.html",
        {
            "principal": principal,
            "case_id": case_id,
            "rows": [_row(item) for item in found.items],
            "next_url": _next_url(f"{AUDIT}/dossiers/{case_id}", {}, found),
            "auditor": decisions.may_read_audit_log(principal),
        },
    )
