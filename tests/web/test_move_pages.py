"""The pages of issue 16, points 5 and 6: a possible duplicate decided from the case's page (the
merge confirmed first), a transfer proposed among the cells of the same kind, the receiving
coordinator's waiting transfers and their answer. Each page offers what the charter and the
procedure allow now, and a refusal leads back to the page with what was typed."""

from __future__ import annotations

import html

from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import (
    FIRST_NAME,
    LAST_NAME,
    meeting,
    ok,
    submit,
    to_cell_review,
    to_research,
)
from tests.web.browser import signed_in


def test_the_coordinator_decides_a_duplicate_from_the_page(world: World) -> None:
    older = submit(world, by="police", received_days_ago=40)
    newer = submit(world, by="teacher", received_days_ago=10)
    coordinator = signed_in(world, "coordinator")
    page = coordinator.get(f"/dossiers/{newer}")
    assert f'action="/dossiers/{newer}/doublon"' in page.text
    assert f'name="other_case_id" value="{older}"' in page.text
    # Merging asks for confirmation first: nothing is done by the first submit.
    form = {"other_case_id": older, "decision": "same_minor"}
    shown = coordinator.post(f"/dossiers/{newer}/doublon", form)
    assert "Confirmer le rattachement" in html.unescape(shown.text)
    assert ok(world.as_("coordinator").get(f"/cases/{newer}"))["state"] == "submitted"
    done = coordinator.post(f"/dossiers/{newer}/doublon", {**form, "confirme": "oui"})
    # The case shown is the one kept; the closed one is out of sight (archived).
    assert done.status_code == 303
    assert done.headers["location"] == f"/dossiers/{older}?fait=doublon-fusionne"
    kept = coordinator.follow(done.headers["location"])
    assert "la plus récente est close comme doublon" in html.unescape(kept.text)
    assert f'action="/dossiers/{older}/doublon"' not in kept.text


def test_two_minors_are_told_apart_from_the_page(world: World) -> None:
    older = submit(world, by="police", received_days_ago=40)
    newer = submit(world, by="teacher", received_days_ago=10)
    coordinator = signed_in(world, "coordinator")
    coordinator.get(f"/dossiers/{newer}")
    form = {"other_case_id": older, "decision": "different_minor"}
    done = coordinator.post(f"/dossiers/{newer}/doublon", form)
    assert done.headers["location"] == f"/dossiers/{newer}?fait=doublon-ecarte"
    page = coordinator.follow(done.headers["location"])
    assert "Doublons possibles" not in page.text


def test_only_the_coordinator_is_offered_the_decisions(world: World) -> None:
    older = to_research(world, received_days_ago=40)
    newer = to_research(world, by="teacher", received_days_ago=10)
    parquet = signed_in(world, "parquet")
    page = parquet.get(f"/dossiers/{newer}")
    assert "Doublons possibles" in page.text
    assert "/doublon" not in page.text
    assert older in page.text


def test_a_refused_duplicate_decision_comes_back_to_the_page(world: World) -> None:
    first = submit(world, by="police", received_days_ago=40)
    second = submit(world, by="teacher", received_days_ago=10)
    coordinator = signed_in(world, "coordinator")
    coordinator.get(f"/dossiers/{second}")
    ok(
        world.as_("coordinator").post(
            f"/cases/{second}/duplicate-decision",
            {"other_case_id": first, "decision": "different_minor"},
        )
    )
    before = head(world)
    # A stale page: the pair was told apart meanwhile.
    response = coordinator.post(
        f"/dossiers/{second}/doublon", {"other_case_id": first, "decision": "different_minor"}
    )
    assert response.status_code == 409
    assert "ne sont pas signalées comme doublons possibles" in html.unescape(response.text)
    [refusal] = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert refusal["action"] == "decide_duplicate"


def test_a_transfer_from_the_page_to_the_receiving_coordinator(world: World) -> None:
    case_id = to_research(world)
    coordinator = signed_in(world, "coordinator")
    page = coordinator.get(f"/dossiers/{case_id}")
    # The cells of the same kind, this one aside.
    assert f'<option value="{world.other_cell.id}">CENOMED 19e</option>' in page.text
    assert f'<option value="{world.cell.id}">' not in page.text
    done = coordinator.post(f"/dossiers/{case_id}/transfert", {"cell_id": world.other_cell.id})
    assert done.headers["location"] == f"/dossiers/{case_id}?fait=transfert-propose"
    page = coordinator.follow(done.headers["location"])
    assert "en attente de sa réponse" in html.unescape(page.text)
    assert 'id="form-transfer"' not in page.text  # one transfer at a time

    receiving = signed_in(world, "coordinator-19")
    waiting = receiving.get("/transferts")
    assert f"/dossiers/{case_id}/transfert/decision" in waiting.text
    assert LAST_NAME not in waiting.text
    assert FIRST_NAME not in waiting.text
    done = receiving.post(f"/dossiers/{case_id}/transfert/decision", {"decision": "accept"})
    assert done.headers["location"] == f"/dossiers/{case_id}?fait=transfert-accepte"
    page = receiving.follow(done.headers["location"])
    assert LAST_NAME in page.text

    # The author follows it without seeing it; the origin's coordinator no longer reaches it.
    police = signed_in(world, "police")
    followed = police.get(f"/dossiers/{case_id}")
    assert "Situation transférée à la cellule CENOMED 19e" in html.unescape(followed.text)
    assert LAST_NAME not in followed.text
    assert coordinator.get(f"/dossiers/{case_id}").status_code == 404


def test_a_declined_transfer_leads_back_to_the_list(world: World) -> None:
    case_id = submit(world)
    ok(
        world.as_("coordinator").post(
            f"/cases/{case_id}/transfer", {"cell_id": world.other_cell.id}
        )
    )
    receiving = signed_in(world, "coordinator-19")
    receiving.get("/transferts")
    done = receiving.post(f"/dossiers/{case_id}/transfert/decision", {"decision": "decline"})
    assert done.headers["location"] == "/dossiers?fait=transfert-refuse"
    assert "Aucun transfert" in receiving.get("/transferts").text


def test_a_refused_answer_comes_back_to_the_waiting_list(world: World) -> None:
    case_id = to_research(world)
    ok(
        world.as_("coordinator").post(
            f"/cases/{case_id}/transfer", {"cell_id": world.other_cell.id}
        )
    )
    # The origin takes the case to the agenda meanwhile: no longer transferable.
    meeting_id = meeting(world)
    ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}))
    receiving = signed_in(world, "coordinator-19")
    receiving.get("/transferts")
    before = head(world)
    response = receiving.post(f"/dossiers/{case_id}/transfert/decision", {"decision": "accept"})
    assert response.status_code == 409
    assert "Transferts en attente" in response.text
    assert 'value="decline"' in response.text  # the answer still open: declining
    [refusal] = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert (refusal["action"], refusal["case_id"]) == ("decide_transfer", case_id)
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["cell_id"] == world.cell.id


def test_no_transfer_offered_once_on_the_agenda(world: World) -> None:
    case_id = to_cell_review(world)
    page = signed_in(world, "coordinator").get(f"/dossiers/{case_id}")
    assert 'id="form-transfer"' not in page.text
