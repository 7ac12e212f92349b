"""The local sign-in of the embedded default: a password checked against its argon2id hash.

Every attempt goes to the audit log: a success as ``sign_in``, a failure as a refused
``sign_in`` (against the account when the name is known, so its owner's history shows it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.audit import trail
from app.audit.trail import Action, Actor
from app.directory import admin
from app.directory import repository as directory
from app.errors import Conflict, Gone, NotFound
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


def reset_password(session: Session, *, token: str, password: str, now: datetime) -> int:
    """Issue 19: the account of a one-time link chooses its new password (the same rule as
    the operator's, ``passwords.check_new_password``). The link serves once, before its hour
    is over (``now < expires_at``); its other sessions end. Returns the account's id.

    Refused: a link this service never gave (``reset-link-unknown``), one used already or
    replaced by a later one (``reset-link-used``), one past its hour (``reset-link-expired``),
    an account deactivated since (``account-inactive``); a password outside the rule (422)
    leaves the link usable."""
    reset = admin.find_reset(session, token)
    if reset is None:
        raise NotFound("This link is not one this service gave.", slug="reset-link-unknown")
    user = directory.get_user(session, reset.user_id)
    if reset.used_at is not None:
        raise Gone(
            "This link was used already, or replaced by a newer one.", slug="reset-link-used"
        )
    if now >= reset.expires_at:
        raise Gone("This link is more than an hour old.", slug="reset-link-expired")
    if user is None or not user.active:
        raise Conflict("This account is deactivated.", slug="account-inactive")
    user.password_hash = passwords.hash_password(password)
    reset.used_at = now
    sessions.close_everywhere(session, user.id)
    trail.record(
        session,
        Actor(user.id, user.role, user.organisation),
        Action.RESET_PASSWORD,
        detail=f"user:{user.id}",
    )
    return user.id


def reset_owner(session: Session, token: str) -> Actor | None:
    """Who a link was given for, to name them in the audit event of a refused use."""
    reset = admin.find_reset(session, token)
    user = directory.get_user(session, reset.user_id) if reset is not None else None
    return Actor(user.id, user.role, user.organisation) if user is not None else None
