"""The procedure in a real browser: a member signs in, accepts the charter and submits a
signalement by typing into the form; the coordinator and the parquet take it through the six
steps by clicking the case page's buttons; the CST records the social services' feedback; an
auditor finds every one of those reads in the log. axe-core checks every screen on the way.

With ``CENOMED_SCREENSHOTS=1`` the journey also saves the README's screenshots (invented
people only) into ``docs/screenshots/``; CI never sets it, so it never rewrites them.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from app.clock import today
from app.vocabulary import Organisation, Role
from tests.browser import axe
from tests.browser.conftest import Site, sign_in
from tests.scenario import FIRST_NAME, LAST_NAME, case_body, ok
from tests.web.browser import set_password

# The sign-in page lists the demo accounts (as ``make run`` does): the journey's people are
# named like them, so the screenshot of that page is the one a newcomer sees.
SERVER_ENV = {"CENOMED_WEB_DEMO_ACCOUNTS": "true"}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
POLICE, TEACHER, COORDINATOR = "demo-police", "demo-education", "demo-coordinator"
PARQUET, CST, AUDITOR = "demo-parquet", "demo-cst", "demo-auditor"
CASE_ID = re.compile(r"/dossiers/([0-9a-f-]{36})$")
NOTE = "Absences confirmées par le collège ; la famille est joignable (exemple fictif)."
FACTS = "Absences répétées et présence tardive près du square (exemple fictif)."


def _screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    if os.environ.get("CENOMED_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / name, full_page=full_page, animations="disabled")


def _people(site: Site) -> None:
    """The journey's accounts (the police officer has not accepted the charter yet), and two
    other invented situations so that the coordinator's list is not a list of one."""
    world = site.world
    world.add_user(POLICE, Role.MEMBER, Organisation.POLICE, accept_charter=False)
    world.add_user(TEACHER, Role.MEMBER, Organisation.EDUCATION)
    world.add_user(COORDINATOR, Role.COORDINATOR)
    world.add_user(PARQUET, Role.PARQUET)
    world.add_user(CST, Role.CST)
    world.add_user(AUDITOR, Role.AUDITOR, cells=[])
    for username in (POLICE, TEACHER, COORDINATOR, PARQUET, CST, AUDITOR):
        set_password(world, username)
    on = today()
    others = [("Brumaillet", "Ysolde", 13), ("Corvanic", "Théodric", 15)]
    with site.api("police") as police, site.api("coordinator") as coordinator:
        for i, (last_name, first_name, age) in enumerate(others):
            body = case_body(world.cell.id, received_days_ago=20 + i)
            body["minor"] = body["minor"] | {
                "last_name": last_name,
                "first_name": first_name,
                "birth_date": date(on.year - age, 3, 9).isoformat(),
            }
            case_id = ok(police.post("/cases", json=body))["id"]
            if i == 0:
                ok(coordinator.post(f"/cases/{case_id}/parquet-referral"))


def _state(page: Page, text: str) -> None:
    expect(page.locator(".meta .state")).to_have_text(text)


def _open_case(page: Page, case_id: str) -> None:
    """From my cases, the case's link (its number, never a name, in the address)."""
    page.goto("/dossiers")
    expect(page.get_by_role("heading", name="Mes situations", level=1)).to_be_visible()
    page.locator(f'a[href="/dossiers/{case_id}"]').click()
    expect(page).to_have_url(re.compile(f"/dossiers/{case_id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Situation n° "))
    assert LAST_NAME not in page.title()


def _member_signs_in_and_accepts_the_charter(site: Site) -> Page:
    context = site.new_context()
    site.contexts[POLICE] = context
    page = context.new_page()
    page.goto("/connexion")
    expect(page.get_by_role("heading", name="Comptes de démonstration")).to_be_visible()
    expect(page.get_by_role("cell", name=POLICE, exact=True)).to_be_visible()
    axe.check(page)
    _screenshot(page, "connexion.png")
    # A wrong password first: the page says so, accessibly, and nothing opens.
    page.get_by_label("Identifiant").fill(POLICE)
    page.get_by_label("Mot de passe").fill("not the password")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_contain_text("Identifiant ou mot de passe incorrect")
    axe.check(page, "/connexion (refused)")
    sign_in(page, POLICE, world=site.world)
    # R1: the charter first, and nothing else until it is accepted.
    expect(page).to_have_url(re.compile(r"/charte$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Charte"))
    axe.check(page)
    page.goto("/dossiers")
    expect(page).to_have_url(re.compile(r"/charte$"))
    page.get_by_label("J'ai lu la charte et je m'engage à la respecter.").check()
    page.get_by_role("button", name="Accepter la charte").click()
    expect(page).to_have_url(re.compile(r"/dossiers$"))
    expect(page.get_by_role("heading", name="Mes situations", level=1)).to_be_visible()
    axe.check(page)
    return page


def _member_submits(page: Page) -> str:
    page.get_by_role("link", name="Nouvelle situation").click()
    expect(page).to_have_url(re.compile(r"/dossiers/nouveau$"))
    axe.check(page)
    # Sent empty: the page lists the errors and marks each field, and keeps nothing.
    page.get_by_role("button", name="Transmettre à la coordination").click()
    expect(page.get_by_role("alert")).to_contain_text("Le formulaire contient")
    expect(page.get_by_role("textbox", name="Nom (obligatoire)", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    axe.check(page, "/dossiers/nouveau (errors)")

    on = today()
    page.get_by_label("Cellule").select_option(label="CENOMED 18e")
    page.get_by_label("Date à laquelle la situation a été connue").fill(
        (on - timedelta(days=40)).isoformat()
    )
    page.get_by_label("Absentéisme scolaire").check()
    page.get_by_label("Présence nocturne sur la voie publique").check()
    page.get_by_label("Faits constatés (facultatif)").press_sequentially(FACTS)
    expect(page.locator("#facts-compteur")).to_have_text(re.compile(r"caractères restants"))
    page.get_by_role("textbox", name="Nom (obligatoire)", exact=True).press_sequentially(LAST_NAME)
    page.get_by_role("textbox", name="Prénom (obligatoire)", exact=True).press_sequentially(
        FIRST_NAME
    )
    page.get_by_label("Date de naissance").fill(date(on.year - 14, 5, 17).isoformat())
    page.get_by_label("Féminin").check()
    page.get_by_label("Adresse (facultatif)").fill("12 rue Imaginaire, 75018 Paris")
    page.get_by_label("Établissement scolaire (facultatif)").fill("Collège Fictif")
    guardian = page.get_by_role("group", name="Représentant légal 1 (facultatif)")
    guardian.get_by_label("Nom et prénom").fill(f"Parent {LAST_NAME}")
    guardian.get_by_label("Lien avec le mineur").select_option(label="Parent")
    guardian.get_by_label("Téléphone").fill("0100000000")
    page.get_by_role("button", name="Transmettre à la coordination").click()

    expect(page).to_have_url(CASE_ID)
    _state(page, "Reçue par la coordination")
    assert LAST_NAME not in page.url
    assert LAST_NAME not in page.title()
    axe.check(page, "/dossiers/{id} (member, own submission)")
    found = CASE_ID.search(page.url)
    assert found is not None
    return found.group(1)


def _coordinator_refers(site: Site, case_id: str) -> Page:
    page = site.page_of(COORDINATOR)
    expect(page.get_by_role("heading", name="Mes situations", level=1)).to_be_visible()
    # The filter (htmx): only the situations received by the coordination.
    page.get_by_label("État").select_option(label="Reçue par la coordination")
    expect(page).to_have_url(re.compile(r"\?etat=submitted"))
    expect(page.get_by_role("row").filter(has_text="Brumaillet")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text=LAST_NAME)).to_have_count(1)
    axe.check(page, "/dossiers?etat=")
    _open_case(page, case_id)
    expect(page.get_by_role("region", name="Identité du mineur")).to_contain_text(LAST_NAME)
    axe.check(page, "/dossiers/{id} (coordinator)")
    page.get_by_role("button", name="Transmettre au parquet").click()
    _state(page, "Transmise au parquet")
    return page


def _parquet_retains(site: Site, case_id: str) -> None:
    page = site.page_of(PARQUET)
    axe.check(page)
    _open_case(page, case_id)
    axe.check(page, "/dossiers/{id} (parquet)")
    page.get_by_role("button", name="Retenir la situation").click()
    _state(page, "Recherches des membres")


def _member_researches(site: Site, case_id: str) -> None:
    page = site.page_of(TEACHER)
    _open_case(page, case_id)
    axe.check(page, "/dossiers/{id} (member, research)")
    page.get_by_label("Note de recherche").press_sequentially(NOTE[:40])
    expect(page.locator("#content-compteur")).to_have_text(re.compile(r"caractères restants"))
    page.get_by_label("Note de recherche").fill(NOTE)
    page.get_by_role("button", name="Ajouter la note").click()
    expect(page.get_by_role("region", name="Notes de recherche")).to_contain_text(NOTE)


def _coordinator_puts_on_the_agenda(page: Page, case_id: str) -> None:
    """Step 4's meeting: scheduled today on the meetings page, the case put on its agenda."""
    page.get_by_role("navigation").get_by_role("link", name="Réunions").click()
    expect(page.get_by_role("heading", name="Réunions de mes cellules")).to_be_visible()
    axe.check(page)
    page.get_by_label("Cellule").select_option(label="CENOMED 18e")
    expect(page.get_by_label("Date de la réunion")).to_have_value(today().isoformat())
    page.get_by_role("button", name="Convoquer la réunion").click()
    expect(page).to_have_url(re.compile(r"/reunions/[0-9a-f-]{36}$"))
    axe.check(page, "/reunions/{id} (empty agenda)")
    page.get_by_label("Situation retenue à examiner").select_option(value=case_id)
    page.get_by_role("button", name="Inscrire à l'ordre du jour").click()
    agenda = page.get_by_role("region", name="Ordre du jour")
    expect(agenda.get_by_role("row").filter(has_text=LAST_NAME)).to_have_count(1)
    axe.check(page, "/reunions/{id}")
    agenda.get_by_role("link", name=f"Situation n° {case_id[:8]}").click()
    expect(page).to_have_url(re.compile(f"/dossiers/{case_id}$"))


def _cell_orients_and_transmits(page: Page) -> None:
    _state(page, "À l'ordre du jour de la cellule")
    axe.check(page, "/dossiers/{id} (coordinator, cell review)")
    page.get_by_label("Services sociaux (via la CST)").check()
    page.get_by_role("button", name="Enregistrer la décision").click()
    _state(page, "Orientée")
    axe.check(page, "/dossiers/{id} (coordinator, oriented)")
    page.get_by_label("Téléphone").check()
    page.get_by_role("button", name="Enregistrer l'information de la famille").click()
    expect(page.get_by_role("region", name="Orientation")).to_contain_text("Famille informée")
    page.get_by_role("button", name="Transmettre à ce service").click()
    expect(page.get_by_role("region", name="Orientation")).to_contain_text("transmise le")


def _cst_records_feedback(site: Site, case_id: str) -> None:
    page = site.page_of(CST)
    _open_case(page, case_id)
    expect(page.get_by_role("region", name="Coordonnées")).to_contain_text("rue Imaginaire")
    expect(page.get_by_role("region", name="Motifs et faits signalés")).to_contain_text(
        "Masqué par la charte"
    )
    axe.check(page, "/dossiers/{id} (cst)")
    page.get_by_label("Un accompagnement a pu être mis en place").check()
    page.get_by_role("button", name="Enregistrer le retour").click()
    _state(page, "Retour des services")
    feedback = page.get_by_role("region", name="Retours des services")
    expect(feedback).to_contain_text("Un accompagnement a pu être mis en place")
    axe.check(page, "/dossiers/{id} (cst, feedback)")


def _auditor_finds_the_reads(site: Site, case_id: str) -> None:
    """The auditor's screen: the log verifies, and filtered on this case's reads it names
    exactly the people who opened the case page (by account number: no name in the log)."""
    page = site.page_of(AUDITOR)
    page.get_by_role("navigation").get_by_role("link", name="Journal d'audit").click()
    expect(page.get_by_role("heading", name="Journal d'audit", level=1)).to_be_visible()
    axe.check(page)
    page.get_by_role("link", name="Vérifier l'intégrité du journal").click()
    expect(page.get_by_role("status")).to_contain_text("Le journal est intact")
    axe.check(page)
    page.go_back()
    events = page.get_by_role("region", name="Événements")
    events.get_by_label("Action", exact=True).select_option(label="Consultation d'une situation")
    events.get_by_label("Résultat").select_option(label="Autorisée")
    events.get_by_label("Numéro complet de la situation").fill(case_id)
    events.get_by_role("button", name="Filtrer").click()
    table = events.get_by_role("table")
    expect(table).to_be_visible()
    axe.check(page, "/audit?action=")
    assert LAST_NAME not in page.content()
    accounts = table.locator("tbody tr td:nth-child(3)").all_inner_texts()
    readers = {int(m.group(1)) for text in accounts if (m := re.search(r"n° (\d+)", text))}
    people = (POLICE, COORDINATOR, PARQUET, TEACHER, CST)
    assert readers == {site.world.users[name] for name in people}
    # And the case's own access log, from its number.
    page.get_by_role("link", name="Journal d'audit").first.click()
    page.get_by_role("region", name="Qui a consulté une situation ?").get_by_label(
        "Numéro complet de la situation"
    ).fill(case_id)
    page.get_by_role("button", name="Voir les accès").click()
    expect(page).to_have_url(re.compile(f"/audit/dossiers/{case_id}$"))
    expect(page.get_by_role("table")).to_contain_text("Signalement d'une situation")
    axe.check(page)


def _coordinator_reads_the_indicators(page: Page) -> None:
    page.get_by_role("navigation").get_by_role("link", name="Indicateurs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Indicateurs de la fiche 1.3")
    page.get_by_label("Périmètre").select_option(label="CENOMED 18e")
    page.get_by_role("button", name="Afficher").click()
    expect(page.get_by_role("heading", level=2).first).to_contain_text("CENOMED 18e")
    assert LAST_NAME not in page.content()
    axe.check(page)


def _coordinator_closes_then_opens_the_archive(page: Page, case_id: str) -> None:
    """Closed, the case is archived: its page asks for a reason, then opens for a while."""
    page.goto(f"/dossiers/{case_id}")
    page.get_by_role("button", name="Clore la situation").click()
    expect(page.get_by_role("alert")).to_contain_text("archivée")
    axe.check(page, "/dossiers/{id} (archived, access form)")
    page.get_by_label("Motif de la consultation").fill(
        "Préparer la réunion de bilan annuel de la cellule (exemple fictif)."
    )
    page.get_by_role("button", name="Demander l'accès à l'archive").click()
    _state(page, "Close")
    expect(page.get_by_role("status")).to_contain_text("Situation close et archivée")
    axe.check(page, "/dossiers/{id} (archived, opened)")


def test_a_signalement_through_the_six_steps_in_the_browser(site: Site) -> None:
    _people(site)
    police = _member_signs_in_and_accepts_the_charter(site)
    case_id = _member_submits(police)
    coordinator = _coordinator_refers(site, case_id)
    _parquet_retains(site, case_id)
    _member_researches(site, case_id)
    _coordinator_puts_on_the_agenda(coordinator, case_id)
    _cell_orients_and_transmits(coordinator)
    _cst_records_feedback(site, case_id)

    coordinator.goto(f"/dossiers/{case_id}")
    _state(coordinator, "Retour des services")
    history = coordinator.get_by_role("table", name="Historique des étapes")
    for step in ("Signaler la situation", "Transmettre au parquet", "Retenir la situation"):
        expect(history).to_contain_text(step)
    expect(history.get_by_role("row").last).to_contain_text("Enregistrer le retour")
    axe.check(coordinator, "/dossiers/{id} (coordinator, feedback)")
    _screenshot(coordinator, "situation.png", full_page=True)
    coordinator.goto("/dossiers")
    expect(coordinator.get_by_role("row").filter(has_text=LAST_NAME)).to_contain_text(
        "Retour des services"
    )
    axe.check(coordinator)
    _screenshot(coordinator, "mes-situations.png")
    _coordinator_reads_the_indicators(coordinator)
    _coordinator_closes_then_opens_the_archive(coordinator, case_id)

    _auditor_finds_the_reads(site, case_id)
