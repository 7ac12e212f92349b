"""Migration 0011 (issue 16): its downgrade drops the merges' links and the transfers' record
and keeps every case; upgraded again, the schema is the models' and the service works on the
cases stored before (no merge, no transfer: nothing to infer)."""

from __future__ import annotations

import uuid

from sqlalchemy import inspect, select

from app import migrate
from app.cases.models import Case
from app.db import make_engine
from tests.conftest import World
from tests.scenario import ok, submit, to_research


def _tables(world: World) -> set[str]:
    engine = make_engine(world.settings.database_url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_down_and_up_again_keeps_the_cases(world: World) -> None:
    older = submit(world, by="police", received_days_ago=40)
    newer = submit(world, by="teacher", received_days_ago=10)
    coordinator = world.as_("coordinator")
    ok(
        coordinator.post(
            f"/cases/{older}/duplicate-decision",
            {"other_case_id": newer, "decision": "same_minor"},
        )
    )
    moved = to_research(world)
    ok(coordinator.post(f"/cases/{moved}/transfer", {"cell_id": world.other_cell.id}))
    ok(
        world.as_("coordinator-19").post(
            f"/cases/{moved}/transfer/decision", {"decision": "accept"}
        )
    )

    # Down to the revision before 0011 (the later ones first).
    migrate.downgrade(world.settings.database_url, "0010")
    assert not {"case_transfer", "additional_signalement", "duplicate_dismissal"} & _tables(world)
    migrate.upgrade(world.settings.database_url)

    with world.db() as session:
        rows = {
            str(row.id): row
            for row in session.scalars(
                select(Case).where(
                    Case.id.in_([uuid.UUID(older), uuid.UUID(newer), uuid.UUID(moved)])
                )
            )
        }
        assert len(rows) == 3
        assert all(row.merged_into_id is None for row in rows.values())
        # The transfer itself (the case's cell) stays: only its record went.
        assert rows[moved].cell_id == world.other_cell.id
    shown = ok(coordinator.get(f"/cases/{older}"))
    assert (shown["additional_signalements"], shown["transfers"]) == ([], [])
    # The closed one, its link gone, is archived: not among the duplicates shown.
    assert shown["possible_duplicates"] == []
    assert ok(world.as_("coordinator-19").get(f"/cases/{moved}"))["transfers"] == []
