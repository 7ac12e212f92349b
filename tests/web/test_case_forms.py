"""The case page's forms: one validation with the API's, each error on its field, what was
typed kept, nothing changed, and the refusal in the audit log."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.cases.models import ArchiveAccess, ResearchNote
from app.clock import today
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import ok, to_cell_review, to_oriented, to_research
from tests.web.browser import signed_in

TOO_LONG = "Une note bien trop longue exemple fictif " * 1500  # 61,500 characters
CONTROL = ["avant\x00après", "avant\x1b[31maprès", "avant\x7faprès", "avant\x08après"]


def _notes(world: World) -> int:
    with world.db() as session:
        return int(session.scalar(select(func.count()).select_from(ResearchNote)) or 0)


def _textarea(response: Any, name: str) -> str:
    found = re.search(
        rf'<textarea id="{name}" name="{name}"[^>]*>(.*?)</textarea>', response.text, re.S
    )
    assert found, f"no textarea {name}"
    return html.unescape(found.group(1))


def _refused_on_the_field(
    world: World,
    response: Any,
    *,
    form: str,
    field: str,
    words: str,
    before: int,
    case_id: str,
    slug: str = "validation-error",
    group: bool = False,
) -> None:
    """A 422 page back where the form was, the error on its field, and one refusal logged."""
    assert response.status_code == 422, response.text[:500]
    assert f'id="{form}-{field}-erreur"' in response.text
    assert words in html.unescape(response.text)
    assert f'aria-describedby="{field}-aide {form}-{field}-erreur"' in response.text or (
        f'aria-describedby="{form}-{field}-erreur"' in response.text
    )
    # A group of checkboxes is described by its error; an input is marked invalid too.
    assert group or 'aria-invalid="true"' in response.text
    assert 'href="#form-' + form + '"' in response.text  # the summary leads to the form
    refusals = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert [(e["case_id"], e["detail"]) for e in refusals] == [(case_id, slug)]


@pytest.mark.parametrize("content", [TOO_LONG, *CONTROL], ids=["60k", "nul", "esc", "del", "bs"])
def test_a_research_note_the_api_refuses_is_refused_by_the_page_on_its_field(
    world: World, content: str
) -> None:
    case_id = to_research(world)
    # The API's verdict is the oracle: one validation for both.
    api = world.as_("police").post(f"/cases/{case_id}/research-notes", {"content": content})
    assert api.status_code == 422
    assert _notes(world) == 0
    police = signed_in(world, "police")
    police.get(f"/dossiers/{case_id}")
    before = head(world)
    response = police.post(f"/dossiers/{case_id}/note-recherche", {"content": content})
    words = "trop long" if content == TOO_LONG else "caractères de contrôle"
    _refused_on_the_field(
        world, response, form="note", field="content", words=words, before=before, case_id=case_id
    )
    [refusal] = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert refusal["action"] == "add_research_note"
    assert _notes(world) == 0
    # What was typed is there to correct.
    assert _textarea(response, "content") == content


def test_a_valid_research_note_goes_through_the_page(world: World) -> None:
    case_id = to_research(world)
    police = signed_in(world, "police")
    police.get(f"/dossiers/{case_id}")
    response = police.post(
        f"/dossiers/{case_id}/note-recherche", {"content": "Connue du commissariat (fictif)."}
    )
    assert (response.status_code, response.headers["location"]) == (
        303,
        f"/dossiers/{case_id}?fait=note",
    )
    assert "Votre note de recherche a été ajoutée" in police.get(response.headers["location"]).text
    assert _notes(world) == 1


def test_a_review_decision_without_destination_is_sent_back_with_what_was_chosen(
    world: World,
) -> None:
    case_id = to_cell_review(world)
    coordinator = signed_in(world, "coordinator")
    coordinator.get(f"/dossiers/{case_id}")
    before = head(world)
    response = coordinator.post(
        f"/dossiers/{case_id}/decision-cellule", {"decision": "orient", "destinations": []}
    )
    _refused_on_the_field(
        world,
        response,
        form="decision",
        field="destinations",
        words="au moins une destination",
        before=before,
        case_id=case_id,
        slug="invalid-input",
        group=True,
    )
    assert 'id="decision-orient" name="decision" value="orient" checked' in response.text
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["state"] == "cell_review"
    # A destination the cell does not offer: refused by the same rule as the API's.
    before = head(world)
    response = coordinator.post(
        f"/dossiers/{case_id}/decision-cellule",
        {"decision": "orient", "destinations": ["crip", "spip"]},
    )
    _refused_on_the_field(
        world,
        response,
        form="decision",
        field="destinations",
        words="pas ouverte à cette cellule",
        before=before,
        case_id=case_id,
        slug="invalid-input",
        group=True,
    )
    assert 'id="destination-crip" name="destinations" value="crip" checked' in response.text


def test_a_family_information_in_the_future_is_sent_back_on_its_date(world: World) -> None:
    case_id, _ = to_oriented(world, "social_services")
    coordinator = signed_in(world, "coordinator")
    coordinator.get(f"/dossiers/{case_id}")
    tomorrow = (today() + timedelta(days=1)).isoformat()
    before = head(world)
    response = coordinator.post(
        f"/dossiers/{case_id}/information-famille",
        {"informed_on": tomorrow, "means": "phone", "outcome": "informed"},
    )
    _refused_on_the_field(
        world,
        response,
        form="family",
        field="informed_on",
        words="ne peut pas être dans le futur",
        before=before,
        case_id=case_id,
        slug="informed-on-in-future",
    )
    assert f'name="informed_on" type="date" value="{tomorrow}"' in response.text
    assert 'id="means-phone" name="means" value="phone" checked' in response.text
    case = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    assert case["family_information"] is None


def test_a_feedback_outside_the_closed_form_is_sent_back(world: World) -> None:
    case_id, ids = to_oriented(world, "crip")
    ok(world.as_("coordinator").post(f"/cases/{case_id}/orientations/{ids['crip']}/transmission"))
    coordinator = signed_in(world, "coordinator")
    coordinator.get(f"/dossiers/{case_id}")
    before = head(world)
    response = coordinator.post(
        f"/dossiers/{case_id}/orientations/{ids['crip']}/retour",
        {"outcome": "support_in_place", "reoriented_to": "medico_social"},
    )
    assert response.status_code == 422
    assert "réorientée" in html.unescape(response.text)  # the rule, in the form's words
    assert f'id="outcome-{ids["crip"]}-support_in_place"' in response.text
    refusals = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert [(e["case_id"], e["detail"]) for e in refusals] == [(case_id, "invalid-feedback")]
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["feedback"] == []


def test_an_archive_access_without_its_purpose_is_sent_back_then_granted_with_it(
    world: World,
) -> None:
    """The purpose is asked on the page (no choice made for the user); refused without one,
    the form comes back with the reason typed, the message on the purpose, nothing granted."""
    case_id, _ = to_oriented(world, "crip")
    ok(world.as_("coordinator").post(f"/cases/{case_id}/closure", {"reason": "moved_away"}))
    coordinator = signed_in(world, "coordinator")
    refusal_page = coordinator.get(f"/dossiers/{case_id}")
    assert refusal_page.status_code == 403
    assert refusal_page.text.count('name="purpose"') == 6  # the closed list, none checked
    assert 'name="purpose" value="other" required checked' not in refusal_page.text
    reason = "Le juge des enfants demande où en est la situation."
    before = head(world)
    response = coordinator.post(f"/dossiers/{case_id}/acces-archive", {"reason": reason})
    assert response.status_code == 422
    assert 'id="purpose-erreur"' in response.text
    assert 'id="reason-erreur"' not in response.text
    assert _textarea(response, "reason") == reason
    [refusal] = events(world, before)
    assert (refusal["action"], refusal["outcome"], refusal["detail"]) == (
        "request_archive_access",
        "denied",
        "validation-error",
    )
    response = coordinator.post(
        f"/dossiers/{case_id}/acces-archive", {"reason": reason, "purpose": "judicial_request"}
    )
    assert response.status_code == 303, response.text
    with world.db() as session:
        [access] = session.scalars(select(ArchiveAccess))
    assert access.purpose == "judicial_request"
    assert coordinator.get(f"/dossiers/{case_id}").status_code == 200


def test_an_archive_reason_too_short_is_sent_back_with_what_was_typed(world: World) -> None:
    case_id, _ = to_oriented(world, "crip")
    ok(world.as_("coordinator").post(f"/cases/{case_id}/closure", {"reason": "moved_away"}))
    coordinator = signed_in(world, "coordinator")
    assert coordinator.get(f"/dossiers/{case_id}").status_code == 403
    before = head(world)
    response = coordinator.post(f"/dossiers/{case_id}/acces-archive", {"reason": "Pour voir"})
    assert response.status_code == 422
    assert 'id="reason-erreur"' in response.text
    assert "trop court" in html.unescape(response.text)
    assert _textarea(response, "reason") == "Pour voir"
    refusals = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert [(e["case_id"], e["action"], e["detail"]) for e in refusals] == [
        (case_id, "request_archive_access", "validation-error")
    ]
    with world.db() as session:
        found = session.scalar(
            select(func.count())
            .select_from(ArchiveAccess)
            .where(ArchiveAccess.case_id == uuid.UUID(case_id))
        )
    assert found == 0


def test_a_step_the_procedure_refuses_leads_back_to_the_case_page(world: World) -> None:
    """A transmission to social services before the family is informed (R8): the case page
    again, saying why, with nothing changed."""
    case_id, ids = to_oriented(world, "social_services")
    coordinator = signed_in(world, "coordinator")
    coordinator.get(f"/dossiers/{case_id}")
    before = head(world)
    orientation = ids["social_services"]
    response = coordinator.post(f"/dossiers/{case_id}/orientations/{orientation}/transmission")
    assert response.status_code == 409
    assert "La famille doit être informée" in html.unescape(response.text)
    assert f'href="#form-transmission-{orientation}"' in response.text
    refusals = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert [(e["case_id"], e["detail"]) for e in refusals] == [(case_id, "family-not-informed")]
    case = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    assert [o["transmitted_at"] for o in case["orientations"]] == [None]
