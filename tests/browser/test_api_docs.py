"""The API's documentation (``/docs``, Swagger UI) in a real browser cut off from every other
origin, as on a city intranet without internet access: it renders the API's operations under
its Content-Security-Policy without a single violation or request elsewhere, and "Authorize"
with a bearer token then "Try it out" reach the API (same origin)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, Route, expect

from tests.browser.conftest import Site

# Recorded before any script of the page runs (Playwright's init scripts are not the page's,
# so the policy does not apply to them).
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.effectiveDirective} ${event.blockedURI}`);
});
"""


@dataclass
class Offline:
    """A page whose requests to any other origin are aborted, and what went wrong on it."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        return list(self.page.evaluate("() => window.__violations"))


@pytest.fixture
def offline(site: Site) -> Iterator[Offline]:
    context = site.new_context()
    page = context.new_page()
    watched = Offline(page)

    def elsewhere(route: Route) -> None:
        if route.request.url.startswith(f"{site.base_url}/"):
            route.continue_()
        else:
            watched.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            watched.console.append(message.text)

    def failed(request: Request) -> None:
        watched.failed.append(f"{request.url} {request.failure}")

    context.route("**/*", elsewhere)
    context.add_init_script(LISTEN)
    page.on("console", console)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on("requestfailed", failed)
    try:
        yield watched
    finally:
        context.close()


def test_the_documentation_works_offline_under_its_policy(site: Site, offline: Offline) -> None:
    page = offline.page
    response = page.goto("/docs")
    assert response is not None
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # The operations of the API, from its own /openapi.json.
    me = page.locator('.opblock[id$="me_api_v1_me_get"]')
    expect(me.locator('[data-path="/api/v1/me"]')).to_be_visible()
    expect(page.locator('[data-path="/api/v1/cases"]').first).to_be_visible()

    # "Authorize" takes a bearer token...
    token = site.world.token("coordinator")
    page.locator(".auth-wrapper").get_by_role("button", name="Authorize").click()
    dialog = page.locator(".modal-ux")
    dialog.get_by_label("auth-bearer-value").fill(token)
    dialog.get_by_role("button", name="Apply credentials").click()
    expect(dialog.get_by_role("button", name="Remove authorization")).to_be_visible()
    dialog.get_by_role("button", name="Close", exact=True).click()
    # ... and "Try it out" calls the API of this origin with it.
    me.locator(".opblock-summary-control").click()
    me.get_by_role("button", name="Try it out").click()
    with page.expect_response(lambda r: r.url == f"{site.base_url}/api/v1/me") as called:
        me.get_by_role("button", name="Execute").click()
    assert called.value.status == 200
    assert called.value.request.headers["authorization"] == f"Bearer {token}"
    expect(me.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    expect(me.locator(".live-responses-table .microlight").first).to_contain_text("coordinator")
    # The token stays in the page's memory: nothing of it is written to the browser's storage.
    assert token not in page.evaluate("() => JSON.stringify(window.localStorage)")
    assert token not in page.evaluate("() => JSON.stringify(window.sessionStorage)")

    assert offline.violations() == []
    assert [m for m in offline.console if "Content Security Policy" in m] == []
    assert offline.blocked == []
    assert offline.failed == []
    assert offline.errors == []
