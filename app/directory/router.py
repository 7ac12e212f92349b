from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter
from sqlalchemy.orm import Session

from app.auth import CurrentPrincipal
from app.config import CurrentSettings
from app.db import DbSession
from app.directory import service
from app.directory.schemas import CharterAcceptanceIn, CharterStatus, MeRead, NotificationsIn
from app.errors import responses
from app.principal import Principal

router = APIRouter(tags=["account"])


def _me(principal: Principal, current_version: str, session: Session) -> MeRead:
    email, mode = service.notification_settings(session, principal.user_id)
    return MeRead(
        email=email,
        notify_mode=mode,
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
def read_me(principal: CurrentPrincipal, settings: CurrentSettings, session: DbSession) -> MeRead:
    return _me(principal, settings.charter_version, session)


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
    return _me(replace(principal, charter_accepted=True), settings.charter_version, session)


@router.put(
    "/me/notifications",
    response_model=MeRead,
    responses=responses(401, 422),
    summary="Your e-mail notifications: immediate (batched), daily (08:00 digest) or none",
)
def set_notifications(
    body: NotificationsIn,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: CurrentSettings,
) -> MeRead:
    service.set_notify_mode(session, principal=principal, mode=body.mode)
    return _me(principal, settings.charter_version, session)
