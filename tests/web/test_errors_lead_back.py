"""Issue 19: no error page without a link to where the user was. The page keeps the refusal's
status; its link goes back to the page the request came from (its same-origin Referer), to
the list for a case not found, else home; never to another site nor to the refused page."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import ok, submit, to_research
from tests.web.browser import signed_in


def back_link(response: Any) -> tuple[str, str]:
    found = re.findall(r'<p><a href="([^"]*)">(Revenir[^<]*)</a></p>', response.text)
    assert len(found) == 1, found
    return found[0]


def _refusals(world: World, before: int) -> list[tuple[str, str]]:
    return [(e["action"], e["detail"]) for e in events(world, before) if e["outcome"] == "denied"]


def test_a_step_refused_by_the_charter_leads_back_to_the_case_page(world: World) -> None:
    """A member who tries to send a case to the parquet (the coordinator's step): 403, and
    the page leads back to the case it came from."""
    case_id = to_research(world)
    police = signed_in(world, "police")
    case_page = f"/dossiers/{case_id}"
    police.get(case_page)
    before = head(world)
    response = police.post(
        f"{case_page}/transmission-parquet", headers={"referer": f"http://testserver{case_page}"}
    )
    assert response.status_code == 403
    assert back_link(response) == (case_page, "Revenir à la page précédente")
    assert _refusals(world, before) == [("refer_to_parquet", "role-not-allowed")]
    case = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    assert case["state"] == "research"


def test_a_missing_case_leads_to_the_list(world: World) -> None:
    coordinator = signed_in(world, "coordinator")
    before = head(world)
    missing = uuid.uuid4()
    response = coordinator.get(f"/dossiers/{missing}")
    assert response.status_code == 404
    assert back_link(response) == ("/dossiers", "Revenir à la liste des situations")
    assert _refusals(world, before) == [("read_case", "case-not-found")]


def test_a_case_refused_to_a_paris_wide_role_leads_home(world: World) -> None:
    """The auditor has no list of cases to go back to: home (the journal, through /)."""
    case_id = submit(world)
    auditor = signed_in(world, "auditor")
    before = head(world)
    response = auditor.get(f"/dossiers/{case_id}")
    assert response.status_code in (403, 404)
    assert back_link(response) == ("/", "Revenir à l’accueil")
    assert [action for action, _ in _refusals(world, before)] == ["read_case"]


def test_the_referer_of_another_site_or_the_refused_page_itself_is_not_followed(
    world: World,
) -> None:
    coordinator = signed_in(world, "coordinator")
    missing = f"/dossiers/{uuid.uuid4()}"
    for referer in (
        "https://elsewhere.example/dossiers",
        "http://testserver.elsewhere.example/a-faire",
        f"http://testserver{missing}",  # the refused page itself: a loop
        "http://testserver/\\\\elsewhere.example",
        "not a url",
    ):
        response = coordinator.get(missing, headers={"referer": referer})
        assert response.status_code == 404
        assert back_link(response) == ("/dossiers", "Revenir à la liste des situations"), referer


def test_a_page_of_this_service_is_where_a_refused_get_leads_back(world: World) -> None:
    coordinator = signed_in(world, "coordinator")
    response = coordinator.get(
        f"/dossiers/{uuid.uuid4()}", headers={"referer": "http://testserver/a-faire?vue=1"}
    )
    assert response.status_code == 404
    assert back_link(response) == ("/a-faire?vue=1", "Revenir à la page précédente")
