"""Appending to the audit chain, and verifying it.

Canonical encoding of an event (what is hashed, and stored as ``body``): UTF-8 JSON of an object
with exactly the keys ``seq, at, actor, action, case_id, blocks, outcome, severity, detail,
request_id, client, prev``, keys sorted, no whitespace (separators ``,`` and ``:``), ASCII-only
(non-ASCII escaped), ``at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC, ``actor`` an object with
``id, role, organisation``, ``prev`` the previous event's hash in lowercase hex (64 zeros before
the first event), ``blocks`` a sorted list. The event's hash is SHA-256 of these bytes. No value
in an event is nominative: ids and codes only (``detail`` is a code too: the refusal's problem
type, the step fired, the charter version, a key id, an archive access id).

Appends are serialised by the single ``audit_head`` row, updated first in the appending
transaction: its row lock (PostgreSQL) or the database write lock (SQLite) is held until the
commit, so sequence numbers are gap-free and each event links to the one committed before it,
whatever the number of worker processes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import DateTime, bindparam, insert, select, type_coerce, update
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
    detail: str | None = None
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
        "detail": event.detail,
        "request_id": event.request_id,
        "client": event.client,
        "prev": prev.hex(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


# Up to this many events (a page of cases read), PostgreSQL appends them in one statement.
SMALL_APPEND = 100
# The statements of every append, built once: building them per request cost more Python than
# running them (the load benchmark's profile).
_LOCK_HEAD = select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
_RESERVE = (
    update(AuditHead)
    .where(AuditHead.id == 1)
    .values(seq=AuditHead.seq + bindparam("count"))
    .returning(AuditHead.seq, AuditHead.hash)
)
_EVENT_COLUMNS = (
    "seq",
    "at",
    "actor_id",
    "action",
    "case_id",
    "outcome",
    "severity",
    "body",
    "prev_hash",
    "hash",
)
_APPEND_ONE = (
    update(AuditHead)
    .where(AuditHead.id == 1)
    .values(seq=bindparam("event_seq"), hash=bindparam("event_hash"))
    .add_cte(
        insert(AuditEvent)
        .values({name: bindparam(f"event_{name}") for name in _EVENT_COLUMNS})
        .cte("appended")
    )
)


def append(session: Session, event: Event) -> int:
    """Appends in the caller's transaction (so the event and what it records commit together)."""
    return append_all(session, [event])[-1]


def append_all(session: Session, events: Sequence[Event]) -> list[int]:
    """Appends several events at once (a page of cases read): one head update, one insert.

    The head row is locked first and moved last, in the caller's transaction: appends are
    serialised until the commit, so sequence numbers are gap-free and links never fork.
    """
    if not events:
        return []
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        # A row lock, held until the commit, without writing a row version yet.
        head = session.execute(_LOCK_HEAD).one()
        seq, previous = int(head[0]), bytes(head[1])
    else:
        # SQLite: writing is what takes the database's write lock, so write first.
        head = session.execute(_RESERVE, {"count": len(events)}).one()
        seq, previous = int(head[0]) - len(events), bytes(head[1])
    rows, numbers = [], []
    for event in events:
        seq += 1
        body = canonical(event, seq, previous)
        digest = hashlib.sha256(body).digest()
        rows.append(
            {
                "seq": seq,
                "at": event.at,
                "actor_id": event.actor_id,
                "action": event.action,
                "case_id": event.case_id,
                "outcome": event.outcome,
                "severity": event.severity,
                "body": body,
                "prev_hash": previous,
                "hash": digest,
            }
        )
        numbers.append(seq)
        previous = digest
    move_head = update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=previous)
    if postgresql and len(rows) == 1:
        # The common case (one request, one event): a statement built once.
        session.execute(_APPEND_ONE, {f"event_{k}": v for k, v in rows[0].items()})
    elif postgresql and len(rows) <= SMALL_APPEND:
        # One round trip for the insert and the head while the head's lock is held.
        session.execute(move_head.add_cte(insert(AuditEvent).values(rows).cte("appended")))
    else:
        session.execute(insert(AuditEvent), rows)
        session.execute(move_head)
    hook = session.info.get(AFTER_APPEND)
    if hook is not None:
        hook(session, numbers[0], rows)
    return numbers


# ``session.info`` key of a callable run after each append (the checkpoint policy signs there,
# in the same transaction: a checkpoint never names events that were rolled back).
AFTER_APPEND = "audit.after_append"


@dataclass(frozen=True)
class Anchor:
    """A (size, head hash) pair the log must still contain: a verified signed checkpoint."""

    size: int
    hash: bytes
    source: str


@dataclass
class Verdict:
    valid: bool
    events: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    checkpoints: int = 0


def verify(session: Session, *, anchors: Sequence[Anchor] = (), batch: int = 5000) -> Verdict:
    """Recomputes the chain from the first event; stops at the first inconsistency.

    The head is read first and the events up to it are verified: events appended meanwhile
    are after it, left for the next verification, so a live log is not taken for a broken one.
    ``anchors`` are signed checkpoints (already checked): the event at each checkpoint's size
    must carry its hash, so a history rewritten with fresh hashes, or a truncated tail, is
    caught even when the head row was rewritten to match.
    """
    head_seq, head_hash = session.execute(select(AuditHead.seq, AuditHead.hash)).one()
    head_seq, head_hash = int(head_seq), bytes(head_hash)
    expected: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        expected.setdefault(anchor.size, []).append(anchor)
    upto = max([head_seq, *expected])
    previous, expected_seq, count = GENESIS, 1, 0
    for row in _rows(session, batch, upto):
        found = _check(row, expected_seq, previous)
        if found:
            bad_seq, problem = found
            return Verdict(False, count, previous.hex(), bad_seq, problem, len(anchors))
        previous, expected_seq, count = row[9], expected_seq + 1, count + 1
        for anchor in expected.get(count, ()):
            if anchor.hash != previous:
                return Verdict(
                    False,
                    count,
                    previous.hex(),
                    count,
                    f"the log differs from the signed checkpoint of {count} events "
                    f"({anchor.source}): its history was rewritten at or before this event",
                    len(anchors),
                )
    beyond = [a for a in anchors if a.size > count]
    if beyond:
        last = max(beyond, key=lambda a: a.size)
        return Verdict(
            False,
            count,
            previous.hex(),
            count + 1,
            f"the signed checkpoint of {last.size} events ({last.source}) covers events the log "
            f"no longer holds: it stops at {count} (a truncated tail)",
            len(anchors),
        )
    if head_seq != count or head_hash != previous:
        return Verdict(
            False,
            count,
            previous.hex(),
            min(head_seq, count) + 1,
            f"the head says {head_seq} events; the log holds {count} (a truncated tail, or an "
            "edited head)",
            len(anchors),
        )
    return Verdict(True, count, previous.hex(), checkpoints=len(anchors))


_COLUMNS = (
    AuditEvent.seq,
    # Read as the driver gives it (naive UTC on SQLite): compared with the hashed stamp below.
    type_coerce(AuditEvent.at, DateTime(timezone=True)),
    AuditEvent.actor_id,
    AuditEvent.action,
    AuditEvent.case_id,
    AuditEvent.outcome,
    AuditEvent.severity,
    AuditEvent.body,
    AuditEvent.prev_hash,
    AuditEvent.hash,
)


def _rows(session: Session, batch: int, upto: int) -> Iterator[Any]:
    """The events up to ``upto`` in order, a batch at a time (keyset pagination: memory
    stays flat)."""
    last = 0
    while True:
        rows = (
            session.connection()
            .execute(
                select(*_COLUMNS)
                .where(AuditEvent.seq > last, AuditEvent.seq <= upto)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
            .all()
        )
        if not rows:
            return
        yield from rows  # bytes on both drivers (psycopg gives bytea as bytes)
        last = rows[-1][0]


def _check(row: Any, expected_seq: int, previous: bytes) -> tuple[int, str] | None:
    """Where and what is wrong with this event, or None.

    A gap or a reordering is reported at the expected sequence number, where an event is
    missing. An event that is intact in itself but does not link to its predecessor, while its
    own bytes and link column agree, means the predecessor was edited and its hash recomputed:
    that is reported at the predecessor."""
    seq, at, actor_id, action, case_id, outcome, severity, body, prev_hash, digest = row
    if seq != expected_seq:
        return seq if seq < expected_seq else expected_seq, (
            f"expected event {expected_seq}, found {seq} (missing or reordered events)"
        )
    if hashlib.sha256(body).digest() != digest:
        return seq, "its bytes do not match its hash (edited)"
    try:
        document: dict[str, Any] = orjson.loads(body)
        actor = document["actor"]
        stamped = datetime.fromisoformat(document["at"])
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
    except (ValueError, KeyError, TypeError):
        return seq, "its bytes are not a canonical event"
    if document.get("seq") != seq:
        return seq, "its bytes name another position in the chain (moved or swapped events)"
    if document.get("prev") != prev_hash.hex():
        return seq, "its columns say something else than its hashed bytes (the link)"
    if prev_hash != previous:
        return max(seq - 1, 1), (
            f"event {seq} no longer links to it: it was edited and its hash recomputed"
        )
    if (
        document.get("action") != action
        or document.get("outcome") != outcome
        or document.get("severity") != severity
        or document.get("case_id") != (str(case_id) if case_id else None)
        or not isinstance(actor, dict)
        or actor.get("id") != actor_id
        or stamped != at
    ):
        return seq, "its columns say something else than its hashed bytes"
    return None
