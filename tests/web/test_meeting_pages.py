"""The meeting screen over the meetings service: scheduling, the agenda as the API shows it,
the not-retained situations the parquet presents, putting a case on the agenda (step 4)."""

from __future__ import annotations

import html
import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.cases.models import Case
from app.clock import today
from app.meetings.models import Meeting
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import (
    FIRST_NAME,
    LAST_NAME,
    meeting,
    meeting_body,
    ok,
    submit,
    to_research,
)
from tests.web.browser import Browser, signed_in, title_of


def _reference(world: World, case_id: str) -> str:
    with world.db() as session:
        found = session.scalar(select(Case.reference).where(Case.id == uuid.UUID(case_id)))
    assert found is not None
    return found


def _meetings(world: World) -> int:
    with world.db() as session:
        return int(session.scalar(select(func.count()).select_from(Meeting)) or 0)


def _options(page: str) -> list[str]:
    """The case ids the agenda form offers."""
    form = re.search(r'<form [^>]*id="form-agenda">.*?</form>', page, re.S)
    return re.findall(r'name="case_id" value="([0-9a-f-]{36})"', form.group(0)) if form else []


def _agenda_links(page: str) -> list[str]:
    section = re.search(r'<h2 id="ordre-du-jour">.*?</section>', page, re.S)
    assert section is not None
    return re.findall(r'href="/dossiers/([0-9a-f-]{36})"', section.group(0))


def _form(cell_id: int, held_on: date | None = None) -> dict[str, str]:
    """The convening form as a browser posts it."""
    return {k: str(v) for k, v in meeting_body(cell_id, held_on or today()).items()}


def _schedule(browser: Browser, world: World, **form: str) -> str:
    browser.get("/reunions")
    body = {k: str(v) for k, v in meeting_body(world.cell.id, today()).items()} | form
    response = browser.post("/reunions", body)
    assert response.status_code == 303, response.text
    location = str(response.headers["location"])
    found = re.fullmatch(r"/reunions/([0-9a-f-]{36})\?fait=convoquee", location)
    assert found is not None, location
    return found.group(1)


def test_a_coordinator_schedules_a_meeting_and_puts_a_case_on_its_agenda(world: World) -> None:
    case_id = to_research(world)
    coordinator = signed_in(world, "coordinator")
    listing = coordinator.get("/reunions")
    assert listing.status_code == 200
    assert "<h1>Réunions de mes cellules</h1>" in listing.text
    assert "Convoquer la réunion" in listing.text

    meeting_id = _schedule(coordinator, world)
    assert ok(world.as_("coordinator").get(f"/meetings/{meeting_id}"))["agenda"] == []
    assert f"/reunions/{meeting_id}" in coordinator.get("/reunions").text

    before = head(world)
    page = coordinator.get(f"/reunions/{meeting_id}")
    assert page.status_code == 200
    assert _options(page.text) == [case_id]
    assert LAST_NAME in page.text  # the coordinator sees every block (R10)
    # Every identity the page shows is an audited read (R23).
    [read] = events(world, before)
    assert (read["action"], read["case_id"], read["blocks"]) == (
        "read_meeting",
        case_id,
        ["identity", "workflow"],
    )
    assert LAST_NAME not in title_of(page)
    assert _agenda_links(page.text) == []

    before = head(world)
    response = coordinator.post(f"/reunions/{meeting_id}/situations", {"case_id": case_id})
    assert response.status_code == 303
    assert response.headers["location"] == f"/reunions/{meeting_id}?fait=inscrites"

    shown = ok(world.as_("coordinator").get(f"/meetings/{meeting_id}"))
    assert [item["case_id"] for item in shown["agenda"]] == [case_id]
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["state"] == "cell_review"
    assert any(e["case_id"] == case_id and e["outcome"] == "allowed" for e in events(world, before))

    page = coordinator.get(f"/reunions/{meeting_id}")
    assert _agenda_links(page.text) == [case_id]  # its page holds the review-decision form
    assert _options(page.text) == []
    decision = coordinator.get(f"/dossiers/{case_id}")
    assert "Enregistrer la décision" in decision.text


@pytest.mark.parametrize("username", ["coordinator", "parquet", "police", "teacher", "cst"])
def test_the_agenda_shows_what_the_api_shows(world: World, username: str) -> None:
    case_id = to_research(world)
    meeting_id = meeting(world)
    ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}))
    api = ok(world.as_(username).get(f"/meetings/{meeting_id}"))
    page = signed_in(world, username).get(f"/reunions/{meeting_id}")
    assert page.status_code == 200
    assert _agenda_links(page.text) == [item["case_id"] for item in api["agenda"]]
    [item] = api["agenda"]
    assert (LAST_NAME in page.text) == (item["minor"] is not None)
    assert ("masqué par la charte" in page.text) == (item["minor"] is None)


def test_only_cases_a_month_old_are_offered_and_a_forced_one_is_refused(world: World) -> None:
    ready = to_research(world)
    recent = to_research(world, received_days_ago=5)
    meeting_id = meeting(world)
    coordinator = signed_in(world, "coordinator")
    page = coordinator.get(f"/reunions/{meeting_id}")
    assert _options(page.text) == [ready]
    assert "Une autre situation retenue a été reçue moins d'un mois" in html.unescape(page.text)

    before = head(world)
    response = coordinator.post(f"/reunions/{meeting_id}/situations", {"case_id": recent})
    assert response.status_code == 409
    assert "au moins un mois calendaire après sa réception" in response.text
    assert ok(world.as_("coordinator").get(f"/cases/{recent}"))["state"] == "research"
    [refusal] = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert (refusal["action"], refusal["case_id"]) == ("put_on_agenda", recent)

    # A meeting a month later may examine it.
    later = meeting(world, held_on=today() + timedelta(days=31))
    assert set(_options(coordinator.get(f"/reunions/{later}").text)) == {ready, recent}


def test_a_member_reads_the_agenda_but_may_neither_schedule_nor_add_a_case(world: World) -> None:
    case_id = to_research(world)
    meeting_id = meeting(world)
    police = signed_in(world, "police")
    listing = police.get("/reunions")
    assert f"/reunions/{meeting_id}" in listing.text
    assert "Convoquer la réunion" not in listing.text
    page = police.get(f"/reunions/{meeting_id}")
    assert page.status_code == 200
    assert _options(page.text) == []
    assert "Inscrire la sélection" not in html.unescape(page.text)

    before = head(world)
    response = police.post("/reunions", _form(world.cell.id))
    assert response.status_code == 403
    assert "Action non permise" in response.text
    response = police.post(f"/reunions/{meeting_id}/situations", {"case_id": case_id})
    assert response.status_code == 403
    refusals = [(e["action"], e["outcome"], e["case_id"]) for e in events(world, before)]
    assert refusals == [
        ("create_meeting", "denied", None),
        ("put_on_agenda", "denied", case_id),
    ]
    assert _meetings(world) == 1
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["state"] == "research"


def test_a_meeting_of_another_cell_is_a_404_page(world: World) -> None:
    meeting_id = meeting(world)
    other = signed_in(world, "coordinator-19")
    page = other.get(f"/reunions/{meeting_id}")
    assert page.status_code == 404
    assert "Aucune réunion de vos cellules" in page.text
    assert f"/reunions/{meeting_id}" not in other.get("/reunions").text
    response = other.post("/reunions", _form(world.cell.id))
    assert response.status_code == 403
    assert _meetings(world) == 1


def test_the_parquet_presents_its_not_retained_situations_to_the_cell(world: World) -> None:
    case_id = submit(world)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": False}))
    meeting_id = meeting(world)
    for username in ("teacher", "parquet"):
        [item] = ok(world.as_(username).get(f"/meetings/{meeting_id}"))["not_retained"]
        page = signed_in(world, username).get(f"/reunions/{meeting_id}")
        section = re.search(r'<h2 id="non-retenues">.*?</section>', page.text, re.S)
        assert section is not None
        assert _reference(world, case_id) in section.group(0)
        assert "Non retenue" in section.group(0)
        assert (FIRST_NAME in section.group(0)) == (item["minor"] is not None), username
    # The CST is the expert of social services, not of the situations (R13): nothing of it.
    assert ok(world.as_("cst").get(f"/meetings/{meeting_id}"))["not_retained"] == []
    page = signed_in(world, "cst").get(f"/reunions/{meeting_id}")
    assert _reference(world, case_id) not in page.text


def test_a_wrong_schedule_form_says_which_field_and_creates_nothing(world: World) -> None:
    coordinator = signed_in(world, "coordinator")
    coordinator.get("/reunions")
    response = coordinator.post("/reunions", {"cell_id": str(world.cell.id), "held_on": ""})
    assert response.status_code == 422
    assert 'id="held_on-erreur"' in response.text
    far = today() + timedelta(days=800)
    response = coordinator.post("/reunions", _form(world.cell.id, far))
    assert response.status_code == 422
    assert "à moins d'un an" in html.unescape(response.text)
    assert _meetings(world) == 0


def test_whoever_belongs_to_no_cell_is_refused_the_meetings(world: World) -> None:
    auditor = signed_in(world, "auditor")
    before = head(world)
    page = auditor.get("/reunions")
    assert page.status_code == 403
    [refusal] = events(world, before)
    assert (refusal["action"], refusal["outcome"]) == ("list_meetings", "denied")


def test_presented_identities_wait_for_the_meetings_day(world: World) -> None:
    later = meeting(world, held_on=today() + timedelta(days=10))
    case_id = submit(world)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": False}))
    assert ok(world.as_("teacher").get(f"/meetings/{later}"))["not_retained"] == []
    page = signed_in(world, "teacher").get(f"/reunions/{later}")
    assert FIRST_NAME not in page.text
    assert f"Situation {_reference(world, case_id)}" not in page.text
    # Its submitter sees the mark of their own case, the identity on the day.
    [item] = ok(world.as_("police").get(f"/meetings/{later}"))["not_retained"]
    assert item["minor"] is None
    police = signed_in(world, "police").get(f"/reunions/{later}")
    assert FIRST_NAME not in police.text
    assert "identité montrée le jour de la réunion" in html.unescape(police.text)
    cst = signed_in(world, "cst").get(f"/reunions/{later}")
    assert f"Situation {_reference(world, case_id)}" not in cst.text
