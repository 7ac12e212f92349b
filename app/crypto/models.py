from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, utcnow


class CaseKey(Base):
    """A case's data key, only ever stored wrapped by a KEK. Deleting the row shreds the case."""

    __tablename__ = "case_key"

    case_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("case_file.id", ondelete="CASCADE"), primary_key=True
    )
    key_version: Mapped[int] = mapped_column(Integer, default=1)
    kek_id: Mapped[str] = mapped_column(String(64), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    rewrapped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class IdentityIndex(Base):
    """The blind index of a case's identity (HMAC of normalised names and birth date)."""

    __tablename__ = "identity_index"

    case_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("case_file.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
