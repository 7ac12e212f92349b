"""Running a meeting from its page (issue 17): the agenda ordered, a case taken off, the
cell's decision recorded in place, attendance, the meeting marked held, rescheduled and
cancelled; each action offered exactly when the meeting's rules allow it, and a refusal
brought back to the page with what was typed, nothing changed, the refusal logged."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from app.clock import today
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import meeting, ok, to_research
from tests.web.browser import Browser, signed_in


def _agenda(page: Any) -> list[str]:
    """The case ids of the agenda's lines, in the page's order."""
    section = re.search(r'<h2 id="ordre-du-jour">.*?</section>', page.text, re.S)
    assert section is not None
    return re.findall(r'id="situation-([0-9a-f-]{36})"', section.group(0))


def _forms(page: Any) -> set[str]:
    """Where the page's forms post, as the paths after the meeting's id."""
    return set(re.findall(r'action="/reunions/[0-9a-f-]{36}(/[^"]*)"', page.text))


def _on_agenda(world: World, meeting_id: str, *case_ids: str) -> None:
    for case_id in case_ids:
        ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}))


def _refusal(world: World, before: int) -> dict[str, Any]:
    [refused] = [e for e in events(world, before) if e["outcome"] == "denied"]
    return refused


def test_the_coordinator_orders_the_agenda_and_takes_a_case_off(world: World) -> None:
    first, second, third = (to_research(world) for _ in range(3))
    meeting_id = meeting(world, held_on=today() + timedelta(days=2))
    _on_agenda(world, meeting_id, first, second, third)
    coordinator = signed_in(world, "coordinator")
    page = coordinator.get(f"/reunions/{meeting_id}")
    assert _agenda(page) == [first, second, third]

    response = coordinator.post(
        f"/reunions/{meeting_id}/situations/{third}/deplacement", {"sens": "haut"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == (f"/reunions/{meeting_id}?fait=ordre#situation-{third}")
    page = coordinator.get(f"/reunions/{meeting_id}")
    assert _agenda(page) == [first, third, second]
    api = ok(world.as_("coordinator").get(f"/meetings/{meeting_id}"))
    assert [(i["case_id"], i["position"]) for i in api["agenda"]] == [
        (first, 1),
        (third, 2),
        (second, 3),
    ]

    response = coordinator.post(f"/reunions/{meeting_id}/situations/{third}/retrait")
    assert response.status_code == 303
    assert _agenda(coordinator.get(f"/reunions/{meeting_id}")) == [first, second]
    assert ok(world.as_("coordinator").get(f"/cases/{third}"))["state"] == "research"


def test_before_its_day_a_meeting_offers_no_decision_attendance_or_holding(world: World) -> None:
    case_id = to_research(world)
    meeting_id = meeting(world, held_on=today() + timedelta(days=2))
    _on_agenda(world, meeting_id, case_id)
    page = signed_in(world, "coordinator").get(f"/reunions/{meeting_id}")
    forms = _forms(page)
    assert f"/situations/{case_id}/retrait" in forms
    assert "/report" in forms
    assert "/annulation" in forms
    assert f"/situations/{case_id}/decision" not in forms
    assert "/presences" not in forms
    assert "/tenue" not in forms
    # The member reads the agenda and is offered none of it.
    assert _forms(signed_in(world, "police").get(f"/reunions/{meeting_id}")) == set()


def test_on_its_day_the_cell_decides_in_order_records_attendance_and_holds_it(
    world: World,
) -> None:
    first, second = to_research(world), to_research(world)
    meeting_id = meeting(world)
    _on_agenda(world, meeting_id, first, second)
    coordinator = signed_in(world, "coordinator")
    page = coordinator.get(f"/reunions/{meeting_id}")
    forms = _forms(page)
    assert {f"/situations/{first}/decision", f"/situations/{second}/decision"} <= forms
    assert "/presences" in forms
    assert "/tenue" not in forms  # two cases still to decide

    # Without the confirmation box: back to the page, at the form, nothing decided.
    before = head(world)
    typed = {"decision": "orient", "destinations": "crip"}
    response = coordinator.post(f"/reunions/{meeting_id}/situations/{first}/decision", typed)
    assert response.status_code == 422
    assert f'id="form-decision-{first}"' in response.text
    assert 'id="d-' + first + '-confirme-erreur"' in response.text
    assert re.search(
        rf'id="d-{first}-dest-crip" name="destinations" value="crip" checked', response.text
    )
    assert ok(world.as_("coordinator").get(f"/cases/{first}"))["state"] == "cell_review"
    refused = _refusal(world, before)
    assert (refused["action"], refused["case_id"]) == ("review_decision", first)
    assert f"meeting:{meeting_id}" in refused["detail"]

    response = coordinator.post(
        f"/reunions/{meeting_id}/situations/{first}/decision", {**typed, "confirme": "oui"}
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"#situation-{first}")
    response = coordinator.post(
        f"/reunions/{meeting_id}/situations/{second}/decision",
        {"decision": "no_action", "confirme": "oui"},
    )
    assert response.status_code == 303
    assert ok(world.as_("coordinator").get(f"/cases/{first}"))["state"] == "oriented"

    participants = ok(world.as_("coordinator").get(f"/meetings/{meeting_id}"))["participants"]
    present = [p["user_id"] for p in participants if p["username"] in ("coordinator", "police")]
    response = coordinator.post(f"/reunions/{meeting_id}/presences", {"present": present})
    assert response.status_code == 303
    shown = ok(world.as_("coordinator").get(f"/meetings/{meeting_id}"))
    assert shown["attendance_recorded"] is True
    assert {p["username"] for p in shown["participants"] if p["attended"]} == {
        "coordinator",
        "police",
    }

    page = coordinator.get(f"/reunions/{meeting_id}")
    assert "/tenue" in _forms(page)
    assert coordinator.post(f"/reunions/{meeting_id}/tenue").status_code == 303
    page = coordinator.get(f"/reunions/{meeting_id}")
    assert ok(world.as_("coordinator").get(f"/meetings/{meeting_id}"))["status"] == "held"
    # Held: the record. Its page offers no change, and the minutes to print.
    assert _forms(page) <= {"/presences"}
    assert f"/reunions/{meeting_id}/releve-de-decisions.pdf" in page.text
    # The case closed without action stays on the agenda, for the record.
    assert _agenda(page) == [first, second]
    assert "Clôturée" in page.text


def test_a_refused_rescheduling_keeps_what_was_typed_and_names_the_cases(world: World) -> None:
    case_id = to_research(world, received_days_ago=40)
    meeting_id = meeting(world, held_on=today() + timedelta(days=3))
    _on_agenda(world, meeting_id, case_id)
    reference = ok(world.as_("coordinator").get(f"/cases/{case_id}"))["reference"]
    coordinator = signed_in(world, "coordinator")
    coordinator.get(f"/reunions/{meeting_id}")
    before = head(world)
    # Yesterday is in the past, whatever the agenda: refused on its field.
    yesterday = (today() - timedelta(days=1)).isoformat()
    typed = {"held_on": yesterday, "starts_at": "10:15", "place": "Salle B"}
    response = coordinator.post(f"/reunions/{meeting_id}/report", typed)
    assert response.status_code == 422
    assert 'id="report-held_on-erreur"' in response.text
    assert f'value="{yesterday}"' in response.text
    assert 'value="Salle B"' in response.text
    refused = _refusal(world, before)
    assert (refused["action"], refused["detail"]) == (
        "reschedule_meeting",
        f"meeting-moved-into-past meeting:{meeting_id}",
    )
    assert ok(world.as_("coordinator").get(f"/meetings/{meeting_id}"))["place"] != "Salle B"

    # A case received 10 days ago: moving the meeting to tomorrow would examine it too early.
    recent = to_research(world, received_days_ago=10)
    later = meeting(world, held_on=today() + timedelta(days=25))
    _on_agenda(world, later, recent)
    recent_reference = ok(world.as_("coordinator").get(f"/cases/{recent}"))["reference"]
    coordinator.get(f"/reunions/{later}")
    tomorrow = (today() + timedelta(days=1)).isoformat()
    response = coordinator.post(f"/reunions/{later}/report", {"held_on": tomorrow})
    assert response.status_code == 409
    assert recent_reference in html.unescape(response.text)
    assert reference not in html.unescape(response.text)
    assert (
        ok(world.as_("coordinator").get(f"/meetings/{later}"))["held_on"]
        == (today() + timedelta(days=25)).isoformat()
    )


def test_a_cancelled_meeting_sends_its_cases_back_and_offers_nothing_more(world: World) -> None:
    case_id = to_research(world)
    meeting_id = meeting(world, held_on=today() + timedelta(days=5))
    _on_agenda(world, meeting_id, case_id)
    coordinator: Browser = signed_in(world, "coordinator")
    coordinator.get(f"/reunions/{meeting_id}")
    response = coordinator.post(f"/reunions/{meeting_id}/annulation")
    assert response.status_code == 422  # the confirmation box
    assert ok(world.as_("coordinator").get(f"/meetings/{meeting_id}"))["status"] == "scheduled"
    response = coordinator.post(f"/reunions/{meeting_id}/annulation", {"confirme": "oui"})
    assert response.status_code == 303
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["state"] == "research"
    page = coordinator.get(f"/reunions/{meeting_id}")
    assert "Annulée" in page.text
    assert _forms(page) == set()
    assert "ordre-du-jour.pdf" not in page.text
