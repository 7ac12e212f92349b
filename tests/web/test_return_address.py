"""No open redirect: every return address (sign-in, charter gate) stays on this site.

Browsers drop tabs and line breaks from a URL and read a backslash as a slash before they
resolve it, so each of these leaves the site although some start with a single slash.
"""

from __future__ import annotations

import html
import re

import pytest

from app.vocabulary import Organisation, Role
from app.web.returns import safe_return
from tests.conftest import World
from tests.web.browser import PASSWORD, Browser, set_password, signed_in

HOSTILE = [
    "/\t/elsewhere.example",
    "/\n/elsewhere.example",
    "/\r\n/elsewhere.example",
    "\t//elsewhere.example",
    "//elsewhere.example/x",
    "/\\elsewhere.example",
    "\\\\elsewhere.example",
    "/\\/elsewhere.example",
    "https://elsewhere.example/",
    "HTTPS:elsewhere.example",
    "javascript:alert(1)",
    "/\u2028/elsewhere.example",
    "/\u202e/elsewhere.example",
    "/\u00a0/elsewhere.example",
    " /dossiers",
    "dossiers",
    "",
    "/connexion/oidc",
    "/" + "a" * 2000,
]
_NEXT = re.compile(r'name="next" value="([^"]*)"')


@pytest.mark.parametrize("target", HOSTILE)
def test_a_hostile_return_address_falls_back_to_the_home_page(target: str) -> None:
    assert safe_return(target) == "/"


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("/reunions", "/reunions"),
        ("/dossiers?etat=research&cellule=2", "/dossiers?etat=research&cellule=2"),
        ("/audit?suite=abc#top", "/audit?suite=abc"),
        ("/%09/x", "/%09/x"),  # an encoded tab is a path segment, not stripped by a browser
    ],
)
def test_a_path_of_this_site_is_kept(target: str, kept: str) -> None:
    assert safe_return(target) == kept


@pytest.mark.parametrize("target", HOSTILE[:8])
def test_the_local_sign_in_never_sends_the_browser_elsewhere(world: World, target: str) -> None:
    set_password(world, "police")
    browser = Browser.open(world)
    page = browser.get("/connexion", params={"suite": target})
    assert _NEXT.findall(page.text) == ["/"]
    # A forged form field is reduced the same way.
    response = browser.post(
        "/connexion", {"username": "police", "password": PASSWORD, "next": target}
    )
    assert (response.status_code, response.headers["location"]) == (303, "/")


def test_the_local_sign_in_comes_back_to_the_page_asked_for(world: World) -> None:
    set_password(world, "police")
    browser = Browser.open(world)
    response = browser.get("/reunions?x=1")
    assert response.headers["location"] == "/connexion?suite=%2Freunions%3Fx%3D1"
    page = browser.get(response.headers["location"])
    [kept] = _NEXT.findall(page.text)
    response = browser.post(
        "/connexion", {"username": "police", "password": PASSWORD, "next": html.unescape(kept)}
    )
    assert (response.status_code, response.headers["location"]) == (303, "/reunions?x=1")


def _newcomer(world: World) -> Browser:
    world.add_user("newcomer", Role.MEMBER, Organisation.POLICE, accept_charter=False)
    return signed_in(world, "newcomer")


def test_the_charter_gate_comes_back_to_the_page_asked_for(world: World) -> None:
    browser = _newcomer(world)
    response = browser.get("/reunions?x=1")
    assert (response.status_code, response.headers["location"]) == (
        303,
        "/charte?suite=%2Freunions%3Fx%3D1",
    )
    page = browser.get(response.headers["location"])
    [kept] = _NEXT.findall(page.text)
    assert html.unescape(kept) == "/reunions?x=1"
    response = browser.post(
        "/charte",
        {"version": world.settings.charter_version, "lu": "on", "next": html.unescape(kept)},
    )
    assert (response.status_code, response.headers["location"]) == (303, "/reunions?x=1")


@pytest.mark.parametrize("target", HOSTILE[:8])
def test_the_charter_gate_never_sends_the_browser_elsewhere(world: World, target: str) -> None:
    browser = _newcomer(world)
    page = browser.get("/charte", params={"suite": target})
    assert _NEXT.findall(page.text) == ["/"]
    response = browser.post(
        "/charte", {"version": world.settings.charter_version, "lu": "on", "next": target}
    )
    assert (response.status_code, response.headers["location"]) == (303, "/")
