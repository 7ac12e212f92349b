"""Statistical disclosure control of the indicators: no figure tells about one child.

A count of one to a few minors over a cell and a short period points at those minors: with a
one-day window on one cell, the breakdowns gave one case's motifs, sex, age and origin. So for
every reader who may not read the cases themselves (the steering committee, the auditors),
counts of persons are protected; a coordinator reading a cell they coordinate sees exact
counts (they read those cases anyway). Counts of meetings are not counts of persons.

The rules, for a threshold ``n`` (``CENOMED_INDICATORS_MIN_COUNT``, 5 by default, never under
3; a publication's ``mask_under`` may raise it, and applies to any reader):

1. *Primary suppression*: a count of persons from 1 to ``n - 1`` is withheld. Zeros are shown.
2. *A small total hides its breakdowns*: when a total is withheld, every value of the
   breakdowns that add up to it is withheld too, zeros included (otherwise "0 girls" of
   a total under ``n`` would say that every one of those few children is a boy).
3. *Secondary suppression*: in a breakdown that adds up to a published total (signalements
   by origin, sex and age; orientations by destination), a withheld value could be worked out
   by subtraction. So more values are withheld, the smallest non-zero first, until at least
   two are withheld and together they hold at least ``n`` persons: then no withheld value can
   be recovered, and together they are no small group either.
4. *A short period shows no portrait*: over less than one calendar month, the breakdowns by
   sex, age and motif are withheld entirely.
5. A median of fewer than ``n`` cases is withheld (it would describe those few cases).

This module is pure (numbers in, decisions out): :mod:`app.indicators.service` applies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from app.workflow.guards import add_calendar_months

DEFAULT_MIN_COUNT = 5
LOWEST_MIN_COUNT = 3

# Why a value is withheld.
UNDER_THRESHOLD = "under_threshold"  # rule 1 (and 5)
SECONDARY = "secondary"  # rules 2 and 3: to protect a small value elsewhere
SHORT_PERIOD = "short_period"  # rule 4


@dataclass(frozen=True, slots=True)
class Control:
    """What protection a reading gets: ``threshold`` None for exact counts."""

    threshold: int | None
    portraits: bool = True  # False: the period is too short for the breakdowns of rule 4


def control_for(
    *, exact_reader: bool, min_count: int, mask_under: int | None, first: date, last: date
) -> Control:
    """The protection of one reading (see the module's rules)."""
    if exact_reader:
        return Control(mask_under)
    threshold = max(min_count, mask_under or 0)
    return Control(threshold, portraits=spans_a_calendar_month(first, last))


def spans_a_calendar_month(first: date, last: date) -> bool:
    """Whether the inclusive period ``first``..``last`` covers at least one calendar month
    (1 to 31 January does; 1 to 30 January does not; 31 January to 28 February does)."""
    try:
        return last + timedelta(days=1) >= add_calendar_months(first, 1)
    except (ValueError, OverflowError):  # at the calendar's end: a month cannot fit
        return False


def small(value: int, threshold: int) -> bool:
    return 0 < value < threshold


def protect_breakdown(
    values: Mapping[str, int], threshold: int, total: int | None
) -> dict[str, str]:
    """The values of one breakdown to withhold, and why (rules 1 to 3). ``total`` is the
    published total the values add up to (None: they add up to nothing published)."""
    withheld = {key: UNDER_THRESHOLD for key, n in values.items() if small(n, threshold)}
    if total is None:
        return withheld
    if small(total, threshold):
        return {key: withheld.get(key, SECONDARY) for key in values}
    if withheld:
        candidates = sorted((n, key) for key, n in values.items() if n and key not in withheld)
        while candidates and (
            len(withheld) < 2 or sum(values[key] for key in withheld) < threshold
        ):
            _, key = candidates.pop(0)
            withheld[key] = SECONDARY
    return withheld
