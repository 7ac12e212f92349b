from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

UNREADABLE_FIELDS = "null when the event is unreadable"


class AuditEventRead(BaseModel):
    """One event as its hashed bytes say it: ids and codes only. An event whose stored row
    holds no event is listed at its seq with ``unreadable`` saying why, its other fields null
    (and ``blocks`` empty): the verification reports it."""

    seq: int
    at: datetime | None = Field(description=UNREADABLE_FIELDS)
    actor_id: int | None
    actor_role: str | None
    actor_organisation: str | None
    action: str | None = Field(description=UNREADABLE_FIELDS)
    case_id: uuid.UUID | None
    blocks: list[str]
    outcome: str | None = Field(description=UNREADABLE_FIELDS)
    severity: str | None = Field(description=UNREADABLE_FIELDS)
    detail: str | None = Field(
        description="A code: the step fired, the refusal's problem type, an id it concerns"
    )
    request_id: str | None
    client: str | None
    hash: str | None = Field(
        description="SHA-256 of the event's canonical bytes, hex (" + UNREADABLE_FIELDS + ")"
    )
    unreadable: str | None = Field(
        None,
        description="Why the event's stored row cannot be read (for instance 'its body is not "
        "JSON'); null for every event that can",
    )


class AuditEventPage(BaseModel):
    items: list[AuditEventRead]
    next_cursor: str | None


class VerificationRead(BaseModel):
    valid: bool
    events: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None
    checkpoints: int = Field(description="Signed checkpoints the log was checked against")
