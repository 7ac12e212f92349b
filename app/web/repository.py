"""Every query of the web sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from app.directory.models import User
from app.web.models import WebSession


def get_session_row(session: Session, token_hash: str) -> tuple[WebSession, str | None] | None:
    """The session and the username of its account (None while signing in)."""
    row = session.execute(
        select(WebSession, User.username)
        .outerjoin(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == token_hash)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def delete_session(session: Session, token_hash: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


def delete_sessions_of(session: Session, user_id: int) -> int:
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_expired(session: Session, *, idle_before: datetime, created_before: datetime) -> int:
    result = session.execute(
        delete(WebSession).where(
            or_(WebSession.last_seen_at < idle_before, WebSession.created_at < created_before)
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)
