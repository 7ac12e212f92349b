"""The procedure in a real browser: a member signs in, accepts the charter and submits a
signalement by typing into the form (received the day it is sent); the coordinator enters one
received by letter forty days ago, lists the cell's prevention club, and takes it with the
parquet through the six steps by clicking the case page's buttons, each irreversible step
confirmed; the family objects, the orientation names the club; the CST records the social
services' feedback; the coordinator closes cases for each reason the page offers; an auditor
finds every one of those reads in the log. axe-core checks every screen on the way.

With ``CENOMED_SCREENSHOTS=1`` the journey also saves the README's screenshots (invented
people only) into ``docs/screenshots/``; CI never sets it, so it never rewrites them.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from playwright.sync_api import Page, expect

from app.clock import today
from app.vocabulary import Organisation, Role
from tests.browser import axe
from tests.browser.conftest import Site, screenshot, sign_in
from tests.scenario import FIRST_NAME, LAST_NAME, declared_body, ok
from tests.web.browser import set_password

# The sign-in page lists the demo accounts (as ``make run`` does): the journey's people are
# named like them, so the screenshot of that page is the one a newcomer sees.
SERVER_ENV = {"CENOMED_WEB_DEMO_ACCOUNTS": "true"}
POLICE, TEACHER, COORDINATOR = "demo-police", "demo-education", "demo-coordinator"
PARQUET, CST, AUDITOR = "demo-parquet", "demo-cst", "demo-auditor"
CASE_ID = re.compile(r"/dossiers/([0-9a-f-]{36})(?:\?fait=\w+)?$")
NOTE = "Absences confirmées par le collège ; la famille est joignable (exemple fictif)."
FACTS = "Absences répétées et présence tardive près du square (exemple fictif)."
# The police officer's own signalement (invented too), and the cell's prevention club.
OWN_LAST_NAME, OWN_FIRST_NAME = "Quillemot", "Anastase"
SERVICE = "Club de prévention Imaginaire"


def _people(site: Site) -> None:
    """The journey's accounts (the police officer has not accepted the charter yet), and other
    invented situations: so that the coordinator's list is not a list of one, and so that the
    coordinator has a case to close for each reason the page offers."""
    world = site.world
    world.add_user(POLICE, Role.MEMBER, Organisation.POLICE, accept_charter=False)
    world.add_user(TEACHER, Role.MEMBER, Organisation.EDUCATION)
    world.add_user(COORDINATOR, Role.COORDINATOR)
    world.add_user(PARQUET, Role.PARQUET)
    world.add_user(CST, Role.CST)
    world.add_user(AUDITOR, Role.AUDITOR, cells=[])
    for username in (POLICE, TEACHER, COORDINATOR, PARQUET, CST, AUDITOR):
        set_password(world, username)


def _others(site: Site) -> dict[str, str]:
    """Situations the coordinator entered (received by letter) and the parquet retained, to be
    closed for a reason each: one of a young person who has turned 18 since it was received
    (aged out), one of a minor who moved away, one where a judicial measure began."""
    world, on = site.world, today()
    turned_18 = date(on.year - 18, on.month, 1)  # 18 this month: still 17 forty days ago
    others = {
        "aged_out": ("Brumaillet", "Ysolde", turned_18),
        "moved_away": ("Corvanic", "Théodric", date(on.year - 15, 3, 9)),
        "judicial_follow_up": ("Ostrevent", "Mélisande", date(on.year - 13, 9, 2)),
    }
    cases = {}
    with site.api(COORDINATOR) as coordinator, site.api(PARQUET) as parquet:
        for reason, (last_name, first_name, born) in others.items():
            body = declared_body(world.cell.id, received_days_ago=40)
            body["minor"] = body["minor"] | {
                "last_name": last_name,
                "first_name": first_name,
                "birth_date": born.isoformat(),
            }
            case_id = ok(coordinator.post("/cases", json=body))["id"]
            ok(coordinator.post(f"/cases/{case_id}/parquet-referral"))
            ok(parquet.post(f"/cases/{case_id}/parquet-decision", json={"retained": True}))
            cases[reason] = case_id
    return cases


def _state(page: Page, text: str) -> None:
    expect(page.locator(".meta .state")).to_have_text(text)


def _done(page: Page, text: str) -> None:
    """A step done is said so on the page it leads to (never an error page)."""
    expect(page.locator("#fait")).to_contain_text(text)


def _confirm(page: Page, button: str, *, what: str) -> None:
    """An irreversible step: what will happen, then the second, explicit submit."""
    expect(page.get_by_role("status")).to_contain_text(what)
    axe.check(page, "confirmation")
    page.get_by_role("button", name=button).click()


def _from_my_worklist(page: Page, case_id: str, kind: str) -> None:
    """From what awaits me (my home, issue 18): the case under ``kind``'s heading, opened."""
    page.get_by_role("navigation").get_by_role("link", name=re.compile("^À faire")).click()
    group = page.get_by_role("region", name=re.compile(kind))
    axe.check(page, "/a-faire")
    group.locator(f'a[href="/dossiers/{case_id}"]').click()
    expect(page).to_have_url(re.compile(f"/dossiers/{case_id}$"))


def _open_case(page: Page, case_id: str) -> None:
    """From my cases, the case's link (its number, never a name, in the address)."""
    page.goto("/dossiers")
    expect(page.get_by_role("heading", name="Mes situations", level=1)).to_be_visible()
    page.locator(f'a[href="/dossiers/{case_id}"]').click()
    expect(page).to_have_url(re.compile(f"/dossiers/{case_id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile(r"^Situation R?\d{2}-\d{4}-\d{4}$")
    )
    assert LAST_NAME not in page.title()


def _member_signs_in_and_accepts_the_charter(site: Site) -> Page:
    context = site.new_context()
    site.contexts[POLICE] = context
    page = context.new_page()
    page.goto("/connexion")
    expect(page.get_by_role("heading", name="Comptes de démonstration")).to_be_visible()
    expect(page.get_by_role("cell", name=POLICE, exact=True)).to_be_visible()
    axe.check(page)
    screenshot(page, "connexion.png")
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
    expect(page).to_have_url(re.compile(r"/charte\?suite=%2Fdossiers$"))
    page.get_by_label("J'ai lu la charte et je m'engage à la respecter.").check()
    page.get_by_role("button", name="Accepter la charte").click()
    expect(page).to_have_url(re.compile(r"/dossiers$"))
    expect(page.get_by_role("heading", name="Mes situations", level=1)).to_be_visible()
    axe.check(page)
    return page


def _fill_minor(page: Page, last_name: str, first_name: str, born: date) -> None:
    page.get_by_label("Absentéisme scolaire").check()
    page.get_by_label("Présence nocturne sur la voie publique").check()
    page.get_by_label("Faits constatés (facultatif)").press_sequentially(FACTS)
    expect(page.locator("#facts-compteur")).to_have_text(re.compile(r"caractères restants"))
    page.get_by_role("textbox", name="Nom (obligatoire)", exact=True).press_sequentially(last_name)
    page.get_by_role("textbox", name="Prénom (obligatoire)", exact=True).press_sequentially(
        first_name
    )
    page.get_by_label("Date de naissance").fill(born.isoformat())
    page.get_by_label("Féminin").check()
    page.get_by_label("Adresse (facultatif)").fill("12 rue Imaginaire, 75018 Paris")
    page.get_by_label("Établissement scolaire (facultatif)").fill("Collège Fictif")
    guardian = page.get_by_role("group", name="Représentant légal 1 (facultatif)")
    guardian.get_by_label("Nom et prénom").fill(f"Parent {last_name}")
    guardian.get_by_label("Lien avec le mineur").select_option(label="Parent")
    guardian.get_by_label("Téléphone").fill("0100000000")


def _member_submits(page: Page) -> str:
    """The member's own signalement: received the day it is sent (no date to type)."""
    page.get_by_role("link", name="Nouvelle situation").click()
    expect(page).to_have_url(re.compile(r"/dossiers/nouveau$"))
    expect(page.get_by_label("Reçue le")).to_have_count(0)
    expect(page.get_by_text("reçue par la coordination le jour où vous l'envoyez")).to_be_visible()
    axe.check(page)
    # Sent empty: the page lists the errors and marks each field, and keeps nothing.
    page.get_by_role("button", name="Transmettre à la coordination").click()
    expect(page.get_by_role("alert")).to_contain_text("Le formulaire contient")
    expect(page.get_by_role("textbox", name="Nom (obligatoire)", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    axe.check(page, "/dossiers/nouveau (errors)")
    page.get_by_label("Cellule").select_option(label="CENOMED 18e")
    _fill_minor(page, OWN_LAST_NAME, OWN_FIRST_NAME, date(today().year - 13, 2, 11))
    page.get_by_role("button", name="Transmettre à la coordination").click()

    expect(page).to_have_url(CASE_ID)
    _done(page, "signalée à la coordination")
    _state(page, "Reçue par la coordination")
    expect(page.get_by_role("region", name="Suivi de la procédure")).not_to_contain_text(
        "date déclarée"
    )
    assert OWN_LAST_NAME not in page.url
    assert OWN_LAST_NAME not in page.title()
    axe.check(page, "/dossiers/{id} (member, own submission)")
    found = CASE_ID.search(page.url)
    assert found is not None
    return found.group(1)


def _member_corrects_their_signalement(page: Page, case_id: str) -> None:
    """The author corrects a first name they mistyped: the form shows nothing the charter
    withholds from them (R12), and a field left empty changes nothing."""
    page.get_by_role("link", name="Corriger le signalement").click()
    expect(page).to_have_url(re.compile(f"/dossiers/{case_id}/correction$"))
    expect(page.get_by_label("Prénom", exact=True)).to_have_value("")
    axe.check(page, "/dossiers/{id}/correction (member)")
    page.get_by_label("Prénom", exact=True).fill("Anastasie")
    page.get_by_role("button", name="Enregistrer la correction").click()
    _done(page, "La correction est enregistrée")
    history = page.get_by_role("table", name="Historique des étapes")
    expect(history).to_contain_text("champs corrigés : prénom")
    expect(history).not_to_contain_text("Anastasie")


def _coordinator_reads_the_versions(page: Page, case_id: str) -> None:
    page.goto(f"/dossiers/{case_id}")
    page.get_by_role("link", name="Voir les versions antérieures (corrections)").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Versions antérieures")
    expect(page.locator("main")).to_contain_text(OWN_FIRST_NAME)
    axe.check(page, "/dossiers/{id}/versions")


def _coordinator_enters_a_letter(site: Site) -> tuple[Page, str]:
    """A signalement the coordinator received by letter forty days ago, entered now: the day
    and the channel are theirs to declare, and the case says so."""
    page = site.page_of(COORDINATOR)
    # Home is what awaits them (issue 18); their cases are one link away.
    expect(page.get_by_role("heading", name="À faire", level=1)).to_be_visible()
    axe.check(page, "/a-faire (coordinator, home)")
    page.get_by_role("navigation").get_by_role("link", name="Mes situations").click()
    expect(page.get_by_role("heading", name="Mes situations", level=1)).to_be_visible()
    page.get_by_role("link", name="Nouvelle situation").click()
    page.get_by_label("Cellule").select_option(label="CENOMED 18e")
    page.get_by_label("Courrier").check()
    received = today() - timedelta(days=40)
    page.get_by_label("Reçue le").fill(received.isoformat())
    axe.check(page, "/dossiers/nouveau (coordinator)")
    _fill_minor(page, LAST_NAME, FIRST_NAME, date(today().year - 14, 5, 17))
    page.get_by_role("button", name="Transmettre à la coordination").click()
    expect(page).to_have_url(CASE_ID)
    workflow = page.get_by_role("region", name="Suivi de la procédure")
    expect(workflow).to_contain_text("date déclarée par la coordination, reçue par courrier")
    expect(workflow.get_by_role("table", name="Historique des étapes")).to_contain_text(
        "reçue par courrier"
    )
    found = CASE_ID.search(page.url)
    assert found is not None
    return page, found.group(1)


def _coordinator_refers(page: Page, case_id: str) -> None:
    page.goto("/dossiers")
    # The filter (htmx): only the situations received by the coordination.
    page.get_by_label("État").select_option(label="Reçue par la coordination")
    expect(page).to_have_url(re.compile(r"\?etat=submitted"))
    expect(page.get_by_role("row").filter(has_text="Brumaillet")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text=LAST_NAME)).to_have_count(1)
    expect(page.get_by_role("row").filter(has_text=OWN_LAST_NAME)).to_have_count(1)
    axe.check(page, "/dossiers?etat=")
    _open_case(page, case_id)
    expect(page.get_by_role("region", name="Identité du mineur")).to_contain_text(LAST_NAME)
    axe.check(page, "/dossiers/{id} (coordinator)")
    page.get_by_role("button", name="Transmettre au parquet").click()
    _done(page, "transmise au parquet")
    _state(page, "Transmise au parquet")


def _parquet_retains(site: Site, case_id: str) -> None:
    page = site.page_of(PARQUET)
    axe.check(page)
    _from_my_worklist(page, case_id, "transmises au parquet, en attente de décision")
    axe.check(page, "/dossiers/{id} (parquet)")
    page.get_by_role("button", name="Retenir la situation…").click()
    _confirm(page, "Confirmer : retenir la situation", what="recherches préalables")
    _done(page, "La situation est retenue")
    _state(page, "Recherches des membres")


def _members_research(site: Site, police: Page, case_id: str) -> None:
    page = site.page_of(TEACHER)
    _open_case(page, case_id)
    axe.check(page, "/dossiers/{id} (member, research)")
    page.get_by_label("Note de recherche").press_sequentially(NOTE[:40])
    expect(page.locator("#content-compteur")).to_have_text(re.compile(r"caractères restants"))
    page.get_by_label("Note de recherche").fill(NOTE)
    page.get_by_role("button", name="Ajouter la note").click()
    _done(page, "note de recherche a été ajoutée")
    expect(page.get_by_role("region", name="Notes de recherche")).to_contain_text(NOTE)
    # The police read it too, during the research (R12).
    _open_case(police, case_id)
    expect(police.get_by_role("region", name="Identité du mineur")).to_contain_text(LAST_NAME)


def _coordinator_lists_a_service(page: Page) -> None:
    """The cell's partner services: the prevention club an orientation will name."""
    page.goto("/dossiers")
    page.get_by_role("link", name="CENOMED 18e").click()
    expect(page.get_by_role("heading", name="Services partenaires", level=1)).to_be_visible()
    axe.check(page, "/cellules/{id}/services")
    page.get_by_label("Destination").select_option(label="Association de prévention spécialisée")
    page.get_by_label("Nom du service").fill(SERVICE)
    page.get_by_role("button", name="Ajouter ce service").click()
    expect(page.locator("#fait")).to_contain_text("enregistrée")
    expect(page.get_by_role("table")).to_contain_text(SERVICE)


def _coordinator_puts_on_the_agenda(page: Page, case_id: str) -> None:
    """Step 4's meeting: convened today on the meetings page (a time and a place), the case
    put on its agenda."""
    page.get_by_role("navigation").get_by_role("link", name="Réunions").click()
    expect(page.get_by_role("heading", name="Réunions de mes cellules")).to_be_visible()
    axe.check(page)
    page.get_by_label("Cellule").select_option(label="CENOMED 18e")
    expect(page.get_by_label("Date de la réunion")).to_have_value(today().isoformat())
    page.get_by_label("Heure de début").fill("09:30")
    page.get_by_label("Lieu").fill("Mairie du 18e, salle des commissions")
    page.get_by_role("button", name="Convoquer la réunion").click()
    expect(page).to_have_url(re.compile(r"/reunions/[0-9a-f-]{36}\?fait=convoquee$"))
    axe.check(page, "/reunions/{id} (empty agenda)")
    page.get_by_role("checkbox", name=re.compile(LAST_NAME)).check()
    page.get_by_role("button", name="Inscrire la sélection à l'ordre du jour").click()
    agenda = page.get_by_role("region", name="Situations à examiner")
    expect(agenda.get_by_role("listitem").filter(has_text=LAST_NAME)).to_have_count(1)
    axe.check(page, "/reunions/{id}")
    agenda.get_by_role("link", name=re.compile(r"^Situation \d{2}-\d{4}-\d{4}$")).click()
    expect(page).to_have_url(re.compile(f"/dossiers/{case_id}$"))


def _cell_orients_and_transmits(page: Page) -> None:
    """Oriented to social services and to the prevention club (named); the family objects,
    which is recorded and goes to the CST with the transmission."""
    _state(page, "À l'ordre du jour de la cellule")
    axe.check(page, "/dossiers/{id} (coordinator, cell review)")
    page.get_by_label("Services sociaux (via la CST)").check()
    page.get_by_role("checkbox", name="Association de prévention spécialisée").check()
    page.get_by_label("Service partenaire (Association de prévention spécialisée)").select_option(
        label=SERVICE
    )
    page.get_by_role("button", name="Enregistrer la décision…").click()
    _confirm(page, "Confirmer l'orientation", what=SERVICE)
    _done(page, "orientation de la cellule est enregistrée")
    _state(page, "Orientée")
    orientation = page.get_by_role("region", name="Orientation")
    expect(orientation).to_contain_text(SERVICE)
    axe.check(page, "/dossiers/{id} (coordinator, oriented)")
    family = page.locator("#form-family")
    family.get_by_label("Téléphone").check()
    family.get_by_label("Informée, et opposée à l'orientation").check()
    family.get_by_role("button", name="Enregistrer l'information de la famille").click()
    _done(page, "information de la famille")
    expect(orientation).to_contain_text("opposée à l'orientation")
    for _ in range(2):
        page.get_by_role("button", name="Transmettre à ce service…").first.click()
        _confirm(page, "Confirmer la transmission", what="Seule la transmission est enregistrée")
        _done(page, "transmission est enregistrée")
    expect(page.get_by_role("button", name="Transmettre à ce service…")).to_have_count(0)


def _cst_records_feedback(site: Site, case_id: str) -> None:
    page = site.page_of(CST)
    _from_my_worklist(page, case_id, "retour attendu")
    expect(page.get_by_role("region", name="Coordonnées")).to_contain_text("rue Imaginaire")
    expect(page.get_by_role("region", name="Motifs et faits signalés")).to_contain_text(
        "Masqué par la charte"
    )
    # The family's objection reaches the CST with the transmission (R8).
    expect(page.get_by_role("region", name="Orientation")).to_contain_text("opposée")
    axe.check(page, "/dossiers/{id} (cst)")
    page.get_by_label("Un accompagnement a pu être mis en place").check()
    page.get_by_role("button", name="Enregistrer le retour").click()
    _done(page, "retour du service est enregistré")
    _state(page, "Retours d'information")
    feedback = page.get_by_role("region", name="Retours d'information")
    expect(feedback).to_contain_text("Un accompagnement a pu être mis en place")
    axe.check(page, "/dossiers/{id} (cst, feedback)")


def _coordinator_records_the_clubs_feedback(page: Page) -> None:
    form = page.locator("form[id^='form-feedback-']")
    form.get_by_label("Aucun accompagnement n'a pu être mis en place").check()
    form.get_by_role("button", name="Enregistrer le retour").click()
    _done(page, "retour du service est enregistré")


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
    events.get_by_label("N° de la situation (18-2026-0042) ou identifiant complet").fill(case_id)
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
        "N° de la situation (18-2026-0042) ou identifiant complet"
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
    expect(page.get_by_role("table", name="Situations closes, par motif")).to_be_visible()
    assert LAST_NAME not in page.content()
    axe.check(page)


def _close(page: Page, case_id: str, reason: str, offered: set[str]) -> None:
    """Closes a case for ``reason``, among exactly the reasons its record allows now; the
    list then says it is closed (the case is archived, out of sight)."""
    page.goto(f"/dossiers/{case_id}")
    form = page.locator("#form-closure")
    labels = set(form.locator("label").all_inner_texts())
    assert labels == offered, labels
    form.get_by_label(reason).check()
    form.get_by_role("button", name="Clore la situation…").click()
    _confirm(page, "Confirmer la clôture", what=f"motif : {reason}")
    expect(page).to_have_url(re.compile(r"/dossiers\?fait=close$"))
    _done(page, "close et archivée")


def _coordinator_closes_each_case(page: Page, case_id: str, others: dict[str, str]) -> None:
    """Each reason on a case it is true of: every service answered, the minor turned 18, moved
    away, a judicial measure began (family unreachable is the model-based test's)."""
    always = {"Le mineur a quitté le territoire de la cellule", "Une mesure judiciaire a commencé"}
    _close(
        page,
        case_id,
        "Les services ont tous rendu compte",
        always | {"Les services ont tous rendu compte"},
    )
    aged = "La personne a dépassé l'âge du public de la cellule"
    _close(page, others["aged_out"], aged, always | {aged})
    _close(page, others["moved_away"], "Le mineur a quitté le territoire de la cellule", always)
    _close(page, others["judicial_follow_up"], "Une mesure judiciaire a commencé", always)


def _coordinator_opens_the_archive(page: Page, case_id: str) -> None:
    """Closed, the case is archived: its page asks for a reason, then opens for a while."""
    page.goto(f"/dossiers/{case_id}")
    expect(page.get_by_role("alert")).to_contain_text("archivée")
    axe.check(page, "/dossiers/{id} (archived, access form)")
    page.get_by_label("Une réunion de la cellule examine de nouveau le mineur").check()
    page.get_by_label("Motif de la consultation").fill(
        "Préparer la réunion de bilan annuel de la cellule (exemple fictif)."
    )
    page.get_by_role("button", name="Demander l'accès à l'archive").click()
    _state(page, "Close")
    expect(page.locator("#fait")).to_contain_text("accès à l'archive est ouvert")
    expect(page.get_by_role("region", name="Suivi de la procédure")).to_contain_text(
        "les services ont tous rendu compte"
    )
    axe.check(page, "/dossiers/{id} (archived, opened)")


def test_a_signalement_through_the_six_steps_in_the_browser(site: Site) -> None:
    _people(site)
    others = _others(site)
    police = _member_signs_in_and_accepts_the_charter(site)
    own = _member_submits(police)
    _member_corrects_their_signalement(police, own)
    coordinator, case_id = _coordinator_enters_a_letter(site)
    _coordinator_reads_the_versions(coordinator, own)
    _coordinator_refers(coordinator, case_id)
    _parquet_retains(site, case_id)
    _members_research(site, police, case_id)
    _coordinator_lists_a_service(coordinator)
    _coordinator_puts_on_the_agenda(coordinator, case_id)
    _cell_orients_and_transmits(coordinator)
    _cst_records_feedback(site, case_id)

    coordinator.goto(f"/dossiers/{case_id}")
    _state(coordinator, "Retours d'information")
    _coordinator_records_the_clubs_feedback(coordinator)
    history = coordinator.get_by_role("table", name="Historique des étapes")
    for step in ("Signaler la situation", "Transmettre au parquet", "Retenir la situation"):
        expect(history).to_contain_text(step)
    expect(history).to_contain_text("famille : informée, et opposée à l'orientation")
    expect(history.get_by_role("row").last).to_contain_text("Enregistrer le retour")
    axe.check(coordinator, "/dossiers/{id} (coordinator, feedback)")
    screenshot(coordinator, "situation.png", full_page=True)
    coordinator.goto("/dossiers")
    expect(coordinator.get_by_role("row").filter(has_text=LAST_NAME)).to_contain_text(
        "Retours d'information"
    )
    axe.check(coordinator)
    screenshot(coordinator, "mes-situations.png")
    _coordinator_closes_each_case(coordinator, case_id, others)
    _coordinator_reads_the_indicators(coordinator)
    _coordinator_opens_the_archive(coordinator, case_id)

    _auditor_finds_the_reads(site, case_id)
