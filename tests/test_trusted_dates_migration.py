"""Migration 0009 on cases stored before it: their dates are kept and marked as declared,
their closures get the reason the record bears out (other_legacy otherwise), an information
of the family recorded before is an informed family (issue 15, point 7)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from app import migrate
from app.cases.models import Case
from app.clock import today
from tests.conftest import World
from tests.scenario import ok, submit, to_cell_review, to_oriented


def _columns(world: World, case_id: str) -> tuple[Any, ...]:
    with world.db() as session:
        row = session.execute(
            select(
                Case.received_on,
                Case.received_on_declared,
                Case.received_via,
                Case.closure_reason,
                Case.family_information_outcome,
            ).where(Case.id == uuid.UUID(case_id))
        ).one()
        return tuple(row)


def test_cases_stored_before_get_what_their_record_says(world: World) -> None:
    coordinator = world.as_("coordinator")
    fresh = submit(world)
    no_action = to_cell_review(world)
    ok(coordinator.post(f"/cases/{no_action}/review-decision", {"decision": "no_action"}))
    answered, ids = to_oriented(world, "crip")
    path = f"/cases/{answered}/orientations/{ids['crip']}"
    ok(coordinator.post(f"{path}/transmission"))
    ok(coordinator.post(f"{path}/feedback", {"outcome": "support_in_place"}))
    ok(coordinator.post(f"/cases/{answered}/closure", {"reason": "feedback_received"}))
    pending, _ = to_oriented(world, "social_services", "crip")
    informed = {"informed_on": today().isoformat(), "means": "letter", "outcome": "objects"}
    ok(coordinator.post(f"/cases/{pending}/family-information", informed))
    ok(coordinator.post(f"/cases/{pending}/closure", {"reason": "moved_away"}))
    received = {c: _columns(world, c)[0] for c in (fresh, no_action, answered, pending)}

    # Back to the schema before 0009 (its downgrade drops the new columns, every row stays),
    # then migrated again: what the previous code stored is what 0009 meets in production.
    migrate.downgrade(world.settings.database_url, "0008")
    migrate.upgrade(world.settings.database_url)

    assert _columns(world, fresh) == (received[fresh], True, None, None, None)
    assert _columns(world, no_action) == (received[no_action], True, None, "no_action", None)
    assert _columns(world, answered)[3] == "feedback_received"
    # A closure before reasons existed, with an orientation unanswered: no reason to infer.
    assert _columns(world, pending)[3:] == ("other_legacy", "informed")
    # The service reads them as any other.
    shown = ok(coordinator.get(f"/cases/{fresh}"))
    assert (shown["received_on_declared"], shown["received_via"]) == (True, None)
