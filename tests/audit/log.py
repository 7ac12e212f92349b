"""Reading the audit log in tests, as its hashed bytes say it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent, AuditHead
from app.audit.service import shown
from tests.conftest import World


def events(world: World, after: int = 0) -> list[dict[str, Any]]:
    """The events after ``after``, as their hashed bytes say them."""
    with world.db() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq)
        ).all()
        return [shown(row.seq, row.body, row.hash) for row in rows]


def head(world: World) -> int:
    with world.db() as session:
        return int(session.scalar(select(AuditHead.seq)) or 0)
