from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.meetings.models import Meeting


def next_meeting(session: Session, *, cell_id: int, on_or_after: date) -> Meeting | None:
    query = (
        select(Meeting)
        .where(Meeting.cell_id == cell_id, Meeting.held_on >= on_or_after)
        .order_by(Meeting.held_on, Meeting.created_at)
        .limit(1)
    )
    return session.scalar(query)
