from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.cases.models import Case
from app.meetings.models import Meeting


def next_meeting(session: Session, *, cell_id: int, on_or_after: date) -> Meeting | None:
    query = (
        select(Meeting)
        .where(Meeting.cell_id == cell_id, Meeting.held_on >= on_or_after)
        .order_by(Meeting.held_on, Meeting.created_at)
        .limit(1)
    )
    return session.scalar(query)


def meetings_of_cells(
    session: Session, *, cell_ids: Collection[int], limit: int
) -> Sequence[Meeting]:
    """The meetings of these cells, the latest first."""
    if not cell_ids:
        return []
    query = (
        select(Meeting)
        .where(Meeting.cell_id.in_(cell_ids))
        .order_by(Meeting.held_on.desc(), Meeting.created_at.desc())
        .limit(limit)
    )
    return session.scalars(query).all()


def agenda_sizes(session: Session, *, meeting_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many cases each of these meetings has on its agenda (absent: none)."""
    if not meeting_ids:
        return {}
    query = (
        select(Case.meeting_id, func.count())
        .where(Case.meeting_id.in_(meeting_ids))
        .group_by(Case.meeting_id)
    )
    return {meeting_id: int(n) for meeting_id, n in session.execute(query) if meeting_id}


def awaiting_examination(
    session: Session, *, cell_id: int, states: Collection[str], limit: int
) -> Sequence[Case]:
    """The cell's cases in a state the examination at a meeting starts from, the oldest
    received first, with what the charter's decisions and the identity shown need."""
    query = (
        select(Case)
        .where(Case.cell_id == cell_id, Case.state.in_(states))
        .order_by(Case.received_on, Case.id)
        .limit(limit)
        .options(
            selectinload(Case.personal),
            selectinload(Case.orientations),
            selectinload(Case.research_notes),
            selectinload(Case.key),
            selectinload(Case.transfers),
        )
    )
    return session.scalars(query).all()
