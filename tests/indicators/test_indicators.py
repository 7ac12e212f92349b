"""The indicators of a population built through the API equal the counts made here from what
was built: per cell for its coordinator, per cell and Paris-wide for steering and the auditors,
over several periods (each step counted on its own day), as JSON and as CSV, masked or not."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from app.clock import today
from app.indicators.disclosure import spans_a_calendar_month
from app.indicators.service import AGE_BRACKET_LABELS
from tests.conftest import World
from tests.indicators.population import (
    ALL_BRACKETS,
    SPECS,
    build,
    day,
    expected,
    median_sizes,
    year_ago,
)
from tests.indicators.protection import assert_protected
from tests.scenario import ok


def _read(world: World, who: str, cell_id: int | None = None, **params: Any) -> dict[str, Any]:
    query = {k: v for k, v in {"cell_id": cell_id, **params}.items() if v is not None}
    body: dict[str, Any] = ok(world.as_(who).get("/indicators", params=query))
    return body


def _csv(world: World, who: str, cell_id: int | None = None, **params: Any) -> dict[str, Any]:
    """The CSV answer, folded back into the JSON's shape (a withheld value as null, and the
    marks of the withheld values under ``suppressed``)."""
    query = {k: v for k, v in {"cell_id": cell_id, **params}.items() if v is not None}
    response = world.as_(who).get("/indicators", params={**query, "format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["indicator", "breakdown", "value"]
    folded: dict[str, Any] = {"suppressed": {}}
    for indicator, breakdown, value in rows[1:]:
        key = f"{indicator}.{breakdown}" if breakdown else indicator
        if value.startswith("<") or value == "s":
            folded["suppressed"][key] = value
        if breakdown:
            folded.setdefault(indicator, {})[breakdown] = _value(value)
        else:
            assert indicator not in folded, f"{indicator} appears twice"
            folded[indicator] = _value(value)
    return folded


def _as_in_csv(answer: dict[str, Any]) -> dict[str, Any]:
    """The JSON answer as the CSV should say it: each withheld value's mark."""
    threshold = answer["masked_under"]
    marks = {
        key: f"<{threshold}" if why == "under_threshold" else "s"
        for key, why in answer["suppressed"].items()
    }
    return {**answer, "suppressed": marks}


def _value(text: str) -> Any:
    if text == "" or text.startswith("<") or text == "s":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


PERIODS: list[tuple[date | None, date | None]] = [
    (None, None),  # the last year
    (day(100), day(40)),
    (day(45), day(45)),
    (day(500), day(0)),  # the case received over a year ago too
    (day(30), day(-30)),  # meetings to come are not held yet
]


def test_every_indicator_equals_the_count_made_from_the_population(world: World) -> None:
    """Exact for the coordinator of the cell; protected, and true where shown, for the
    steering committee and the auditors (Paris-wide and per cell)."""
    population = build(world)
    cells = population.cells
    for first, last in PERIODS:
        period = {
            "from": first.isoformat() if first else None,
            "to": last.isoformat() if last else None,
        }
        span = (first or year_ago(), last or today())
        portraits = spans_a_calendar_month(*span)
        for who, key in (("coordinator", "a"), ("coordinator-19", "b")):
            want = expected(SPECS, key, *span) | {"cell_id": cells[key]}
            assert _read(world, who, cells[key], **period) == want, (who, period)
        paris, sizes = expected(SPECS, None, *span), median_sizes(SPECS, None, *span)
        for who in ("steering", "auditor"):
            answer = _read(world, who, **period)
            assert_protected(answer, paris, sizes, threshold=5, portraits=portraits)
        for key in ("a", "b"):
            exact, sizes = expected(SPECS, key, *span), median_sizes(SPECS, key, *span)
            answer = _read(world, "steering", cells[key], **period)
            assert answer["cell_id"] == cells[key]
            assert_protected(answer, exact, sizes, threshold=5, portraits=portraits)


def test_paris_wide_is_the_sum_of_the_cells_and_the_csv_says_what_the_json_says(
    world: World,
) -> None:
    population = build(world)
    paris = expected(SPECS, None, year_ago(), today())
    a = _read(world, "coordinator", population.cells["a"])
    b = _read(world, "coordinator-19", population.cells["b"])
    for key, value in paris.items():
        if isinstance(value, int) and key != "cell_id":
            assert value == a[key] + b[key], key
        elif key not in ("median_days", "suppressed") and isinstance(value, dict):
            for breakdown, n in value.items():
                assert n == a[key][breakdown] + b[key][breakdown], (key, breakdown)
    assert paris["signalements"] == sum(paris["by_origin"].values())
    assert paris["signalements"] == sum(paris["by_sex"].values())
    assert paris["signalements"] == sum(paris["by_age_bracket"].values())
    assert paris["orientations"] == sum(paris["by_destination"].values())
    assert list(paris["by_age_bracket"]) == list(ALL_BRACKETS) == list(AGE_BRACKET_LABELS)
    assert paris["signalements"] > 0
    assert paris["feedback"]["support_in_place"] > 0

    for who, cell_id, params in (
        ("steering", None, {}),
        ("coordinator", population.cells["a"], {"from": day(100).isoformat()}),
        ("auditor", population.cells["b"], {"mask_under": 2}),
        ("steering", None, {"mask_under": 8, "to": day(20).isoformat()}),
        ("coordinator", population.cells["a"], {"mask_under": 3}),
    ):
        answer = _read(world, who, cell_id, **params)
        assert _csv(world, who, cell_id, **params) == _as_in_csv(answer), (who, params)


def test_a_publication_threshold_protects_even_the_coordinators_figures(world: World) -> None:
    """``mask_under`` withholds small counts and what would reveal them, whoever reads; for
    the others, the disclosure control's own threshold stays the floor."""
    population = build(world)
    span = (year_ago(), today())
    exact, sizes = expected(SPECS, "a", *span), median_sizes(SPECS, "a", *span)
    for under in (2, 3, 5):
        answer = _read(world, "coordinator", population.cells["a"], mask_under=under)
        assert_protected(answer, exact, sizes, threshold=under)
    paris, sizes = expected(SPECS, None, *span), median_sizes(SPECS, None, *span)
    for under, threshold in ((3, 5), (5, 5), (8, 8)):
        answer = _read(world, "steering", mask_under=under)
        assert_protected(answer, paris, sizes, threshold=threshold)
    plain = _read(world, "coordinator", population.cells["a"])
    assert (plain["masked_under"], plain["suppressed"]) == (None, {})


def test_nothing_yet_gives_every_breakdown_with_zeros(world: World) -> None:
    body = _read(world, "auditor", to=(today() - timedelta(days=1)).isoformat())
    assert body["signalements"] == 0
    assert body["meetings"] == 0
    assert set(body["by_origin"]) >= {"police", "education", "mairie", "dpp", "other"}
    assert set(body["by_destination"]) >= {"social_services", "crip", "housing"}
    assert set(body["feedback"]) == {"support_in_place", "support_not_possible", "reoriented"}
    assert set(body["by_sex"]) == {"F", "M", "X", "unknown"}
    assert all(v == 0 for k in ("by_motif", "by_age_bracket") for v in body[k].values())
    assert body["median_days"] == {
        "received_to_parquet_decision": None,
        "received_to_examination": None,
        "examination_to_orientation": None,
        "transmission_to_feedback": None,
    }
