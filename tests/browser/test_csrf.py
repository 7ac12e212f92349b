"""Forged form posts, from a real browser that is signed in: a page of another origin that
posts a step's form to the service, and posts made with the browser's cookies but without the
form's anti-forgery token. Each is refused with 403, changes nothing, and is logged as a
refusal; the same post with the page's own token then goes through (the control)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser import axe
from tests.browser.conftest import Site
from tests.scenario import ok, submit
from tests.server import free_port

REFUSED = "jeton anti-falsification"


@pytest.fixture
def case_id(site: Site) -> str:
    """A new submitted case (the step forged here is the coordinator's referral)."""
    return submit(site.world)


@pytest.fixture
def coordinator(site: Site) -> Iterator[Page]:
    page = site.page_of("coordinator")
    yield page
    page.unroute_all()


def _state(site: Site, case_id: str) -> str:
    with site.api("coordinator") as api:
        return str(ok(api.get(f"/cases/{case_id}"))["state"])


def _refusals(site: Site, case_id: str) -> list[tuple[str, str | None]]:
    with site.api("auditor") as api:
        found = ok(api.get("/audit/events", params={"case_id": case_id, "outcome": "denied"}))
    return [(e["action"], e["detail"]) for e in found["items"]]


def _trap(page: Page, site: Site, case_id: str, fields: str) -> str:
    """A page of another origin (another port of this host: the same site, so the browser
    does send the SameSite=Strict session cookie) holding a form that posts the referral."""
    trap = f"http://127.0.0.1:{free_port()}/offre"
    body = (
        '<!doctype html><html lang="fr"><head><title>Offre</title></head><body><main>'
        f'<form method="post" action="{site.base_url}/dossiers/{case_id}/transmission-parquet">'
        f'{fields}<button type="submit">Voir l\'offre</button></form></main></body></html>'
    )

    def serve(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=body)

    page.route(trap, serve)
    return trap


def test_a_form_of_another_origin_is_refused_and_changes_nothing(
    site: Site, case_id: str, coordinator: Page
) -> None:
    coordinator.goto(f"/dossiers/{case_id}")
    token = coordinator.locator('input[name="csrf"]').first.get_attribute("value")
    assert token
    # Without the token, then even with the session's own token: the origin is not this site.
    for fields in ("", f'<input type="hidden" name="csrf" value="{token}">'):
        coordinator.goto(_trap(coordinator, site, case_id, fields))
        with coordinator.expect_response(re.compile(r"/transmission-parquet$")) as posted:
            coordinator.get_by_role("button", name="Voir l'offre").click()
        assert posted.value.status == 403
        expect(coordinator.get_by_role("alert")).to_contain_text(REFUSED)
        assert _state(site, case_id) == "submitted"
    axe.check(coordinator, "403 (forged form)")
    assert _refusals(site, case_id) == [("refer_to_parquet", "csrf-token-invalid")] * 2


def test_a_post_without_the_forms_token_is_refused_and_changes_nothing(
    site: Site, case_id: str, coordinator: Page
) -> None:
    coordinator.goto(f"/dossiers/{case_id}")
    url = f"/dossiers/{case_id}/transmission-parquet"
    # The browser's own cookies, but no token, then another session's token.
    other = site.page_of("parquet").locator('input[name="csrf"]').first.get_attribute("value")
    assert other
    forms: list[dict[str, str | float | bool]] = [{}, {"csrf": other}]
    for form in forms:
        refused = coordinator.request.post(url, form=form, max_redirects=0)
        assert refused.status == 403
        assert REFUSED in refused.text()
    assert _state(site, case_id) == "submitted"
    assert _refusals(site, case_id) == [("refer_to_parquet", "csrf-token-invalid")] * 2
    # The control: the page's own form, clicked, goes through.
    coordinator.get_by_role("button", name="Transmettre au parquet").click()
    expect(coordinator.locator(".meta .state")).to_have_text("Transmise au parquet")
    assert _state(site, case_id) == "parquet_review"
