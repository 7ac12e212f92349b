from __future__ import annotations

import re
import uuid
from datetime import date, time
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer
from pydantic_core import PydanticCustomError

from app.policy.visibility import Block
from app.schemas import MAX_ROW_ID, RowId, StrictInput
from app.vocabulary import (
    Destination,
    FeedbackOutcome,
    MeetingStatus,
    Organisation,
    ReorientedTo,
    ReviewDecision,
    Role,
)
from app.workflow.states import CaseState

_HH_MM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def _hh_mm(value: object) -> object:
    """A start time is written ``HH:MM`` (24 h), nothing else: no seconds, no zone."""
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not _HH_MM.match(value):
        raise PydanticCustomError("time_hh_mm", "write the time as HH:MM, for instance 14:30")
    return time.fromisoformat(value)


StartTime = Annotated[
    time,
    BeforeValidator(_hh_mm),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    Field(json_schema_extra={"type": "string", "pattern": _HH_MM.pattern, "format": None}),
]
# Where the cell meets: the service checks it (app.meetings.rules.clean_place: one line, at
# most 200 characters), each refusal with its own problem type; the schema bounds the body.
MeetingPlace = Annotated[
    str,
    Field(
        max_length=4096,
        description="Where the cell meets: one line of at most 200 characters (a room, a "
        "service's address; never a person)",
    ),
]
# The most cases an agenda holds, and people a cell has: beyond, a body is not a real one.
AGENDA_MAX = 200
PARTICIPANTS_MAX = 200


class MeetingCreate(StrictInput):
    cell_id: RowId
    held_on: date
    starts_at: StartTime
    place: MeetingPlace


class MeetingChange(StrictInput):
    """A rescheduling (JSON merge patch): the fields sent change, the others stay."""

    held_on: date | None = None
    starts_at: StartTime | None = None
    place: MeetingPlace | None = None


class AgendaCaseIn(StrictInput):
    case_id: uuid.UUID


class AgendaOrderIn(StrictInput):
    """The agenda's cases in the order the cell will examine them: each case of the agenda
    once, and no other."""

    case_ids: list[uuid.UUID] = Field(min_length=1, max_length=AGENDA_MAX)


class AttendanceIn(StrictInput):
    """The participants who attended (account ids); every other participant was absent."""

    attended: list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] = Field(max_length=PARTICIPANTS_MAX)


class PersonShown(BaseModel):
    """The identity shown at the meeting, where the charter allows it (R7, R12, R13)."""

    last_name: str
    first_name: str
    birth_date: date


class OrientationShown(BaseModel):
    """A destination the cell decided, the service it names, and what became of it, as far
    as the charter shows the reader the orientation and the feedback blocks."""

    id: uuid.UUID
    destination: Destination
    service: str | None
    transmitted_on: date | None
    feedback: FeedbackOutcome | None = None
    reoriented_to: ReorientedTo | None = None
    feedback_on: date | None = None


class AgendaItem(BaseModel):
    """A case of the agenda, listed only if the charter shows the reader something of it now,
    and then as a direct read shows it: its state, the identity where the charter allows it,
    the cell's decision and orientations where it shows them (``withheld`` names what is not
    shown, R16). A case closed or destroyed since is listed for the record, as its reference
    and its state only."""

    case_id: uuid.UUID
    reference: str
    position: int | None = None
    state: CaseState
    minor: PersonShown | None
    decision: ReviewDecision | None = None
    orientations: list[OrientationShown] = []
    withheld: list[Block]


class NotRetainedItem(BaseModel):
    """R7: the parquet presents the situations it did not retain: identity and the mark only,
    to those attending on the meeting's day; on another day, what the charter shows."""

    case_id: uuid.UUID
    reference: str
    minor: PersonShown | None
    not_retained: bool = True
    destroyed: bool = False
    withheld: list[Block]


class FeedbackItem(BaseModel):
    """Step 6: an orientation transmitted to a service, whose feedback the meeting expects
    (``feedback`` empty) or received since the cell's previous meeting."""

    case_id: uuid.UUID
    reference: str
    state: CaseState
    orientation: OrientationShown | None
    withheld: list[Block]


class ParticipantRead(BaseModel):
    """A member of the cell invited to the meeting (an account, never a minor)."""

    user_id: int
    username: str
    role: Role
    organisation: Organisation
    attended: bool | None


class MeetingRead(BaseModel):
    id: uuid.UUID
    cell_id: int
    held_on: date
    starts_at: StartTime | None
    place: str | None
    status: MeetingStatus
    agenda: list[AgendaItem]
    not_retained: list[NotRetainedItem]
    feedback: list[FeedbackItem]
    participants: list[ParticipantRead]
    attendance_recorded: bool


class MeetingSummary(BaseModel):
    """A meeting in a list: when, where, its status and how many cases its agenda holds."""

    id: uuid.UUID
    cell_id: int
    held_on: date
    starts_at: StartTime | None
    place: str | None
    status: MeetingStatus
    agenda_size: int


class MeetingPage(BaseModel):
    items: list[MeetingSummary]
    next_cursor: str | None
