"""The admin console's operations (issue 19): accounts, cells, the charter's acceptances.

The API (``/api/v1/admin/...``), the pages (``/admin``) and the CLI call these same
functions. A signed-in caller must be an administrator (the charter's ``manage_directory``);
the server's operator at the command line always may. Every change is an audit event whose
detail holds ids and codes, never a username, a cell's name or an address. Nothing here
reads a case.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.audit import trail
from app.audit.trail import Action, Actor
from app.db import utcnow
from app.directory import repository
from app.directory.models import Cell, CharterAcceptance, Membership, PasswordReset, User
from app.directory.service import (
    REQUIRED_ORGANISATION,
    check_account,
    check_cell_name,
    check_email,
    require_admin,
)
from app.errors import Conflict, InvalidInput, NotFound
from app.principal import Principal
from app.vocabulary import CellKind, Organisation, Role
from app.web import repository as web_sessions

MAX_PAGE = 100
RESET_VALIDITY = timedelta(hours=1)


def _actor_id(actor: Principal | Actor) -> int | None:
    return actor.user_id if isinstance(actor, Principal) else actor.id


# --- accounts ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserFilter:
    role: Role | None = None
    organisation: Organisation | None = None
    cell_id: int | None = None
    active: bool | None = None
    name_contains: str | None = None


@dataclass(frozen=True, slots=True)
class Account:
    """An account as the console shows it: never a case, never a password hash."""

    id: int
    username: str
    role: Role
    organisation: Organisation
    active: bool
    cell_ids: list[int]
    email: str | None
    has_password: bool
    created_at: datetime
    deactivated_at: datetime | None


@dataclass(frozen=True, slots=True)
class AccountPage:
    items: list[Account]
    next_cursor: str | None


def _account(user: User, cell_ids: Sequence[int]) -> Account:
    return Account(
        id=user.id,
        username=user.username,
        role=Role(user.role),
        organisation=Organisation(user.organisation),
        active=user.active,
        cell_ids=sorted(cell_ids),
        email=user.email,
        has_password=user.password_hash is not None,
        created_at=user.created_at,
        deactivated_at=user.deactivated_at,
    )


def _encode_cursor(user_id: int) -> str:
    return base64.urlsafe_b64encode(f"user:{user_id}".encode()).decode().rstrip("=")


def _decode_cursor(session: Session, cursor: str) -> tuple[str, int]:
    """The (username, id) the next page starts after; the cursor names an id only."""
    refused = InvalidInput(
        "The cursor is not one this service gave; start again without it.", slug="invalid-cursor"
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise refused from None
    kind, _, number = raw.partition(":")
    if kind != "user" or not number.isdigit() or len(number) > 10:
        raise refused
    user = session.get(User, int(number))
    if user is None:
        raise refused
    return user.username, user.id


def _filtered(where: UserFilter) -> Select[User]:
    query = select(User)
    if where.role is not None:
        query = query.where(User.role == where.role.value)
    if where.organisation is not None:
        query = query.where(User.organisation == where.organisation.value)
    if where.active is not None:
        query = query.where(User.active.is_(where.active))
    if where.cell_id is not None:
        query = query.where(
            select(Membership.user_id)
            .where(Membership.user_id == User.id, Membership.cell_id == where.cell_id)
            .exists()
        )
    if where.name_contains:
        query = query.where(
            func.lower(User.username).contains(where.name_contains.lower(), autoescape=True)
        )
    return query


def list_users(
    session: Session,
    *,
    actor: Principal | Actor,
    where: UserFilter,
    limit: int = 50,
    cursor: str | None = None,
) -> AccountPage:
    """The accounts, by username, a page at a time (the cursor: the last account shown)."""
    require_admin(actor)
    limit = max(1, min(limit, MAX_PAGE))
    query = _filtered(where)
    if cursor:
        after_name, after_id = _decode_cursor(session, cursor)
        query = query.where(
            or_(User.username > after_name, and_(User.username == after_name, User.id > after_id))
        )
    users = session.scalars(query.order_by(User.username, User.id).limit(limit + 1)).all()
    more = len(users) > limit
    users = users[:limit]
    cells = _cells_of(session, [user.id for user in users])
    trail.record(session, actor, Action.LIST_USERS)
    return AccountPage(
        items=[_account(user, cells.get(user.id, [])) for user in users],
        next_cursor=_encode_cursor(users[-1].id) if more and users else None,
    )


def _cells_of(session: Session, user_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    if not user_ids:
        return found
    rows = session.execute(
        select(Membership.user_id, Membership.cell_id).where(Membership.user_id.in_(user_ids))
    )
    for user_id, cell_id in rows:
        found.setdefault(user_id, []).append(cell_id)
    return found


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No account has this id.", slug="user-not-found")
    return user


def read_user(session: Session, *, actor: Principal | Actor, user_id: int) -> Account:
    require_admin(actor)
    user = _user(session, user_id)
    trail.record(session, actor, Action.READ_USER, detail=f"user:{user.id}")
    return _account(user, sorted(repository.cell_ids_of(session, user.id)))


@dataclass(frozen=True)
class AccountChange:
    """What a change of an account names; ``None`` (or ``email_given`` false): unchanged.
    ``email_given`` with ``email`` None removes the address."""

    role: Role | None = None
    organisation: Organisation | None = None
    cell_ids: list[int] | None = None
    email: str | None = None
    email_given: bool = False


def _active_admins(session: Session) -> int:
    """How many active administrators there are, their rows locked until the commit (on
    PostgreSQL): two administrators deactivating each other at once cannot leave none."""
    query = (
        select(User.id)
        .where(User.role == Role.ADMIN.value, User.active.is_(True))
        .with_for_update()
    )
    return len(session.scalars(query).all())


def _guard_last_admin(session: Session, user: User) -> None:
    if user.role == Role.ADMIN.value and user.active and _active_admins(session) <= 1:
        raise Conflict(
            "This is the last active administrator: make another account an administrator first.",
            slug="last-active-admin",
        )


def update_user(
    session: Session, *, actor: Principal | Actor, user_id: int, change: AccountChange
) -> Account:
    """Changes an account's role, organisation, cells or address, with the same rule of
    coherence as its creation (``check_account``). Effective from the account's next request:
    the principal is read from the directory at each one (R3)."""
    require_admin(actor)
    user = _user(session, user_id)
    current_role = Role(user.role)
    role = change.role or current_role
    if role is not current_role:
        if _actor_id(actor) == user.id:
            raise Conflict(
                "An administrator cannot change their own role; another administrator can.",
                slug="own-role",
            )
        _guard_last_admin(session, user)
    current_cells = sorted(repository.cell_ids_of(session, user.id))
    cell_ids = sorted(set(change.cell_ids)) if change.cell_ids is not None else current_cells
    organisation = change.organisation
    if organisation is None and role not in REQUIRED_ORGANISATION:
        organisation = Organisation(user.organisation)
    organisation = check_account(session, role, organisation, cell_ids)
    address = check_email(change.email) if change.email_given and change.email else None

    changed: list[str] = []
    if role is not current_role:
        user.role = role.value
        changed.append(f"role:{role.value}")
    if organisation.value != user.organisation:
        user.organisation = organisation.value
        changed.append(f"organisation:{organisation.value}")
    if cell_ids != current_cells:
        session.execute(
            delete(Membership).where(
                Membership.user_id == user.id, Membership.cell_id.not_in(cell_ids)
            )
        )
        repository.add_memberships(
            session, user.id, [cell for cell in cell_ids if cell not in current_cells]
        )
        changed.append("cells:" + ",".join(str(cell) for cell in cell_ids))
    session.flush()
    if changed:
        trail.record(
            session, actor, Action.UPDATE_USER, detail=f"user:{user.id} " + " ".join(changed)
        )
    if change.email_given and address != user.email:
        user.email = address
        session.flush()
        trail.record(
            session,
            actor,
            Action.SET_EMAIL,
            detail=f"user:{user.id}" if address else f"user:{user.id} removed",
        )
    return _account(user, cell_ids)


def set_active(
    session: Session, *, actor: Principal | Actor, user_id: int, active: bool
) -> Account:
    """Deactivates (refused from the account's next request, its web sessions ended) or
    reactivates an account. Not oneself, nor the last active administrator."""
    require_admin(actor)
    user = _user(session, user_id)
    if user.active == active:
        return _account(user, sorted(repository.cell_ids_of(session, user.id)))
    if not active:
        if _actor_id(actor) == user.id:
            raise Conflict(
                "An administrator cannot deactivate their own account.", slug="own-deactivation"
            )
        _guard_last_admin(session, user)
        user.active = False
        user.deactivated_at = utcnow()
        web_sessions.delete_sessions_of(session, user.id)
        session.flush()
        trail.record(session, actor, Action.DEACTIVATE_USER, detail=f"user:{user.id}")
    else:
        user.active = True
        user.deactivated_at = None
        session.flush()
        trail.record(session, actor, Action.REACTIVATE_USER, detail=f"user:{user.id}")
    return _account(user, sorted(repository.cell_ids_of(session, user.id)))


# --- password resets for the local sign-in ------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StartedReset:
    """The link's token, shown once to the administrator and never stored, and its end."""

    token: str
    expires_at: datetime


def start_password_reset(
    session: Session,
    *,
    actor: Principal | Actor,
    user_id: int,
    now: datetime,
    local_sign_in: bool = True,
) -> StartedReset:
    """A one-time link for the account to choose a new password, valid one hour. Only its
    SHA-256 is stored; an earlier link of the account that was not used stops working."""
    require_admin(actor)
    user = _user(session, user_id)
    if not local_sign_in:
        raise Conflict(
            "Passwords are checked by the identity provider here; reset it there.",
            slug="local-sign-in-disabled",
        )
    if not user.active:
        raise Conflict("Reactivate the account first.", slug="account-inactive")
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    reset = PasswordReset(
        user_id=user.id,
        token_hash=token_hash(token),
        created_by=_actor_id(actor),
        created_at=now,
        expires_at=now + RESET_VALIDITY,
    )
    session.add(reset)
    session.flush()
    trail.record(
        session, actor, Action.START_PASSWORD_RESET, severity=trail.HIGH, detail=f"user:{user.id}"
    )
    return StartedReset(token, reset.expires_at)


def find_reset(session: Session, token: str) -> PasswordReset | None:
    if not token or len(token) > 100:
        return None
    query = select(PasswordReset).where(PasswordReset.token_hash == token_hash(token))
    return session.scalar(query)


# --- cells -------------------------------------------------------------------------------------


def list_cells(session: Session, *, actor: Principal | Actor) -> list[Cell]:
    require_admin(actor)
    cells = list(session.scalars(select(Cell).order_by(Cell.arrondissement, Cell.name)))
    trail.record(session, actor, Action.LIST_CELLS)
    return cells


def cell_names(session: Session, *, actor: Principal | Actor) -> dict[int, str]:
    """The cells' names by id, for the forms that choose cells (not a read of its own)."""
    require_admin(actor)
    return {cell.id: cell.name for cell in session.scalars(select(Cell).order_by(Cell.name))}


def update_cell(
    session: Session,
    *,
    actor: Principal | Actor,
    cell_id: int,
    name: str | None = None,
    kind: CellKind | None = None,
) -> Cell:
    """Renames a cell or changes its kind (CENOMED cell or recidivism group)."""
    require_admin(actor)
    cell = repository.get_cell(session, cell_id)
    if cell is None:
        raise NotFound("No cell has this id.", slug="cell-not-found")
    changed: list[str] = []
    if name is not None:
        new_name = check_cell_name(session, name, cell_id=cell.id)
        if new_name != cell.name:
            cell.name = new_name
            changed.append("name")
    if kind is not None and kind.value != cell.kind:
        cell.kind = kind.value
        changed.append(f"kind:{kind.value}")
    session.flush()
    if changed:
        trail.record(
            session, actor, Action.UPDATE_CELL, detail=f"cell:{cell.id} " + " ".join(changed)
        )
    return cell


# --- the charter -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Acceptance:
    user_id: int
    username: str
    role: Role
    organisation: Organisation
    accepted_at: datetime | None


def charter_acceptances(
    session: Session, *, actor: Principal | Actor, version: str
) -> list[Acceptance]:
    """Every active account, and when it accepted ``version`` (None: not yet)."""
    require_admin(actor)
    rows = session.execute(
        select(User.id, User.username, User.role, User.organisation, CharterAcceptance.accepted_at)
        .outerjoin(
            CharterAcceptance,
            and_(CharterAcceptance.user_id == User.id, CharterAcceptance.version == version),
        )
        .where(User.active.is_(True))
        .order_by(User.username)
    ).all()
    trail.record(session, actor, Action.READ_CHARTER_ACCEPTANCES, detail=f"charter:{version}")
    return [
        Acceptance(user_id, username, Role(role), Organisation(organisation), accepted_at)
        for user_id, username, role, organisation, accepted_at in rows
    ]
