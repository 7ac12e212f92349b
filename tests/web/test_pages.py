"""The pages over the same services and policies as the API: the procedure through forms,
the blocks each role sees, the refusals, and no name outside a page's body."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.cases.models import Case
from app.clock import today
from app.web import labels
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import FIRST_NAME, LAST_NAME, meeting, ok, on_day, to_cell_review
from tests.web.browser import Browser, signed_in, title_of

STATIC = Path(__file__).resolve().parents[2] / "app" / "web" / "static"


def _case_form(world: World, **overrides: Any) -> dict[str, Any]:
    on = today()
    form: dict[str, Any] = {
        "cell_id": str(world.cell.id),
        "motifs": ["absenteeism", "night_presence"],
        "facts": "Absences répétées signalées (exemple fictif).",
        "last_name": LAST_NAME,
        "first_name": FIRST_NAME,
        "birth_date": on.replace(year=on.year - 14, day=1).isoformat(),
        "sex": "F",
        "address": "12 rue Imaginaire, 75018 Paris",
        "school": "Collège Fictif",
        "guardian_name_1": "Parent Zyxwavel",
        "guardian_relationship_1": "parent",
        "guardian_phone_1": "0100000000",
    }
    form.update(overrides)
    return form


def _cases(world: World) -> int:
    with world.db() as session:
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def _submitted(world: World, browser: Browser) -> str:
    browser.get("/dossiers/nouveau")
    response = browser.post("/dossiers/nouveau", _case_form(world))
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    # An id, never a name, and the step done.
    assert re.fullmatch(r"/dossiers/[0-9a-f-]{36}\?fait=signalement", location)
    return location.split("?")[0].rsplit("/", 1)[1]


def _withheld(page: str) -> list[str]:
    """The blocks a case page says the charter hides, by their French heading."""
    return re.findall(r'<h2 id="bloc-(\w+)">[^<]*</h2>\s*<p class="withheld">', page)


def test_the_six_steps_through_the_pages(world: World) -> None:
    police = signed_in(world, "police")
    with on_day(world, today() - timedelta(days=40)):  # sent 40 days ago: a month has passed
        case_id = _submitted(world, police)
    page = police.get(f"/dossiers/{case_id}")
    assert page.status_code == 200
    assert LAST_NAME not in title_of(page)
    assert FIRST_NAME not in title_of(page)

    coordinator = signed_in(world, "coordinator")
    page = coordinator.get(f"/dossiers/{case_id}")
    assert LAST_NAME in page.text
    assert "Transmettre au parquet" in page.text
    referred = coordinator.post(f"/dossiers/{case_id}/transmission-parquet")
    assert (referred.status_code, referred.headers["location"]) == (
        303,
        f"/dossiers/{case_id}?fait=parquet",
    )
    assert (
        "La situation a été transmise au parquet"
        in coordinator.get(referred.headers["location"]).text
    )

    parquet = signed_in(world, "parquet")
    parquet.get(f"/dossiers/{case_id}")
    response = parquet.confirm(f"/dossiers/{case_id}/decision-parquet", {"retained": "oui"})
    assert response.status_code == 303

    teacher = signed_in(world, "teacher")
    page = teacher.get(f"/dossiers/{case_id}")
    assert "Ajouter la note" in page.text
    note = "Échange avec l'établissement, suivi proposé (fictif)."
    response = teacher.post(f"/dossiers/{case_id}/note-recherche", {"content": note})
    assert response.status_code == 303

    # Step 4 at a meeting (the meeting's page is another screen): through the API here.
    meeting_id = meeting(world)
    ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}))

    coordinator.get(f"/dossiers/{case_id}")
    response = coordinator.confirm(
        f"/dossiers/{case_id}/decision-cellule",
        {"decision": "orient", "destinations": ["social_services"]},
    )
    assert response.status_code == 303
    coordinator.get(f"/dossiers/{case_id}")
    response = coordinator.post(
        f"/dossiers/{case_id}/information-famille",
        {"informed_on": today().isoformat(), "means": "phone", "outcome": "informed"},
    )
    assert response.status_code == 303
    page = coordinator.get(f"/dossiers/{case_id}")
    [orientation_id] = re.findall(r"/orientations/([0-9a-f-]{36})/transmission", page.text)
    transmission = f"/dossiers/{case_id}/orientations/{orientation_id}/transmission"
    assert coordinator.confirm(transmission).status_code == 303

    cst = signed_in(world, "cst")
    page = cst.get(f"/dossiers/{case_id}")
    assert "Enregistrer le retour" in page.text
    response = cst.post(
        f"/dossiers/{case_id}/orientations/{orientation_id}/retour",
        {"outcome": "support_in_place"},
    )
    assert response.status_code == 303, response.text
    case = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    assert case["state"] == "feedback"
    assert [f["outcome"] for f in case["feedback"]] == ["support_in_place"]
    assert [n["content"] for n in case["research_notes"]] == [note]


@pytest.mark.parametrize("username", ["cst", "teacher", "police", "parquet", "coordinator"])
def test_a_case_page_shows_exactly_the_blocks_the_api_shows(world: World, username: str) -> None:
    case_id = to_cell_review(world)
    api = ok(world.as_(username).get(f"/cases/{case_id}"))
    page = signed_in(world, username).get(f"/dossiers/{case_id}")
    assert page.status_code == 200
    assert _withheld(page.text) == api["withheld"]
    assert (LAST_NAME in page.text) == ("identity" not in api["withheld"])
    assert ("rue Imaginaire" in page.text) == ("contact" not in api["withheld"])
    assert ("Absences" in page.text) == ("facts" not in api["withheld"])
    for block in api["withheld"]:
        assert "Masqué par la charte" in page.text, block


def test_reading_a_case_page_is_an_audited_read(world: World) -> None:
    case_id = to_cell_review(world)
    browser = signed_in(world, "cst")
    before = head(world)
    browser.get(f"/dossiers/{case_id}")
    [read] = [e for e in events(world, before) if e["action"] == "read_case"]
    assert read["case_id"] == case_id
    assert read["actor_id"] == world.users["cst"]
    assert read["outcome"] == "allowed"


def test_a_case_of_another_cell_is_a_logged_404_page(world: World) -> None:
    case_id = to_cell_review(world)
    browser = signed_in(world, "coordinator-19")
    before = head(world)
    page = browser.get(f"/dossiers/{case_id}")
    assert page.status_code == 404
    assert LAST_NAME not in page.text
    assert "Aucune situation de vos cellules" in page.text
    [refusal] = events(world, before)
    assert (refusal["action"], refusal["outcome"]) == ("read_case", "denied")


def test_a_forged_post_without_its_csrf_token_is_refused_and_changes_nothing(
    world: World,
) -> None:
    police = signed_in(world, "police")
    case_id = _submitted(world, police)
    coordinator = signed_in(world, "coordinator")
    before = head(world)
    response = coordinator.post(f"/dossiers/{case_id}/transmission-parquet", {"csrf": ""})
    assert response.status_code == 403
    assert "jeton anti-falsification" in response.text
    response = coordinator.post(
        f"/dossiers/{case_id}/transmission-parquet",
        headers={"Origin": "https://attacker.example"},
    )
    assert response.status_code == 403
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["state"] == "submitted"
    refusals = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert [(e["action"], e["case_id"]) for e in refusals] == [("refer_to_parquet", case_id)] * 2
    # Another session's token is no better.
    other = Browser.open(world)
    other.sign_in("coordinator")
    other.get("/dossiers")
    assert other.csrf
    assert other.csrf != coordinator.csrf
    response = coordinator.post(f"/dossiers/{case_id}/transmission-parquet", {"csrf": other.csrf})
    assert response.status_code == 403


def test_a_new_signalement_with_errors_says_which_fields_and_keeps_nothing(
    world: World,
) -> None:
    police = signed_in(world, "police")
    police.get("/dossiers/nouveau")
    form = _case_form(world, last_name="", motifs=[], birth_date="pas une date")
    response = police.post("/dossiers/nouveau", form)
    assert response.status_code == 422
    assert _cases(world) == 0
    for field in ("last_name", "motifs", "birth_date"):
        assert f'id="{field}-erreur"' in response.text, field
    assert 'aria-describedby="last_name-erreur"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert FIRST_NAME in response.text  # what was typed is kept for correcting
    assert LAST_NAME not in title_of(response)


def test_the_form_stores_names_as_the_api_does(world: World) -> None:
    """The pages validate with the API's schemas: a name of invisible characters is refused
    with its own message; invisible characters elsewhere are removed from what is stored."""
    police = signed_in(world, "police")
    police.get("/dossiers/nouveau")
    response = police.post("/dossiers/nouveau", _case_form(world, first_name="\u202e\u200b"))
    assert response.status_code == 422
    assert _cases(world) == 0
    assert 'id="first_name-erreur"' in response.text
    assert "Un nom contient au moins une lettre." in response.text
    response = police.post(
        "/dossiers/nouveau", _case_form(world, last_name=f"\u202e{LAST_NAME}\u200b")
    )
    assert response.status_code == 303, response.text
    case_id = response.headers["location"].rsplit("/", 1)[1]
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["minor"]["last_name"] == (
        LAST_NAME
    )


def test_the_list_shows_my_cells_cases_with_the_step_each_awaits(world: World) -> None:
    police = signed_in(world, "police")
    case_id = _submitted(world, police)
    coordinator = signed_in(world, "coordinator")
    page = coordinator.get("/dossiers")
    assert f"/dossiers/{case_id}" in page.text
    assert LAST_NAME in page.text
    assert labels.AWAITS["submitted"] in page.text
    filtered = coordinator.get("/dossiers?etat=research")
    assert f"/dossiers/{case_id}" not in filtered.text
    fragment = coordinator.get("/dossiers?etat=submitted", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text
    assert f"/dossiers/{case_id}" in fragment.text
    other = signed_in(world, "coordinator-19").get("/dossiers")
    assert f"/dossiers/{case_id}" not in other.text


def test_every_value_of_every_closed_list_has_its_french_label() -> None:
    for kind, names in labels.LABELS.items():
        assert issubclass(kind, StrEnum)
        assert set(names) == {member.value for member in kind}, kind.__name__
    # Each state either awaits a step or has ended, never both: no "awaits: nothing".
    assert set(labels.AWAITS) | set(labels.ENDED) == {state.value for state in labels.CaseState}
    assert not set(labels.AWAITS) & set(labels.ENDED)
    assert not any(text.startswith("Rien") for text in labels.AWAITS.values())


def test_the_vendored_scripts_are_the_pinned_ones() -> None:
    vendor = STATIC / "vendor"
    table = (vendor / "README.md").read_text()
    pinned = dict(re.findall(r"\| `([^`]+\.(?:js|css))` \|.*\| `([0-9a-f]{64})` \|", table))
    # Every script and style sheet shipped there is in the table: none is served unpinned.
    shipped = {
        p.relative_to(vendor).as_posix() for p in vendor.rglob("*") if p.suffix in (".js", ".css")
    }
    assert shipped == set(pinned)
    for name, digest in pinned.items():
        actual = hashlib.sha256((vendor / name).read_bytes()).hexdigest()
        assert actual == digest, name
    base = (STATIC.parent / "templates" / "base.html").read_text()
    assert re.findall(r"vendor/([^\"]+\.js)", base)


def test_the_static_files_are_served_cacheable_and_pages_are_not(world: World) -> None:
    browser = Browser.open(world)
    script = browser.get("/static/vendor/htmx-2.0.11.min.js")
    assert script.status_code == 200
    assert script.headers["cache-control"].startswith("public")
    assert browser.get("/connexion").headers["cache-control"] == "no-store"
