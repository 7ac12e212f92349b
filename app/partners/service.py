"""A cell's partner services: listed, added and changed by its coordinator (the policies'
``manage_services``); named by the orientations to a destination other than social services
(reached through the CST). Each change is an audit event; nothing here is nominative."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.audit import trail
from app.audit.trail import Action
from app.db import utcnow
from app.directory import repository as directory
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.partners import repository
from app.partners.models import PartnerService
from app.partners.schemas import ServiceCreate, ServiceUpdate
from app.policy import decisions
from app.principal import Principal
from app.vocabulary import DESTINATIONS_BY_KIND, CellKind, Destination

MANAGE = "manage_services"
SERVICE_NOT_FOUND = "No service with this id in this cell."


def _require_cell(session: Session, principal: Principal, cell_id: int) -> CellKind:
    cell = directory.get_cell(session, cell_id)
    if cell is None or not principal.is_member_of(cell_id):
        raise Forbidden("You are not a member of this cell.", slug="not-a-cell-member")
    decisions.require_in_cell(principal, MANAGE, cell_id, "manage the cell's partner services")
    return CellKind(cell.kind)


def may_manage(principal: Principal, cell_id: int) -> bool:
    return decisions.may_in_cell(principal, MANAGE, cell_id)


def list_services(
    session: Session, *, principal: Principal, cell_id: int
) -> Sequence[PartnerService]:
    _require_cell(session, principal, cell_id)
    return repository.services_of(session, cell_id=cell_id)


def _check_destination(kind: CellKind, destination: Destination) -> None:
    if destination is Destination.SOCIAL_SERVICES:
        raise InvalidInput(
            "Social services are reached through the cell's CST: they are not a named service.",
            slug="service-not-applicable",
            errors=[_error("destination", "social_services_via_cst")],
        )
    if destination not in DESTINATIONS_BY_KIND[kind]:
        raise InvalidInput(
            f"This destination is not open to a {kind.value} cell.",
            errors=[_error("destination", "destination_not_open")],
        )


def _error(field: str, kind: str) -> dict[str, object]:
    return {"loc": ["body", field], "msg": kind.replace("_", " "), "type": kind}


def _unique(session: Session, cell_id: int, destination: str, name: str, own: int | None) -> None:
    same = repository.named(session, cell_id=cell_id, destination=destination, name=name)
    if same is not None and same.id != own:
        raise Conflict(
            "The cell already has a service of this name for this destination.",
            slug="service-already-listed",
        )


def add_service(
    session: Session, *, principal: Principal, cell_id: int, data: ServiceCreate
) -> PartnerService:
    kind = _require_cell(session, principal, cell_id)
    _check_destination(kind, data.destination)
    _unique(session, cell_id, data.destination.value, data.name, None)
    now = utcnow()
    service = PartnerService(
        cell_id=cell_id,
        destination=data.destination.value,
        name=data.name,
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(service)
    session.flush()
    trail.record(session, principal, Action.MANAGE_SERVICES, detail=f"service:{service.id}:add")
    return service


def update_service(
    session: Session, *, principal: Principal, cell_id: int, service_id: int, data: ServiceUpdate
) -> PartnerService:
    kind = _require_cell(session, principal, cell_id)
    service = repository.get_service(session, service_id)
    if service is None or service.cell_id != cell_id:
        raise NotFound(SERVICE_NOT_FOUND, slug="service-not-found")
    if data.destination is not None:
        _check_destination(kind, data.destination)
    destination = (data.destination or Destination(service.destination)).value
    name = data.name or service.name
    _unique(session, cell_id, destination, name, service.id)
    service.destination, service.name = destination, name
    if data.active is not None:
        service.active = data.active
    service.updated_at = utcnow()
    session.flush()
    trail.record(session, principal, Action.MANAGE_SERVICES, detail=f"service:{service.id}:update")
    return service


def check_named(
    session: Session, *, cell_id: int, destination: Destination, service_id: int | None, at: str
) -> PartnerService | None:
    """The service an orientation to ``destination`` names, checked against the cell's list:
    none for social services (the CST); one of the cell's active services for that
    destination when it lists any (422 otherwise, at ``at`` in the body)."""
    if destination is Destination.SOCIAL_SERVICES:
        if service_id is not None:
            raise InvalidInput(
                "An orientation to social services goes through the cell's CST: it names no "
                "service.",
                slug="service-not-applicable",
                errors=[_error_at(at, "social_services_via_cst")],
            )
        return None
    offered = [
        s
        for s in repository.services_of(session, cell_id=cell_id, active_only=True)
        if s.destination == destination.value
    ]
    if service_id is None:
        if offered:
            raise InvalidInput(
                "Name the service this orientation goes to: the cell lists some for this "
                "destination.",
                slug="service-required",
                errors=[_error_at(at, "service_required")],
            )
        return None
    for service in offered:
        if service.id == service_id:
            return service
    raise InvalidInput(
        "This service is not one the cell lists (active) for this destination.",
        slug="service-not-of-cell",
        errors=[_error_at(at, "service_not_of_cell")],
    )


def _error_at(at: str, kind: str) -> dict[str, object]:
    return {"loc": ["body", *at.split(".")], "msg": kind.replace("_", " "), "type": kind}
