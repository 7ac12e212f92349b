"""Pure helpers on a minor's identity: the duplicate-matching key and the age bracket."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from app.workflow.guards import age_on

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise_name(name: str) -> str:
    """Case, accents, hyphens and spacing do not distinguish two names ("Zoé-Lou" = "zoe lou")."""
    decomposed = unicodedata.normalize("NFKD", name)
    without_marks = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_ALNUM.sub(" ", without_marks.casefold()).strip()


def match_key(last_name: str, first_name: str, birth_date: date) -> str:
    return f"{normalise_name(last_name)}|{normalise_name(first_name)}|{birth_date.isoformat()}"


# Brackets kept with the statistical skeleton (R19) instead of the birth date.
AGE_BRACKETS: tuple[tuple[int, int], ...] = (
    (0, 9),
    (10, 12),
    (13, 15),
    (16, 17),
    (18, 21),
    (22, 25),
)


def age_bracket(birth_date: date, on: date) -> str:
    age = age_on(birth_date, on)
    for low, high in AGE_BRACKETS:
        if low <= age <= high:
            return f"{low}-{high}"
    return "26+"
