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
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.audit import repository, trail
from app.audit.chain import Malformed, Verdict, decode, hash_problem
from app.audit.checkpoint import Signer, verify_log
from app.audit.repository import EventFilter
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
    session: Session, *, principal: Principal, where: EventFilter, limit: int, cursor: str | None
) -> EventPage:
    decisions.require_audit_log(principal)
    page = _page(session, where, limit, cursor)
    trail.record(session, principal, Action.READ_AUDIT_EVENTS, case_id=where.case_id)
    return page


def access_log(
    session: Session, *, principal: Principal, case_id: uuid.UUID, limit: int, cursor: str | None
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
        decisions.require_in_cell(principal, "read_access_log", cell_id, "read a case's access log")
    page = _page(session, EventFilter(case_id=case_id), limit, cursor)
    trail.record(session, principal, Action.READ_ACCESS_LOG, case_id=case_id)
    return page


def verification(session: Session, *, principal: Principal, signer: Signer) -> Verdict:
    """The verifier's verdict (the stored checkpoints checked with the service's public key)."""
    decisions.require_audit_log(principal)
    verdict = verify_log(session, signer.verifier)
    trail.record(
        session, principal, Action.VERIFY_AUDIT_LOG, detail="valid" if verdict.valid else "invalid"
    )
    return verdict


def _page(session: Session, where: EventFilter, limit: int, cursor: str | None) -> EventPage:
    limit = max(1, min(limit, MAX_PAGE))
    rows = repository.find_events(
        session, where=where, after_seq=_decode_cursor(cursor), limit=limit + 1
    )
    items = [shown(*row) for row in rows[:limit]]
    next_cursor = _encode_cursor(rows[limit - 1].seq) if len(rows) > limit else None
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


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"after:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, seq = raw.split(":")
        if prefix != "after" or not seq.isdigit() or len(seq) > MAX_SEQ_DIGITS:
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
