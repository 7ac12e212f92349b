from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel

from app.policy.visibility import Block
from app.schemas import RowId, StrictInput
from app.workflow.states import CaseState


class MeetingCreate(StrictInput):
    cell_id: RowId
    held_on: date


class AgendaCaseIn(StrictInput):
    case_id: uuid.UUID


class PersonShown(BaseModel):
    """The identity shown at the meeting, where the charter allows it (R7, R12, R13)."""

    last_name: str
    first_name: str
    birth_date: date


class AgendaItem(BaseModel):
    """A case of the agenda, listed only if the charter shows the reader something of it now,
    and then as a direct read shows it: its state, and the identity where the charter allows
    it (``withheld`` names what is not shown, R16)."""

    case_id: uuid.UUID
    reference: str
    state: CaseState
    minor: PersonShown | None
    withheld: list[Block]


class NotRetainedItem(BaseModel):
    """R7: the parquet presents the situations it did not retain: identity and the mark only,
    to those attending on the meeting's day; on another day, what the charter shows."""

    case_id: uuid.UUID
    reference: str
    minor: PersonShown | None
    not_retained: bool = True
    withheld: list[Block]


class MeetingRead(BaseModel):
    id: uuid.UUID
    cell_id: int
    held_on: date
    agenda: list[AgendaItem]
    not_retained: list[NotRetainedItem]
