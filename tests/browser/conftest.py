"""Browser tests: Debian's Chromium, headless, driven by Playwright against the real server.

One server per module (``cenomed serve`` in its own process, on a database of the engine under
test: SQLite by default, PostgreSQL with ``CENOMED_TEST_DATABASE_URL``), one browser for the
session, one browser context per person (its own cookie jar), signed in once through the
sign-in page. The browser is the system's (``CENOMED_CHROMIUM``, else ``/usr/bin/chromium``),
never a download of Playwright's: without it the directory is skipped, except under CI, where
a missing browser fails.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from app import migrate
from app.db import make_engine, make_sessionmaker, unit_of_work
from app.main import create_app
from tests.browser import axe
from tests.conftest import POSTGRES_URL, World, copy_sqlite_template, make_settings, make_world
from tests.server import free_port, running_server
from tests.web.browser import PASSWORD, set_password

HERE = Path(__file__).resolve().parent
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
# A small phone's screen (issue 19): every page must fit it without scrolling sideways.
PHONE: ViewportSize = {"width": 375, "height": 740}
# The README's screenshots (invented people only), rewritten with CENOMED_SCREENSHOTS=1 only.
SCREENSHOTS = HERE.parents[1] / "docs" / "screenshots"
# Auto-waiting assertions give up after this long (a slow CI machine, two cores).
expect.set_options(timeout=15_000)


def chromium() -> Path | None:
    configured = os.environ.get("CENOMED_CHROMIUM")
    path = Path(configured) if configured else DEBIAN_CHROMIUM
    return path if path.is_file() and os.access(path, os.X_OK) else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks this directory's tests ``browser``; skips them when no browser is installed,
    unless under CI (or with ``CENOMED_CHROMIUM`` set), where the fixture fails instead."""
    mine = [item for item in items if HERE in item.path.parents]
    for item in mine:
        item.add_marker(pytest.mark.browser)
    if chromium() is None and not os.environ.get("CI") and not os.environ.get("CENOMED_CHROMIUM"):
        skip = pytest.mark.skip(
            reason=f"no Chromium at {DEBIAN_CHROMIUM} (apt-get install chromium, or set "
            "CENOMED_CHROMIUM): the browser tests need the system browser"
        )
        for item in mine:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if axe.CHECKED:
        terminalreporter.write_line(axe.summary())


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = chromium()
    if path is None:
        pytest.fail(
            f"no Chromium at {os.environ.get('CENOMED_CHROMIUM') or DEBIAN_CHROMIUM}: "
            "the browser tests must run here (.ci/run installs Debian's chromium)"
        )
    if not axe.SCRIPT.exists():
        pytest.fail(f"axe-core is missing: npm ci --prefix {HERE.name} (make dev) installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(path), headless=True)
        yield launched
        launched.close()


@dataclass
class Site:
    """The served world: its accounts, the server's address, the people at their browsers."""

    world: World
    base_url: str
    browser: Browser
    contexts: dict[str, BrowserContext] = field(default_factory=dict)

    def api(self, username: str) -> httpx.Client:
        """The real server's API with ``username``'s bearer token (issue_local_token)."""
        return httpx.Client(
            base_url=f"{self.base_url}/api/v1",
            headers={"Authorization": f"Bearer {self.world.token(username)}"},
            timeout=30,
        )

    def new_context(self, viewport: ViewportSize = VIEWPORT) -> BrowserContext:
        return self.browser.new_context(
            base_url=self.base_url, viewport=viewport, locale="fr-FR", timezone_id="Europe/Paris"
        )

    def page_of(self, username: str) -> Page:
        """``username``'s page, signed in through the sign-in page the first time (each person
        keeps their own context, so their own session cookie, for the module)."""
        if username not in self.contexts:
            context = self.new_context()
            self.contexts[username] = context
            sign_in(context.new_page(), username, world=self.world)
        return self.contexts[username].pages[0]

    def close(self) -> None:
        for context in self.contexts.values():
            context.close()


def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    """Saves the page as the README shows it, only when ``CENOMED_SCREENSHOTS=1`` (CI never
    sets it, so a test run never rewrites the README's images)."""
    if os.environ.get("CENOMED_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / name, full_page=full_page, animations="disabled")


def sign_in(page: Page, username: str, *, world: World) -> None:
    """Types the credentials into the sign-in page and sends it (a password set first)."""
    set_password(world, username)
    page.goto("/connexion")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).not_to_have_url(re.compile(r"/connexion"))


@pytest.fixture(scope="module")
def site(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    browser: Browser,
) -> Iterator[Site]:
    """A world of its own for the module, served by ``cenomed serve``. A module may set
    ``SERVER_ENV`` (a dict) for the server's environment."""
    directory = tmp_path_factory.mktemp("browser")
    if POSTGRES_URL:
        url: str = request.getfixturevalue("new_database")()
        migrate.upgrade(url)
    else:
        url = copy_sqlite_template(request.getfixturevalue("migrated_template"), directory)
    settings = make_settings(directory, url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    env = dict(getattr(request.module, "SERVER_ENV", {}))
    try:
        with (
            TestClient(create_app(settings), raise_server_exceptions=False) as client,
            (directory / "server.log").open("wb") as log,
        ):
            world = make_world(client, settings, lambda: unit_of_work(factory))
            port = free_port()
            with running_server(world, port, workers=1, stderr=log, env=env):
                served = Site(world, f"http://127.0.0.1:{port}", browser)
                try:
                    yield served
                finally:
                    served.close()
    finally:
        engine.dispose()
