"""The audit log's queries (reads only: appending is ``app.audit.chain``'s)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent, AuditHead
from app.audit.stored import as_stored, raw


@dataclass(frozen=True, slots=True)
class EventFilter:
    case_id: uuid.UUID | None = None
    actor_id: int | None = None
    action: str | None = None
    outcome: str | None = None
    severity: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class StoredEvent(NamedTuple):
    """An event's row as stored: its body and hash may hold anything (the reader checks them)."""

    seq: int
    body: Any
    hash: Any


_HEAD_SEQ = select(AuditHead.seq).where(AuditHead.id == 1).scalar_subquery()


def find_events(
    session: Session, *, where: EventFilter, after_seq: int, limit: int
) -> list[StoredEvent]:
    """Events in log order after ``after_seq`` (keyset pagination), ``since`` inclusive and
    ``until`` exclusive, up to the head.

    Only the log's events are read: rows up to the head (read in the same statement), whose
    seq is an integer. A row beyond the head was not appended by the service (its appends
    move the head in the same transaction) and a row whose seq is not an integer (SQLite) has
    no place in the chain: the verifier reports both, and a reader does not see them as
    events. The rows are read as stored (``app.audit.stored``): ``service.shown`` checks them.
    """
    query = select(raw(AuditEvent.seq), raw(AuditEvent.body), raw(AuditEvent.hash)).where(
        AuditEvent.seq > after_seq, AuditEvent.seq <= _HEAD_SEQ
    )
    if session.get_bind().dialect.name == "sqlite":
        query = query.where(func.typeof(AuditEvent.seq) == "integer")
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
    with as_stored(session) as connection:
        rows = connection.execute(query.order_by(AuditEvent.seq).limit(limit)).all()
    return [StoredEvent(*row) for row in rows]
