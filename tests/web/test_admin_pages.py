"""The admin console's pages (issue 19): the same service functions as the API, in French;
a refused form comes back with what was typed and the message on its field, audited and
changing nothing; the account's next page follows each change; the one-time link lets its
account choose a password once, within the hour, and not a second later."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app import clock
from app.directory.models import Cell, Membership, PasswordReset, User
from app.web import passwords
from tests.audit.log import events, head
from tests.conftest import World
from tests.web.browser import PASSWORD, Browser, signed_in, title_of

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
NEW_PASSWORD = "une phrase de passe assez longue"  # noqa: S105 (the tests' invented password)
_LINK = re.compile(r"<code>(http[^<]+/mot-de-passe/([^<]+))</code>")


@contextmanager
def at(world: World, instant: datetime) -> Iterator[None]:
    """The requests of this block are handled at ``instant`` (app.clock.now pinned)."""
    overrides = world.client.app.dependency_overrides  # type: ignore[attr-defined]
    overrides[clock.now] = lambda: instant
    try:
        yield
    finally:
        overrides.pop(clock.now, None)


def _text(response: Any) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


def _row(world: World, user_id: int) -> tuple[str, str, bool, list[int], str | None]:
    with world.db() as session:
        user = session.get(User, user_id)
        assert user is not None
        cells = sorted(
            session.scalars(select(Membership.cell_id).where(Membership.user_id == user_id))
        )
        return user.role, user.organisation, user.active, cells, user.email


def test_the_administrator_lands_on_the_accounts_and_finds_the_menu(world: World) -> None:
    browser = signed_in(world, "admin")
    home = browser.follow("/")
    assert home.status_code == 200
    assert str(home.url).endswith("/admin")
    assert title_of(home) == "Administration – comptes – CENOMED"
    assert '<a href="/admin" aria-current="page">Administration</a>' in home.text
    for name in world.users:
        assert f">{name}</a>" in home.text
    # The other roles have no such entry.
    coordinator = signed_in(world, "coordinator").follow("/a-faire")
    assert ">Administration</a>" not in coordinator.text


@pytest.mark.parametrize(
    "path",
    ["/admin", "/admin/comptes/nouveau", "/admin/comptes/1", "/admin/cellules", "/admin/charte"],
)
def test_no_one_else_opens_the_console(world: World, path: str) -> None:
    browser = signed_in(world, "auditor")
    before = head(world)
    page = browser.get(path)
    assert page.status_code == 403
    assert "Action non permise" in title_of(page)
    [event] = events(world, before)
    assert (event["outcome"], event["actor_id"], event["detail"]) == (
        "denied",
        world.users["auditor"],
        "role-not-allowed",
    )


def test_no_one_else_posts_to_it_either(world: World) -> None:
    browser = signed_in(world, "coordinator")
    browser.get("/a-faire")
    target = world.users["police"]
    row = _row(world, target)
    before = head(world)
    page = browser.post(f"/admin/comptes/{target}/desactivation")
    assert page.status_code == 403
    [event] = events(world, before)
    assert (event["action"], event["outcome"], event["detail"]) == (
        "deactivate_user",
        "denied",
        "role-not-allowed",
    )
    assert _row(world, target) == row


def test_the_filters_narrow_the_list_as_the_api_does(world: World) -> None:
    browser = signed_in(world, "admin")
    page = browser.get(f"/admin?role=member&cellule={world.cell.id}&etat=actifs&nom=e")
    listed = re.findall(r'<a href="/admin/comptes/\d+">([^<]+)</a>', page.text)
    assert listed == ["police", "teacher"]
    assert 'value="member" selected' in page.text
    # An unknown value is no filter rather than an error.
    assert browser.get("/admin?role=pirate").status_code == 200


def test_an_account_is_created_then_refused_with_what_was_typed(world: World) -> None:
    browser = signed_in(world, "admin")
    browser.get("/admin/comptes/nouveau")
    before = head(world)
    refused = browser.post(
        "/admin/comptes/nouveau",
        {
            "username": "nouvelle.cst",
            "role": "cst",
            "organisation": "police",
            "cells": [str(world.cell.id)],
            "email": "cst@paris.fr",
        },
    )
    assert refused.status_code == 422
    text = _text(refused)
    assert "Le compte n'a pas été créé" in text
    assert 'id="organisation-erreur"' in refused.text
    assert 'value="nouvelle.cst"' in refused.text
    assert 'value="cst@paris.fr"' in refused.text
    assert f'value="{world.cell.id}" checked' in refused.text
    [event] = events(world, before)
    assert (event["action"], event["outcome"], event["detail"]) == (
        "add_user",
        "denied",
        "organisation-of-role",
    )
    with world.db() as session:
        assert session.scalar(select(User).where(User.username == "nouvelle.cst")) is None

    spaced = browser.post("/admin/comptes/nouveau", {"username": "deux mots", "role": "auditor"})
    assert spaced.status_code == 422
    assert "sans espace" in _text(spaced)

    done = browser.post(
        "/admin/comptes/nouveau",
        {
            "username": "nouvelle.cst",
            "role": "cst",
            "organisation": "",
            "cells": [str(world.cell.id)],
            "email": "",
        },
    )
    assert done.status_code == 303
    shown = browser.follow(done.headers["location"])
    assert "Le compte est créé" in _text(shown)
    with world.db() as session:
        user = session.scalar(select(User).where(User.username == "nouvelle.cst"))
        assert user is not None
        assert (user.role, user.organisation) == ("cst", "dases")


def test_each_change_is_followed_by_the_accounts_next_page(world: World) -> None:
    admin = signed_in(world, "admin")
    teacher = signed_in(world, "teacher")
    user_id = world.users["teacher"]
    assert teacher.get("/a-faire").status_code == 200

    admin.get(f"/admin/comptes/{user_id}")
    moved = admin.post(
        f"/admin/comptes/{user_id}",
        {
            "role": "member",
            "organisation": "education",
            "cells": [str(world.other_cell.id)],
            "email": "",
        },
    )
    assert moved.status_code == 303
    assert "Le compte est modifié" in _text(admin.follow(moved.headers["location"]))
    assert _row(world, user_id)[3] == [world.other_cell.id]
    # The teacher's next page shows the other cell's filter only.
    cases = teacher.get("/dossiers")
    assert "CENOMED 19e" in cases.text
    assert "CENOMED 18e" not in cases.text

    admin.get(f"/admin/comptes/{user_id}")
    off = admin.post(f"/admin/comptes/{user_id}/desactivation")
    assert off.status_code == 303
    assert "Le compte est désactivé" in _text(admin.follow(off.headers["location"]))
    gone = teacher.get("/a-faire")
    assert gone.status_code == 303
    assert gone.headers["location"].startswith("/connexion")

    admin.get(f"/admin/comptes/{user_id}")
    on = admin.post(f"/admin/comptes/{user_id}/reactivation")
    assert on.status_code == 303
    assert "Le compte est réactivé" in _text(admin.follow(on.headers["location"]))
    # Its sessions were closed: it signs in again, and is let in.
    again = Browser.open(world)
    again.sign_in("teacher")
    assert again.get("/a-faire").status_code == 200


def test_a_refused_change_comes_back_on_its_field_and_changes_nothing(world: World) -> None:
    browser = signed_in(world, "admin")
    user_id = world.users["police"]
    row = _row(world, user_id)
    browser.get(f"/admin/comptes/{user_id}")
    before = head(world)
    page = browser.post(
        f"/admin/comptes/{user_id}",
        {
            "role": "auditor",
            "organisation": "police",
            "cells": [str(world.cell.id)],
            "email": "agent@police.fr",
        },
    )
    assert page.status_code == 422
    assert 'id="cells-erreur"' in page.text
    assert "aucune cellule" in _text(page)
    assert 'value="auditor" selected' in page.text
    assert 'value="agent@police.fr"' in page.text
    refusals = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert [(e["action"], e["detail"]) for e in refusals] == [("update_user", "cells-not-allowed")]
    assert _row(world, user_id) == row


def test_the_administrator_keeps_their_own_role_and_account(world: World) -> None:
    browser = signed_in(world, "admin")
    me = world.users["admin"]
    page = browser.get(f"/admin/comptes/{me}")
    assert "Désactiver le compte" not in page.text
    before = head(world)
    refused = browser.post(
        f"/admin/comptes/{me}", {"role": "auditor", "organisation": "", "email": ""}
    )
    assert refused.status_code == 409
    assert 'id="role-erreur"' in refused.text
    assert "votre propre rôle" in _text(refused)
    forced = browser.post(f"/admin/comptes/{me}/desactivation")
    assert forced.status_code == 409
    assert "votre propre compte" in _text(forced)
    assert [
        (e["action"], e["detail"]) for e in events(world, before) if e["outcome"] == "denied"
    ] == [
        ("update_user", "own-role"),
        ("deactivate_user", "own-deactivation"),
    ]
    assert _row(world, me)[:3] == ("admin", "other", True)


def test_cells_are_created_renamed_and_change_kind(world: World) -> None:
    browser = signed_in(world, "admin")
    browser.get("/admin/cellules")
    created = browser.post(
        "/admin/cellules", {"name": "Récidive 20e", "kind": "recidivism", "arrondissement": "20"}
    )
    assert created.status_code == 303
    assert "La cellule est créée" in _text(browser.follow(created.headers["location"]))
    with world.db() as session:
        cell = session.scalar(select(Cell).where(Cell.name == "Récidive 20e"))
        assert cell is not None
        cell_id = cell.id
    changed = browser.post(f"/admin/cellules/{cell_id}", {"name": "Groupe 20e", "kind": "cenomed"})
    assert changed.status_code == 303
    with world.db() as session:
        assert (session.get(Cell, cell_id).name, session.get(Cell, cell_id).kind) == (  # type: ignore[union-attr]
            "Groupe 20e",
            "cenomed",
        )
    browser.get("/admin/cellules")
    before = head(world)
    taken = browser.post(f"/admin/cellules/{cell_id}", {"name": "CENOMED 18e", "kind": "cenomed"})
    assert taken.status_code == 409
    assert "Une cellule porte déjà ce nom" in _text(taken)
    assert 'value="CENOMED 18e" aria-invalid="true"' in taken.text
    [event] = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert (event["action"], event["detail"]) == ("update_cell", "cell-name-taken")
    bad = browser.post("/admin/cellules", {"name": "X", "kind": "cenomed", "arrondissement": "42"})
    assert bad.status_code == 422
    assert 'id="arrondissement-erreur"' in bad.text
    assert 'value="42"' in bad.text


def test_the_charter_page_says_who_accepted_it(world: World) -> None:
    from app.vocabulary import Role

    world.add_user("late", Role.AUDITOR, cells=[], accept_charter=False)
    page = signed_in(world, "admin").get("/admin/charte")
    assert page.status_code == 200
    text = _text(page)
    assert world.settings.charter_version in text
    assert "Comptes actifs qui ne l'ont pas encore acceptée (1)" in text
    assert f"Comptes actifs qui l'ont acceptée ({len(world.users) - 1})" in text


# --- the one-time link --------------------------------------------------------------------------


def _start_link(world: World, username: str) -> tuple[str, str]:
    browser = signed_in(world, "admin")
    user_id = world.users[username]
    browser.get(f"/admin/comptes/{user_id}")
    with at(world, T0):
        shown = browser.post(f"/admin/comptes/{user_id}/mot-de-passe")
    assert shown.status_code == 200
    found = _LINK.search(shown.text)
    assert found is not None
    assert found.group(1).startswith(world.settings.public_url.rstrip("/") + "/mot-de-passe/")
    # Shown once: the account's page does not show it again.
    assert _LINK.search(browser.get(f"/admin/comptes/{user_id}").text) is None
    return found.group(1), found.group(2)


def _choose(
    world: World,
    token: str,
    instant: datetime,
    password: str = NEW_PASSWORD,
    *,
    again: str | None = None,
    shown_at: datetime | None = None,
) -> tuple[Any, Any]:
    """The link's page opened at ``shown_at`` (by default ``instant``), its form sent at
    ``instant``. The sign-in page first, for an anti-forgery token when the link's page has
    no form (a refused link)."""
    visitor = Browser.open(world)
    visitor.get("/connexion")
    with at(world, shown_at or instant):
        form = visitor.get(f"/mot-de-passe/{token}")
    with at(world, instant):
        response = visitor.post(
            f"/mot-de-passe/{token}",
            {"password": password, "password_again": password if again is None else again},
        )
    return form, response


def test_the_link_is_kept_as_a_hash_only_and_serves_once(world: World) -> None:
    before = head(world)
    _url, token = _start_link(world, "police")
    user_id = world.users["police"]
    with world.db() as session:
        [stored] = session.scalars(select(PasswordReset)).all()
        assert token not in (stored.token_hash, str(stored.created_by))
        assert stored.token_hash == __import__("hashlib").sha256(token.encode()).hexdigest()
        assert stored.expires_at == T0 + timedelta(hours=1)
    started = [e for e in events(world, before) if e["action"] == "start_password_reset"]
    assert [(e["detail"], e["severity"]) for e in started] == [(f"user:{user_id}", "high")]
    assert token not in str(events(world))

    form, done = _choose(world, token, T0 + timedelta(minutes=5))
    assert form.status_code == 200
    assert done.status_code == 303
    assert done.headers["location"] == "/connexion?mot-de-passe=enregistre"
    with world.db() as session:
        user = session.get(User, user_id)
        assert user is not None
        assert passwords.verify_password(user.password_hash, NEW_PASSWORD)
    used = [e for e in events(world, before) if e["action"] == "reset_password"]
    assert [(e["outcome"], e["actor_id"]) for e in used] == [("allowed", user_id)]
    visitor = Browser.open(world)
    visitor.sign_in("police", NEW_PASSWORD)

    before = head(world)
    form, again = _choose(world, token, T0 + timedelta(minutes=6), "encore une autre phrase")
    assert form.status_code == 410
    assert again.status_code == 410
    assert "déjà servi" in _text(again)
    [event] = events(world, before)
    assert (event["action"], event["outcome"], event["actor_id"], event["detail"]) == (
        "reset_password",
        "denied",
        user_id,
        "reset-link-used",
    )


@pytest.mark.parametrize(
    ("after", "serves"),
    [(timedelta(hours=1) - timedelta(seconds=1), True), (timedelta(hours=1), False)],
)
def test_the_link_serves_within_its_hour_and_not_a_second_later(
    world: World, after: timedelta, serves: bool
) -> None:
    _url, token = _start_link(world, "teacher")
    user_id = world.users["teacher"]
    before = head(world)
    form, response = _choose(world, token, T0 + after, shown_at=T0 + timedelta(minutes=59))
    assert form.status_code == 200
    [event] = [e for e in events(world, before) if e["action"] == "reset_password"]
    if serves:
        assert response.status_code == 303
        assert event["outcome"] == "allowed"
    else:
        assert response.status_code == 410
        assert "plus d'une heure" in _text(response)
        assert (event["outcome"], event["actor_id"], event["detail"]) == (
            "denied",
            user_id,
            "reset-link-expired",
        )
        with world.db() as session:
            user = session.get(User, user_id)
            assert user is not None
            assert passwords.verify_password(user.password_hash, PASSWORD) or (
                user.password_hash is None
            )


def test_a_short_password_leaves_the_link_usable_and_a_forged_one_is_refused(
    world: World,
) -> None:
    _url, token = _start_link(world, "cst")
    before = head(world)
    _form, short = _choose(world, token, T0 + timedelta(minutes=1), "court")
    assert short.status_code == 422
    assert 'id="password-erreur"' in short.text
    _form, differ = _choose(world, token, T0 + timedelta(minutes=2), again=NEW_PASSWORD + "!")
    assert differ.status_code == 422
    assert 'id="password_again-erreur"' in differ.text
    _form, done = _choose(world, token, T0 + timedelta(minutes=3))
    assert done.status_code == 303
    denied = [e["detail"] for e in events(world, before) if e["outcome"] == "denied"]
    assert denied == ["invalid-input", "passwords-differ"]

    before = head(world)
    _form, forged = _choose(world, "not-a-token-this-service-gave", T0)
    assert forged.status_code == 404
    [event] = events(world, before)
    assert (event["action"], event["actor_id"], event["detail"]) == (
        "reset_password",
        None,
        "reset-link-unknown",
    )


def test_a_newer_link_replaces_the_older_one(world: World) -> None:
    _url, first = _start_link(world, "parquet")
    _url, second = _start_link(world, "parquet")
    _form, old = _choose(world, first, T0 + timedelta(minutes=1))
    assert old.status_code == 410
    _form, new = _choose(world, second, T0 + timedelta(minutes=1))
    assert new.status_code == 303
