"""Helpers that walk a case through the procedure over HTTP, with invented people."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from app.clock import today
from tests.conftest import World

# Invented names only; the suite checks they never reach an error or a log.
LAST_NAME = "Zyxwavel"
FIRST_NAME = "Quentinette"


def case_body(cell_id: int, *, received_days_ago: int = 40, **overrides: Any) -> dict[str, Any]:
    on = today()
    body: dict[str, Any] = {
        "cell_id": cell_id,
        "received_on": (on - timedelta(days=received_days_ago)).isoformat(),
        "motifs": ["absenteeism", "night_presence"],
        "facts": "Absences répétées et présence nocturne signalées (exemple fictif).",
        "minor": {
            "last_name": LAST_NAME,
            "first_name": FIRST_NAME,
            "birth_date": date(on.year - 14, 5, 17).isoformat(),
            "sex": "F",
            "address": "12 rue Imaginaire, 75018 Paris",
            "school": "Collège Fictif",
        },
        "guardians": [{"name": "Parent Zyxwavel", "relationship": "parent", "phone": "0100000000"}],
    }
    body.update(overrides)
    return body


def nominative_values(body: dict[str, Any]) -> list[str]:
    """Every nominative value of a case body: what no log, error or audit event may hold."""
    minor, guardian = body["minor"], body["guardians"][0]
    return [
        minor["last_name"],
        minor["first_name"],
        body["facts"],
        minor["address"],
        minor["school"],
        minor["birth_date"],
        guardian["name"],
        guardian["phone"],
    ]


def submit(world: World, *, by: str = "police", **overrides: Any) -> str:
    response = world.as_(by).post("/cases", case_body(world.cell.id, **overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def to_research(world: World, **overrides: Any) -> str:
    case_id = submit(world, **overrides)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": True}))
    return case_id


def meeting(world: World, held_on: date | None = None, cell_id: int | None = None) -> str:
    response = world.as_("coordinator").post(
        "/meetings",
        {"cell_id": cell_id or world.cell.id, "held_on": (held_on or today()).isoformat()},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def to_cell_review(world: World, **overrides: Any) -> str:
    case_id = to_research(world, **overrides)
    meeting_id = meeting(world)
    ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}))
    return case_id


def to_oriented(world: World, *destinations: str) -> tuple[str, dict[str, str]]:
    """A case oriented to ``destinations``; returns its id and orientation ids by destination."""
    case_id = to_cell_review(world)
    response = world.as_("coordinator").post(
        f"/cases/{case_id}/review-decision",
        {"decision": "orient", "orientations": [{"destination": d} for d in destinations]},
    )
    ok(response)
    return case_id, {o["destination"]: o["id"] for o in response.json()["orientations"]}


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:cenomed:problem:")
    assert body["title"]
    assert body["detail"]
    assert LAST_NAME not in response.text
    assert FIRST_NAME not in response.text
    return body


def through_the_six_steps(world: World) -> str:
    """One case from the police's signalement to the CST's feedback, closed, then opened
    again from the archive: every kind of step and read the procedure has."""
    coordinator = world.as_("coordinator")
    case_id = to_research(world)
    note = {"content": f"{FIRST_NAME} est connue du collège."}
    ok(world.as_("teacher").post(f"/cases/{case_id}/research-notes", note))
    ok(coordinator.post(f"/meetings/{meeting(world)}/cases", {"case_id": case_id}))
    oriented = coordinator.post(
        f"/cases/{case_id}/review-decision",
        {
            "decision": "orient",
            "orientations": [{"destination": "social_services"}, {"destination": "crip"}],
        },
    )
    ids = {o["destination"]: o["id"] for o in ok(oriented)["orientations"]}
    informed = {"informed_on": today().isoformat(), "means": "letter"}
    ok(coordinator.post(f"/cases/{case_id}/family-information", informed))
    for orientation_id in ids.values():
        ok(coordinator.post(f"/cases/{case_id}/orientations/{orientation_id}/transmission"))
    ok(
        world.as_("cst").post(
            f"/cases/{case_id}/orientations/{ids['social_services']}/feedback",
            {"outcome": "support_in_place"},
        )
    )
    ok(coordinator.get("/cases"))
    ok(coordinator.post(f"/cases/{case_id}/closure"))
    reason = {"reason": f"Relire le dossier {LAST_NAME} avant la cellule."}
    ok(coordinator.post(f"/cases/{case_id}/archive-access", reason))
    ok(coordinator.get(f"/cases/{case_id}"))
    return case_id
