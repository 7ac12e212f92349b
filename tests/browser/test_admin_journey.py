"""The admin console in a real browser (issue 19): the administrator lands on the accounts,
creates one, gives it a password link and a second cell, deactivates and reactivates it; the
account's very next request follows each change (its pages and its API token alike). Every
admin screen has no axe-core violation at all, on a desktop and at a phone's width (375 px).

With ``CENOMED_SCREENSHOTS=1`` it saves the README's screenshots of the console.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from tests.browser import axe
from tests.browser.conftest import PHONE, Site, screenshot, sign_in

NEWCOMER = "nouvelle.enseignante"
CHOSEN = "une phrase de passe assez longue"


def _screenshot(page: Page, name: str) -> None:
    screenshot(page, name, full_page=True)


def _no_violation(page: Page, name: str | None = None) -> None:
    """Not one axe-core violation, whatever its impact (the console is new: it starts clean)."""
    axe.check(page, name)
    found = axe.violations(page)
    assert found == [], "\n".join(str(v) for v in found)


def _fits(page: Page) -> None:
    """Nothing scrolls sideways; a failure names the elements that stick out."""
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')]"
        ".filter(e => e.getBoundingClientRect().right > 376)"
        ".map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 12)"
    )
    assert width <= PHONE["width"], f"{page.url}: {width} px wide: {wide}"


def _new_account(page: Page) -> str:
    """Creates the account through the form (a refusal first); returns its page's path."""
    page.get_by_role("link", name="Créer un compte").click()
    expect(page.get_by_role("heading", name="Créer un compte", level=1)).to_be_visible()
    _no_violation(page)
    page.get_by_label("Identifiant").fill(NEWCOMER)
    page.get_by_label("Rôle").select_option(label="Membre de la cellule")
    page.get_by_role("button", name="Créer le compte").click()
    # A member names the organisation they represent: refused, what was typed kept.
    expect(page.get_by_role("alert")).to_contain_text("Le compte n'a pas été créé")
    expect(page.get_by_label("Organisation")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Identifiant")).to_have_value(NEWCOMER)
    _no_violation(page, "/admin/comptes/nouveau (refused)")
    page.get_by_label("Organisation").select_option(label="Éducation nationale")
    page.get_by_label("CENOMED 18e").check()
    page.get_by_role("button", name="Créer le compte").click()
    expect(page.get_by_role("status")).to_contain_text("Le compte est créé")
    expect(page.get_by_role("heading", name=f"Compte {NEWCOMER}", level=1)).to_be_visible()
    _no_violation(page, "/admin/comptes/{id}")
    return urlsplit(page.url).path


def _password_link(page: Page) -> str:
    page.get_by_role("button", name="Créer un lien de choix du mot de passe").click()
    link = page.locator("#lien code").inner_text()
    _no_violation(page, "/admin/comptes/{id} (link shown)")
    _screenshot(page, "admin-compte.png")
    path = urlsplit(link).path
    assert path.startswith("/mot-de-passe/")
    return path


def _newcomer_chooses_and_signs_in(site: Site, link: str) -> Page:
    context = site.new_context()
    site.contexts[NEWCOMER] = context
    page = context.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", name="Choisir votre mot de passe")).to_be_visible()
    axe.check(page, "/mot-de-passe/{token}")
    page.get_by_label("Nouveau mot de passe").fill(CHOSEN)
    page.get_by_label("Le même, de nouveau").fill(CHOSEN)
    page.get_by_role("button", name="Enregistrer ce mot de passe").click()
    expect(page.get_by_role("status")).to_contain_text("Votre mot de passe est enregistré")
    _sign_in_with_chosen(page)
    page.get_by_label("J'ai lu la charte et je m'engage à la respecter.").check()
    page.get_by_role("button", name="Accepter la charte").click()
    expect(page).to_have_url(re.compile(r"/a-faire$"))
    return page


def _sign_in_with_chosen(page: Page) -> None:
    page.goto("/connexion")
    page.get_by_label("Identifiant").fill(NEWCOMER)
    page.get_by_label("Mot de passe").fill(CHOSEN)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).not_to_have_url(re.compile(r"/connexion"))


def test_the_administrator_manages_an_account_whose_next_request_follows(site: Site) -> None:
    admin = site.page_of("admin")
    admin.goto("/")
    expect(admin).to_have_url(re.compile(r"/admin$"))
    expect(admin.get_by_role("heading", name="Comptes", level=1)).to_be_visible()
    expect(admin.get_by_role("link", name="Administration")).to_have_attribute(
        "aria-current", "page"
    )
    _no_violation(admin)
    _screenshot(admin, "admin-comptes.png")

    account = _new_account(admin)
    newcomer = _newcomer_chooses_and_signs_in(site, _password_link(admin))
    with site.api(NEWCOMER) as api:
        assert api.get("/me").json()["cells"] == [site.world.cell.id]

        # A second cell: the newcomer's next page offers it, the API says so.
        admin.goto(account)
        admin.get_by_label("CENOMED 19e").check()
        admin.get_by_role("button", name="Enregistrer les modifications").click()
        expect(admin.get_by_role("status")).to_contain_text("Le compte est modifié")
        _no_violation(admin, "/admin/comptes/{id} (changed)")
        newcomer.goto("/dossiers")
        expect(newcomer.get_by_role("option", name="CENOMED 19e")).to_have_count(1)
        assert sorted(api.get("/me").json()["cells"]) == sorted(
            [site.world.cell.id, site.world.other_cell.id]
        )

        # Deactivated: the next page leads to the sign-in, the next API call is refused.
        admin.get_by_role("button", name="Désactiver le compte").click()
        expect(admin.get_by_role("status")).to_contain_text("Le compte est désactivé")
        _no_violation(admin, "/admin/comptes/{id} (deactivated)")
        newcomer.goto("/a-faire")
        expect(newcomer).to_have_url(re.compile(r"/connexion"))
        assert api.get("/me").status_code == 401

        # Reactivated: signed in again, let in; the token works again.
        admin.get_by_role("button", name="Réactiver le compte").click()
        expect(admin.get_by_role("status")).to_contain_text("Le compte est réactivé")
        _sign_in_with_chosen(newcomer)
        expect(newcomer).to_have_url(re.compile(r"/a-faire$"))
        assert api.get("/me").status_code == 200

    admin.get_by_role("link", name="Cellules").click()
    expect(admin.get_by_role("heading", name="Cellules", level=1)).to_be_visible()
    _no_violation(admin)
    admin.get_by_role("link", name="Charte", exact=True).last.click()
    expect(admin.get_by_role("heading", name="Charte en vigueur", level=1)).to_be_visible()
    _no_violation(admin)


def test_the_console_at_a_phones_width(site: Site) -> None:
    context = site.browser.new_context(
        base_url=site.base_url, viewport=PHONE, locale="fr-FR", timezone_id="Europe/Paris"
    )
    try:
        page = context.new_page()
        sign_in(page, "admin", world=site.world)
        user_id = site.world.users["police"]
        for path in (
            "/admin",
            "/admin/comptes/nouveau",
            f"/admin/comptes/{user_id}",
            "/admin/cellules",
            "/admin/charte",
        ):
            page.goto(path)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            _no_violation(page, f"{axe.screen_of(page)} (375 px)")
            _fits(page)
            unlabelled = page.evaluate(
                "[...document.querySelectorAll('main table td:not([data-label])')].length"
            )
            assert unlabelled == 0, f"{path}: {unlabelled} cells without their column's name"
    finally:
        context.close()
