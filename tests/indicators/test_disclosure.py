"""The disclosure control's rules on hand-counted examples (the expected answers are worked
out here by hand, not by the code), and the one-case window of the hostile review."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from app.clock import today
from app.config import Settings
from app.indicators.disclosure import (
    SECONDARY,
    UNDER_THRESHOLD,
    Control,
    control_for,
    protect_breakdown,
    spans_a_calendar_month,
)
from app.vocabulary import Role
from tests.conftest import World
from tests.scenario import ok, submit

U, S = UNDER_THRESHOLD, SECONDARY


@pytest.mark.parametrize(
    ("values", "total", "withheld"),
    [
        # Nothing small: nothing withheld.
        ({"a": 10, "b": 6, "c": 0}, 16, {}),
        # One small value: the smallest other non-zero one goes with it (6 + 3 >= 5).
        ({"a": 10, "b": 6, "c": 3, "d": 0}, 19, {"b": S, "c": U}),
        # Two small values adding to less than 5: a third, so that together they hold 5.
        ({"a": 7, "b": 2, "c": 1, "d": 0}, 10, {"a": S, "b": U, "c": U}),
        # Two small values adding to 5 or more: enough as they are.
        ({"a": 9, "b": 3, "c": 2}, 14, {"b": U, "c": U}),
        # A small total: every value of its breakdown, zeros included.
        ({"a": 3, "b": 0, "c": 1}, 4, {"a": U, "b": S, "c": U}),
        # A total of zero: nothing to hide.
        ({"a": 0, "b": 0}, 0, {}),
        # No published total (a situation counts once per motif): the small values only.
        ({"a": 3, "b": 9, "c": 0}, None, {"a": U}),
        # The threshold pinned on both sides: 4 is small, 5 is not.
        ({"a": 4, "b": 20}, None, {"a": U}),
        ({"a": 5, "b": 20}, None, {}),
    ],
)
def test_a_breakdown_is_protected_as_counted_by_hand(
    values: dict[str, int], total: int | None, withheld: dict[str, str]
) -> None:
    assert protect_breakdown(values, 5, total) == withheld


@pytest.mark.parametrize(
    ("first", "last", "spans"),
    [
        (date(2026, 1, 1), date(2026, 1, 31), True),
        (date(2026, 1, 1), date(2026, 1, 30), False),
        (date(2026, 3, 15), date(2026, 4, 14), True),
        (date(2026, 3, 15), date(2026, 4, 13), False),
        (date(2026, 1, 31), date(2026, 2, 27), True),  # to 28 February, the month's end
        (date(2026, 1, 31), date(2026, 2, 26), False),
        (date(2026, 5, 7), date(2026, 5, 7), False),
        (date(9999, 12, 1), date(9999, 12, 31), False),  # no month after the calendar's end
    ],
)
def test_a_period_spans_a_calendar_month_or_not(first: date, last: date, spans: bool) -> None:
    assert spans_a_calendar_month(first, last) is spans


def test_who_gets_exact_counts_and_at_what_threshold() -> None:
    a_month = {"first": date(2026, 1, 1), "last": date(2026, 1, 31)}
    a_day = {"first": date(2026, 1, 1), "last": date(2026, 1, 1)}
    assert control_for(exact_reader=True, min_count=5, mask_under=None, **a_day) == Control(None)
    assert control_for(exact_reader=True, min_count=5, mask_under=3, **a_day) == Control(3)
    assert control_for(exact_reader=False, min_count=5, mask_under=3, **a_month) == Control(5)
    assert control_for(exact_reader=False, min_count=5, mask_under=8, **a_month) == Control(8)
    assert control_for(exact_reader=False, min_count=7, mask_under=None, **a_day) == Control(
        7, portraits=False
    )


def test_the_threshold_is_never_under_three() -> None:
    assert Settings(indicators_min_count=3).indicators_min_count == 3
    with pytest.raises(ValidationError):
        Settings(indicators_min_count=2)


def _one_day(world: World, who: str, on: date) -> dict[str, Any]:
    params = {"cell_id": world.cell.id, "from": on.isoformat(), "to": on.isoformat()}
    body: dict[str, Any] = ok(world.as_(who).get("/indicators", params=params))
    return body


def test_a_one_day_window_on_one_cell_no_longer_portrays_a_child(world: World) -> None:
    """The review's finding: the steering committee and the auditor read one case's motifs,
    sex, age bracket and origin over a one-day window."""
    world.add_user("steering", Role.STEERING, cells=[])
    submit(world, received_days_ago=0)
    on = today()
    exact = _one_day(world, "coordinator", on)
    assert (exact["signalements"], exact["by_origin"]["police"], exact["by_sex"]["F"]) == (1, 1, 1)
    assert exact["suppressed"] == {}
    for who in ("steering", "auditor"):
        seen = _one_day(world, who, on)
        assert seen["signalements"] is None
        # A total of one: every breakdown of it is withheld, its zeros too.
        assert [
            (name, value)
            for name in ("by_origin", "by_motif", "by_sex", "by_age_bracket")
            for value, n in seen[name].items()
            if n is not None
        ] == []
        assert seen["suppressed"]["by_origin.education"] == "secondary"
        assert seen["suppressed"]["signalements"] == "under_threshold"
        assert seen["suppressed"]["by_sex.F"] == "short_period"
        assert seen["suppressed"]["by_origin.police"] == "under_threshold"


def test_the_threshold_is_pinned_on_both_sides_through_the_api(world: World) -> None:
    world.add_user("steering", Role.STEERING, cells=[])
    for _ in range(4):
        submit(world, received_days_ago=0)
    month = {"cell_id": world.cell.id, "from": (today() - timedelta(days=40)).isoformat()}
    four = ok(world.as_("steering").get("/indicators", params=month))
    assert (four["signalements"], four["suppressed"]["signalements"]) == (None, "under_threshold")
    submit(world, received_days_ago=0)
    five = ok(world.as_("steering").get("/indicators", params=month))
    assert five["signalements"] == 5
    assert "signalements" not in five["suppressed"]
    # Five from the police, none from elsewhere: nothing small, nothing withheld.
    assert five["by_origin"]["police"] == 5
