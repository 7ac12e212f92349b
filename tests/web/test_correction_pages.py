"""The pages of issue 16's corrections: the page offers what the charter and the procedure
allow now; the correction form, the withdrawal (confirmed), the return, a note amended, the
versions; a refusal comes back to the form with what was typed; the list finds a case by its
reference and sorts."""

from __future__ import annotations

import html
import re
import uuid

from sqlalchemy import select

from app.cases.models import Case
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import FIRST_NAME, LAST_NAME, ok, submit, to_research
from tests.web.browser import signed_in

NEW_NAME = "Vormandel"


def _version(world: World, case_id: str) -> int:
    with world.db() as session:
        case = session.get(Case, uuid.UUID(case_id))
        assert case is not None
        return case.version


def _as_the_form_shows(world: World, case_id: str) -> dict[str, object]:
    """What the coordinator's prefilled form posts when nothing is changed."""
    case = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    minor, contact = case["minor"], case["contact"]
    form: dict[str, object] = {
        "last_name": minor["last_name"],
        "first_name": minor["first_name"],
        "birth_date": minor["birth_date"],
        "sex": minor["sex"] or "",
        "school": minor["school"] or "",
        "address": contact["address"] or "",
        "motifs": case["motifs"],
        "facts": case["facts"] or "",
    }
    for slot, guardian in enumerate(contact["guardians"], start=1):
        form[f"guardian_name_{slot}"] = guardian["name"]
        form[f"guardian_relationship_{slot}"] = guardian["relationship"]
        form[f"guardian_phone_{slot}"] = guardian["phone"] or ""
    return form


def test_an_unchanged_form_changes_nothing(world: World) -> None:
    case_id = submit(world, by="police")
    coordinator = signed_in(world, "coordinator")
    coordinator.get(f"/dossiers/{case_id}/correction")
    version = _version(world, case_id)
    typed = {**_as_the_form_shows(world, case_id), "version": str(version)}
    done = coordinator.post(f"/dossiers/{case_id}/correction", typed)
    assert done.headers["location"] == f"/dossiers/{case_id}?fait=inchangee"
    assert _version(world, case_id) == version


def test_the_author_corrects_without_seeing_what_the_charter_withholds(world: World) -> None:
    case_id = submit(world, by="police")
    police = signed_in(world, "police")
    page = police.get(f"/dossiers/{case_id}")
    assert f'href="/dossiers/{case_id}/correction"' in page.text
    form = police.get(f"/dossiers/{case_id}/correction")
    assert form.status_code == 200
    # R12: the member sees only the workflow block of their signalement: nothing prefilled.
    assert LAST_NAME not in form.text
    assert FIRST_NAME not in form.text
    assert "laissez vide pour ne pas la modifier" in html.unescape(form.text)
    version = re.search(r'name="version" value="(\d+)"', form.text)
    assert version is not None
    done = police.post(
        f"/dossiers/{case_id}/correction",
        {"version": version.group(1), "last_name": NEW_NAME},
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/dossiers/{case_id}?fait=corrigee"
    shown = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    assert shown["minor"]["last_name"] == NEW_NAME
    assert shown["minor"]["first_name"] == FIRST_NAME  # left empty: unchanged
    assert shown["history"][-1]["detail"] == "last_name"


def test_the_coordinators_form_is_prefilled_and_a_refusal_keeps_what_was_typed(
    world: World,
) -> None:
    case_id = submit(world, by="police")
    coordinator = signed_in(world, "coordinator")
    form = coordinator.get(f"/dossiers/{case_id}/correction")
    assert f'value="{LAST_NAME}"' in form.text
    version = _version(world, case_id)
    before = head(world)
    # An emptied required field: refused on its field, the typed values kept, nothing changed.
    response = coordinator.post(
        f"/dossiers/{case_id}/correction",
        {
            "version": str(version),
            "last_name": "",
            "first_name": "Ysoline",
            "birth_date": ok(world.as_("coordinator").get(f"/cases/{case_id}"))["minor"][
                "birth_date"
            ],
            "motifs": ["absenteeism"],
        },
    )
    assert response.status_code == 422
    assert 'id="last_name-erreur"' in response.text
    assert 'value="Ysoline"' in response.text
    assert _version(world, case_id) == version
    [refusal] = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert (refusal["action"], refusal["case_id"]) == ("amend_case", case_id)


def test_a_stale_form_is_refused_rather_than_overwriting(world: World) -> None:
    case_id = submit(world, by="police")
    coordinator = signed_in(world, "coordinator")
    coordinator.get(f"/dossiers/{case_id}/correction")
    stale = str(_version(world, case_id))
    ok(world.as_("police").patch(f"/cases/{case_id}", {"facts": "Précisés par l'auteur."}))
    typed = {**_as_the_form_shows(world, case_id), "version": stale, "school": "Collège Autre"}
    response = coordinator.post(f"/dossiers/{case_id}/correction", typed)
    assert response.status_code == 409
    assert "Quelqu'un a modifié cette situation" in html.unescape(response.text)


def test_withdrawal_is_confirmed_then_the_case_says_so(world: World) -> None:
    case_id = submit(world, by="police")
    police = signed_in(world, "police")
    page = police.get(f"/dossiers/{case_id}")
    assert 'id="form-withdrawal"' in page.text
    done = police.confirm(f"/dossiers/{case_id}/retrait", {"reason": "sent_by_mistake"})
    assert done.status_code == 303
    shown = html.unescape(police.follow(done.headers["location"]).text)
    assert "Le signalement est retiré" in shown
    assert "Retirée le" in shown
    assert 'id="form-withdrawal"' not in shown  # terminal: nothing more is offered


def test_the_coordinator_returns_a_signalement_and_the_author_sees_it(world: World) -> None:
    case_id = submit(world, by="police")
    coordinator = signed_in(world, "coordinator")
    page = coordinator.get(f"/dossiers/{case_id}")
    assert 'id="form-return"' in page.text
    assert 'id="form-referral"' in page.text
    # A missing reason comes back to the form, on its field.
    refused = coordinator.post(f"/dossiers/{case_id}/renvoi", {"reason": ""})
    assert refused.status_code == 422
    assert 'id="return-reason-erreur"' in refused.text
    done = coordinator.post(f"/dossiers/{case_id}/renvoi", {"reason": "facts_missing"})
    assert done.status_code == 303
    page = coordinator.follow(done.headers["location"])
    # While it waits for its author, it is not offered to the parquet, nor returned again.
    assert 'id="form-referral"' not in page.text
    assert 'id="form-return"' not in page.text
    police = signed_in(world, "police")
    listed = html.unescape(police.get("/dossiers").text)
    assert "renvoyée à son auteur" in listed


def test_a_note_is_corrected_from_the_case_page(world: World) -> None:
    case_id = to_research(world)
    ok(world.as_("teacher").post(f"/cases/{case_id}/research-notes", {"content": "Connue."}))
    teacher = signed_in(world, "teacher")
    page = teacher.get(f"/dossiers/{case_id}")
    found = re.search(rf'action="/dossiers/{case_id}/notes/([0-9a-f-]+)"', page.text)
    assert found is not None
    path = f"/dossiers/{case_id}/notes/{found.group(1)}"
    refused = teacher.post(path, {"content": "x" * 4001})
    assert refused.status_code == 422
    done = teacher.post(path, {"content": "Connue du collège (fictif)."})
    assert done.status_code == 303
    assert done.headers["location"] == f"/dossiers/{case_id}?fait=note-corrigee"
    # Another member has no such form for a note not theirs.
    police = signed_in(world, "police")
    assert "/notes/" not in police.get(f"/dossiers/{case_id}").text


def test_the_versions_page_is_the_coordinators(world: World) -> None:
    case_id = submit(world, by="police")
    ok(world.as_("police").patch(f"/cases/{case_id}", {"minor": {"last_name": NEW_NAME}}))
    coordinator = signed_in(world, "coordinator")
    assert f'href="/dossiers/{case_id}/versions"' in coordinator.get(f"/dossiers/{case_id}").text
    page = coordinator.get(f"/dossiers/{case_id}/versions")
    assert page.status_code == 200
    assert LAST_NAME in page.text  # the replaced value, for the coordinator
    police = signed_in(world, "police")
    assert "/versions" not in police.get(f"/dossiers/{case_id}").text
    assert police.get(f"/dossiers/{case_id}/versions").status_code == 403


def test_the_search_box_finds_a_case_by_its_reference(world: World) -> None:
    """The reference is posted, never put in an address: a name typed there by mistake
    reaches no URL and no log."""
    first = submit(world, by="police")
    second = submit(world, by="teacher")
    with world.db() as session:
        reference = session.scalar(select(Case.reference).where(Case.id == uuid.UUID(second)))
    coordinator = signed_in(world, "coordinator")
    listed = coordinator.get("/dossiers")
    assert 'action="/dossiers/reference"' in listed.text
    found = coordinator.post("/dossiers/reference", {"reference": f" {reference.lower()} "})
    assert found.status_code == 303
    assert found.headers["location"] == f"/dossiers/{second}"
    refused = coordinator.post("/dossiers/reference", {"reference": LAST_NAME})
    assert refused.status_code == 422
    assert 'id="reference-erreur"' in refused.text
    assert f'value="{LAST_NAME}"' in refused.text  # what was typed, kept on the form
    missing = coordinator.post("/dossiers/reference", {"reference": "18-1999-0001"})
    assert missing.status_code == 404
    assert 'id="reference-erreur"' in missing.text
    assert first  # the other case exists, and is not what was asked
    # Another cell's coordinator does not find it either (existence not revealed).
    other = signed_in(world, "coordinator-19")
    other.get("/dossiers")
    assert other.post("/dossiers/reference", {"reference": reference}).status_code == 404


def test_the_list_sorts_by_the_date_chosen(world: World) -> None:
    submit(world, by="police")
    coordinator = signed_in(world, "coordinator")
    sorted_page = coordinator.get("/dossiers", params={"tri": "updated_at"})
    assert sorted_page.status_code == 200
    assert 'value="updated_at" selected' in sorted_page.text
