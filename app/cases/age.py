"""The age bracket kept with the statistical skeleton (R19) instead of the birth date."""

from __future__ import annotations

from datetime import date

from app.workflow.guards import age_on

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
