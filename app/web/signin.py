"""The local sign-in of the embedded default: a password checked against its argon2id hash.

Every attempt goes to the audit log: a success as ``sign_in``, a failure as a refused
``sign_in`` (against the account when the name is known, so its owner's history shows it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.audit import trail
from app.audit.trail import Action, Actor
from app.directory import repository as directory
from app.errors import NotFound
from app.web import passwords, sessions
from app.web.models import WebSession

BAD_CREDENTIALS = "bad-credentials"


def sign_in_locally(
    session: Session,
    *,
    username: str,
    password: str,
    previous: WebSession | None,
    timeouts: sessions.Timeouts,
    now: datetime,
) -> sessions.Opened | None:
    """The new session, or None (wrong name or password, account inactive or without one)."""
    user = directory.get_user_by_username(session, username.strip()) if username else None
    usable = user is not None and user.active
    stored = user.password_hash if user is not None and usable else None
    if not passwords.verify_password(stored, password) or user is None:
        if user is not None:
            trail.record_refusal(
                session,
                Actor(user.id, user.role, user.organisation),
                Action.SIGN_IN,
                status=401,
                slug=BAD_CREDENTIALS,
                case_id=None,
            )
        return None
    if stored is not None and passwords.needs_rehash(stored):
        user.password_hash = passwords.hash_password(password)
    opened = sessions.signed_in(
        session, previous=previous, user_id=user.id, timeouts=timeouts, now=now
    )
    trail.record(session, Actor(user.id, user.role, user.organisation), Action.SIGN_IN)
    return opened


def set_password(session: Session, *, username: str, password: str) -> int:
    """An operator sets an account's web password (the CLI); returns the account's id."""
    user = directory.get_user_by_username(session, username.strip())
    if user is None:
        raise NotFound("No account with this username.")
    user.password_hash = passwords.hash_password(password)
    # Sessions opened with the old password end with it.
    sessions.close_everywhere(session, user.id)
    trail.record(session, trail.OPERATOR, Action.SET_PASSWORD, detail=f"user:{user.id}")
    return user.id
