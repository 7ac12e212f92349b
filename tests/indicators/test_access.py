"""Who reads which indicators (R19, R2, R1), what a bad request gets, and the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.clock import today
from app.vocabulary import Role
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import ok, problem, to_research


@pytest.fixture
def paris(world: World) -> World:
    world.add_user("steering", Role.STEERING, cells=[])
    to_research(world)
    return world


def test_a_coordinator_reads_the_cells_they_coordinate_and_no_other(paris: World) -> None:
    mine, other = paris.cell.id, paris.other_cell.id
    assert (
        ok(paris.as_("coordinator").get("/indicators", params={"cell_id": mine}))["retained"] == 1
    )
    refused = paris.as_("coordinator").get("/indicators", params={"cell_id": other})
    assert problem(refused, 403)["type"].endswith(":not-a-cell-member")
    body = ok(paris.as_("coordinator-19").get("/indicators", params={"cell_id": other}))
    assert body["retained"] == 0
    assert body["cell_id"] == other
    refused = paris.as_("coordinator-19").get("/indicators", params={"cell_id": mine})
    assert problem(refused, 403)["type"].endswith(":not-a-cell-member")
    unknown = paris.as_("coordinator").get("/indicators", params={"cell_id": 999_999})
    assert problem(unknown, 403)["type"].endswith(":not-a-cell-member")
    # Paris-wide is not theirs: they are told to name their cell.
    whole = problem(paris.as_("coordinator").get("/indicators"), 422)
    assert "cell_id" in whole["detail"]


def test_a_coordinator_of_two_cells_names_the_one_they_want(paris: World) -> None:
    paris.add_user("coordinator-both", Role.COORDINATOR, cells=[paris.cell.id, paris.other_cell.id])
    both = paris.as_("coordinator-both")
    assert ok(both.get("/indicators", params={"cell_id": paris.cell.id}))["signalements"] == 1
    assert ok(both.get("/indicators", params={"cell_id": paris.other_cell.id}))["signalements"] == 0
    assert "cell_id" in problem(both.get("/indicators"), 422)["detail"]


@pytest.mark.parametrize("who", ["steering", "auditor"])
def test_steering_and_auditors_read_any_cell_and_paris(paris: World, who: str) -> None:
    reader = paris.as_(who)
    # One case: a count they may not see exactly (they do not read the cases themselves).
    whole = ok(reader.get("/indicators"))
    assert (whole["cell_id"], whole["signalements"]) == (None, None)
    assert whole["suppressed"]["signalements"] == "under_threshold"
    one_cell = ok(reader.get("/indicators", params={"cell_id": paris.cell.id}))
    assert (one_cell["signalements"], one_cell["masked_under"]) == (None, 5)
    other = {"cell_id": paris.other_cell.id}
    assert ok(reader.get("/indicators", params=other))["signalements"] == 0
    unknown = problem(reader.get("/indicators", params={"cell_id": 999_999}), 422)
    assert unknown["type"].endswith(":invalid-input")


@pytest.mark.parametrize("who", ["parquet", "police", "cst", "admin"])
def test_other_roles_read_no_indicators(paris: World, who: str) -> None:
    for params in ({"cell_id": paris.cell.id}, {}):
        refused = problem(paris.as_(who).get("/indicators", params=params), 403)
        assert refused["type"].endswith(":role-not-allowed"), (who, params)


def test_the_charter_comes_first(paris: World) -> None:
    paris.add_user("new-coordinator", Role.COORDINATOR, accept_charter=False)
    paris.add_user("new-steering", Role.STEERING, cells=[], accept_charter=False)
    for who, params in (
        ("new-coordinator", {"cell_id": paris.cell.id}),
        ("new-coordinator", {}),
        ("new-steering", {}),
        ("new-steering", {"cell_id": paris.cell.id}),
    ):
        refused = problem(paris.as_(who).get("/indicators", params=params), 403)
        assert refused["type"].endswith(":charter-not-accepted"), (who, params)


def test_without_a_token_nothing(paris: World) -> None:
    problem(paris.client.get("/api/v1/indicators"), 401)


def test_bad_parameters_are_problems(paris: World) -> None:
    steering = paris.as_("steering")
    on = today()
    ten_years_ago = on.replace(year=on.year - 10, day=min(on.day, 28))
    for params, kind in (
        ({"from": on.isoformat(), "to": (on - timedelta(days=1)).isoformat()}, "invalid-input"),
        ({"from": (ten_years_ago - timedelta(days=1)).isoformat()}, "invalid-input"),
        ({"from": "26/11/2026"}, "validation-error"),
        ({"to": "yesterday"}, "validation-error"),
        ({"format": "xlsx"}, "validation-error"),
        ({"mask_under": 0}, "validation-error"),
        ({"mask_under": 101}, "validation-error"),
        ({"mask_under": "few"}, "validation-error"),
        ({"cell_id": 0}, "validation-error"),
        ({"cell_id": "all"}, "validation-error"),
    ):
        refused = problem(steering.get("/indicators", params=params), 422)
        assert refused["type"].endswith(f":{kind}"), params
    # Ten years exactly is allowed; so is a period in the future (nothing happened there yet).
    assert ok(steering.get("/indicators", params={"from": ten_years_ago.isoformat()}))
    future = {
        "from": (on + timedelta(days=1)).isoformat(),
        "to": (on + timedelta(days=9)).isoformat(),
    }
    assert ok(steering.get("/indicators", params=future))["meetings"] == 0


def test_every_read_and_every_refusal_is_an_audit_event(paris: World) -> None:
    start = head(paris)
    ok(paris.as_("steering").get("/indicators"))
    ok(paris.as_("coordinator").get("/indicators", params={"cell_id": paris.cell.id}))
    as_csv = {"cell_id": paris.other_cell.id, "format": "csv"}
    assert paris.as_("auditor").get("/indicators", params=as_csv).status_code == 200
    paris.as_("coordinator").get("/indicators", params={"cell_id": paris.other_cell.id})
    logged = [e for e in events(paris, start) if e["action"] == "read_indicators"]
    assert [(e["actor_id"], e["outcome"], e["detail"], e["case_id"]) for e in logged] == [
        (paris.users["steering"], "allowed", "paris", None),
        (paris.users["coordinator"], "allowed", f"cell:{paris.cell.id}", None),
        (paris.users["auditor"], "allowed", f"cell:{paris.other_cell.id}", None),
        (paris.users["coordinator"], "denied", "not-a-cell-member", None),
    ]
    assert all(e["blocks"] == [] for e in logged)
