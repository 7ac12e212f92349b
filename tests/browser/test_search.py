"""Finding a case in a real browser, at a phone's width (375 px): from the list to the search
form, an empty form sent back with its errors marked, then the whole identity typed loosely
finds the case, shown as the list shows it; nothing wider than the screen, and axe-core checks
each screen on the way."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import Page, expect

from app.clock import today
from tests.browser import axe
from tests.browser.conftest import Site, sign_in
from tests.scenario import FIRST_NAME, LAST_NAME, to_research

PHONE = {"width": 375, "height": 740}


def _fits(page: Page) -> None:
    """Nothing scrolls sideways: the page is no wider than the screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url}: {width} px wide"


def test_a_member_finds_a_case_on_a_phone(site: Site) -> None:
    born = date(today().year - 14, 5, 17)
    to_research(site.world)  # LAST_NAME FIRST_NAME, born on that day (tests.scenario)
    context = site.browser.new_context(
        base_url=site.base_url, viewport=PHONE, locale="fr-FR", timezone_id="Europe/Paris"
    )
    try:
        page = context.new_page()
        sign_in(page, "teacher", world=site.world)
        page.goto("/dossiers")
        page.get_by_role("link", name="Retrouver une situation").click()
        expect(page).to_have_url(re.compile(r"/dossiers/recherche$"))
        expect(page.get_by_role("heading", name="Retrouver une situation", level=1)).to_be_visible()
        _fits(page)
        axe.check(page)

        page.get_by_role("button", name="Rechercher").click()
        expect(page.get_by_role("alert")).to_contain_text("Le formulaire contient 3 erreurs")
        expect(page.get_by_role("textbox", name="Nom (obligatoire)", exact=True)).to_have_attribute(
            "aria-invalid", "true"
        )
        _fits(page)
        axe.check(page, "/dossiers/recherche (errors)")

        page.get_by_role("textbox", name="Nom (obligatoire)", exact=True).fill(
            f"  {LAST_NAME.upper()} "
        )
        page.get_by_role("textbox", name="Prénom (obligatoire)", exact=True).fill(
            FIRST_NAME.lower()
        )
        page.get_by_label("Date de naissance").fill(born.isoformat())
        page.get_by_role("button", name="Rechercher").click()
        expect(page.get_by_role("status").first).to_contain_text("1 situation trouvée")
        expect(page.get_by_role("row").filter(has_text=LAST_NAME)).to_have_count(1)
        assert LAST_NAME not in page.url
        assert LAST_NAME not in page.title()
        _fits(page)
        axe.check(page, "/dossiers/recherche (results)")
    finally:
        context.close()
