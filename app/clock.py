"""The service's notion of "today": the cells work on Paris calendar days."""

from __future__ import annotations

from datetime import UTC, date, datetime
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
