"""Signing in and out of the web front end: sessions, cookies, timeouts, the audit log."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from app.db import utcnow
from app.directory import service as directory
from app.web.models import WebSession
from tests.audit.log import events, head
from tests.conftest import World
from tests.web.browser import PASSWORD, Browser, set_password, signed_in


def _sessions(world: World) -> int:
    with world.db() as session:
        return int(session.scalar(select(func.count()).select_from(WebSession)) or 0)


def test_the_sign_in_page_is_french_private_and_sets_a_strict_cookie(world: World) -> None:
    browser = Browser.open(world)
    response = browser.get("/connexion")
    assert response.status_code == 200
    assert '<html lang="fr">' in response.text
    assert response.headers["cache-control"] == "no-store"
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert "Comptes de démonstration" not in response.text  # only with web_demo_accounts


def test_a_signed_in_session_replaces_the_anonymous_one(world: World) -> None:
    set_password(world, "police")
    browser = Browser.open(world)
    browser.get("/connexion")
    anonymous = browser.client.cookies.get("cenomed_session")
    before = head(world)
    response = browser.post("/connexion", {"username": "police", "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    signed = browser.client.cookies.get("cenomed_session")
    assert signed
    assert signed != anonymous
    assert _sessions(world) == 1  # the anonymous session is gone: no fixation
    [event] = [e for e in events(world, before) if e["action"] == "sign_in"]
    assert event["outcome"] == "allowed"
    assert event["actor_id"] == world.users["police"]
    # The token is not what the table holds.
    with world.db() as session:
        assert session.scalar(select(WebSession.token_hash)) != signed


def test_a_wrong_password_is_refused_logged_and_opens_nothing(world: World) -> None:
    set_password(world, "police")
    browser = Browser.open(world)
    browser.get("/connexion")
    before = head(world)
    response = browser.post("/connexion", {"username": "police", "password": "not the one"})
    assert response.status_code == 401
    assert "Identifiant ou mot de passe incorrect" in response.text
    assert 'aria-invalid="true"' in response.text
    [event] = events(world, before)
    assert (event["action"], event["outcome"]) == ("sign_in", "denied")
    assert event["actor_id"] == world.users["police"]
    assert browser.get("/dossiers").status_code == 303  # still not signed in
    # An unknown name is refused the same way and concerns no account.
    before = head(world)
    response = browser.post("/connexion", {"username": "nobody", "password": PASSWORD})
    assert response.status_code == 401
    assert events(world, before) == []


def test_an_account_without_a_password_cannot_sign_in(world: World) -> None:
    browser = Browser.open(world)
    browser.get("/connexion")
    response = browser.post("/connexion", {"username": "police", "password": ""})
    assert response.status_code == 401


def test_the_charter_gates_every_page_until_it_is_accepted(world: World) -> None:
    world.add_user("newcomer", world_role("member"), world_org("police"), accept_charter=False)
    browser = signed_in(world, "newcomer")
    response = browser.get("/dossiers")
    # To the charter, then back to the page asked for.
    assert (response.status_code, response.headers["location"]) == (
        303,
        "/charte?suite=%2Fdossiers",
    )
    page = browser.get("/charte")
    assert "Accepter la charte" in page.text
    response = browser.post("/charte", {"version": world.settings.charter_version, "lu": "on"})
    assert (response.status_code, response.headers["location"]) == (303, "/")
    assert browser.get("/dossiers").status_code == 200


def test_an_idle_session_ends(world: World) -> None:
    browser = signed_in(world, "police")
    assert browser.get("/dossiers").status_code == 200
    idle = timedelta(minutes=world.settings.web_idle_timeout_minutes, seconds=1)
    with world.db() as session:
        session.execute(update(WebSession).values(last_seen_at=utcnow() - idle))
    response = browser.get("/dossiers")
    assert (response.status_code, response.headers["location"]) == (
        303,
        "/connexion?suite=%2Fdossiers",
    )
    # The next sign-in, anyone's, deletes the expired row.
    Browser.open(world).sign_in("police")
    assert _sessions(world) == 1


def test_a_session_ends_at_its_absolute_timeout_however_active(world: World) -> None:
    browser = signed_in(world, "police")
    lifetime = timedelta(hours=world.settings.web_absolute_timeout_hours, seconds=1)
    with world.db() as session:
        session.execute(update(WebSession).values(created_at=utcnow() - lifetime))
    assert browser.get("/dossiers").status_code == 303


def test_signing_out_ends_this_session_and_everywhere_ends_them_all(world: World) -> None:
    first = signed_in(world, "police")
    second = Browser.open(world)
    second.sign_in("police")
    first.get("/dossiers")
    response = first.post("/deconnexion")
    assert (response.status_code, response.headers["location"]) == (303, "/connexion")
    assert first.get("/dossiers").status_code == 303
    assert second.get("/dossiers").status_code == 200
    third = Browser.open(world)
    third.sign_in("police")
    second.get("/dossiers")
    before = head(world)
    assert second.post("/deconnexion/partout").status_code == 303
    assert third.get("/dossiers").status_code == 303
    assert [e["action"] for e in events(world, before)] == ["sign_out"]


def test_a_deactivated_account_loses_its_session_at_once(world: World) -> None:
    browser = signed_in(world, "police")
    with world.db() as session:
        directory.deactivate_user(session, username="police")
    assert browser.get("/dossiers").status_code == 303


def test_after_signing_in_the_browser_returns_to_the_page_it_asked_for(world: World) -> None:
    set_password(world, "police")
    browser = Browser.open(world)
    response = browser.get("/dossiers?etat=research")
    assert response.headers["location"] == "/connexion?suite=%2Fdossiers%3Fetat%3Dresearch"
    browser.get(response.headers["location"])
    response = browser.post(
        "/connexion",
        {"username": "police", "password": PASSWORD, "next": "/dossiers?etat=research"},
    )
    assert response.headers["location"] == "/dossiers?etat=research"
    # Never elsewhere: a next that leaves the site goes home.
    second = Browser.open(world)
    second.get("/connexion")
    response = second.post(
        "/connexion",
        {"username": "police", "password": PASSWORD, "next": "//evil.example/"},
    )
    assert response.headers["location"] == "/"


def world_role(value: str):  # type: ignore[no-untyped-def]
    from app.vocabulary import Role

    return Role(value)


def world_org(value: str):  # type: ignore[no-untyped-def]
    from app.vocabulary import Organisation

    return Organisation(value)
