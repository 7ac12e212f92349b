from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, exists, select
from sqlalchemy.orm import Session

from app.cases.models import ArchiveAccess
from app.directory.models import Cell, CharterAcceptance, Membership, User
from app.vocabulary import Role


def get_cell(session: Session, cell_id: int) -> Cell | None:
    return session.get(Cell, cell_id)


def get_cells(session: Session, cell_ids: Iterable[int]) -> Sequence[Cell]:
    """The cells with these ids, by name, in one query."""
    return session.scalars(
        select(Cell).where(Cell.id.in_(list(cell_ids))).order_by(Cell.name)
    ).all()


def get_cell_by_name(session: Session, name: str) -> Cell | None:
    return session.scalar(select(Cell).where(Cell.name == name))


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


@dataclass(frozen=True, slots=True)
class Account:
    """What each request needs to know of its caller, read in one round trip."""

    user_id: int
    username: str
    role: str
    organisation: str
    active: bool
    cell_ids: frozenset[int]
    charter_accepted: bool
    archive_case_ids: frozenset[uuid.UUID]


_ACCEPTED = (
    exists()
    .where(
        CharterAcceptance.user_id == User.id,
        CharterAcceptance.version == bindparam("charter_version"),
    )
    .correlate(User)
)
# Built once (every authenticated request runs it; building it cost more than running it).
_ACCOUNT = (
    select(User.id, User.role, User.organisation, User.active, _ACCEPTED)
    .add_columns(Membership.cell_id, ArchiveAccess.case_id)
    .outerjoin(Membership, Membership.user_id == User.id)
    .outerjoin(
        ArchiveAccess,
        and_(ArchiveAccess.user_id == User.id, ArchiveAccess.expires_at > bindparam("now")),
    )
    .where(User.username == bindparam("username"))
)


def get_account(
    session: Session, username: str, charter_version: str, now: datetime
) -> Account | None:
    """The account, its cells, whether it accepted ``charter_version`` and the archive
    accesses it holds at ``now`` (R17): one query, since every authenticated request asks it
    (a row per membership and running access; those are few)."""
    rows = session.execute(
        _ACCOUNT, {"username": username, "charter_version": charter_version, "now": now}
    ).all()
    if not rows:
        return None
    user_id, role, organisation, active, charter_accepted, _cell, _case = rows[0]
    return Account(
        user_id=user_id,
        username=username,
        role=role,
        organisation=organisation,
        active=active,
        cell_ids=frozenset(row[5] for row in rows if row[5] is not None),
        charter_accepted=bool(charter_accepted),
        archive_case_ids=frozenset(row[6] for row in rows if row[6] is not None),
    )


def accounts_named_like(session: Session, prefix: str) -> Sequence[tuple[str, str]]:
    """(username, role) of the active accounts with a web password whose name starts so."""
    rows = session.execute(
        select(User.username, User.role)
        .where(
            User.username.startswith(prefix, autoescape=True),
            User.active.is_(True),
            User.password_hash.is_not(None),
        )
        .order_by(User.username)
    )
    return [(username, role) for username, role in rows]


def usernames_of(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    """The account names of these ids, in one query (a page of the audit journal names its
    actors; the events hold ids only)."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(wanted)))
    return {int(user_id): str(username) for user_id, username in rows}


def cell_ids_of(session: Session, user_id: int) -> frozenset[int]:
    rows = session.scalars(select(Membership.cell_id).where(Membership.user_id == user_id))
    return frozenset(rows)


def add_memberships(session: Session, user_id: int, cell_ids: Iterable[int]) -> None:
    session.add_all(Membership(user_id=user_id, cell_id=cell_id) for cell_id in cell_ids)


def has_active_member_with_role(session: Session, cell_id: int, role: Role) -> bool:
    query = (
        select(User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.cell_id == cell_id, User.role == role.value, User.active.is_(True))
        .limit(1)
    )
    return session.scalar(query) is not None


def has_accepted(session: Session, user_id: int, version: str) -> bool:
    query = select(CharterAcceptance.id).where(
        CharterAcceptance.user_id == user_id, CharterAcceptance.version == version
    )
    return session.scalar(query.limit(1)) is not None


def cells_of_kind(session: Session, kind: str) -> Sequence[Cell]:
    """Every cell of one kind (CENOMED cells, recidivism groups), by arrondissement."""
    return session.scalars(
        select(Cell).where(Cell.kind == kind).order_by(Cell.arrondissement, Cell.name)
    ).all()
