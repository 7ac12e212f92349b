"""``/a-faire`` shows the same worklist as the API, each line leading to where the work is
done, grouped under its kind's French heading; an audited read like the API's."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from app.clock import today
from app.vocabulary import Role
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import meeting, ok, submit, to_research
from tests.web.browser import signed_in


def test_the_coordinators_page_lists_what_the_api_lists(world: World) -> None:
    fresh = submit(world, received_days_ago=2)
    ready = to_research(world, received_days_ago=40)
    past = meeting(world, held_on=today() - timedelta(days=3))
    api = ok(world.as_("coordinator").get("/me/worklist"))
    browser = signed_in(world, "coordinator")
    before = head(world)
    page = browser.get("/a-faire")
    assert page.status_code == 200
    text = page.text
    assert "<h1>À faire</h1>" in text
    links = re.findall(r'href="/(dossiers|reunions)/([0-9a-f-]{36})"', text)
    expected = [item["case_id"] or item["meeting_id"] for item in api["items"]]
    assert [target for _, target in links] == expected
    assert {fresh, ready, past} <= set(expected)
    assert "Signalements à transmettre au parquet" in text
    assert "Situations qu&#39;une réunion peut désormais examiner" in text
    assert "Réunions passées à marquer comme tenues" in text
    assert "En retard" in text  # the past meeting not marked held
    reads = {e["case_id"] for e in events(world, before) if e["action"] == "read_worklist"}
    assert reads == {fresh, ready}


def test_with_nothing_waiting_the_page_says_so(world: World) -> None:
    page = signed_in(world, "cst").get("/a-faire")
    assert page.status_code == 200
    assert "Rien ne vous attend pour l'instant." in page.text
    assert 'href="/a-faire" aria-current="page"' in page.text


def _badge(page: Any) -> str | None:
    found = re.search(
        r'href="/a-faire"[^>]*>À faire(?: <span class="badge count-badge">(\d+))?', page.text
    )
    assert found is not None, "no link to the worklist in the navigation"
    return found.group(1)


def test_the_navigation_counts_what_asks_something_and_follows_the_work_done(
    world: World,
) -> None:
    case_id = submit(world, received_days_ago=2)
    to_research(world, received_days_ago=40)  # ready for a meeting: a second thing to do
    coordinator = signed_in(world, "coordinator")
    assert _badge(coordinator.get("/dossiers")) == "2"
    parquet = signed_in(world, "parquet")
    assert _badge(parquet.get("/reunions")) is None  # nothing awaits the parquet yet
    # The coordinator refers the case from its page: their count goes down at once (a post
    # forgets it); the parquet's open page keeps its count a minute, a new sign-in sees it.
    coordinator.get(f"/dossiers/{case_id}")
    response = coordinator.post(f"/dossiers/{case_id}/transmission-parquet")
    assert response.status_code == 303, response.text
    assert _badge(coordinator.get("/dossiers")) == "1"
    assert _badge(parquet.get("/reunions")) is None  # kept a minute in this session
    assert _badge(signed_in(world, "parquet").get("/reunions")) == "1"
    # A member's own signalement and the research inform; nothing asks the member to act.
    assert _badge(signed_in(world, "police").get("/dossiers")) is None


@pytest.mark.parametrize(
    ("username", "home"),
    [
        ("coordinator", "/a-faire"),
        ("parquet", "/a-faire"),
        ("police", "/a-faire"),
        ("cst", "/a-faire"),
        ("auditor", "/audit"),
        ("steering", "/indicateurs"),
    ],
)
def test_every_signed_in_visitor_lands_on_their_role_s_home(
    world: World, username: str, home: str
) -> None:
    if username == "steering":
        world.add_user("steering", Role.STEERING, cells=[])
    browser = signed_in(world, username)
    response = browser.get("/")
    assert (response.status_code, response.headers["location"]) == (303, home)
    assert browser.get(home).status_code == 200
