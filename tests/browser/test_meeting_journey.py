"""A meeting run from the service in a real browser (issue 17): the coordinator convenes it,
fills its agenda with every case the one-month rule allows, puts it in order, prints the
agenda, records who attended and the cell's decision on each case in agenda order without
leaving the page, marks the meeting held and downloads the relevé de décisions; a member
who attended downloads it too and finds only what the charter shows a member. The meeting
page is checked by axe-core, and on a 375 px wide phone screen nothing overflows.
"""

from __future__ import annotations

import io
import re
from datetime import date

from playwright.sync_api import Page, expect
from pypdf import PdfReader

from app.clock import today
from app.vocabulary import Organisation, Role
from tests.browser import axe
from tests.browser.conftest import Site
from tests.scenario import declared_body, ok
from tests.web.browser import set_password

COORDINATOR, POLICE, PARQUET = "reunion-coordination", "reunion-police", "reunion-parquet"
# Invented minors: the first to be oriented, the second closed without action.
FIRST = ("Vantorel", "Séraphin", date(2012, 4, 3))
SECOND = ("Quillardeau", "Maëlys", date(2011, 11, 21))
PLACE = "Mairie du 18e, salle des commissions"
PHONE = {"width": 375, "height": 800}


def _people_and_cases(site: Site) -> dict[str, str]:
    """The meeting's people, and two situations received forty days ago and retained by the
    parquet (so that a meeting today may examine them): their references, by last name."""
    world = site.world
    world.add_user(COORDINATOR, Role.COORDINATOR)
    world.add_user(POLICE, Role.MEMBER, Organisation.POLICE)
    world.add_user(PARQUET, Role.PARQUET)
    for username in (COORDINATOR, POLICE, PARQUET):
        set_password(world, username)
    references = {}
    with site.api(COORDINATOR) as coordinator, site.api(PARQUET) as parquet:
        for last_name, first_name, born in (FIRST, SECOND):
            body = declared_body(world.cell.id, received_days_ago=40)
            body["minor"] = body["minor"] | {
                "last_name": last_name,
                "first_name": first_name,
                "birth_date": born.isoformat(),
            }
            case = ok(coordinator.post("/cases", json=body))
            ok(coordinator.post(f"/cases/{case['id']}/parquet-referral"))
            ok(parquet.post(f"/cases/{case['id']}/parquet-decision", json={"retained": True}))
            references[last_name] = case["reference"]
    return references


def _pdf_text(page: Page, link: str) -> str:
    """The text of the PDF a link downloads (as the browser saves it)."""
    with page.expect_download() as started:
        page.get_by_role("link", name=link).click()
    download = started.value
    assert download.suggested_filename.endswith(".pdf")
    path = download.path()
    assert path is not None
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    return "\n".join(p.extract_text() for p in reader.pages)


def test_a_coordinator_runs_a_meeting_from_convening_to_minutes(site: Site) -> None:
    references = _people_and_cases(site)
    first, second = references[FIRST[0]], references[SECOND[0]]
    page = site.page_of(COORDINATOR)

    # What awaits the coordinator (issue 18): both cases, a month old, ready for a meeting.
    page.get_by_role("navigation").get_by_role("link", name="À faire").click()
    ready = page.get_by_role("region", name=re.compile("qu'une réunion peut désormais examiner"))
    for reference in (first, second):  # received the same day: in either order
        expect(ready.get_by_role("link", name=f"Situation {reference}")).to_be_visible()
    axe.check(page, "/a-faire (coordinator)")
    # And what awaits the police officer: the cell's cases in research.
    member = site.page_of(POLICE)
    member.get_by_role("navigation").get_by_role("link", name="À faire").click()
    research = member.get_by_role("region", name=re.compile("en recherche dans vos cellules"))
    expect(research.get_by_role("link")).to_have_count(2)
    axe.check(member, "/a-faire (member)")

    # Convened: today, at a time, in a place.
    page.get_by_role("navigation").get_by_role("link", name="Réunions").click()
    page.get_by_label("Date de la réunion").fill(today().isoformat())
    page.get_by_label("Heure de début").fill("09:30")
    page.get_by_label("Lieu").fill(PLACE)
    page.get_by_role("button", name="Convoquer la réunion").click()
    expect(page.locator("#fait")).to_contain_text("La réunion est convoquée")
    expect(page.get_by_role("heading", level=1)).to_contain_text("à 09:30")
    axe.check(page, "/reunions/{id} (convened)")

    # Every case the one-month rule allows is offered: both, put on the agenda at once.
    offered = page.get_by_role("group", name=re.compile("peut examiner à cette réunion"))
    expect(offered.get_by_role("checkbox")).to_have_count(2)
    offered.get_by_role("checkbox", name=re.compile(FIRST[0])).check()
    offered.get_by_role("checkbox", name=re.compile(SECOND[0])).check()
    page.get_by_role("button", name="Inscrire la sélection à l'ordre du jour").click()
    agenda = page.get_by_role("region", name="Situations à examiner")
    expect(agenda.get_by_role("heading", level=3)).to_have_count(2)
    # The second case is examined first: moved up. (Both were received the same day, so the
    # agenda may have taken them in either order: put the first one on top first, if need be.)
    headings = agenda.get_by_role("heading", level=3)
    if headings.all_inner_texts()[0] == f"Situation {second}":
        agenda.get_by_role("button", name=f"Monter la situation {first}").click()
        expect(headings).to_have_text([f"Situation {first}", f"Situation {second}"])
    agenda.get_by_role("button", name=f"Monter la situation {second}").click()
    expect(headings).to_have_text([f"Situation {second}", f"Situation {first}"])
    axe.check(page, "/reunions/{id} (agenda)")

    # The agenda, printed: both minors, in the agenda's order, each page marked.
    text = _pdf_text(page, "Ordre du jour (PDF)")
    assert text.index(SECOND[0]) < text.index(FIRST[0])
    assert f"Confidentiel — document nominatif — {COORDINATOR}" in text
    assert re.search(r"Page 1 / \d+", text)

    # Attendance: the coordinator and the police officer; the parquet was absent.
    presence = page.get_by_role(
        "group", name="Feuille de présence : cochez les participants présents"
    )
    presence.get_by_role("checkbox", name=re.compile(f"^{COORDINATOR}")).check()
    presence.get_by_role("checkbox", name=re.compile(f"^{POLICE}")).check()
    page.get_by_role("button", name="Enregistrer la feuille de présence").click()
    expect(page.locator("#fait")).to_contain_text("feuille de présence est enregistrée")

    # The decisions, in agenda order, on this page: the first examined is closed without
    # action, the second oriented to the CRIP.
    decision = page.locator(f"#form-decision-{_case_id(site, second)}")
    decision.get_by_label("Classer sans suite").check()
    decision.get_by_label(re.compile("Je confirme la décision")).check()
    decision.get_by_role("button", name=re.compile("Enregistrer la décision")).click()
    expect(page.locator("#fait")).to_contain_text("décision de la cellule est enregistrée")
    decision = page.locator(f"#form-decision-{_case_id(site, first)}")
    decision.get_by_role("checkbox", name=re.compile("CRIP")).check()
    # Forgotten: the confirmation. Back to the same form, the CRIP still ticked.
    decision.get_by_role("button", name=re.compile("Enregistrer la décision")).click()
    expect(page.get_by_role("alert").first).to_contain_text("rien n'a été modifié")
    decision = page.locator(f"#form-decision-{_case_id(site, first)}")
    expect(decision.get_by_role("checkbox", name=re.compile("CRIP"))).to_be_checked()
    axe.check(page, "/reunions/{id} (a decision refused)")
    decision.get_by_label(re.compile("Je confirme la décision")).check()
    decision.get_by_role("button", name=re.compile("Enregistrer la décision")).click()
    expect(page.locator("#fait")).to_contain_text("décision de la cellule est enregistrée")

    page.get_by_role("button", name="Marquer la réunion comme tenue").click()
    expect(page.locator("#fait")).to_contain_text("marquée comme tenue")
    expect(page.locator(".meta")).to_contain_text("Tenue")
    axe.check(page, "/reunions/{id} (held)")

    # The relevé de décisions: the orientation with its destination; the case closed
    # without action is archived (R17), shown as its reference and "clôturée".
    minutes = _pdf_text(page, "Relevé de décisions (PDF)")
    assert "Relevé de décisions" in minutes
    assert FIRST[0] in minutes
    assert re.search(r"CRIP|Cellule de recueil", minutes)
    assert second in minutes
    assert SECOND[0] not in minutes
    assert re.search("[Cc]lôturée", minutes)

    # A member who attended: the decided cases are no longer a member's to read (R12).
    member.goto(page.url.split("?")[0])
    member_minutes = _pdf_text(member, "Relevé de décisions (PDF)")
    assert f"Confidentiel — document nominatif — {POLICE}" in member_minutes
    assert FIRST[0] not in member_minutes
    assert SECOND[0] not in member_minutes

    # On a phone: nothing wider than the screen.
    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    axe.check(page, "/reunions/{id} (375 px)")


def _case_id(site: Site, reference: str) -> str:
    with site.api(COORDINATOR) as coordinator:
        found = ok(coordinator.get("/cases", params={"reference": reference}))["items"]
    [case] = found
    return str(case["id"])
