"""A cell's named partner services (issue 15): managed by its coordinator, named by the
orientations to a destination other than social services, recorded with the transmission
(never what was sent: R15)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import ok, problem, to_cell_review


def _add(world: World, name: str, destination: str, cell_id: int | None = None) -> Any:
    cell = cell_id or world.cell.id
    body = {"name": name, "destination": destination}
    who = "coordinator" if cell == world.cell.id else "coordinator-19"
    return world.as_(who).post(f"/cells/{cell}/services", body)


def test_the_coordinator_lists_adds_renames_and_withdraws_services(world: World) -> None:
    before = head(world)
    club = ok(_add(world, "Club de prévention Imaginaire", "prevention_association"))
    assert (club["name"], club["destination"], club["active"]) == (
        "Club de prévention Imaginaire",
        "prevention_association",
        True,
    )
    [added] = [e for e in events(world, before) if e["action"] == "manage_services"]
    assert added["detail"] == f"service:{club['id']}:add"
    crip = ok(_add(world, "CRIP 75", "crip"))
    listed = ok(world.as_("coordinator").get(f"/cells/{world.cell.id}/services"))
    assert [(s["destination"], s["name"]) for s in listed] == [
        ("crip", "CRIP 75"),
        ("prevention_association", "Club de prévention Imaginaire"),
    ]
    path = f"/cells/{world.cell.id}/services/{crip['id']}"
    renamed = world.as_("coordinator").client.patch(
        "/api/v1" + path,
        json={"name": "CRIP de Paris"},
        headers={
            **world.as_("coordinator").headers,
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert ok(renamed)["name"] == "CRIP de Paris"
    withdrawn = world.as_("coordinator").client.patch(
        "/api/v1" + path, json={"active": False}, headers=world.as_("coordinator").headers
    )
    assert ok(withdrawn)["active"] is False


@pytest.mark.parametrize(
    ("body", "slug"),
    [
        ({"name": "Services sociaux", "destination": "social_services"}, "service-not-applicable"),
        ({"name": "Mission locale", "destination": "mission_locale"}, "invalid-input"),
        ({"name": "   ", "destination": "crip"}, "validation-error"),
        ({"name": "CRIP\u202e 75", "destination": "crip", "extra": 1}, "validation-error"),
    ],
)
def test_a_service_the_cell_cannot_list_is_refused(
    world: World, body: dict[str, Any], slug: str
) -> None:
    refused = problem(world.as_("coordinator").post(f"/cells/{world.cell.id}/services", body), 422)
    assert refused["type"] == f"urn:cenomed:problem:{slug}"
    assert ok(world.as_("coordinator").get(f"/cells/{world.cell.id}/services")) == []


def test_a_service_is_listed_once(world: World) -> None:
    ok(_add(world, "CRIP 75", "crip"))
    assert problem(_add(world, "CRIP 75", "crip"), 409)["type"].endswith(":service-already-listed")


@pytest.mark.parametrize(("who", "status"), [("police", 403), ("cst", 403), ("parquet", 403)])
def test_only_the_coordinator_manages_the_services(world: World, who: str, status: int) -> None:
    before = head(world)
    body = {"name": "Club", "destination": "crip"}
    refused = problem(world.as_(who).post(f"/cells/{world.cell.id}/services", body), status)
    assert refused["type"] == "urn:cenomed:problem:role-not-allowed"
    [event] = events(world, before)
    assert (event["action"], event["outcome"], event["detail"]) == (
        "manage_services",
        "denied",
        "role-not-allowed",
    )
    other = problem(world.as_("coordinator-19").get(f"/cells/{world.cell.id}/services"), 403)
    assert other["type"] == "urn:cenomed:problem:not-a-cell-member"


def _decide(world: World, case_id: str, orientations: list[dict[str, Any]]) -> Any:
    body = {"decision": "orient", "orientations": orientations}
    return world.as_("coordinator").post(f"/cases/{case_id}/review-decision", body)


def test_an_orientation_names_one_of_the_cells_services(world: World) -> None:
    club = ok(_add(world, "Club de prévention Imaginaire", "prevention_association"))
    elsewhere = ok(_add(world, "Club voisin", "prevention_association", world.other_cell.id))
    case_id = to_cell_review(world)
    before = head(world)
    missing = problem(_decide(world, case_id, [{"destination": "prevention_association"}]), 422)
    assert missing["type"] == "urn:cenomed:problem:service-required"
    assert missing["errors"][0]["loc"] == ["body", "orientations", "0", "service_id"]
    assert [e["detail"] for e in events(world, before)] == ["service-required"]
    foreign = [{"destination": "prevention_association", "service_id": elsewhere["id"]}]
    assert problem(_decide(world, case_id, foreign), 422)["type"].endswith(":service-not-of-cell")
    social = [{"destination": "social_services", "service_id": club["id"]}]
    assert problem(_decide(world, case_id, social), 422)["type"].endswith(":service-not-applicable")
    # A destination the cell lists nothing for names nothing.
    named = [
        {"destination": "prevention_association", "service_id": club["id"]},
        {"destination": "crip"},
    ]
    oriented = ok(_decide(world, case_id, named))
    services = {o["destination"]: o["service"] for o in oriented["orientations"]}
    assert services == {
        "prevention_association": {"id": club["id"], "name": "Club de prévention Imaginaire"},
        "crip": None,
    }
    # The transmission records which service received it, never what was sent (R15).
    club_orientation = next(
        o["id"] for o in oriented["orientations"] if o["destination"] == "prevention_association"
    )
    path = f"/cases/{case_id}/orientations/{club_orientation}/transmission"
    sent = ok(world.as_("coordinator").post(path))
    [shown] = [o for o in sent["orientations"] if o["id"] == club_orientation]
    assert shown["service"]["name"] == "Club de prévention Imaginaire"
    assert shown["transmitted_at"] is not None
    assert sent["history"][-1]["detail"] == f"orientation:{club_orientation}"


def test_a_withdrawn_service_is_no_longer_named(world: World) -> None:
    club = ok(_add(world, "Club de prévention Imaginaire", "prevention_association"))
    world.as_("coordinator").client.patch(
        f"/api/v1/cells/{world.cell.id}/services/{club['id']}",
        json={"active": False},
        headers=world.as_("coordinator").headers,
    )
    case_id = to_cell_review(world)
    named = [{"destination": "prevention_association", "service_id": club["id"]}]
    assert problem(_decide(world, case_id, named), 422)["type"].endswith(":service-not-of-cell")
    # With none active, the destination names none.
    ok(_decide(world, case_id, [{"destination": "prevention_association"}]))
