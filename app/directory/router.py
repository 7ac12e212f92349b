from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter

from app.auth import CurrentPrincipal
from app.config import CurrentSettings
from app.db import DbSession
from app.directory import service
from app.directory.schemas import CharterAcceptanceIn, CharterStatus, MeRead
from app.errors import responses
from app.principal import Principal

router = APIRouter(tags=["account"])


def _me(principal: Principal, current_version: str) -> MeRead:
    return MeRead(
        id=principal.user_id,
        username=principal.username,
        role=principal.role,
        organisation=principal.organisation,
        cells=sorted(principal.cell_ids),
        charter=CharterStatus(current_version=current_version, accepted=principal.charter_accepted),
    )


@router.get(
    "/me",
    response_model=MeRead,
    responses=responses(401),
    summary="Your account, and whether you accepted the charter in force",
)
def read_me(principal: CurrentPrincipal, settings: CurrentSettings) -> MeRead:
    return _me(principal, settings.charter_version)


@router.post(
    "/me/charter-acceptance",
    response_model=MeRead,
    responses=responses(401, 409, 422),
    summary="R1: accept the charter in force (needed before any case or meeting)",
)
def accept_charter(
    body: CharterAcceptanceIn,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: CurrentSettings,
) -> MeRead:
    service.accept_charter(
        session,
        principal=principal,
        version=body.version,
        current_version=settings.charter_version,
    )
    return _me(replace(principal, charter_accepted=True), settings.charter_version)
