"""A cell's partner services, for its coordinator: the list by destination, adding one,
renaming, moving or withdrawing one. The same service functions and schemas as
``/api/v1/cells/{id}/services``; names of organisations only, never of persons."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.audit.context import audited_as
from app.audit.trail import Action
from app.db import DbSession
from app.directory import repository as directory
from app.errors import Conflict, InvalidInput
from app.partners import service
from app.partners.schemas import ServiceCreate, ServiceUpdate
from app.principal import Principal
from app.schemas import MAX_ROW_ID
from app.vocabulary import DESTINATIONS_BY_KIND, CellKind, Destination
from app.web.deps import CheckedForm, WebPrincipal
from app.web.forms import SentBack, field_errors, refusal_errors, text
from app.web.labels import choices
from app.web.rendering import page

router = APIRouter(include_in_schema=False)
SERVICES = "/cellules/{cell_id}/services"
CellId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
ServiceId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def managed_cells(session: Session, principal: Principal) -> list[tuple[int, str]]:
    """The cells whose services this user manages (the menu's entries)."""
    return [
        (cell.id, cell.name)
        for cell in directory.get_cells(session, principal.cell_ids)
        if service.may_manage(principal, cell.id)
    ]


def _services_page(
    request: Request,
    session: Session,
    principal: Principal,
    cell_id: int,
    *,
    sent: SentBack | None = None,
    done: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    listed = service.list_services(session, principal=principal, cell_id=cell_id)
    cell = directory.get_cell(session, cell_id)
    kind = CellKind(cell.kind) if cell is not None else CellKind.CENOMED
    named = [
        d
        for d in Destination
        if d in DESTINATIONS_BY_KIND[kind] and d is not Destination.SOCIAL_SERVICES
    ]
    return page(
        request,
        "services.html",
        {
            "principal": principal,
            "cell_id": cell_id,
            "cell_name": cell.name if cell is not None else "",
            "services": listed,
            "destinations": choices(Destination, named),
            "sent": sent,
            "done": done,
        },
        status_code=status_code,
    )


@router.get(SERVICES, dependencies=[audited_as(Action.MANAGE_SERVICES)])
def services_page(
    request: Request, cell_id: CellId, principal: WebPrincipal, session: DbSession, fait: str = ""
) -> HTMLResponse:
    return _services_page(request, session, principal, cell_id, done=fait == "oui")


def _refused(
    request: Request,
    session: Session,
    principal: Principal,
    cell_id: int,
    sent: SentBack,
    status: int,
) -> HTMLResponse:
    session.rollback()
    return _services_page(request, session, principal, cell_id, sent=sent, status_code=status)


def _run(
    request: Request,
    session: Session,
    principal: Principal,
    cell_id: int,
    name: str,
    typed: dict[str, Any],
    act: Any,
) -> Response:
    try:
        act()
    except ValidationError as error:
        sent = SentBack(name, typed, field_errors(error.errors(include_input=False)))
        return _refused(request, session, principal, cell_id, sent, 422)
    except (InvalidInput, Conflict) as error:
        sent = SentBack(name, typed, refusal_errors(error))
        return _refused(request, session, principal, cell_id, sent, error.status)
    return RedirectResponse(SERVICES.format(cell_id=cell_id) + "?fait=oui", status_code=303)


@router.post(SERVICES, dependencies=[audited_as(Action.MANAGE_SERVICES)])
def add_service(
    request: Request,
    cell_id: CellId,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
) -> Response:
    typed = {"name": text(form, "name"), "destination": text(form, "destination")}
    return _run(
        request,
        session,
        principal,
        cell_id,
        "add",
        typed,
        lambda: service.add_service(
            session,
            principal=principal,
            cell_id=cell_id,
            data=ServiceCreate.model_validate(typed),
        ),
    )


@router.post(SERVICES + "/{service_id}", dependencies=[audited_as(Action.MANAGE_SERVICES)])
def update_service(
    request: Request,
    cell_id: CellId,
    service_id: ServiceId,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
) -> Response:
    typed = {"name": text(form, "name"), "active": text(form, "active")}
    change: dict[str, Any] = {"name": typed["name"] or None}
    if typed["active"] in ("oui", "non"):
        change["active"] = typed["active"] == "oui"
    return _run(
        request,
        session,
        principal,
        cell_id,
        f"service-{service_id}",
        typed,
        lambda: service.update_service(
            session,
            principal=principal,
            cell_id=cell_id,
            service_id=service_id,
            data=ServiceUpdate.model_validate(change),
        ),
    )
