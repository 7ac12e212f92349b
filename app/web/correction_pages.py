"""The correction of a signalement, and the versions it leaves (R4, R10).

The form holds the fields the procedure lets this user correct now
(:func:`app.cases.corrections.amendable_fields`), filled with the values the charter lets them
read; a field they may not read is left empty and changes nothing unless they type in it. What
is posted becomes the API's merge patch (``CasePatch``) and goes through the same service
function; the version read rides along, so a change made meanwhile is refused (409) rather
than overwritten.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.audit.context import audited_as
from app.audit.trail import Action
from app.cases import corrections, service
from app.cases.models import Case
from app.cases.schemas import CasePatch, CaseRead
from app.cases.serialise import case_read
from app.crypto.dependency import CurrentVault
from app.crypto.vault import Vault
from app.db import DbSession
from app.errors import Conflict, Forbidden, InvalidInput
from app.policy.visibility import Block, case_view
from app.principal import Principal
from app.vocabulary import GuardianRelationship, Motif, Sex
from app.web.case_pages import CasePost, CurrentCasePost
from app.web.deps import WebPrincipal
from app.web.forms import FORM, SentBack, field_errors, refusal_errors, text, texts
from app.web.labels import choices
from app.web.rendering import page
from app.web.returns import HOME
from app.workflow.states import CaseState

router = APIRouter(include_in_schema=False)
GUARDIAN_SLOTS = 4
_MINOR = ("last_name", "first_name", "birth_date", "sex", "school")


def _current(case: CaseRead) -> dict[str, Any]:
    """The form's values as the case reads to this user (a withheld field stays empty)."""
    values: dict[str, Any] = {"version": case.version, "motifs": []}
    if case.minor is not None:
        values.update(
            last_name=case.minor.last_name,
            first_name=case.minor.first_name,
            birth_date=case.minor.birth_date.isoformat(),
            sex=case.minor.sex.value if case.minor.sex else "",
            school=case.minor.school or "",
        )
    if case.contact is not None:
        values["address"] = case.contact.address or ""
        for slot, guardian in enumerate(case.contact.guardians, start=1):
            values[f"guardian_name_{slot}"] = guardian.name
            values[f"guardian_relationship_{slot}"] = guardian.relationship.value
            values[f"guardian_phone_{slot}"] = guardian.phone or ""
    if case.motifs is not None:
        values["motifs"] = [m.value for m in case.motifs]
        values["facts"] = case.facts or ""
    return values


def _readable(principal: Principal, case: Case) -> set[str]:
    """The fields this user reads, so the form sends them whole (an emptied one is removed)."""
    blocks = case_view(principal, service.facts_of(case)).blocks
    shown: set[str] = set()
    if Block.IDENTITY in blocks:
        shown.update(_MINOR)
    if Block.CONTACT in blocks:
        shown.update(("address", "guardians"))
    if Block.FACTS in blocks:
        shown.update(("motifs", "facts"))
    return shown


def _patch_body(form: Any, fields: tuple[str, ...], readable: set[str]) -> dict[str, Any]:
    """The merge patch a posted form means: a field this user reads is sent as the form holds
    it (emptied: removed); one they do not read only when they typed something in it."""
    body: dict[str, Any] = {}
    version = text(form, "version")
    if version:
        body["version"] = version
    minor: dict[str, Any] = {}
    contact: dict[str, Any] = {}
    for name in fields:
        if name == "motifs":
            chosen = texts(form, "motifs")
            if chosen or name in readable:
                body["motifs"] = chosen
        elif name == "guardians":
            guardians = [
                {
                    "name": text(form, f"guardian_name_{slot}"),
                    "relationship": text(form, f"guardian_relationship_{slot}") or None,
                    "phone": text(form, f"guardian_phone_{slot}") or None,
                }
                for slot in range(1, GUARDIAN_SLOTS + 1)
                if text(form, f"guardian_name_{slot}")
            ]
            if guardians or name in readable:
                contact["guardians"] = guardians
        else:
            value = text(form, name)
            if value or name in readable:
                target = minor if name in _MINOR else contact if name == "address" else body
                target[name] = value or None
    if minor:
        body["minor"] = minor
    if contact:
        body["contact"] = contact
    return body


def _field_of(loc: tuple[str, ...]) -> str:
    if loc[:2] == ("contact", "guardians") and len(loc) > 2:
        return f"guardian_{loc[4] if len(loc) > 4 else 'name'}_{int(loc[2]) + 1}"
    if len(loc) >= 2 and loc[0] in ("minor", "contact"):
        return loc[1]
    return loc[0] if loc else FORM


def _correction_page(
    request: Request,
    session: Session,
    principal: Principal,
    vault: Vault,
    case_id: uuid.UUID,
    *,
    sent: SentBack | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    visible = service.read_case(session, principal=principal, vault=vault, case_id=case_id)
    case = case_read(visible, principal)
    step = corrections.may_amend(principal, visible.case)
    if step is None:
        # The same refusal the service would give: the role (403) or the step now (409).
        found = service.case_of(session, principal=principal, case_id=case_id)
        step = corrections.amendment_step(CaseState(found.state))
        service.require_step_on(principal, step, found)
        service.check_step(step, found, service.receipt_facts(found, date.min))
    fields = corrections.amendable_fields(step)
    values = dict(sent.values) if sent is not None else _current(case)
    return page(
        request,
        "correction.html",
        {
            "principal": principal,
            "case": case,
            "fields": fields,
            "values": values,
            "errors": dict(sent.errors) if sent is not None else {},
            "readable": _readable(principal, visible.case),
            "motifs": choices(Motif),
            "sexes": choices(Sex),
            "relationships": choices(GuardianRelationship),
            "guardian_slots": range(1, GUARDIAN_SLOTS + 1),
        },
        status_code=status_code,
    )


@router.get(HOME + "/{case_id}/correction", dependencies=[audited_as(Action.AMEND_CASE)])
def correction_page(
    request: Request,
    case_id: uuid.UUID,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
) -> HTMLResponse:
    return _correction_page(request, session, principal, vault, case_id)


@router.post(HOME + "/{case_id}/correction", dependencies=[audited_as(Action.AMEND_CASE)])
def amend(post: CurrentCasePost) -> Response:
    found = service.case_of(post.session, principal=post.principal, case_id=post.case_id)
    step = corrections.amendment_step(CaseState(found.state))
    fields = corrections.amendable_fields(step)
    body = _patch_body(post.form, fields, _readable(post.principal, found))
    typed: dict[str, Any] = {key: text(post.form, key) for key in post.form if key != "motifs"}
    typed["motifs"] = texts(post.form, "motifs")
    try:
        patch = CasePatch.model_validate(body)
        version_before = found.version
        amended = corrections.amend_case(
            post.session,
            principal=post.principal,
            vault=post.vault,
            case_id=post.case_id,
            patch=patch,
            today=post.on,
        )
    except ValidationError as error:
        errors = field_errors(error.errors(include_url=False, include_input=False), _field_of)
        return _send_back(post, typed, errors, 422, "validation-error")
    except (InvalidInput, Conflict, Forbidden) as error:
        return _send_back(post, typed, refusal_errors(error, _field_of), error.status, error.slug)
    done = "corrigee" if amended.version != version_before else "inchangee"
    return RedirectResponse(f"{HOME}/{post.case_id}?fait={done}", status_code=303)


def _send_back(
    post: CasePost, typed: dict[str, Any], errors: dict[str, str], status: int, slug: str
) -> HTMLResponse:
    post.refused(status, slug)
    return _correction_page(
        post.request,
        post.session,
        post.principal,
        post.vault,
        post.case_id,
        sent=SentBack("correction", typed, errors),
        status_code=status,
    )


@router.get(HOME + "/{case_id}/versions", dependencies=[audited_as(Action.READ_REVISIONS)])
def revisions_page(
    request: Request,
    case_id: uuid.UUID,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
) -> HTMLResponse:
    found = corrections.revisions(session, principal=principal, vault=vault, case_id=case_id)
    case = service.case_of(session, principal=principal, case_id=case_id)
    return page(
        request,
        "revisions.html",
        {
            "principal": principal,
            "case_id": case_id,
            "reference": case.reference,
            "revisions": list(reversed(found)),
        },
    )
