"""Migration 0012 (issue 17): the meetings recorded before keep their day, agenda and
presentations, become ``scheduled`` with no time, place or participant (nothing is invented);
two of them on the same day do not conflict; the downgrade drops what it added and keeps every
meeting and case; upgraded again, the service works on them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import create_engine, inspect, text

from app import migrate
from app.clock import today
from tests.conftest import World
from tests.scenario import meeting, ok, to_research


def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _sql_url(world: World) -> str:
    return world.settings.database_url


def test_meetings_recorded_before_keep_their_day_and_agenda(world: World) -> None:
    case_id = to_research(world)
    meeting_id = meeting(world)
    ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}))
    url = _sql_url(world)

    migrate.downgrade(url, "0011")
    assert {"starts_at", "place", "status", "version"}.isdisjoint(_columns(url, "meeting"))
    assert "agenda_position" not in _columns(url, "case_file")
    assert "meeting_participant" not in _tables(url)
    # Before 0012 a cell could hold two meetings on one day: one is recorded that way.
    second = uuid.uuid4()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO meeting (id, cell_id, held_on, created_by, created_at) "
                "SELECT :id, cell_id, held_on, created_by, created_at FROM meeting WHERE id = :m"
            ),
            {
                "id": second.hex if engine.dialect.name == "sqlite" else str(second),
                "m": uuid.UUID(meeting_id).hex if engine.dialect.name == "sqlite" else meeting_id,
            },
        )
    engine.dispose()

    migrate.upgrade(url)
    shown = ok(world.as_("coordinator").get(f"/meetings/{meeting_id}"))
    assert (shown["status"], shown["starts_at"], shown["place"]) == ("scheduled", None, None)
    assert shown["participants"] == []
    assert shown["attendance_recorded"] is False
    assert [(i["case_id"], i["position"]) for i in shown["agenda"]] == [(case_id, None)]
    assert ok(world.as_("coordinator").get(f"/meetings/{second}"))["status"] == "scheduled"
    # The service works on them: rescheduled (to a day a month after the case's receipt),
    # then the agenda ordered, which numbers it.
    later = (today() + timedelta(days=3)).isoformat()
    moved = world.as_("coordinator").patch(
        f"/meetings/{meeting_id}",
        {"held_on": later, "starts_at": "10:00", "place": "Salle B"},
    )
    assert ok(moved)["held_on"] == later
    ordered = ok(
        world.as_("coordinator").put(
            f"/meetings/{meeting_id}/agenda-order", {"case_ids": [case_id]}
        )
    )
    assert [(i["case_id"], i["position"]) for i in ordered["agenda"]] == [(case_id, 1)]
