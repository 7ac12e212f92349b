"""``/cells/{id}/services``: a cell's partner services, managed by its coordinator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from app.audit.context import audited_as
from app.audit.trail import Action
from app.auth import CurrentPrincipal
from app.db import DbSession
from app.errors import responses
from app.partners import service
from app.partners.models import PartnerService
from app.partners.schemas import ServiceCreate, ServiceRead, ServiceUpdate
from app.schemas import MAX_ROW_ID

router = APIRouter(
    prefix="/cells/{cell_id}/services",
    tags=["partner services"],
    dependencies=[audited_as(Action.MANAGE_SERVICES)],
)
CellId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
ServiceId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def _read(found: PartnerService) -> ServiceRead:
    return ServiceRead.model_validate(found, from_attributes=True)


@router.get(
    "",
    response_model=list[ServiceRead],
    responses=responses(401, 403, 422),
    summary="The cell's partner services, by destination (its coordinator)",
)
def list_services(
    cell_id: CellId, principal: CurrentPrincipal, session: DbSession
) -> list[ServiceRead]:
    return [_read(s) for s in service.list_services(session, principal=principal, cell_id=cell_id)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ServiceRead,
    responses=responses(401, 403, 409, 422),
    summary="Adds a partner service (an organisation, never a person) for a destination",
)
def add_service(
    cell_id: CellId, body: ServiceCreate, principal: CurrentPrincipal, session: DbSession
) -> ServiceRead:
    return _read(service.add_service(session, principal=principal, cell_id=cell_id, data=body))


@router.patch(
    "/{service_id}",
    response_model=ServiceRead,
    responses=responses(401, 403, 404, 409, 422),
    summary="Renames a partner service, changes its destination, or (de)activates it",
)
def update_service(
    cell_id: CellId,
    service_id: ServiceId,
    body: ServiceUpdate,
    principal: CurrentPrincipal,
    session: DbSession,
) -> ServiceRead:
    return _read(
        service.update_service(
            session, principal=principal, cell_id=cell_id, service_id=service_id, data=body
        )
    )
