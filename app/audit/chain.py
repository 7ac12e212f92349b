"""Appending to the audit chain, and verifying it.

Canonical encoding of an event (what is hashed, and stored as ``body``): UTF-8 JSON of an object
with exactly the keys ``seq, at, actor, action, case_id, blocks, outcome, severity, request_id,
client, prev``, keys sorted, no whitespace (separators ``,`` and ``:``), ASCII-only (non-ASCII
escaped), ``at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC, ``prev`` the previous event's hash in
lowercase hex (64 zeros before the first event), ``blocks`` a sorted list. The event's hash is
SHA-256 of these bytes. No value in an event is nominative: ids and codes only.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent, AuditHead
from app.db import utcnow

GENESIS = bytes(32)
SEVERITIES = ("info", "high")
OUTCOMES = ("allowed", "denied")


@dataclass(frozen=True)
class Event:
    """What happened, by whom, to what: ids and codes only."""

    action: str
    outcome: str
    actor_id: int | None = None
    actor_role: str | None = None
    actor_organisation: str | None = None
    case_id: uuid.UUID | None = None
    blocks: tuple[str, ...] = ()
    severity: str = "info"
    request_id: str | None = None
    client: str | None = None
    at: datetime = field(default_factory=utcnow)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(event: Event, seq: int, prev: bytes) -> bytes:
    if event.outcome not in OUTCOMES or event.severity not in SEVERITIES:
        raise ValueError("unknown outcome or severity")
    document = {
        "seq": seq,
        "at": _stamp(event.at),
        "actor": {
            "id": event.actor_id,
            "role": event.actor_role,
            "organisation": event.actor_organisation,
        },
        "action": event.action,
        "case_id": str(event.case_id) if event.case_id else None,
        "blocks": sorted(event.blocks),
        "outcome": event.outcome,
        "severity": event.severity,
        "request_id": event.request_id,
        "client": event.client,
        "prev": prev.hex(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def append(session: Session, event: Event) -> int:
    """Appends in the caller's transaction (so the event and what it records commit together)."""
    head = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
    ).one()
    seq, prev = int(head[0]), bytes(head[1])
    body = canonical(event, seq, prev)
    digest = hashlib.sha256(body).digest()
    session.add(
        AuditEvent(
            seq=seq,
            at=event.at,
            actor_id=event.actor_id,
            action=event.action,
            case_id=event.case_id,
            outcome=event.outcome,
            severity=event.severity,
            body=body,
            prev_hash=prev,
            hash=digest,
        )
    )
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
    session.flush()
    return seq


@dataclass
class Verdict:
    valid: bool
    events: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


def verify(session: Session, *, batch: int = 5000) -> Verdict:
    """Recomputes the chain from the first event; stops at the first inconsistency."""
    previous, expected_seq, count = GENESIS, 1, 0
    for row in _events(session, batch):
        problem = _check(row, expected_seq, previous)
        if problem:
            # A gap or a reordering is reported where the expected event is missing.
            bad = expected_seq if row.seq != expected_seq else row.seq
            return Verdict(False, count, previous.hex(), bad, problem)
        previous, expected_seq, count = row.hash, expected_seq + 1, count + 1
    head = session.execute(select(AuditHead.seq, AuditHead.hash)).one()
    if int(head[0]) != count or bytes(head[1]) != previous:
        return Verdict(
            False,
            count,
            previous.hex(),
            count + 1,
            f"the head says {int(head[0])} events; the log holds {count} (a truncated tail?)",
        )
    return Verdict(True, count, previous.hex())


def _events(session: Session, batch: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def _check(row: AuditEvent, expected_seq: int, previous: bytes) -> str | None:
    if row.seq != expected_seq:
        return f"expected event {expected_seq}, found {row.seq} (missing or reordered events)"
    if bytes(row.prev_hash) != previous:
        return "its link to the previous event is broken"
    if hashlib.sha256(row.body).digest() != bytes(row.hash):
        return "its bytes do not match its hash (edited)"
    try:
        document: dict[str, Any] = json.loads(row.body)
    except ValueError:
        return "its bytes are not a canonical event"
    if document.get("seq") != row.seq or document.get("prev") != previous.hex():
        return "its bytes name another position in the chain"
    columns = {
        "action": row.action,
        "outcome": row.outcome,
        "severity": row.severity,
        "case_id": str(row.case_id) if row.case_id else None,
    }
    if any(document.get(k) != v for k, v in columns.items()):
        return "its columns say something else than its hashed bytes"
    if document.get("actor", {}).get("id") != row.actor_id or document.get("at") != _stamp(row.at):
        return "its columns say something else than its hashed bytes"
    return None
