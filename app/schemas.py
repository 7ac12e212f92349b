"""Building blocks shared by the request and response schemas."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from app.text import has_letter, normalise_line

_ALLOWED_IN_TEXT = {"\n", "\t"}


class StrictInput(BaseModel):
    """Request bodies refuse unknown fields: a typo or an extra field is a 422, never ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _clean_line(value: str) -> str:
    """One line: no control character at all; invisible characters (zero-width, bidi
    controls) removed, spaces collapsed, NFC (``app.text.normalise_line``); not empty then."""
    _refuse_controls(value, allowed=set())
    line = normalise_line(value)
    if not line:
        raise PydanticCustomError(
            "string_too_short", "give a visible value: invisible characters do not count"
        )
    return line


def _clean_name(value: str) -> str:
    """A person's name: a line cleaned as above, holding at least one letter (any script)."""
    _refuse_controls(value, allowed=set())
    name = normalise_line(value)
    if not has_letter(name):
        raise PydanticCustomError(
            "name_without_letter", "a name must hold at least one letter (of any script)"
        )
    return name


def _clean_text(value: str) -> str:
    """NFC; line breaks and tabs allowed, other control characters refused."""
    return _clean(value, allowed=_ALLOWED_IN_TEXT)


def _clean(value: str, *, allowed: set[str]) -> str:
    _refuse_controls(value, allowed=allowed)
    return unicodedata.normalize("NFC", value)


def _refuse_controls(value: str, *, allowed: set[str]) -> None:
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in value):
        # A type of its own, so that a form can say what is wrong in its own words.
        raise PydanticCustomError("control_characters", "control characters are not allowed")


def _at_least_words(value: str, words: int) -> str:
    if len(value.split()) < words:
        raise PydanticCustomError(
            "too_few_words",
            "give the reason in a sentence (at least {words} words)",
            {"words": words},
        )
    return value


def _line(max_length: int) -> object:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


# Ids as the database stores them (32-bit integers): a larger one is refused (422), not sent to
# the database to overflow there. Bodies use RowId; query parameters bound themselves with it.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]

# People's names: the blind index folds them further (app.crypto.blind_index).
Name = Annotated[str, _line(100), AfterValidator(_clean_name)]
Address = Annotated[str, _line(300), AfterValidator(_clean_line)]
School = Annotated[str, _line(200), AfterValidator(_clean_line)]
# The name of an organisation (a partner service), never of a person.
OrganisationName = Annotated[str, _line(160), AfterValidator(_clean_line)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 .()-]{6,25}$")]
# R20: the free-text account is optional and bounded.
FactsText = Annotated[str, _line(2000), AfterValidator(_clean_text)]
NoteText = Annotated[str, _line(4000), AfterValidator(_clean_text)]

# R17: a reason is at least a sentence: some words, not a code.
ReasonText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=20, max_length=1000),
    AfterValidator(_clean_text),
    AfterValidator(lambda v: _at_least_words(v, 4)),
]


def utc_instant(value: datetime) -> datetime:
    """An instant given with its time zone, in UTC. Refused (a ValueError, so a 422): one
    without a time zone (which instant would it be?), and one whose UTC form falls outside
    the calendar (0001-01-01T00:00+01:00), which would overflow further on."""
    if value.utcoffset() is None:
        raise PydanticCustomError(
            "timezone_required", "give the time zone (for instance 2026-11-26T09:00:00Z)"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_out_of_range", "this instant is outside the calendar in UTC"
        ) from None


# A query's instant (the audit log's since and until).
Instant = Annotated[datetime, AfterValidator(utc_instant)]
