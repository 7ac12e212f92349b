"""The admin console's API (issue 19): only administrators get in; accounts and cells change
under the same rules as the CLI's, each change an audit event holding ids only, and the
account's very next request follows each change."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import select

from app.directory import admin
from app.directory import service as directory
from app.directory.models import Cell, Membership, User
from app.errors import Conflict
from app.vocabulary import Role
from tests.audit.log import events, head
from tests.cli import cenomed
from tests.conftest import World
from tests.scenario import ok

PROBLEM = "urn:cenomed:problem:"


def _refused(response: Any, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["type"] == PROBLEM + slug


def _user_row(world: World, user_id: int) -> tuple[str, str, bool, list[int], str | None]:
    with world.db() as session:
        user = session.get(User, user_id)
        assert user is not None
        cells = sorted(
            session.scalars(select(Membership.cell_id).where(Membership.user_id == user_id))
        )
        return user.role, user.organisation, user.active, cells, user.email


ROUTES = [
    ("get", "/admin/users", None, "list_users"),
    ("post", "/admin/users", {"username": "x", "role": "auditor"}, "add_user"),
    ("get", "/admin/users/{id}", None, "read_user"),
    ("patch", "/admin/users/{id}", {"role": "parquet"}, "update_user"),
    ("post", "/admin/users/{id}/deactivation", None, "deactivate_user"),
    ("post", "/admin/users/{id}/reactivation", None, "reactivate_user"),
    ("post", "/admin/users/{id}/password-reset", None, "start_password_reset"),
    ("get", "/admin/cells", None, "list_cells"),
    ("post", "/admin/cells", {"name": "X", "kind": "cenomed", "arrondissement": 3}, "add_cell"),
    ("patch", "/admin/cells/{cell}", {"name": "Autre"}, "update_cell"),
    ("get", "/admin/charter", None, "read_charter_acceptances"),
]


@pytest.mark.parametrize("who", ["coordinator", "auditor"])
@pytest.mark.parametrize(("method", "path", "body", "action"), ROUTES)
def test_only_an_administrator_may_use_the_console(
    world: World, who: str, method: str, path: str, body: Any, action: str
) -> None:
    target = world.users["police"]
    before_row = _user_row(world, target)
    before = head(world)
    caller = world.as_(who)
    url = path.format(id=target, cell=world.cell.id)
    if method == "get":
        response = caller.get(url)
    elif method == "patch":
        response = caller.patch(url, body)
    else:
        response = caller.post(url, body)
    _refused(response, 403, "role-not-allowed")
    [event] = events(world, before)
    assert (event["action"], event["outcome"], event["actor_id"], event["detail"]) == (
        action,
        "denied",
        world.users[who],
        "role-not-allowed",
    )
    assert _user_row(world, target) == before_row
    with world.db() as session:
        assert session.get(Cell, world.cell.id).name == "CENOMED 18e"  # type: ignore[union-attr]


def test_an_administrator_who_has_not_accepted_the_charter_is_sent_to_it(world: World) -> None:
    world.add_user("new-admin", Role.ADMIN, cells=[], accept_charter=False)
    before = head(world)
    _refused(world.as_("new-admin").get("/admin/users"), 403, "charter-not-accepted")
    [event] = events(world, before)
    assert (event["action"], event["outcome"]) == ("list_users", "denied")


def test_the_list_filters_and_pages_like_the_other_lists(world: World) -> None:
    api = world.as_("admin")
    everyone = ok(api.get("/admin/users?limit=100"))["items"]
    names = [item["username"] for item in everyone]
    assert names == sorted(names)
    assert set(names) == set(world.users)

    members = ok(api.get("/admin/users?role=member"))["items"]
    assert {item["username"] for item in members} == {"police", "teacher"}
    education = ok(api.get("/admin/users?organisation=education"))["items"]
    assert [item["username"] for item in education] == ["teacher"]
    in_19 = ok(api.get(f"/admin/users?cell_id={world.other_cell.id}"))["items"]
    assert {item["username"] for item in in_19} == {"coordinator-19", "parquet-19"}
    named = ok(api.get("/admin/users?name_contains=PARQ"))["items"]
    assert {item["username"] for item in named} == {"parquet", "parquet-19"}
    # A LIKE wildcard is a character like any other.
    assert ok(api.get("/admin/users?name_contains=%25"))["items"] == []

    ok(api.post(f"/admin/users/{world.users['teacher']}/deactivation"))
    inactive = ok(api.get("/admin/users?active=false"))["items"]
    assert [item["username"] for item in inactive] == ["teacher"]
    assert "teacher" not in {
        i["username"] for i in ok(api.get("/admin/users?active=true"))["items"]
    }

    pages: list[str] = []
    cursor = None
    while True:
        query = "/admin/users?limit=4" + (f"&cursor={cursor}" if cursor else "")
        page = ok(api.get(query))
        pages += [item["username"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == names
    before = head(world)
    _refused(api.get("/admin/users?cursor=bm90LWEtY3Vyc29y"), 422, "invalid-cursor")
    [event] = events(world, before)
    assert (event["action"], event["outcome"], event["detail"]) == (
        "list_users",
        "denied",
        "invalid-cursor",
    )


def test_a_created_account_is_usable_at_once_and_logged_by_id(world: World) -> None:
    before = head(world)
    created = world.as_("admin").post(
        "/admin/users",
        {
            "username": "new-teacher",
            "role": "member",
            "organisation": "education",
            "cells": [world.cell.id],
            "email": "prenom.nom@paris.fr",
        },
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert (user["role"], user["organisation"], user["cells"], user["active"]) == (
        "member",
        "education",
        [world.cell.id],
        True,
    )
    assert user["has_password"] is False
    logged = [(e["action"], e["detail"]) for e in events(world, before)]
    assert ("add_user", f"user:{user['id']}") in logged
    assert ("set_email", f"user:{user['id']}") in logged
    assert all("new-teacher" not in str(e) and "paris.fr" not in str(e) for e in events(world))
    world.users["new-teacher"] = user["id"]
    me = ok(world.as_("new-teacher").get("/me"))
    assert (me["role"], me["cells"]) == ("member", [world.cell.id])


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        ({"username": "a", "role": "member"}, 422, "organisation-required"),
        (
            {"username": "a", "role": "member", "organisation": "dpp", "cells": [1]},
            422,
            "organisation-of-role",
        ),
        (
            {"username": "a", "role": "coordinator", "organisation": "police", "cells": [1]},
            422,
            "organisation-of-role",
        ),
        ({"username": "a", "role": "auditor", "cells": [1]}, 422, "cells-not-allowed"),
        ({"username": "a", "role": "parquet"}, 422, "cell-required"),
        ({"username": "a", "role": "parquet", "cells": [999]}, 404, "cell-not-found"),
        ({"username": "police", "role": "auditor"}, 409, "username-taken"),
        ({"username": "a", "role": "auditor", "email": "Jean <j@x.fr>"}, 422, "invalid-email"),
        ({"username": "a b", "role": "auditor"}, 422, "validation-error"),
    ],
)
def test_an_incoherent_account_is_refused_as_the_cli_refuses_it(
    world: World, body: dict[str, Any], status: int, slug: str
) -> None:
    if body.get("cells") == [1]:
        body = {**body, "cells": [world.cell.id]}
    count = len(ok(world.as_("admin").get("/admin/users?limit=100"))["items"])
    before = head(world)
    _refused(world.as_("admin").post("/admin/users", body), status, slug)
    [event] = events(world, before)
    assert (event["action"], event["outcome"], event["detail"]) == ("add_user", "denied", slug)
    assert len(ok(world.as_("admin").get("/admin/users?limit=100"))["items"]) == count


def test_each_change_is_followed_by_the_accounts_next_request(world: World) -> None:
    api = world.as_("admin")
    teacher = world.as_("teacher")
    user_id = world.users["teacher"]
    assert ok(teacher.get("/me"))["cells"] == [world.cell.id]

    before = head(world)
    changed = ok(api.patch(f"/admin/users/{user_id}", {"cells": [world.other_cell.id]}))
    assert changed["cells"] == [world.other_cell.id]
    assert ok(teacher.get("/me"))["cells"] == [world.other_cell.id]
    [event] = [e for e in events(world, before) if e["action"] == "update_user"]
    assert event["detail"] == f"user:{user_id} cells:{world.other_cell.id}"

    ok(api.patch(f"/admin/users/{user_id}", {"organisation": "social_landlord"}))
    assert ok(teacher.get("/me"))["organisation"] == "social_landlord"

    ok(
        api.patch(
            f"/admin/users/{user_id}",
            {"role": "cst", "organisation": None, "cells": [world.cell.id]},
        )
    )
    me = ok(teacher.get("/me"))
    assert (me["role"], me["organisation"], me["cells"]) == ("cst", "dases", [world.cell.id])

    before = head(world)
    ok(api.post(f"/admin/users/{user_id}/deactivation"))
    _refused(teacher.get("/me"), 401, "account-inactive")
    assert _user_row(world, user_id)[2] is False
    ok(api.post(f"/admin/users/{user_id}/reactivation"))
    assert ok(teacher.get("/me"))["role"] == "cst"
    logged = [(e["action"], e["detail"]) for e in events(world, before) if e["actor_id"]]
    assert ("deactivate_user", f"user:{user_id}") in logged
    assert ("reactivate_user", f"user:{user_id}") in logged


def test_an_address_is_set_and_removed_and_never_logged(world: World) -> None:
    api = world.as_("admin")
    user_id = world.users["police"]
    before = head(world)
    assert ok(api.patch(f"/admin/users/{user_id}", {"email": "agent@police.fr"}))["email"] == (
        "agent@police.fr"
    )
    assert ok(api.patch(f"/admin/users/{user_id}", {"email": None}))["email"] is None
    assert _user_row(world, user_id)[4] is None
    details = [e["detail"] for e in events(world, before) if e["action"] == "set_email"]
    assert details == [f"user:{user_id}", f"user:{user_id} removed"]
    assert "police.fr" not in str(events(world, before))


def test_an_incoherent_change_is_refused_and_changes_nothing(world: World) -> None:
    api = world.as_("admin")
    user_id = world.users["police"]
    row = _user_row(world, user_id)
    for body, status, slug in [
        ({"role": "auditor"}, 422, "cells-not-allowed"),
        ({"role": "coordinator", "organisation": "police"}, 422, "organisation-of-role"),
        ({"cells": []}, 422, "cell-required"),
        ({"cells": [999]}, 404, "cell-not-found"),
        ({"email": "pas une adresse"}, 422, "invalid-email"),
        ({"username": "renamed"}, 422, "validation-error"),
    ]:
        before = head(world)
        _refused(api.patch(f"/admin/users/{user_id}", body), status, slug)
        [event] = events(world, before)
        assert (event["action"], event["outcome"], event["detail"]) == (
            "update_user",
            "denied",
            slug,
        )
        assert _user_row(world, user_id) == row
    _refused(api.patch("/admin/users/99999", {"role": "parquet"}), 404, "user-not-found")


def test_an_administrator_keeps_their_own_role_and_account(world: World) -> None:
    api = world.as_("admin")
    me = world.users["admin"]
    world.add_user("admin-2", Role.ADMIN, cells=[])
    for call, slug, action in [
        (lambda: api.patch(f"/admin/users/{me}", {"role": "auditor"}), "own-role", "update_user"),
        (
            lambda: api.post(f"/admin/users/{me}/deactivation"),
            "own-deactivation",
            "deactivate_user",
        ),
    ]:
        before = head(world)
        _refused(call(), 409, slug)
        [event] = events(world, before)
        assert (event["action"], event["outcome"], event["actor_id"], event["detail"]) == (
            action,
            "denied",
            me,
            slug,
        )
        assert _user_row(world, me)[:3] == ("admin", "other", True)
    # Another administrator may.
    ok(world.as_("admin-2").patch(f"/admin/users/{me}", {"role": "auditor"}))
    assert ok(world.as_("admin").get("/me"))["role"] == "auditor"


def test_the_last_active_administrator_stays(world: World) -> None:
    """Only the operator (the CLI) can reach it: an administrator is never the last one but
    themselves, which the previous rule refuses already."""
    me = world.users["admin"]
    with pytest.raises(Conflict) as refused, world.db() as session:
        admin.set_active(session, actor=directory.OPERATOR, user_id=me, active=False)
    assert getattr(refused.value, "slug", None) == "last-active-admin"
    with pytest.raises(Conflict) as refused, world.db() as session:
        admin.update_user(
            session,
            actor=directory.OPERATOR,
            user_id=me,
            change=admin.AccountChange(role=Role.AUDITOR),
        )
    assert getattr(refused.value, "slug", None) == "last-active-admin"
    # The CLI's 'user deactivate' is the same function.
    with pytest.raises(Conflict) as refused, world.db() as session:
        directory.deactivate_user(session, username="admin")
    assert refused.value.slug == "last-active-admin"
    assert _user_row(world, me)[:3] == ("admin", "other", True)

    world.add_user("admin-2", Role.ADMIN, cells=[])
    ok(world.as_("admin-2").post(f"/admin/users/{me}/deactivation"))
    # admin-2 is the last one now: the other can no longer be... and admin-2 not itself.
    before = head(world)
    _refused(
        world.as_("admin-2").post(f"/admin/users/{world.users['admin-2']}/deactivation"),
        409,
        "own-deactivation",
    )
    assert events(world, before)[0]["outcome"] == "denied"


def test_cells_are_listed_created_renamed_and_change_kind(world: World) -> None:
    api = world.as_("admin")
    cells = ok(api.get("/admin/cells"))
    assert [(c["name"], c["arrondissement"]) for c in cells] == [
        ("CENOMED 18e", 18),
        ("CENOMED 19e", 19),
    ]
    before = head(world)
    created = api.post(
        "/admin/cells", {"name": "Récidive 20e", "kind": "recidivism", "arrondissement": 20}
    )
    assert created.status_code == 201, created.text
    cell_id = created.json()["id"]
    renamed = ok(api.patch(f"/admin/cells/{cell_id}", {"name": "Groupe récidive 20e"}))
    assert renamed["name"] == "Groupe récidive 20e"
    kind = ok(api.patch(f"/admin/cells/{cell_id}", {"kind": "cenomed"}))
    assert kind["kind"] == "cenomed"
    logged = [(e["action"], e["detail"]) for e in events(world, before)]
    assert ("add_cell", f"cell:{cell_id}") in logged
    assert ("update_cell", f"cell:{cell_id} name") in logged
    assert ("update_cell", f"cell:{cell_id} kind:cenomed") in logged
    assert "récidive" not in str(events(world, before)).lower()

    before = head(world)
    _refused(api.patch(f"/admin/cells/{cell_id}", {"name": "CENOMED 18e"}), 409, "cell-name-taken")
    [event] = events(world, before)
    assert (event["action"], event["outcome"], event["detail"]) == (
        "update_cell",
        "denied",
        "cell-name-taken",
    )
    _refused(
        api.post("/admin/cells", {"name": "CENOMED 19e", "kind": "cenomed", "arrondissement": 19}),
        409,
        "cell-name-taken",
    )
    _refused(api.patch("/admin/cells/9999", {"name": "Y"}), 404, "cell-not-found")
    _refused(
        api.post("/admin/cells", {"name": "Z", "kind": "cenomed", "arrondissement": 21}),
        422,
        "validation-error",
    )
    assert ok(api.get("/admin/cells"))[-1]["name"] == "Groupe récidive 20e"


def test_the_charter_in_force_and_who_accepted_it(world: World) -> None:
    world.add_user("late", Role.AUDITOR, cells=[], accept_charter=False)
    charter = ok(world.as_("admin").get("/admin/charter"))
    assert charter["version"] == world.settings.charter_version
    by_name = {row["username"]: row for row in charter["accounts"]}
    assert by_name["late"]["accepted_at"] is None
    assert by_name["police"]["accepted_at"] is not None
    assert (charter["accepted"], charter["not_accepted"]) == (len(world.users) - 1, 1)
    ok(world.as_("admin").post(f"/admin/users/{world.users['teacher']}/deactivation"))
    names = {row["username"] for row in ok(world.as_("admin").get("/admin/charter"))["accounts"]}
    assert "teacher" not in names


def test_the_cli_keeps_its_commands_on_the_same_functions(world: World) -> None:
    env = os.environ | {
        "CENOMED_DATA_DIR": str(world.settings.data_dir),
        "CENOMED_DATABASE_URL": world.settings.database_url,
    }
    user_id = world.users["teacher"]
    ok(world.as_("admin").post(f"/admin/users/{user_id}/deactivation"))
    before = head(world)
    result = cenomed(env, "user", "reactivate", "--username", "teacher")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(user_id)
    [event] = events(world, before)
    assert (event["action"], event["actor_role"], event["detail"]) == (
        "reactivate_user",
        "operator",
        f"user:{user_id}",
    )
    assert ok(world.as_("teacher").get("/me"))["username"] == "teacher"
