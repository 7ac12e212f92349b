from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, utcnow


class Cell(Base):
    """A CENOMED cell of one arrondissement, or a recidivism working group."""

    __tablename__ = "cell"
    __table_args__ = (
        CheckConstraint("arrondissement BETWEEN 1 AND 20", name="arrondissement_range"),
        CheckConstraint("kind IN ('cenomed', 'recidivism')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    arrondissement: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class User(Base):
    """An account. Role, organisation and cells live here, never in token claims."""

    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("notify_mode IN ('immediate', 'daily', 'none')", name="notify_mode_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    organisation: Mapped[str] = mapped_column(String(30))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The web sign-in of the embedded default (argon2id, 'cenomed user set-password'); with
    # an OIDC provider, the provider checks passwords and this stays empty.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Notifications (issue 18): the professional address, and how often to write to it.
    email: Mapped[str | None] = mapped_column(String(254))
    notify_mode: Mapped[str] = mapped_column(String(10), default="immediate")


class Membership(Base):
    __tablename__ = "membership"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    cell_id: Mapped[int] = mapped_column(
        ForeignKey("cell.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CharterAcceptance(Base):
    """R1: who accepted which version of the charter, and when."""

    __tablename__ = "charter_acceptance"
    __table_args__ = (UniqueConstraint("user_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(40))
    accepted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PasswordReset(Base):
    """Issue 19: a one-time link an administrator gives for the local sign-in. Only the
    SHA-256 of its token is kept; it serves once, within the hour it was made."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The administrator who made it (an id; None for the server's operator).
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
