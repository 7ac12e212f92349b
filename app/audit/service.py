"""The auditors' reads of the log, and the coordinators' "who looked at this file" (R23).

Reading the log is itself logged. What is shown of an event is what was hashed (its body),
never a column that could have been edited apart from it; events hold ids and codes only, so
an auditor sees no case content (R2). The events shown are those up to the head
(``repository.find_events``); one whose row holds no event is shown as a placeholder
(``shown``).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.audit import repository, trail
from app.audit.chain import Malformed, Verdict, decode, hash_problem
from app.audit.checkpoint import Signer, verify_log
from app.audit.repository import EventFilter, Order
from app.audit.trail import Action
from app.cases import repository as cases
from app.errors import InvalidInput, NotFound
from app.policy import decisions
from app.principal import Principal
from app.vocabulary import Role

MAX_PAGE = 100
MAX_SEQ_DIGITS = 18  # a BIGINT's range


@dataclass(frozen=True, slots=True)
class EventPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def list_events(
    session: Session,
    *,
    principal: Principal,
    where: EventFilter,
    limit: int,
    cursor: str | None,
    order: Order = "asc",
) -> EventPage:
    decisions.require_audit_log(principal)
    page = _page(session, where, limit, cursor, order)
    trail.record(session, principal, Action.READ_AUDIT_EVENTS, case_id=where.case_id)
    return page


def may_read_access_log(principal: Principal, cell_id: int) -> bool:
    """Whether this user may read the access log of a case of ``cell_id``: an auditor (the
    whole log), or whom the charter lets read it in that cell (its coordinator). The one
    rule, asked by ``access_log`` and by the case page before it offers the link."""
    return decisions.may_read_audit_log(principal) or decisions.may_in_cell(
        principal, "read_access_log", cell_id
    )


def access_log(
    session: Session,
    *,
    principal: Principal,
    case_id: uuid.UUID,
    limit: int,
    cursor: str | None,
    order: Order = "asc",
) -> EventPage:
    """Who accessed this case: for the auditors, and for the coordinator of its cell."""
    if principal.role is Role.AUDITOR:
        decisions.require_audit_log(principal)  # an auditor's refusal says why (the charter)
    elif not decisions.may_read_audit_log(principal):
        cell_id = cases.cell_of_case(session, case_id)
        if cell_id is None or not principal.is_member_of(cell_id):
            raise NotFound(
                "No case with this id in your cells.", slug="case-not-found", case_id=case_id
            )
        if not may_read_access_log(principal, cell_id):
            decisions.require_in_cell(
                principal, "read_access_log", cell_id, "read a case's access log"
            )
    page = _page(session, EventFilter(case_id=case_id), limit, cursor, order)
    trail.record(session, principal, Action.READ_ACCESS_LOG, case_id=case_id)
    return page


def verification(session: Session, *, principal: Principal, signer: Signer) -> Verdict:
    """The verifier's verdict (the stored checkpoints checked with the service's public key)."""
    decisions.require_audit_log(principal)
    verdict = verify_log(session, signer.verifier)
    trail.record(session, principal, Action.VERIFY_AUDIT_LOG, detail=verdict_code(verdict))
    return verdict


def verdict_code(verdict: Verdict) -> str:
    """The verdict as the log keeps it: ``valid``, or ``invalid`` and the first bad seq (so
    the journal's home can say where the chain broke without verifying it again)."""
    if verdict.valid:
        return VALID
    return INVALID if verdict.first_bad_seq is None else f"{INVALID}:{verdict.first_bad_seq}"


VALID = "valid"
INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class LastVerdict:
    """Where the log stands, read without verifying it: its size, the latest signed
    checkpoint, the latest verification's verdict (its event: when, by whom, what it found)."""

    events: int
    checkpoint: repository.CheckpointSeen | None
    verified_at: datetime | None
    verified_by: int | None  # the account that ran it (None: the operator, on the CLI)
    valid: bool | None  # None: never verified (or that event unreadable)
    first_bad_seq: int | None


def last_verdict(session: Session, *, principal: Principal) -> LastVerdict:
    """The journal's heading. Verifying re-reads and re-hashes the whole log (minutes on a
    big one), so the home shows the latest stored verdict and the auditor runs a new one with
    a button (``verification``). Part of the journal's read, which the caller logs."""
    decisions.require_audit_log(principal)
    last = repository.last_event_of(session, Action.VERIFY_AUDIT_LOG.value)
    event = shown(*last) if last else None
    valid: bool | None = None
    first_bad: int | None = None
    at: datetime | None = None
    by: int | None = None
    if event is not None and not event["unreadable"]:
        code, _, seq = (event["detail"] or "").partition(":")
        valid = True if code == VALID else False if code == INVALID else None
        first_bad = int(seq) if seq.isdigit() else None
        at = datetime.fromisoformat(str(event["at"]))
        by = event["actor_id"]
    return LastVerdict(
        events=repository.head_seq(session),
        checkpoint=repository.last_checkpoint(session),
        verified_at=at,
        verified_by=by,
        valid=valid if at else None,
        first_bad_seq=first_bad,
    )


# --- an export for an inspection ------------------------------------------------------------

# The export's columns, fixed: what an inspection needs to follow the log (ids and codes, the
# case's reference, the hash that ties each line to the chain). Left out: the client's
# address (a professional's IP address, personal data an inspection does not need to read the
# log) and the request id (a technical correlation key); no account name either, only its id
# (an account name often is a professional's name: the inspection asks the directory).
EXPORT_COLUMNS = (
    "seq",
    "at",
    "actor_id",
    "actor_role",
    "actor_organisation",
    "action",
    "case_id",
    "case_reference",
    "blocks",
    "outcome",
    "severity",
    "detail",
    "hash",
    "unreadable",
)
EXPORT_BATCH = 1000


def start_export(session: Session, *, principal: Principal, where: EventFilter) -> int:
    """An auditor's export of the events of a period: the charter's decision, and its own
    event (in the request's transaction: committed before a line is sent), which names the
    snapshot exported (``up_to:<seq>``). Returns that snapshot's last seq: the export reads
    no event appended after it, its own included."""
    decisions.require_audit_log(principal)
    up_to = repository.head_seq(session)
    trail.record(session, principal, Action.EXPORT_AUDIT_EVENTS, detail=f"up_to:{up_to}")
    return up_to


def export_rows(session: Session, *, where: EventFilter, up_to: int) -> Iterator[dict[str, str]]:
    """The events of ``where`` up to ``up_to``, oldest first, a batch at a time (a read
    only: the caller ran ``start_export``), each a row of ``EXPORT_COLUMNS``."""
    after = 0
    while True:
        rows = repository.find_events(
            session, where=where, after_seq=after, limit=EXPORT_BATCH, up_to=up_to
        )
        items = [shown(*row) for row in rows]
        references = cases.references_of(
            session, {item["case_id"] for item in items if item["case_id"]}
        )
        for item in items:
            yield _export_row(item, references)
        if len(rows) < EXPORT_BATCH:
            return
        after = rows[-1].seq


def export_csv(factory: sessionmaker[Session], *, where: EventFilter, up_to: int) -> Iterator[str]:
    """The export as CSV text, a batch of lines at a time, read in a session of its own: the
    request's session has committed (and so logged the export) before the first line is sent,
    and a streamed body outlives it. A read only: nothing is written."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    with factory() as session:
        for number, row in enumerate(export_rows(session, where=where, up_to=up_to), 1):
            writer.writerow(row)
            if number % EXPORT_BATCH == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        session.rollback()
    yield out.getvalue()


def _export_row(item: dict[str, Any], references: dict[uuid.UUID, str]) -> dict[str, str]:
    case_id = item["case_id"]
    reference = references.get(uuid.UUID(str(case_id)), "") if case_id else ""
    values = {**item, "case_reference": reference, "blocks": " ".join(item["blocks"])}
    return {name: "" if values[name] is None else str(values[name]) for name in EXPORT_COLUMNS}


def _page(
    session: Session, where: EventFilter, limit: int, cursor: str | None, order: Order = "asc"
) -> EventPage:
    limit = max(1, min(limit, MAX_PAGE))
    rows = repository.find_events(
        session,
        where=where,
        after_seq=_decode_cursor(cursor, order),
        limit=limit + 1,
        order=order,
    )
    items = [shown(*row) for row in rows[:limit]]
    next_cursor = _encode_cursor(rows[limit - 1].seq, order) if len(rows) > limit else None
    return EventPage(items, next_cursor)


def shown(seq: int, body: object, digest: object) -> dict[str, Any]:
    """An event as its hashed bytes say it, flattened for reading.

    A row that holds no event (a body that is not a canonical event, a hash that is not 32
    bytes: written outside the service) is shown as a placeholder at its seq, saying what is
    wrong and nothing it holds: the reader still gets the rest of the log, and the verifier
    reports the row. Whether the bytes match the hash, and the chain, are the verifier's to
    check (``GET /audit/verification``), not a reader's."""
    try:
        if not isinstance(digest, bytes) or len(digest) != 32:
            raise Malformed(f"its hash is {hash_problem(digest)}")
        document = decode(body)
    except Malformed as error:
        return {**_UNREADABLE, "seq": seq, "unreadable": str(error)}
    actor = document.pop("actor")
    document.pop("prev")
    return {
        **document,
        "actor_id": actor["id"],
        "actor_role": actor["role"],
        "actor_organisation": actor["organisation"],
        "hash": digest.hex(),
        "unreadable": None,
    }


# What a reader gets of an event it cannot read, besides its seq and what is wrong.
_UNREADABLE: dict[str, Any] = dict.fromkeys(
    (
        "at",
        "actor_id",
        "actor_role",
        "actor_organisation",
        "action",
        "case_id",
        "outcome",
        "severity",
        "detail",
        "request_id",
        "client",
        "hash",
    )
) | {"blocks": []}


# A cursor says which way it goes: a page of one order does not continue the other.
_CURSOR_PREFIX: dict[str, str] = {"asc": "after", "desc": "before"}


def _encode_cursor(seq: int, order: Order = "asc") -> str:
    raw = f"{_CURSOR_PREFIX[order]}:{seq}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, order: Order = "asc") -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, seq = raw.split(":")
        if prefix != _CURSOR_PREFIX[order] or not seq.isdigit() or len(seq) > MAX_SEQ_DIGITS:
            raise ValueError(cursor)
        return int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput(
            "The cursor is not one this service gave; start again without it.",
            slug="invalid-cursor",
        ) from error


def case_events(session: Session, *, case_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every event about one case, for a caller already authorised (the subject-access export)."""
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        rows = repository.find_events(
            session, where=EventFilter(case_id=case_id), after_seq=after, limit=1000
        )
        items += [shown(*row) for row in rows]
        if len(rows) < 1000:
            return items
        after = rows[-1].seq
