from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class AuditEventRead(BaseModel):
    """One event as its hashed bytes say it: ids and codes only."""

    seq: int
    at: datetime
    actor_id: int | None
    actor_role: str | None
    actor_organisation: str | None
    action: str
    case_id: uuid.UUID | None
    blocks: list[str]
    outcome: str
    severity: str
    detail: str | None = Field(
        description="A code: the step fired, the refusal's problem type, an id it concerns"
    )
    request_id: str | None
    client: str | None
    hash: str = Field(description="SHA-256 of the event's canonical bytes, hex")


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
