"""The admin console's API (issue 19): ``/api/v1/admin/...``, for the administrators only.

Each route's name is its audit action, so that a refusal is logged under it. The pages
(``app.web.admin_pages``) call the same service functions with the same schemas.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from app.auth import CurrentPrincipal
from app.clock import Now
from app.config import CurrentSettings, Settings
from app.db import DbSession
from app.directory import admin, service
from app.directory.admin import Account, AccountChange, UserFilter
from app.directory.admin_schemas import (
    CellCreate,
    CellPatch,
    CellRead,
    CharterAccountRead,
    CharterRead,
    PasswordResetRead,
    UserCreate,
    UserPage,
    UserPatch,
    UserRead,
)
from app.directory.models import Cell
from app.errors import responses
from app.schemas import MAX_ROW_ID
from app.vocabulary import Organisation, Role

router = APIRouter(prefix="/admin", tags=["admin"])
MERGE_PATCH = "application/merge-patch+json"
UserId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
CellId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
RESET_PATH = "/mot-de-passe/"


def user_read(account: Account) -> UserRead:
    return UserRead(
        id=account.id,
        username=account.username,
        role=account.role,
        organisation=account.organisation,
        active=account.active,
        cells=account.cell_ids,
        email=account.email,
        has_password=account.has_password,
        created_at=account.created_at,
        deactivated_at=account.deactivated_at,
    )


def cell_read(cell: Cell) -> CellRead:
    return CellRead.model_validate(cell, from_attributes=True)


def reset_url(settings: Settings, token: str) -> str:
    """The link the administrator gives: the service's public address, never the request's
    Host header (which the caller chooses)."""
    return settings.public_url.rstrip("/") + RESET_PATH + token


def change_of(body: UserPatch) -> AccountChange:
    given = body.model_fields_set
    return AccountChange(
        role=body.role,
        organisation=body.organisation,
        cell_ids=list(body.cells) if body.cells is not None else None,
        email=body.email,
        email_given="email" in given,
    )


@router.get(
    "/users",
    response_model=UserPage,
    responses=responses(401, 403, 422),
    summary="The accounts, filtered, by username, a page at a time (administrators)",
)
def list_users(
    principal: CurrentPrincipal,
    session: DbSession,
    role: Role | None = None,
    organisation: Organisation | None = None,
    cell_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    active: bool | None = None,
    name_contains: Annotated[str | None, Query(min_length=1, max_length=120)] = None,
    limit: Annotated[int, Query(ge=1, le=admin.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> UserPage:
    where = UserFilter(role, organisation, cell_id, active, name_contains)
    page = admin.list_users(session, actor=principal, where=where, limit=limit, cursor=cursor)
    return UserPage(items=[user_read(item) for item in page.items], next_cursor=page.next_cursor)


@router.post(
    "/users",
    response_model=UserRead,
    status_code=201,
    responses=responses(401, 403, 404, 409, 422),
    summary="Creates an account (the same rule of role, organisation and cells as the CLI)",
)
def add_user(body: UserCreate, principal: CurrentPrincipal, session: DbSession) -> UserRead:
    user = service.create_user(
        session,
        username=body.username,
        role=body.role,
        organisation=body.organisation,
        cell_ids=list(body.cells),
        email=body.email,
        actor=principal,
    )
    return user_read(admin.read_user(session, actor=principal, user_id=user.id))


@router.get(
    "/users/{user_id}",
    response_model=UserRead,
    responses=responses(401, 403, 404, 422),
    summary="One account (administrators)",
)
def read_user(user_id: UserId, principal: CurrentPrincipal, session: DbSession) -> UserRead:
    return user_read(admin.read_user(session, actor=principal, user_id=user_id))


@router.patch(
    "/users/{user_id}",
    response_model=UserRead,
    responses=responses(401, 403, 404, 409, 422),
    summary="Changes an account's role, organisation, cells or e-mail address (JSON Merge "
    "Patch; effective from its next request). Not one's own role, nor the last administrator's",
)
def update_user(
    user_id: UserId,
    body: Annotated[UserPatch, Body(media_type=MERGE_PATCH)],
    principal: CurrentPrincipal,
    session: DbSession,
) -> UserRead:
    account = admin.update_user(session, actor=principal, user_id=user_id, change=change_of(body))
    return user_read(account)


@router.post(
    "/users/{user_id}/deactivation",
    response_model=UserRead,
    responses=responses(401, 403, 404, 409, 422),
    summary="Deactivates an account: refused from its next request (R3). Not oneself, nor the "
    "last active administrator",
)
def deactivate_user(user_id: UserId, principal: CurrentPrincipal, session: DbSession) -> UserRead:
    return user_read(admin.set_active(session, actor=principal, user_id=user_id, active=False))


@router.post(
    "/users/{user_id}/reactivation",
    response_model=UserRead,
    responses=responses(401, 403, 404, 422),
    summary="Reactivates an account: accepted again from its next request",
)
def reactivate_user(user_id: UserId, principal: CurrentPrincipal, session: DbSession) -> UserRead:
    return user_read(admin.set_active(session, actor=principal, user_id=user_id, active=True))


@router.post(
    "/users/{user_id}/password-reset",
    response_model=PasswordResetRead,
    status_code=201,
    responses=responses(401, 403, 404, 409, 422),
    summary="A one-time link for the account to choose its local sign-in's password, valid "
    "one hour; shown once, only its hash is kept",
)
def start_password_reset(
    user_id: UserId,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: CurrentSettings,
    now: Now,
) -> PasswordResetRead:
    started = admin.start_password_reset(
        session,
        actor=principal,
        user_id=user_id,
        now=now,
        local_sign_in=not settings.oidc_enabled,
    )
    return PasswordResetRead(url=reset_url(settings, started.token), expires_at=started.expires_at)


@router.get(
    "/cells",
    response_model=list[CellRead],
    responses=responses(401, 403),
    summary="Every cell, by arrondissement (administrators)",
)
def list_cells(principal: CurrentPrincipal, session: DbSession) -> list[CellRead]:
    return [cell_read(cell) for cell in admin.list_cells(session, actor=principal)]


@router.post(
    "/cells",
    response_model=CellRead,
    status_code=201,
    responses=responses(401, 403, 409, 422),
    summary="Creates a cell",
)
def add_cell(body: CellCreate, principal: CurrentPrincipal, session: DbSession) -> CellRead:
    cell = service.create_cell(
        session,
        name=body.name,
        kind=body.kind,
        arrondissement=body.arrondissement,
        actor=principal,
    )
    return cell_read(cell)


@router.patch(
    "/cells/{cell_id}",
    response_model=CellRead,
    responses=responses(401, 403, 404, 409, 422),
    summary="Renames a cell or changes its kind (JSON Merge Patch)",
)
def update_cell(
    cell_id: CellId,
    body: Annotated[CellPatch, Body(media_type=MERGE_PATCH)],
    principal: CurrentPrincipal,
    session: DbSession,
) -> CellRead:
    cell = admin.update_cell(
        session, actor=principal, cell_id=cell_id, name=body.name, kind=body.kind
    )
    return cell_read(cell)


@router.get(
    "/charter",
    response_model=CharterRead,
    responses=responses(401, 403),
    summary="The charter's version in force, and which active accounts accepted it",
)
def read_charter_acceptances(
    principal: CurrentPrincipal, session: DbSession, settings: CurrentSettings
) -> CharterRead:
    rows = admin.charter_acceptances(session, actor=principal, version=settings.charter_version)
    accepted = sum(1 for row in rows if row.accepted_at is not None)
    return CharterRead(
        version=settings.charter_version,
        accepted=accepted,
        not_accepted=len(rows) - accepted,
        accounts=[
            CharterAccountRead(
                id=row.user_id,
                username=row.username,
                role=row.role,
                organisation=row.organisation,
                accepted_at=row.accepted_at,
            )
            for row in rows
        ],
    )
