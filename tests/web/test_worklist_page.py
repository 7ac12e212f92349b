"""``/a-faire`` shows the same worklist as the API, each line leading to where the work is
done, grouped under its kind's French heading; an audited read like the API's."""

from __future__ import annotations

import re
from datetime import timedelta

from app.clock import today
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
    assert "Situations qu&#39;une réunion peut désormais examiner (R7)" in text
    assert "Réunions passées à marquer comme tenues" in text
    assert "En retard" in text  # the past meeting not marked held
    reads = {e["case_id"] for e in events(world, before) if e["action"] == "read_worklist"}
    assert reads == {fresh, ready}


def test_with_nothing_waiting_the_page_says_so(world: World) -> None:
    page = signed_in(world, "cst").get("/a-faire")
    assert page.status_code == 200
    assert "Rien ne vous attend pour l'instant." in page.text
    assert 'href="/a-faire" aria-current="page"' in page.text
