from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from pydantic import BaseModel

from app.meetings.schemas import StartTime
from app.workflow.states import CaseState


class WorkKind(StrEnum):
    """What an item asks of its reader (or tells them), by role."""

    # coordinator
    REFER_TO_PARQUET = "refer_to_parquet"
    AWAITING_AUTHOR = "awaiting_author"
    READY_FOR_MEETING = "ready_for_meeting"
    INFORM_FAMILY = "inform_family"
    TRANSMIT = "transmit"
    FEEDBACK_OVERDUE = "feedback_overdue"
    ANSWER_TRANSFER = "answer_transfer"
    ARCHIVE_ACCESS_EXPIRING = "archive_access_expiring"
    NEXT_MEETING = "next_meeting"
    MEETING_TO_CLOSE = "meeting_to_close"
    # parquet
    DECIDE_REFERRAL = "decide_referral"
    # member
    COMPLETE_SIGNALEMENT = "complete_signalement"
    OWN_SIGNALEMENT = "own_signalement"
    IN_RESEARCH = "in_research"
    MEETING = "meeting"
    # cst
    AWAITING_FEEDBACK = "awaiting_feedback"


class WorkItem(BaseModel):
    """One thing that awaits the reader: a case (its reference and state, as the charter shows
    them) or a meeting, the day it became due, and whether that day has passed."""

    kind: WorkKind
    case_id: uuid.UUID | None = None
    reference: str | None = None
    state: CaseState | None = None
    meeting_id: uuid.UUID | None = None
    held_on: date | None = None
    starts_at: StartTime | None = None
    due_on: date
    overdue: bool = False
    # Days since it became due (the parquet's referrals: their age).
    age_days: int = 0
    # A count the item carries (a meeting: the cases it could still examine).
    count: int | None = None


class Worklist(BaseModel):
    """The caller's items, by kind in the order of the procedure; ``counts`` per kind (the
    navigation's badges); ``truncated`` names the kinds that had more than were listed."""

    items: list[WorkItem]
    counts: dict[WorkKind, int]
    truncated: list[WorkKind]
