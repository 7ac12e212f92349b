"""The settings page /compte/notifications: the same choice as the API, behind the CSRF check."""

from __future__ import annotations

from app.directory import service as directory
from tests.audit.log import events, head
from tests.conftest import World
from tests.web.browser import signed_in, title_of


def test_the_page_shows_the_address_and_saves_the_choice(world: World) -> None:
    with world.db() as session:
        directory.set_email(session, username="parquet", email="parquet18@cellule.test")
    browser = signed_in(world, "parquet")
    shown = browser.get("/compte/notifications")
    assert shown.status_code == 200
    assert title_of(shown).startswith("Mes notifications")
    assert "parquet18@cellule.test" in shown.text
    assert 'value="immediate" checked' in shown.text
    assert '<a href="/compte/notifications" aria-current="page">' in shown.text
    before = head(world)
    saved = browser.post("/compte/notifications", {"mode": "daily"})
    assert saved.status_code == 303
    assert saved.headers["location"] == "/compte/notifications?enregistre=1"
    again = browser.get("/compte/notifications?enregistre=1")
    assert 'value="daily" checked' in again.text
    assert "Votre choix est enregistré." in again.text
    assert world.as_("parquet").get("/me").json()["notify_mode"] == "daily"
    [event] = [e for e in events(world, before) if e["action"] == "set_notifications"]
    assert (event["outcome"], event["detail"]) == ("allowed", "mode:daily")


def test_a_bad_choice_or_a_forged_post_changes_nothing(world: World) -> None:
    browser = signed_in(world, "cst")
    browser.get("/compte/notifications")
    before = head(world)
    refused = browser.post("/compte/notifications", {"mode": "hourly"})
    assert refused.status_code == 422
    [event] = [e for e in events(world, before) if e["action"] == "set_notifications"]
    assert (event["outcome"], event["detail"]) == ("denied", "validation-error")
    forged = browser.post("/compte/notifications", {"mode": "none", "csrf": "forged"})
    assert forged.status_code == 403
    assert world.as_("cst").get("/me").json()["notify_mode"] == "immediate"
