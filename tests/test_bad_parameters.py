"""Every parameter is validated to a 422 problem, never a 500 (finding 7 of the hostile
review: a crafted cursor and out-of-range audit dates overflowed)."""

from __future__ import annotations

import base64
import uuid

import pytest

from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import ok, problem, submit
from tests.web.browser import signed_in


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


SOME_ID = str(uuid.UUID(int=1))
# Instants that exist with their offset but not in UTC (or the other way round).
CURSORS = [
    _cursor(f"0001-01-01T00:00:00+01:00|{SOME_ID}"),
    _cursor(f"9999-12-31T23:59:59-01:00|{SOME_ID}"),
    _cursor(f"0001-01-01T00:00:00+23:59|{SOME_ID}"),
    _cursor(f"2026-01-01T00:00:00+24:00|{SOME_ID}"),
    _cursor(f"2026-13-01T00:00:00+00:00|{SOME_ID}"),
    _cursor(f"2026-01-01T00:00:00+00:00|{SOME_ID}|x"),
    _cursor("2026-01-01T00:00:00Z|not-an-id"),
    "%%%%",
    "A" * 200,
]
# Instants whose UTC form is outside the calendar, or that are no instant at all.
REFUSED_INSTANTS = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:00",  # no time zone: which instant?
    "99999-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z",
]
# The calendar's ends, in UTC: "since the beginning", "until the end".
ACCEPTED_INSTANTS = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"]


@pytest.mark.parametrize("cursor", CURSORS)
def test_a_crafted_case_list_cursor_is_a_422(world: World, cursor: str) -> None:
    submit(world)
    refused = problem(world.as_("coordinator").get("/cases", params={"cursor": cursor}), 422)
    assert refused["type"] in (
        "urn:cenomed:problem:invalid-cursor",
        "urn:cenomed:problem:validation-error",
    )


@pytest.mark.parametrize("cursor", CURSORS[:4])
def test_a_crafted_cursor_in_the_web_list_is_a_422_page(world: World, cursor: str) -> None:
    submit(world)
    page = signed_in(world, "coordinator").get("/dossiers", params={"suite": cursor})
    assert page.status_code == 422
    assert '<html lang="fr">' in page.text


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("moment", REFUSED_INSTANTS)
def test_an_audit_filter_outside_the_calendar_is_a_422(
    world: World, name: str, moment: str
) -> None:
    before = head(world)
    refused = problem(world.as_("auditor").get("/audit/events", params={name: moment}), 422)
    assert refused["type"] == "urn:cenomed:problem:validation-error"
    assert [e["detail"] for e in events(world, before)] == ["validation-error"]


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("moment", ACCEPTED_INSTANTS)
def test_an_audit_filter_at_the_ends_of_the_calendar_is_answered(
    world: World, name: str, moment: str
) -> None:
    found = ok(world.as_("auditor").get("/audit/events", params={name: moment}))
    # Every event is after the first instant and before the last.
    assert bool(found["items"]) == ((name == "since") == moment.startswith("0001"))


@pytest.mark.parametrize(
    "cursor", [_cursor("after:99999999999999999999"), _cursor("after:-1"), _cursor("before:1")]
)
def test_a_crafted_audit_cursor_is_a_422(world: World, cursor: str) -> None:
    refused = problem(world.as_("auditor").get("/audit/events", params={"cursor": cursor}), 422)
    assert refused["type"] == "urn:cenomed:problem:invalid-cursor"


@pytest.mark.parametrize(
    ("du", "au", "field"),
    [
        ("0001-01-01", "", "du"),  # Paris's midnight of that day is before the UTC calendar
        ("", "9999-12-31", "au"),  # no midnight ends the calendar's last day
        ("2026-02-30", "", "du"),
    ],
)
def test_the_audit_page_with_days_outside_the_calendar_says_which(
    world: World, du: str, au: str, field: str
) -> None:
    page = signed_in(world, "auditor").get("/audit", params={"du": du, "au": au})
    assert page.status_code == 422
    assert f'id="{field}-erreur"' in page.text


@pytest.mark.parametrize(
    ("first", "last", "status"),
    [
        ("0001-01-01", "0001-12-31", 200),
        ("9999-01-01", "9999-12-31", 200),
        ("0001-01-01", "9999-12-31", 422),  # more than ten years
    ],
)
def test_indicators_at_the_ends_of_the_calendar_are_answered(
    world: World, first: str, last: str, status: int
) -> None:
    response = world.as_("auditor").get("/indicators", params={"from": first, "to": last})
    if status == 200:
        figures = ok(response)
        assert (figures["from"], figures["to"], figures["signalements"]) == (first, last, 0)
    else:
        assert problem(response, 422)["type"] == "urn:cenomed:problem:invalid-input"
