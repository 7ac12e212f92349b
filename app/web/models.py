"""Server-side web sessions: the browser holds a random token, the database only its hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, utcnow


class WebSession(Base):
    """A browser's session: anonymous (signing in) until ``user_id`` is set.

    The cookie's token is never stored: a copy of this table does not let anyone in.
    """

    __tablename__ = "web_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    # The synchroniser token every form of this session carries.
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # While signing in with the OIDC provider: the state, nonce and PKCE verifier (JSON).
    sign_in: Mapped[str | None] = mapped_column(Text)
