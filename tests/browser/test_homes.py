"""Every role has a home (issue 19), on a desk and on a phone: each of the seven roles signs in,
follows ``/`` and lands on a page of its own (its heading, never "Action non permise", no
error), with a few cases in the cell so that the lists are not empty; at 1280 and at 375 px
wide nothing scrolls sideways and axe-core finds nothing serious. Then, at 375 px, every list
and table of the service shows its rows stacked, each cell labelled with its column's name,
along with the forms, the navigation, the case and the meeting pages.

With ``CENOMED_SCREENSHOTS=1`` this module also saves the README's screenshots of the
auditor's journal and of the admin console (desktop), and of the coordinator's list on a
phone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import BrowserContext, Page, ViewportSize, expect

from app.clock import today
from app.vocabulary import Role
from tests.browser import axe
from tests.browser.conftest import PHONE, VIEWPORT, Site, screenshot, sign_in
from tests.scenario import meeting, ok, submit, to_research
from tests.web.browser import set_password

# The sign-in page lists the demonstration's accounts (``make run``): one more table.
SERVER_ENV = {"CENOMED_WEB_DEMO_ACCOUNTS": "true"}
# The seven roles: who signs in, where ``/`` leads them, the heading (h1) of that page.
HOMES = [
    ("coordinator", "/a-faire", "À faire"),
    ("parquet", "/a-faire", "À faire"),
    ("police", "/a-faire", "À faire"),  # a member of the cell
    ("cst", "/a-faire", "À faire"),
    ("auditor", "/audit", "Journal d'audit"),
    ("steering", "/indicateurs", re.compile(r"^Indicateurs")),
    # Fails until the admin console (issue 19, item 1) is merged: /admin is a 404 before it.
    ("admin", "/admin", "Comptes"),
]
# What makes each home useful from the first minute: something to open.
USEFUL = {
    "/a-faire": 'a[href^="/dossiers/"], a[href^="/reunions/"]',  # a case or a meeting to see to
    "/audit": "table.events > tbody > tr",  # the journal's events
    "/indicateurs": "table.figures",  # Paris's figures
    "/admin": 'a[href^="/admin/comptes/"]',  # the accounts
}
WIDTHS = {"bureau": VIEWPORT, "telephone": PHONE}
# The README's images, taken on the way (name by (role, width); the admin console's are the
# admin journey's).
SHOTS = {("auditor", "bureau"): "journal-audit.png"}

# The widest elements, by tag, id and classes (never their text: it may be nominative).
_TOO_WIDE = """() => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
  .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
       + (typeof e.className === "string" && e.className.trim()
          ? "." + e.className.trim().split(/\\s+/).join(".") : ""))
  .slice(0, 12)"""
# Every data cell of every table against its column's header: the label a stacked row shows.
_UNLABELLED = """() => {
  const wrong = new Set();
  document.querySelectorAll("main table").forEach((table, t) => {
    const columns = [];
    table.querySelectorAll("thead tr:first-child > th").forEach((th) => {
      for (let i = 0; i < th.colSpan; i++) columns.push(th.textContent.trim());
    });
    table.querySelectorAll("tbody > tr").forEach((tr) => {
      let c = 0;
      for (const cell of tr.children) {
        const label = cell.getAttribute("data-label");
        if (cell.tagName === "TD" && label !== columns[c]) {
          wrong.add(`table ${t + 1}, column ${c + 1} ("${columns[c]}"): `
            + (label === null ? "no data-label" : `data-label "${label}"`));
        }
        c += cell.colSpan;
      }
    });
  });
  return [...wrong];
}"""


@dataclass(frozen=True)
class Cases:
    """The cell's few cases: one for each role to find something to do."""

    received: str  # the coordinator refers it to the parquet
    referred: str  # the parquet decides
    research: str  # the members add what they know
    oriented: str  # transmitted to the social services: the CST's feedback awaited
    meeting_id: str  # today's meeting, the oriented case and another on its agenda
    transferred: str  # proposed to the other cell


@pytest.fixture(scope="module")
def cases(site: Site) -> Cases:
    world = site.world
    world.add_user("steering", Role.STEERING, cells=[])
    world.add_user("demo-coordinator", Role.COORDINATOR)  # listed on the sign-in page...
    set_password(world, "demo-coordinator")  # ...once it has a password
    coordinator = world.as_("coordinator")
    received = submit(world)
    referred = submit(world)
    ok(coordinator.post(f"/cases/{referred}/parquet-referral"))
    research = to_research(world)
    # Today's meeting: one case decided (oriented to the social services), one still to be.
    meeting_id = meeting(world)
    oriented, on_agenda = to_research(world), to_research(world)
    for case_id in (oriented, on_agenda):
        ok(coordinator.post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}))
    decided = coordinator.post(
        f"/cases/{oriented}/review-decision",
        {"decision": "orient", "orientations": [{"destination": "social_services"}]},
    )
    ids = {o["destination"]: o["id"] for o in ok(decided)["orientations"]}
    informed = {"informed_on": today().isoformat(), "means": "letter", "outcome": "informed"}
    ok(coordinator.post(f"/cases/{oriented}/family-information", informed))
    ok(coordinator.post(f"/cases/{oriented}/orientations/{ids['social_services']}/transmission"))
    transferred = submit(world)
    ok(coordinator.post(f"/cases/{transferred}/transfer", {"cell_id": world.other_cell.id}))
    ok(
        coordinator.post(
            f"/cells/{world.cell.id}/services",
            {"name": "Club de prévention Imaginaire", "destination": "prevention_association"},
        )
    )
    return Cases(received, referred, research, oriented, meeting_id, transferred)


@pytest.fixture
def at(site: Site) -> Iterator[_Opener]:
    opener = _Opener(site)
    try:
        yield opener
    finally:
        opener.close()


class _Opener:
    """Signs people in, each in a browser context of the width asked; closes them after."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.contexts: list[BrowserContext] = []

    def __call__(self, username: str, viewport: ViewportSize) -> Page:
        context = self.site.new_context(viewport)
        self.contexts.append(context)
        page = context.new_page()
        sign_in(page, username, world=self.site.world)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def opened(page: Page, path: str) -> None:
    """``path`` followed to its end (redirects included), served without an error."""
    response = page.goto(path)
    assert response is not None
    assert response.status == 200, f"{path}: {response.status}"


def fits(page: Page) -> None:
    """Nothing scrolls sideways: the page is no wider than the window."""
    width, window = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= window, f"{axe.screen_of(page)}: {width} px wide in {window} px, " + ", ".join(
        page.evaluate(_TOO_WIDE)
    )


def labelled(page: Page) -> None:
    """Each table's data cells carry their column's name (what a stacked row shows)."""
    wrong = page.evaluate(_UNLABELLED)
    assert not wrong, f"{axe.screen_of(page)}:\n" + "\n".join(wrong)


def small_screen(page: Page, name: str | None = None) -> None:
    """The checks every screen gets: fits, labelled, axe-core."""
    fits(page)
    labelled(page)
    axe.check(page, name)


def stacked(page: Page) -> None:
    """At a phone's width a table's rows are cards: one below the other, not side by side."""
    for table in page.locator("main table:not(.figures)").all():
        assert table.evaluate("(t) => getComputedStyle(t).display") == "block"
        cells = table.locator("tbody > tr").first.locator("> td")
        if cells.count() > 1:
            first, second = cells.nth(0).bounding_box(), cells.nth(1).bounding_box()
            assert first is not None
            assert second is not None
            assert second["y"] >= first["y"] + first["height"] - 1


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("username", "home", "heading"), HOMES, ids=[h[0] for h in HOMES])
def test_each_role_lands_on_a_useful_home(
    cases: Cases,
    at: _Opener,
    username: str,
    home: str,
    heading: str | re.Pattern[str],
    width: str,
) -> None:
    page = at(username, WIDTHS[width])
    opened(page, "/")
    expect(page).to_have_url(re.compile(f"{re.escape(home)}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    main = page.locator("main")
    expect(main).not_to_contain_text("Action non permise")
    expect(page.locator(".notice.error, [role=alert]")).to_have_count(0)
    expect(main.locator(USEFUL[home]).first).to_be_visible()
    small_screen(page, f"{home} ({username}, {width})")
    if (username, width) in SHOTS:
        screenshot(page, SHOTS[(username, width)])


def test_the_cell_s_lists_and_pages_fit_a_phone(site: Site, cases: Cases, at: _Opener) -> None:
    """The coordinator's every list, form and page at 375 px: rows stacked, cells labelled."""
    page = at("coordinator", PHONE)
    expect(page.get_by_role("navigation", name="Navigation principale")).to_be_visible()
    page.goto("/dossiers")
    expect(page.get_by_role("heading", name="Mes situations", level=1)).to_be_visible()
    rows = page.locator("main table.cases > tbody > tr")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 5
    row = rows.filter(has=page.locator(f'a[href="/dossiers/{cases.received}"]'))
    expect(row.locator('td[data-label="État"]')).to_have_text("Reçue par la coordination")
    stacked(page)
    small_screen(page, "/dossiers (phone)")
    # The README's image: the first cards under the table's caption.
    page.locator("main table.cases > caption").evaluate(
        "(c) => window.scrollTo(0, c.getBoundingClientRect().top + window.scrollY - 16)"
    )
    screenshot(page, "mes-situations-telephone.png")

    for path, name in [
        (f"/dossiers/{cases.oriented}", "/dossiers/{id} (phone)"),
        (f"/dossiers/{cases.received}", "/dossiers/{id} received (phone)"),
        (f"/dossiers/{cases.received}/correction", "/dossiers/{id}/correction (phone)"),
        ("/dossiers/nouveau", "/dossiers/nouveau (phone)"),
        ("/dossiers/recherche", "/dossiers/recherche (phone)"),
        ("/reunions", "/reunions (phone)"),
        (f"/reunions/{cases.meeting_id}", "/reunions/{id} (phone)"),
        (f"/cellules/{site.world.cell.id}/services", "/cellules/{id}/services (phone)"),
        ("/transferts", "/transferts (phone)"),
        ("/compte/notifications", "/compte/notifications (phone)"),
        ("/charte", "/charte (phone)"),
    ]:
        opened(page, path)
        stacked(page)
        small_screen(page, name)

    # The meeting's page: the agenda as cards, the feedback expected as a stacked table.
    opened(page, f"/reunions/{cases.meeting_id}")
    expect(page.locator("main .agenda-item")).to_have_count(2)
    feedback = page.locator("main table.feedback > tbody > tr")
    expect(feedback).to_have_count(1)
    expect(feedback.locator('td[data-label="Orientation"]')).to_contain_text("Services sociaux")

    # An error page (a case that does not exist): a sentence and a way back, on a phone too.
    response = page.goto("/dossiers/00000000-0000-4000-8000-000000000000")
    assert response is not None
    assert response.status == 404
    # Typed in the address bar (no page it came from): back to the coordinator's list.
    expect(page.locator("main a").last).to_have_attribute("href", "/dossiers")
    small_screen(page, "error (phone)")

    # The form sent empty: its errors listed, each field marked, still no wider than the phone.
    page.goto("/dossiers/nouveau")
    page.get_by_role("button", name="Transmettre à la coordination").click()
    expect(page.get_by_role("alert")).to_contain_text("Le formulaire contient")
    small_screen(page, "/dossiers/nouveau (phone, errors)")


def test_the_paris_wide_screens_fit_a_phone(site: Site, cases: Cases, at: _Opener) -> None:
    """The sign-in page, the receiving cell's transfers, the auditor's journal and a case's
    access log, the steering committee's figures: at 375 px, rows stacked, cells labelled."""
    # The sign-in page, with the demonstration's accounts in a table.
    context = site.new_context(PHONE)
    try:
        signin = context.new_page()
        signin.goto("/connexion")
        expect(signin.get_by_role("cell", name="demo-coordinator", exact=True)).to_be_visible()
        stacked(signin)
        small_screen(signin, "/connexion (phone)")
    finally:
        context.close()

    receiving = at("coordinator-19", PHONE)
    receiving.goto("/transferts")
    expect(receiving.locator("main table > tbody > tr")).to_have_count(1)
    stacked(receiving)
    small_screen(receiving, "/transferts (receiving, phone)")

    auditor = at("auditor", PHONE)
    auditor.goto("/audit")
    auditor.locator("main form.filters").last.get_by_role("button").click()
    expect(auditor.locator("main table.events > tbody > tr").first).to_be_visible()
    stacked(auditor)
    small_screen(auditor, "/audit (events, phone)")
    auditor.goto(f"/audit/dossiers/{cases.research}")
    expect(auditor.locator("main table.events > tbody > tr").first).to_be_visible()
    stacked(auditor)
    small_screen(auditor, "/audit/dossiers/{id} (phone)")
    auditor.goto("/audit/verification")
    small_screen(auditor, "/audit/verification (phone)")

    steering = at("steering", PHONE)
    steering.goto("/indicateurs")
    steering.locator("main form.filters").get_by_role("button").click()
    expect(steering.locator("main table.figures").first).to_be_visible()
    small_screen(steering, "/indicateurs (figures, phone)")
