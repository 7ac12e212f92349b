"""The auditor's home, the journal: the chain's last verdict at the top, the events newest
first with filters, who looked at a file, a period's export for an inspection.

The same service functions as the API's ``/api/v1/audit/*`` and ``/cases/{id}/access-log``,
so each read of the log is itself an audit event, exactly as through the API, and the charter
decides who may read (``decisions.may_read_audit_log``; a case's coordinator may read its
access log). Events hold ids and codes only; a page adds, in one query each, the account
names of its actors, the references of its cases and the windows of its archive accesses.

An archive access's purpose is shown: a closed list (``ArchivePurpose``) the event itself
records. The reason that details it is not shown. It is free text typed by a professional to justify
opening a closed case ("convocation du mineur par le juge le 3 mars"), so it may name people:
it is stored sealed with the case's data key (``ArchiveAccess.reason_enc``), like any
nominative text. R2 says the auditor reads the log and aggregates, never nominative content,
and no rule of the charter opens a case's key to an auditor: the journal shows that a reason
was given, by whom, for which case and for which window, and says where it is read (the
coordinator's data-subject export, R22). Showing it would need the charter to say so first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRouter
from sqlalchemy.orm import Session

from app.audit import service
from app.audit.context import audited_as
from app.audit.repository import EventFilter
from app.audit.router import export_name, export_response
from app.audit.service import EventPage
from app.audit.trail import ANONYMOUS_ROLE, OPERATOR_ROLE, Action
from app.cases import repository as cases
from app.cases.models import ArchiveAccess
from app.cases.references import looks_like_reference
from app.cases.service import CASE_NOT_FOUND
from app.db import DbSession
from app.directory import repository as directory
from app.errors import InvalidInput, NotFound
from app.policy import decisions
from app.policy.visibility import Block
from app.principal import Principal
from app.schemas import utc_instant
from app.vocabulary import ArchivePurpose, Organisation, Role
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
    "compte": labels.AUDIT_ACCOUNT_UNKNOWN,
    "dossier": (
        "Saisissez le numéro d'une situation (18-2026-0042) ou son identifiant complet "
        "(36 caractères, tirets compris)."
    ),
    "du": "Saisissez une date valide.",
    "au": "Saisissez une date valide, postérieure ou égale à la date de début.",
    "export": "Saisissez les deux dates de la période à exporter, la seconde après la première.",
}
ARCHIVE_ACCESS_DETAIL = "archive_access:"
ARCHIVE_PURPOSE_DETAIL = "purpose:"


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
    values: dict[str, str],
    case_of_reference: Callable[[str], uuid.UUID | None],
    account_of_name: Callable[[str], int | None],
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
        """An account by the name it signs in with, as people know it (the events hold ids)."""
        found = account_of_name(raw)
        if found is None:
            raise ValueError("no such account")
        return found

    def one_of(options: set[str]) -> Any:
        def check(raw: str) -> str:
            if raw not in options:
                raise ValueError(raw)
            return raw

        return check

    action = parse("action", one_of({a.value for a in Action}))
    outcome = parse("resultat", one_of(set(labels.AUDIT_OUTCOMES)))
    severity = parse("gravite", one_of(set(labels.AUDIT_SEVERITIES)))
    actor_id = parse("compte", actor)

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


@dataclass(frozen=True, slots=True)
class Known:
    """What a page of events names besides their ids, each read in one query for the page."""

    usernames: dict[int, str]
    references: dict[uuid.UUID, str]
    archive_accesses: dict[uuid.UUID, ArchiveAccess]


def _known(session: Session, items: list[dict[str, Any]]) -> Known:
    return Known(
        usernames=directory.usernames_of(
            session, {item["actor_id"] for item in items if item["actor_id"] is not None}
        ),
        references=cases.references_of(
            session, {uuid.UUID(str(item["case_id"])) for item in items if item["case_id"]}
        ),
        archive_accesses=cases.archive_accesses_by_id(
            session, {found for item in items if (found := _archive_access_id(item))}
        ),
    )


def _archive_access_id(item: dict[str, Any]) -> uuid.UUID | None:
    """The archive access an event granted (its detail names it, ``archive_access:<id>``,
    followed by ``purpose:<code>`` since migration 0015)."""
    detail = item.get("detail") or ""
    if item.get("action") != Action.REQUEST_ARCHIVE_ACCESS or not detail.startswith(
        ARCHIVE_ACCESS_DETAIL
    ):
        return None
    try:
        return uuid.UUID(detail.split()[0].removeprefix(ARCHIVE_ACCESS_DETAIL))
    except ValueError:
        return None


def _archive_purpose(item: dict[str, Any]) -> str:
    """The purpose the event itself recorded (the log is the evidence, not the access's row),
    in French; an access granted before purposes were asked says so."""
    for part in (item.get("detail") or "").split()[1:]:
        if part.startswith(ARCHIVE_PURPOSE_DETAIL):
            return label(ArchivePurpose, part.removeprefix(ARCHIVE_PURPOSE_DETAIL))
    return labels.ARCHIVE_PURPOSE_NOT_ASKED


def _rows(session: Session, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    known = _known(session, items)
    return [_row(item, known) for item in items]


def _row(item: dict[str, Any], known: Known) -> dict[str, Any]:
    """An event as the page shows it: its codes with their French words beside them, its
    actor by account name, its case by reference, an archive access with its window; an
    unreadable one (``service.shown``) at its place, saying so."""
    if item["unreadable"]:
        return {
            **item,
            "username": "",
            "reference": "",
            "role_text": "",
            "organisation_text": "",
            "action_text": labels.UNREADABLE_EVENT,
            "blocks_text": [],
            "outcome_text": "",
            "severity_text": "",
            "archive_access": None,
            "archive_reason": None,
            "archive_purpose": None,
        }
    role = item["actor_role"]
    organisation = item["actor_organisation"]
    case_id = uuid.UUID(str(item["case_id"])) if item["case_id"] else None
    access_id = _archive_access_id(item)
    return {
        **item,
        "at": datetime.fromisoformat(item["at"]) if isinstance(item["at"], str) else item["at"],
        "username": known.usernames.get(item["actor_id"], "") if item["actor_id"] else "",
        "reference": known.references.get(case_id, "") if case_id else "",
        "role_text": (
            labels.OPERATOR_ROLE
            if role == OPERATOR_ROLE
            else labels.ANONYMOUS_ROLE
            if role == ANONYMOUS_ROLE
            else label(Role, role)
            if role
            else ""
        ),
        "organisation_text": label(Organisation, organisation) if organisation else "",
        "action_text": label(Action, item["action"]),
        "blocks_text": [label(Block, block) for block in item["blocks"]],
        "outcome_text": labels.AUDIT_OUTCOMES.get(item["outcome"], item["outcome"]),
        "severity_text": labels.AUDIT_SEVERITIES.get(item["severity"], item["severity"]),
        "archive_access": known.archive_accesses.get(access_id) if access_id else None,
        "archive_reason": labels.ARCHIVE_REASON_SEALED if access_id else None,
        "archive_purpose": _archive_purpose(item) if access_id else None,
    }


def _next_url(path: str, query: dict[str, str], found: EventPage) -> str | None:
    if not found.next_cursor:
        return None
    kept = {name: value for name, value in query.items() if value}
    return path + "?" + urlencode({**kept, "suite": found.next_cursor})


def _audit_page(
    request: Request,
    session: Session,
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
            "rows": _rows(session, found.items) if found else [],
            "searched": found is not None,
            "next_url": next_url,
            "verdict": service.last_verdict(session, principal=principal),
            "filtered": any(values.get(name) for name in FILTERS),
        },
        status_code=status_code,
    )


FILTERS = ("action", "resultat", "gravite", "compte", "dossier", "du", "au")


@router.get(AUDIT, dependencies=[audited_as(Action.READ_AUDIT_EVENTS)])
def audit_events(
    request: Request,
    principal: WebPrincipal,
    session: DbSession,
    action: Text = "",
    resultat: Text = "",
    gravite: Text = "",
    compte: Text = "",
    dossier: Text = "",
    du: Text = "",
    au: Text = "",
    suite: Cursor = None,
) -> HTMLResponse:
    """The auditor's home: the newest events first (what happened last is what an auditor
    looks at), narrowed by the filters."""
    # The charter's decision first (the service asks it again): a refused user learns nothing,
    # not even which filters are well formed.
    decisions.require_audit_log(principal)
    values = {
        "action": action,
        "resultat": resultat,
        "gravite": gravite,
        "compte": compte.strip(),
        "dossier": dossier.strip(),
        "du": du,
        "au": au,
    }
    where, errors = _filters(
        values,
        lambda reference: cases.case_id_of_reference(session, reference=reference),
        lambda name: _account_id(session, name),
    )
    if errors:
        return _audit_page(
            request,
            session,
            principal,
            values=values,
            errors=errors,
            found=None,
            next_url=None,
            status_code=422,
        )
    found = service.list_events(
        session, principal=principal, where=where, limit=PAGE_SIZE, cursor=suite, order="desc"
    )
    return _audit_page(
        request,
        session,
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
        session, principal=principal, case_id=case_id, limit=PAGE_SIZE, cursor=suite, order="desc"
    )
    return page(
        request,
        "audit_access_log.html",
        {
            "principal": principal,
            "case_id": case_id,
            "reference": cases.references_of(session, [case_id]).get(case_id, ""),
            "rows": _rows(session, found.items),
            "next_url": _next_url(f"{AUDIT}/dossiers/{case_id}", {}, found),
            "auditor": decisions.may_read_audit_log(principal),
        },
    )


def _account_id(session: Session, name: str) -> int | None:
    account = directory.get_user_by_username(session, name)
    return account.id if account is not None else None


@router.get(AUDIT + "/export.csv", dependencies=[audited_as(Action.EXPORT_AUDIT_EVENTS)])
def export(
    request: Request, principal: WebPrincipal, session: DbSession, du: Text = "", au: Text = ""
) -> Response:
    """A period's events as one CSV file, for an inspection: the API's export
    (``GET /api/v1/audit/events.csv``), the days being Paris's, both included. Both dates
    are required: an inspection asks for a period, and a whole log is the CLI's backup."""
    decisions.require_audit_log(principal)
    values = dict.fromkeys(FILTERS, "") | {"export_du": du.strip(), "export_au": au.strip()}
    try:
        first, last = date.fromisoformat(du.strip()), date.fromisoformat(au.strip())
        if last < first:
            raise ValueError("a period ends after it starts")
        where = EventFilter(since=_day_start(first), until=_after(last))
    except ValueError:
        return _audit_page(
            request,
            session,
            principal,
            values=values,
            errors={"export": _MESSAGES["export"]},
            found=None,
            next_url=None,
            status_code=422,
        )
    up_to = service.start_export(session, principal=principal, where=where)
    return export_response(request, where, up_to, export_name(first, last))
