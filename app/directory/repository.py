from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.directory.models import Cell, CharterAcceptance, Membership, User
from app.vocabulary import Role


def get_cell(session: Session, cell_id: int) -> Cell | None:
    return session.get(Cell, cell_id)


def get_cell_by_name(session: Session, name: str) -> Cell | None:
    return session.scalar(select(Cell).where(Cell.name == name))


def get_user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


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
