"""Helpers that walk a case through the procedure over HTTP, with invented people."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from app import clock
from app.clock import today
from tests.conftest import World

# Invented names only; the suite checks they never reach an error or a log.
LAST_NAME = "Zyxwavel"
FIRST_NAME = "Quentinette"


def case_body(cell_id: int, **overrides: Any) -> dict[str, Any]:
    """A signalement as a member sends it: no receipt date (the server's day is the date)."""
    on = today()
    body: dict[str, Any] = {
        "cell_id": cell_id,
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


def declared_body(
    cell_id: int, *, received_days_ago: int, received_via: str = "letter", **overrides: Any
) -> dict[str, Any]:
    """A signalement the coordinator enters, received outside the service (by letter)."""
    received = (today() - timedelta(days=received_days_ago)).isoformat()
    return case_body(cell_id, received_on=received, received_via=received_via, **overrides)


@contextmanager
def on_day(world: World, day: date) -> Iterator[None]:
    """The requests of this block are handled as on ``day`` (Paris): the server's clock
    pinned, as if they had been sent then. Its timestamps stay today's."""
    overrides = world.client.app.dependency_overrides  # type: ignore[attr-defined]
    overrides[clock.today] = lambda: day
    try:
        yield
    finally:
        overrides.pop(clock.today, None)


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


def submit(
    world: World, *, by: str = "police", received_days_ago: int = 40, **overrides: Any
) -> str:
    """A case ``by`` sent ``received_days_ago`` days ago: as a member, sent on that day (the
    server's clock pinned then); as the coordinator, entered now, declared received by letter
    on that day."""
    if by.startswith("coordinator"):
        body = declared_body(world.cell.id, received_days_ago=received_days_ago, **overrides)
        response = world.as_(by).post("/cases", body)
    else:
        with on_day(world, today() - timedelta(days=received_days_ago)):
            response = world.as_(by).post("/cases", case_body(world.cell.id, **overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def to_research(world: World, **overrides: Any) -> str:
    case_id = submit(world, **overrides)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": True}))
    return case_id


# Start times for the meetings the tests convene: each call a new one, so that two meetings
# of a cell on one day never share a time (the service refuses that).
_MINUTES = itertools.count()


def meeting_body(cell_id: int, held_on: date, **overrides: Any) -> dict[str, Any]:
    """A meeting's body: the day asked, a start time not used yet, an invented place."""
    minute = 7 * 60 + next(_MINUTES) % (14 * 60)
    return {
        "cell_id": cell_id,
        "held_on": held_on.isoformat(),
        "starts_at": f"{minute // 60:02d}:{minute % 60:02d}",
        "place": "Salle du conseil, mairie d'arrondissement",
        **overrides,
    }


def meeting(world: World, held_on: date | None = None, cell_id: int | None = None) -> str:
    response = world.as_("coordinator").post(
        "/meetings", meeting_body(cell_id or world.cell.id, held_on or today())
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
    informed = {"informed_on": today().isoformat(), "means": "letter", "outcome": "informed"}
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
    ok(coordinator.post(f"/cases/{case_id}/closure", {"reason": "moved_away"}))
    reason = {"reason": f"Relire le dossier {LAST_NAME} avant la cellule."}
    ok(coordinator.post(f"/cases/{case_id}/archive-access", reason))
    ok(coordinator.get(f"/cases/{case_id}"))
    return case_id
