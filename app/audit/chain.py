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
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    DateTime,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from app.audit.models import AuditEvent, AuditHead
from app.audit.stored import as_stored, kind, raw
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

    Any row is answered with a verdict, never an exception: rows are read as stored
    (``app.audit.stored``) and a malformed one (a value of the wrong type or length, a body
    that is not a canonical event, a row outside the chain, a missing or malformed head) is
    reported at its place, saying what is wrong.
    """
    with as_stored(session) as connection:
        return _verify(connection, anchors, batch)


def _verify(connection: Connection, anchors: Sequence[Anchor], batch: int) -> Verdict:
    head = connection.execute(_HEAD).first()
    head_problem = _head_problem(head)
    head_seq, head_hash = (0, GENESIS) if head is None or head_problem else head
    expected: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        expected.setdefault(anchor.size, []).append(anchor)
    # Without a head to stop at, every event is read.
    upto = max([_LAST_SEQ if head_problem else head_seq, *expected])
    previous, expected_seq, count = GENESIS, 1, 0
    for row in _rows(connection, batch, upto):
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
    if head_problem:
        return Verdict(False, count, previous.hex(), count + 1, head_problem, len(anchors))
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
    stray = connection.execute(_STRAY).first()
    if stray is not None:
        seq = stray[0]
        at = seq if type(seq) is int else count + 1
        return Verdict(False, count, previous.hex(), at, _stray_problem(seq), len(anchors))
    return Verdict(True, count, previous.hex(), checkpoints=len(anchors))


_LAST_SEQ = 2**63 - 1  # a BIGINT's largest
_HEAD = select(raw(AuditHead.seq), raw(AuditHead.hash)).where(AuditHead.id == 1)
# The first row that is not in the chain: before its first event, or beyond the head. One
# statement reads the head and the rows (one snapshot), so an event appended meanwhile, which
# moves the head in its own transaction, is never taken for one.
_STRAY = (
    select(raw(AuditEvent.seq))
    .where(
        or_(
            AuditEvent.seq < 1,
            AuditEvent.seq > select(AuditHead.seq).where(AuditHead.id == 1).scalar_subquery(),
        )
    )
    .order_by(AuditEvent.seq)
    .limit(1)
)


def _head_problem(head: Any) -> str | None:
    if head is None:
        return "the head row is missing (it was deleted)"
    seq, digest = head
    if type(seq) is not int:
        return f"the head row's seq is {kind(seq)}, not an integer"
    if seq < 0:
        return "the head row's seq is negative"
    shape = hash_problem(digest)
    return f"the head row's hash is {shape}" if shape else None


def _stray_problem(seq: object) -> str:
    if type(seq) is not int:
        return (
            f"a row whose seq is {kind(seq)} lies outside the chain: it was not appended by the "
            "service"
        )
    if seq < 1:
        return (
            f"a row with seq {seq} lies outside the chain, before its first event: it was not "
            "appended by the service"
        )
    return (
        f"a row with seq {seq} lies outside the chain, beyond its head: it was not appended by "
        "the service (appends fail once the log reaches it)"
    )


def _shape_problem(body: object, prev_hash: object, digest: object) -> str:
    """What is wrong with an event's stored bytes, when one is not bytes or a hash's length."""
    for name, value in (("hash", digest), ("prev_hash", prev_hash)):
        shape = hash_problem(value)
        if shape:
            return f"its {name} is {shape}"
    return f"its body is {kind(body)}, not bytes"


def hash_problem(value: object) -> str | None:
    """What is wrong with a stored hash (SHA-256: 32 bytes), or None."""
    if type(value) is not bytes:
        return f"{kind(value)}, not bytes"
    if len(value) != 32:
        return f"{len(value)} bytes, not 32"
    return None


class Malformed(ValueError):
    """A stored row that holds no event in the canonical encoding. Its message says what is
    wrong, never quoting a stored value (it could be anything, even a name)."""


_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", re.ASCII)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STAMP_FORM = "a UTC instant as YYYY-MM-DDTHH:MM:SS.ffffffZ"
_TEXT_OR_NULL = frozenset((str, type(None)))
_INT_OR_NULL = frozenset((int, type(None)))
_EVENT_KEYS = frozenset(
    (
        "seq",
        "at",
        "actor",
        "action",
        "case_id",
        "blocks",
        "outcome",
        "severity",
        "detail",
        "request_id",
        "client",
        "prev",
    )
)
_ACTOR_KEYS = frozenset(("id", "role", "organisation"))
# What each value must be, in the order of the checks in ``_decode``.
_EXPECTED = (
    ("seq", "a positive integer"),
    ("at", _STAMP_FORM),
    ("action", "text"),
    ("case_id", "an id (a lowercase UUID) or null"),
    ("blocks", "a sorted list of names"),
    ("outcome", " or ".join(OUTCOMES)),
    ("severity", " or ".join(SEVERITIES)),
    ("detail", "text or null"),
    ("request_id", "text or null"),
    ("client", "text or null"),
    ("prev", "text"),
    ("actor's id", "an integer or null"),
    ("actor's role", "text or null"),
    ("actor's organisation", "text or null"),
)


def decode(body: object) -> dict[str, Any]:
    """The event a stored body holds, if it has the canonical encoding's shape: its keys, and a
    value of the right type in each. Raises Malformed, saying what is wrong, otherwise.

    The readers show only events that pass (``app.audit.service.shown``), and the verifier
    requires it of every event, so a log that verifies is a log every reader can show.
    """
    return _decode(body)[0]


def _decode(body: object) -> tuple[dict[str, Any], datetime]:
    """The event and its instant (naive UTC). Every check is made (one tuple, no call: the
    verifier runs this for each event), then the first that failed is named."""
    if type(body) is not bytes:
        raise Malformed(f"its body is {kind(body)}, not bytes")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Malformed("its body is not JSON") from None
    if type(document) is not dict:
        raise Malformed("its body is not a JSON object")
    if document.keys() != _EVENT_KEYS:
        raise _keys_problem(document, _EVENT_KEYS, "its body")
    actor = document["actor"]
    if type(actor) is not dict:
        raise Malformed("its body's actor is not an object")
    if actor.keys() != _ACTOR_KEYS:
        raise _keys_problem(actor, _ACTOR_KEYS, "its body's actor")
    seq, at, case_id, blocks = (
        document["seq"],
        document["at"],
        document["case_id"],
        document["blocks"],
    )
    valid = (
        type(seq) is int and seq > 0,
        type(at) is str and _STAMP.fullmatch(at) is not None,
        type(document["action"]) is str,
        case_id is None or type(case_id) is str and _UUID.fullmatch(case_id) is not None,
        type(blocks) is list
        and (not blocks or set(map(type, blocks)) == {str} and blocks == sorted(blocks)),
        document["outcome"] in OUTCOMES,
        document["severity"] in SEVERITIES,
        type(document["detail"]) in _TEXT_OR_NULL,
        type(document["request_id"]) in _TEXT_OR_NULL,
        type(document["client"]) in _TEXT_OR_NULL,
        type(document["prev"]) is str,
        type(actor["id"]) in _INT_OR_NULL,
        type(actor["role"]) in _TEXT_OR_NULL,
        type(actor["organisation"]) in _TEXT_OR_NULL,
    )
    if not all(valid):
        key, expected = _EXPECTED[valid.index(False)]
        raise Malformed(f"its body's {key} is not {expected}")
    try:
        return document, datetime.fromisoformat(at[:-1])
    except ValueError:  # a date that is not in the calendar
        raise Malformed(f"its body's at is not {_STAMP_FORM}") from None


def _keys_problem(document: dict[str, Any], keys: frozenset[str], what: str) -> Malformed:
    missing = ", ".join(sorted(keys - document.keys()))
    return Malformed(f"{what} lacks {missing}" if missing else f"{what} has unknown keys")


# The instants psycopg can load (datetime's range).
_FIRST_INSTANT, _LAST_INSTANT = datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999)


def _pg_instant() -> Any:
    """PostgreSQL's at column as naive UTC, NULL if psycopg could not load it ('infinity')."""
    utc = func.timezone("UTC", AuditEvent.at)
    loadable = and_(
        utc >= literal(_FIRST_INSTANT, DateTime()), utc <= literal(_LAST_INSTANT, DateTime())
    )
    return type_coerce(case((loadable, utc)), NullType())


# The columns the verifier reads, as stored; on PostgreSQL with the instant in naive UTC and
# case_id in the body's form (on SQLite, ``_sqlite_forms`` does the same).
_COLUMNS = {
    "postgresql": (
        raw(AuditEvent.seq),
        _pg_instant(),
        raw(AuditEvent.actor_id),
        raw(AuditEvent.action),
        type_coerce(cast(AuditEvent.case_id, Text), NullType()),
        raw(AuditEvent.outcome),
        raw(AuditEvent.severity),
        raw(AuditEvent.body),
        raw(AuditEvent.prev_hash),
        raw(AuditEvent.hash),
    ),
    "sqlite": (
        raw(AuditEvent.seq),
        raw(AuditEvent.at),
        raw(AuditEvent.actor_id),
        raw(AuditEvent.action),
        raw(AuditEvent.case_id),
        raw(AuditEvent.outcome),
        raw(AuditEvent.severity),
        raw(AuditEvent.body),
        raw(AuditEvent.prev_hash),
        raw(AuditEvent.hash),
    ),
}
_SQLITE_STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", re.ASCII)
_HEX32 = re.compile(r"[0-9a-f]{32}")
_UNEQUAL = object()  # a value that equals none of a body's


def _sqlite_forms(row: Any) -> tuple[Any, ...]:
    """A SQLite row with at and case_id as PostgreSQL's query gives them, when they hold what
    SQLAlchemy writes there ('YYYY-MM-DD HH:MM:SS.ffffff', 32 lowercase hex digits); anything
    else is read as a value that equals nothing."""
    seq, at, actor_id, action, case_id, *rest = row
    instant: Any = _UNEQUAL
    if type(at) is str and _SQLITE_STAMP.fullmatch(at):
        try:
            instant = datetime.fromisoformat(at)
        except ValueError:
            pass
    if case_id is not None:
        case_id = (
            str(uuid.UUID(hex=case_id))
            if type(case_id) is str and _HEX32.fullmatch(case_id)
            else _UNEQUAL
        )
    return (seq, instant, actor_id, action, case_id, *rest)


def _rows(connection: Connection, batch: int, upto: int) -> Iterator[Any]:
    """The events up to ``upto`` in order, a batch at a time (keyset pagination: memory
    stays flat), as stored."""
    sqlite = connection.dialect.name == "sqlite"
    columns = _COLUMNS[connection.dialect.name]
    last: Any = 0
    while True:
        rows = connection.execute(
            select(*columns)
            .where(AuditEvent.seq > last, AuditEvent.seq <= upto)
            .order_by(AuditEvent.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from map(_sqlite_forms, rows) if sqlite else rows
        last = rows[-1][0]


def _check(row: Any, expected_seq: int, previous: bytes) -> tuple[int, str] | None:
    """Where and what is wrong with this event, or None.

    A gap or a reordering is reported at the expected sequence number, where an event is
    missing. An event that is intact in itself but does not link to its predecessor, while its
    own bytes and link column agree, means the predecessor was edited and its hash recomputed:
    that is reported at the predecessor."""
    seq, at, actor_id, action, case_id, outcome, severity, body, prev_hash, digest = row
    if type(seq) is not int:  # SQLite: a real between two events
        return expected_seq, f"the row in its place has a seq that is {kind(seq)}, not an integer"
    if seq != expected_seq:
        return seq if seq < expected_seq else expected_seq, (
            f"expected event {expected_seq}, found {seq} (missing or reordered events)"
        )
    if not (
        type(body) is bytes
        and type(digest) is bytes
        and type(prev_hash) is bytes
        and len(digest) == len(prev_hash) == 32
    ):
        return seq, _shape_problem(body, prev_hash, digest)
    if hashlib.sha256(body).digest() != digest:
        return seq, "its bytes do not match its hash (edited)"
    try:
        document, stamped = _decode(body)
    except Malformed as error:
        return seq, str(error)
    if document["seq"] != seq:
        return seq, "its bytes name another position in the chain (moved or swapped events)"
    if document["prev"] != prev_hash.hex():
        return seq, "its columns say something else than its hashed bytes (the link)"
    if prev_hash != previous:
        return max(seq - 1, 1), (
            f"event {seq} no longer links to it: it was edited and its hash recomputed"
        )
    if (
        document["action"] == action
        and document["outcome"] == outcome
        and document["severity"] == severity
        and document["actor"]["id"] == actor_id
        and document["case_id"] == case_id
        and stamped == at
    ):
        return None
    said = {
        "action": (document["action"], action),
        "outcome": (document["outcome"], outcome),
        "severity": (document["severity"], severity),
        "actor_id": (document["actor"]["id"], actor_id),
        "case_id": (document["case_id"], case_id),
        "at": (stamped, at),
    }
    differ = [name for name, (body_says, column) in said.items() if body_says != column]
    return seq, f"its columns say something else than its hashed bytes ({', '.join(differ)})"
