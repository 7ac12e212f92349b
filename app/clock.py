"""The service's notion of "today": the cells work on Paris calendar days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends

PARIS = ZoneInfo("Europe/Paris")


def today() -> date:
    return datetime.now(PARIS).date()


# The day a request is handled on, as a dependency (so that tests could pin it).
Today = Annotated[date, Depends(today)]


def now() -> datetime:
    """The instant a request is handled at (UTC), as a dependency: a limit counted over the
    last hour reads it, so that tests can pin it."""
    return datetime.now(UTC)


Now = Annotated[datetime, Depends(now)]


def start_of_day(day: date) -> datetime:
    """The instant a Paris calendar day begins (a day's bound for instants stored in UTC)."""
    return datetime.combine(day, time(0, 0), tzinfo=PARIS)


def overdue_before(on: date, days: int) -> datetime:
    """A deadline ``days`` after something done: it is past on ``on`` for what was done
    before this instant (more than ``days`` whole Paris days ago). The worklist and the
    feedback reminders count a service's feedback overdue by this one rule."""
    return start_of_day(on - timedelta(days=days))
