"""The service's notion of "today": the cells work on Paris calendar days."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends

PARIS = ZoneInfo("Europe/Paris")


def today() -> date:
    return datetime.now(PARIS).date()


# The day a request is handled on, as a dependency (so that tests could pin it).
Today = Annotated[date, Depends(today)]
