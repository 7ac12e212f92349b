"""The pages of issue 15: the receipt's day and channel the coordinator's only, irreversible
steps confirmed, a closure among the reasons its record allows, the cell's services."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from app.cases.models import Case
from app.clock import today
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import FIRST_NAME, LAST_NAME, ok, to_oriented
from tests.web.browser import signed_in

_REASONS = re.compile(r'name="reason" value="(\w+)"')


def _form(world: World, **overrides: Any) -> dict[str, Any]:
    on = today()
    form: dict[str, Any] = {
        "cell_id": str(world.cell.id),
        "motifs": ["absenteeism"],
        "last_name": LAST_NAME,
        "first_name": FIRST_NAME,
        "birth_date": date(on.year - 14, 3, 1).isoformat(),
    }
    form.update(overrides)
    return form


def _cases(world: World) -> int:
    with world.db() as session:
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def test_only_the_coordinator_is_asked_the_day_and_the_channel(world: World) -> None:
    police = signed_in(world, "police")
    assert 'name="received_on"' not in police.get("/dossiers/nouveau").text
    # A forged field is refused on the form, with what was typed kept; nothing is created.
    forged = _form(world, received_on=(today() - timedelta(days=60)).isoformat())
    response = police.post("/dossiers/nouveau", forged)
    assert response.status_code == 403
    assert 'id="received_on-erreur"' not in response.text  # the field is not on their form
    assert "Seule la coordination déclare" in html.unescape(response.text)
    assert FIRST_NAME in response.text
    assert _cases(world) == 0

    coordinator = signed_in(world, "coordinator")
    page = coordinator.get("/dossiers/nouveau")
    assert 'name="received_on"' in page.text
    assert 'name="received_via"' in page.text
    assert "92 jours en arrière au plus" in html.unescape(page.text)
    response = coordinator.post("/dossiers/nouveau", _form(world))
    assert response.status_code == 422
    assert 'id="received_via-erreur"' in response.text
    too_old = _form(
        world,
        received_via="letter",
        received_on=(today() - timedelta(days=93)).isoformat(),
    )
    response = coordinator.post("/dossiers/nouveau", too_old)
    assert response.status_code == 422
    assert 'id="received_on-erreur"' in response.text
    assert _cases(world) == 0
    declared = _form(
        world,
        received_via="letter",
        received_on=(today() - timedelta(days=92)).isoformat(),
    )
    response = coordinator.post("/dossiers/nouveau", declared)
    assert response.status_code == 303
    page = coordinator.get(response.headers["location"])
    text = html.unescape(page.text)
    assert "date déclarée par la coordination, reçue par courrier" in text
    assert "La situation a été signalée à la coordination" in text


def test_an_irreversible_step_shows_what_will_happen_and_waits_for_a_second_submit(
    world: World,
) -> None:
    case_id, _ = to_oriented(world, "crip")
    coordinator = signed_in(world, "coordinator")
    coordinator.get(f"/dossiers/{case_id}")
    before = head(world)
    shown = coordinator.post(f"/dossiers/{case_id}/cloture", {"reason": "moved_away"})
    assert shown.status_code == 200
    text = html.unescape(shown.text)
    assert "La situation sera close, motif : Le mineur a quitté le territoire" in text
    assert f'href="/dossiers/{case_id}"' in shown.text  # cancel, back to the case
    assert [e for e in events(world, before) if e["action"] == "close"] == []
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["state"] == "oriented"
    done = coordinator.post(
        f"/dossiers/{case_id}/cloture", {"reason": "moved_away", "confirme": "oui"}
    )
    # Closed and archived: out of the coordinator's sight, the list says it is done.
    assert (done.status_code, done.headers["location"]) == (303, "/dossiers?fait=close")
    assert "La situation est close et archivée" in coordinator.get("/dossiers?fait=close").text
    [closed] = [e for e in events(world, before) if e["action"] == "close"]
    assert closed["outcome"] == "allowed"


def test_the_closure_offers_the_reasons_the_record_allows(world: World) -> None:
    case_id, ids = to_oriented(world, "crip")
    coordinator = signed_in(world, "coordinator")
    page = coordinator.get(f"/dossiers/{case_id}")
    assert _REASONS.findall(page.text) == ["moved_away", "judicial_follow_up"]
    ok(world.as_("coordinator").post(f"/cases/{case_id}/orientations/{ids['crip']}/transmission"))
    path = f"/cases/{case_id}/orientations/{ids['crip']}/feedback"
    ok(world.as_("coordinator").post(path, {"outcome": "support_in_place"}))
    page = coordinator.get(f"/dossiers/{case_id}")
    assert _REASONS.findall(page.text) == ["feedback_received", "moved_away", "judicial_follow_up"]
    # A reason the page did not offer, forged: refused by the same rule, back on the page.
    before = head(world)
    refused = coordinator.post(f"/dossiers/{case_id}/cloture", {"reason": "aged_out"})
    assert refused.status_code == 409
    assert "ne correspond pas à la situation" in html.unescape(refused.text)
    [refusal] = events(world, before)[:1]
    assert (refusal["outcome"], refusal["detail"]) == ("denied", "closure-reason-not-applicable")


def test_the_transmission_to_social_services_is_offered_only_once_it_may_be_made(
    world: World,
) -> None:
    case_id, ids = to_oriented(world, "social_services", "crip")
    coordinator = signed_in(world, "coordinator")
    page = coordinator.get(f"/dossiers/{case_id}")
    offered = re.findall(r"/orientations/([0-9a-f-]{36})/transmission", page.text)
    assert offered == [ids["crip"]]  # the family not informed yet (R8)
    unreachable = {"informed_on": today().isoformat(), "means": "phone", "outcome": "unreachable"}
    ok(world.as_("coordinator").post(f"/cases/{case_id}/family-information", unreachable))
    page = coordinator.get(f"/dossiers/{case_id}")
    offered = re.findall(r"/orientations/([0-9a-f-]{36})/transmission", page.text)
    assert offered == [ids["crip"]]  # the family unreachable: still not
    assert "family_unreachable" in _REASONS.findall(page.text)


def test_the_coordinator_keeps_the_cells_services(world: World) -> None:
    coordinator = signed_in(world, "coordinator")
    listing = coordinator.get("/dossiers")
    assert f'href="/cellules/{world.cell.id}/services"' in listing.text
    page = coordinator.get(f"/cellules/{world.cell.id}/services")
    assert page.status_code == 200
    assert 'value="social_services"' not in page.text  # reached through the CST
    refused = coordinator.post(
        f"/cellules/{world.cell.id}/services", {"name": "  ", "destination": "crip"}
    )
    assert refused.status_code == 422
    assert 'id="name-erreur"' in refused.text
    added = coordinator.post(
        f"/cellules/{world.cell.id}/services", {"name": "CRIP 75", "destination": "crip"}
    )
    assert added.status_code == 303
    page = coordinator.get(added.headers["location"])
    assert "CRIP 75" in page.text
    police = signed_in(world, "police")
    assert police.get(f"/cellules/{world.cell.id}/services").status_code == 403
    assert f"/cellules/{world.cell.id}/services" not in police.get("/dossiers").text
