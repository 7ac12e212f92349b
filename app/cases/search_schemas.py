"""The bodies of ``POST /cases/search``: the minor's full identity in, the cases found out.

The terms travel in the body only (never in a URL, so never in an access log or a browser's
history), and are validated as the signalement's own names are (``app.schemas.Name``: no
control character, invisible characters removed, at least one letter). A search is exact:
wildcard characters are refused rather than taken literally, so that nobody believes a partial
name could find anything.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel
from pydantic_core import PydanticCustomError

from app.cases.schemas import CaseRead
from app.schemas import Name, StrictInput

# What a search box elsewhere would read as "anything": refused, never matched literally.
WILDCARDS = frozenset("*%?_")


def _no_wildcard(value: str) -> str:
    if any(c in WILDCARDS for c in value):
        raise PydanticCustomError(
            "wildcard_not_allowed",
            "give the full name: a search is exact, without wildcard characters (* % ? _)",
        )
    return value


SearchName = Annotated[Name, AfterValidator(_no_wildcard)]


class CaseSearch(StrictInput):
    """The minor's full identity, as the signalement gave it: matched after normalisation
    (case, accents, spacing, hyphens, invisible characters), never partially."""

    last_name: SearchName
    first_name: SearchName
    birth_date: date


class CaseSearchResults(BaseModel):
    """The cases found, newest first, each exactly as ``GET /cases`` lists it: the blocks the
    charter lets the caller see (``withheld`` naming the others), or for a closed case the
    archive's index entry (reference, state, dates, closure reason; every block withheld)."""

    count: int
    items: list[CaseRead]
