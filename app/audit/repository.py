"""The audit log's queries (reads only: appending is ``app.audit.chain``'s)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditCheckpoint, AuditEvent, AuditHead
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
# The log's order (oldest first, the API's default) or the journal's (newest first).
Order = Literal["asc", "desc"]


def find_events(
    session: Session,
    *,
    where: EventFilter,
    after_seq: int,
    limit: int,
    order: Order = "asc",
    up_to: int | None = None,
) -> list[StoredEvent]:
    """Events in log order after ``after_seq`` (keyset pagination), ``since`` inclusive and
    ``until`` exclusive, up to the head (or up to ``up_to``, a head read earlier: an export's
    snapshot). Newest first (``order="desc"``), ``after_seq`` is the last seq of the page
    before, which this page continues below (0: from the head).

    Only the log's events are read: rows up to the head (read in the same statement), whose
    seq is an integer. A row beyond the head was not appended by the service (its appends
    move the head in the same transaction) and a row whose seq is not an integer (SQLite) has
    no place in the chain: the verifier reports both, and a reader does not see them as
    events. The rows are read as stored (``app.audit.stored``): ``service.shown`` checks them.
    """
    query = select(raw(AuditEvent.seq), raw(AuditEvent.body), raw(AuditEvent.hash)).where(
        AuditEvent.seq <= _HEAD_SEQ
    )
    if up_to is not None:
        query = query.where(AuditEvent.seq <= up_to)
    if order == "asc":
        query = query.where(AuditEvent.seq > after_seq).order_by(AuditEvent.seq)
    else:
        if after_seq:
            query = query.where(AuditEvent.seq < after_seq)
        query = query.order_by(AuditEvent.seq.desc())
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
        rows = connection.execute(query.limit(limit)).all()
    return [StoredEvent(*row) for row in rows]


def head_seq(session: Session) -> int:
    """The number of events in the log (the head's seq; 0 for an empty log)."""
    return int(session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0)


def last_event_of(session: Session, action: str) -> StoredEvent | None:
    """The latest event of one action up to the head (the last verification's verdict)."""
    found = find_events(
        session, where=EventFilter(action=action), after_seq=0, limit=1, order="desc"
    )
    return found[0] if found else None


class CheckpointSeen(NamedTuple):
    size: int
    signed_at: datetime


def last_checkpoint(session: Session) -> CheckpointSeen | None:
    """The latest stored checkpoint's size and date, as stored (the verifier checks its
    signature; this only says where the last one stands)."""
    row = session.execute(
        select(AuditCheckpoint.size, AuditCheckpoint.signed_at)
        .order_by(AuditCheckpoint.size.desc())
        .limit(1)
    ).first()
    return CheckpointSeen(*row) if row else None
