"""The audit log's queries (reads only: appending is ``app.audit.chain``'s)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent


@dataclass(frozen=True, slots=True)
class EventFilter:
    case_id: uuid.UUID | None = None
    actor_id: int | None = None
    action: str | None = None
    outcome: str | None = None
    severity: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def find_events(
    session: Session, *, where: EventFilter, after_seq: int, limit: int
) -> Sequence[AuditEvent]:
    """Events in log order after ``after_seq`` (keyset pagination), ``since`` inclusive and
    ``until`` exclusive."""
    query = select(AuditEvent).where(AuditEvent.seq > after_seq)
    if where.case_id is not None:
        query = query.where(AuditEvent.case_id == where.case_id)
    if where.actor_id is not None:
        query = query.where(AuditEvent.actor_id == where.actor_id)
    if where.action is not None:
        query = query.where(AuditEvent.action == where.action)
    if where.outcome is not None:
        query = query.where(AuditEvent.outcome == where.outcome)
    if where.severity is not None:
        query = query.where(AuditEvent.severity == where.severity)
    if where.since is not None:
        query = query.where(AuditEvent.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEvent.at < where.until)
    return session.scalars(query.order_by(AuditEvent.seq).limit(limit)).all()
