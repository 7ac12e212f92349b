"""Directory operations used by the CLI and by authentication."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import trail
from app.audit.trail import OPERATOR, Action, Actor
from app.db import utcnow
from app.directory import repository
from app.directory.models import Cell, CharterAcceptance, User
from app.errors import Conflict, InvalidInput, NotFound
from app.policy import decisions
from app.principal import Principal
from app.vocabulary import CellKind, NotifyMode, Organisation, Role

# Roles bound to one institution by the fiche: the coordinator is the DPP's, the CST the DASES'.
REQUIRED_ORGANISATION: dict[Role, Organisation] = {
    Role.COORDINATOR: Organisation.DPP,
    Role.PARQUET: Organisation.PARQUET,
    Role.CST: Organisation.DASES,
}
# Roles that work Paris-wide on aggregates or accounts and never belong to a cell (R2).
CELLLESS_ROLES = frozenset({Role.ADMIN, Role.AUDITOR, Role.STEERING})
INSTITUTIONAL_ORGANISATIONS = frozenset(REQUIRED_ORGANISATION.values())


def require_admin(actor: Principal | Actor) -> None:
    """A signed-in caller must be an administrator (issue 19); the server's operator, at the
    command line, always may."""
    if isinstance(actor, Principal):
        decisions.require_manage_directory(actor)


def check_cell_name(session: Session, name: str, *, cell_id: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("A cell needs a non-empty name.")
    taken = repository.get_cell_by_name(session, name)
    if taken is not None and taken.id != cell_id:
        raise Conflict(
            "A cell with this name already exists; choose another name.", slug="cell-name-taken"
        )
    return name


def create_cell(
    session: Session,
    *,
    name: str,
    kind: CellKind,
    arrondissement: int,
    actor: Principal | Actor = OPERATOR,
) -> Cell:
    require_admin(actor)
    if not 1 <= arrondissement <= 20:
        raise InvalidInput("The arrondissement must be between 1 and 20.")
    name = check_cell_name(session, name)
    cell = Cell(name=name, kind=kind.value, arrondissement=arrondissement)
    session.add(cell)
    session.flush()
    trail.record(session, actor, Action.ADD_CELL, detail=f"cell:{cell.id}")
    return cell


def check_account(
    session: Session, role: Role, organisation: Organisation | None, cell_ids: Iterable[int]
) -> Organisation:
    """The one rule of an account's role, organisation and cells, at creation and at every
    change (issue 19): the organisation the role implies or requires (``REQUIRED_ORGANISATION``),
    no cell for the Paris-wide roles (``CELLLESS_ROLES``), at least one for the others, every
    cell existing. Returns the organisation to store."""
    cells = list(cell_ids)
    organisation = _organisation_for(role, organisation)
    if role in CELLLESS_ROLES and cells:
        raise InvalidInput(
            f"The {role.value} role works Paris-wide and belongs to no cell.",
            slug="cells-not-allowed",
        )
    if role not in CELLLESS_ROLES and not cells:
        raise InvalidInput(
            f"A {role.value} must belong to at least one cell (--cell).", slug="cell-required"
        )
    for cell_id in cells:
        if repository.get_cell(session, cell_id) is None:
            raise NotFound(
                f"Cell {cell_id} does not exist; create it first with 'cell add'.",
                slug="cell-not-found",
            )
    return organisation


def create_user(
    session: Session,
    *,
    username: str,
    role: Role,
    organisation: Organisation | None,
    cell_ids: list[int],
    email: str | None = None,
    actor: Principal | Actor = OPERATOR,
) -> User:
    require_admin(actor)
    username = username.strip()
    email = check_email(email) if email is not None else None
    if not username:
        raise InvalidInput("A user needs a non-empty username.")
    organisation = check_account(session, role, organisation, cell_ids)
    if repository.get_user_by_username(session, username) is not None:
        raise Conflict("This username is already taken.", slug="username-taken")
    user = User(
        username=username,
        role=role.value,
        organisation=organisation.value,
        active=True,
        email=email,
        notify_mode=NotifyMode.IMMEDIATE.value,
    )
    session.add(user)
    session.flush()
    repository.add_memberships(session, user.id, sorted(set(cell_ids)))
    session.flush()
    trail.record(session, actor, Action.ADD_USER, detail=f"user:{user.id}")
    if email is not None:
        trail.record(session, actor, Action.SET_EMAIL, detail=f"user:{user.id}")
    return user


# A professional address, ASCII, as a mail server takes it in an RCPT TO: no display name, no
# comment, nothing that could add a header (no space, no line break).
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)


def check_email(value: str) -> str:
    """The address, trimmed; refused unless it is one plain address of at most 254 chars."""
    address = value.strip()
    if len(address) > 254 or _EMAIL.fullmatch(address) is None:
        raise InvalidInput(
            "Give one professional e-mail address, such as prenom.nom@paris.fr "
            "(no name, no space, at most 254 characters).",
            slug="invalid-email",
        )
    return address


def set_email(
    session: Session, *, username: str, email: str | None, actor: Principal | Actor = OPERATOR
) -> User:
    """Sets (or with None removes) an account's address for notifications. The audit event
    names the account, never the address."""
    require_admin(actor)
    address = check_email(email) if email is not None else None
    user = repository.get_user_by_username(session, username)
    if user is None:
        raise NotFound("No user has this username.")
    user.email = address
    session.flush()
    trail.record(
        session,
        actor,
        Action.SET_EMAIL,
        detail=f"user:{user.id}" if address else f"user:{user.id} removed",
    )
    return user


def set_notify_mode(session: Session, *, principal: Principal, mode: NotifyMode) -> NotifyMode:
    """The caller's own choice of notifications (immediate, daily digest, none)."""
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound("No user has this username.")
    user.notify_mode = mode.value
    session.flush()
    trail.record(session, principal, Action.SET_NOTIFICATIONS, detail=f"mode:{mode.value}")
    return mode


def notification_settings(session: Session, user_id: int) -> tuple[str | None, NotifyMode]:
    """The caller's address and choice, as ``GET /me`` shows them."""
    user = session.get(User, user_id)
    if user is None:
        return None, NotifyMode.IMMEDIATE
    return user.email, NotifyMode(user.notify_mode)


def _organisation_for(role: Role, organisation: Organisation | None) -> Organisation:
    required = REQUIRED_ORGANISATION.get(role)
    if required is not None:
        if organisation not in (None, required):
            raise InvalidInput(
                f"A {role.value} belongs to the organisation '{required.value}'.",
                slug="organisation-of-role",
            )
        return required
    if role is Role.MEMBER:
        if organisation is None:
            raise InvalidInput(
                "A member must name the partner organisation they represent.",
                slug="organisation-required",
            )
        if organisation in INSTITUTIONAL_ORGANISATIONS:
            raise InvalidInput(
                f"The organisation '{organisation.value}' is represented by its own role, "
                "not by a member.",
                slug="organisation-of-role",
            )
        return organisation
    return organisation or Organisation.OTHER


def deactivate_user(
    session: Session, *, username: str, actor: Principal | Actor = OPERATOR
) -> User:
    """By name (the CLI): the console's deactivation (``admin.set_active``), so that its web
    sessions end and the last active administrator stays one whichever way it is asked."""
    from app.directory import admin  # builds on this module

    user = repository.get_user_by_username(session, username)
    if user is None:
        raise NotFound("No user has this username.")
    admin.set_active(session, actor=actor, user_id=user.id, active=False)
    return user


def load_principal(
    session: Session,
    username: str,
    *,
    charter_version: str,
) -> Principal | None:
    """The caller as the directory knows them now, or None if unknown or deactivated (R3)."""
    account = repository.get_account(session, username, charter_version, utcnow())
    if account is None or not account.active:
        return None
    return Principal(
        user_id=account.user_id,
        username=account.username,
        role=Role(account.role),
        organisation=Organisation(account.organisation),
        cell_ids=account.cell_ids,
        charter_accepted=account.charter_accepted,
        archive_case_ids=account.archive_case_ids,
    )


def accept_charter(
    session: Session, *, principal: Principal, version: str, current_version: str
) -> None:
    """R1: records that the caller accepted the charter in force (idempotent)."""
    if version != current_version:
        raise Conflict(
            f"The charter in force is version '{current_version}': read that one and accept it.",
            slug="charter-version-mismatch",
        )
    if repository.has_accepted(session, principal.user_id, version):
        return
    session.add(CharterAcceptance(user_id=principal.user_id, version=version))
    try:
        session.flush()
        trail.record(session, principal, Action.ACCEPT_CHARTER, detail=f"charter:{version}")
    except IntegrityError:
        # Two acceptances at once: the other one won, which is what was asked. This request
        # wrote nothing else, so undoing its transaction loses nothing.
        session.rollback()
        if not repository.has_accepted(session, principal.user_id, version):
            raise
