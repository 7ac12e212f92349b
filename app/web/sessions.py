"""Web sessions: opened anonymous for the sign-in form, replaced at sign-in, closed on time.

* The browser holds 32 random bytes; the table holds their SHA-256, so reading the table
  does not give a session.
* Signing in always opens a new session and deletes the anonymous one (no fixation).
* A session ends after ``idle`` without a request, and ``absolute`` after it opened,
  whatever the activity; expired rows are deleted whenever someone signs in.
* A deactivated account's sessions are refused at their next request (R3), then expire.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.web import repository
from app.web.models import WebSession


@dataclass(frozen=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta

    def expired(self, row: WebSession, now: datetime) -> bool:
        return now - row.last_seen_at >= self.idle or now - row.created_at >= self.absolute


@dataclass(frozen=True)
class Opened:
    """A new session: ``token`` goes in the cookie and nowhere else."""

    token: str
    row: WebSession


@dataclass(frozen=True)
class Found:
    row: WebSession
    username: str | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, *, user_id: int | None, now: datetime) -> Opened:
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=token_hash(token),
        user_id=user_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    return Opened(token, row)


def find(session: Session, token: str, *, timeouts: Timeouts, now: datetime) -> Found | None:
    """The live session of this cookie, its last request moved to ``now``; an expired one is
    None (and deleted at the next sign-in: this request may end in a rollback)."""
    if not token or len(token) > 100:
        return None
    found = repository.get_session_row(session, token_hash(token))
    if found is None:
        return None
    row, username = found
    if timeouts.expired(row, now):
        return None
    row.last_seen_at = now
    return Found(row, username)


def signed_in(
    session: Session,
    *,
    previous: WebSession | None,
    user_id: int,
    timeouts: Timeouts,
    now: datetime,
) -> Opened:
    """The session of a successful sign-in, in place of the anonymous one."""
    if previous is not None:
        repository.delete_session(session, previous.token_hash)
    repository.delete_expired(
        session, idle_before=now - timeouts.idle, created_before=now - timeouts.absolute
    )
    return open_session(session, user_id=user_id, now=now)


def close(session: Session, row: WebSession) -> None:
    repository.delete_session(session, row.token_hash)


def close_everywhere(session: Session, user_id: int) -> int:
    """Every session of the account, in every browser: how many there were."""
    return repository.delete_sessions_of(session, user_id)


def csrf_matches(row: WebSession, submitted: str | None) -> bool:
    return submitted is not None and secrets.compare_digest(
        row.csrf_token.encode(), submitted.encode()
    )
