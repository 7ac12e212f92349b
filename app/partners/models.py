"""A cell's partner services: the prevention club of the quarter, the CRIP 75, a school's
head... Names of organisations, never of persons: kept in clear."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, utcnow


class PartnerService(Base):
    __tablename__ = "partner_service"
    __table_args__ = (UniqueConstraint("cell_id", "destination", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("cell.id"), index=True)
    destination: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(160))
    # A service no longer offered stays for the orientations that named it.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
