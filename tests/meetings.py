"""Helpers of the meeting tests (issue 17): a meeting convened at a time of one's choosing,
snapshots to prove a refusal changed nothing, and the refusal's audit event."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from app.cases.models import Case
from app.meetings.models import Meeting
from tests.audit.log import events
from tests.conftest import World
from tests.scenario import ok, problem

PLACE = "Salle du conseil, mairie du 18e"
PROBLEM = "urn:cenomed:problem:"


def convene(
    world: World,
    held_on: date,
    starts_at: str,
    *,
    by: str = "coordinator",
    cell_id: int | None = None,
    place: str = PLACE,
) -> str:
    """A meeting convened by ``by`` on ``held_on`` at ``starts_at``: its id."""
    body = {
        "cell_id": cell_id or world.cell.id,
        "held_on": held_on.isoformat(),
        "starts_at": starts_at,
        "place": place,
    }
    return str(ok(world.as_(by).post("/meetings", body))["id"])


def put_on(world: World, meeting_id: str, case_id: str, by: str = "coordinator") -> Any:
    return ok(world.as_(by).post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}))


def reference(world: World, case_id: str) -> str:
    """The case's reference, as its direct read by the coordinator gives it."""
    return str(ok(world.as_("coordinator").get(f"/cases/{case_id}"))["reference"])


def meeting_snapshot(world: World, meeting_id: str, by: str = "coordinator") -> dict[str, Any]:
    """The meeting as ``by`` reads it, with its row's version and last change."""
    seen = dict(ok(world.as_(by).get(f"/meetings/{meeting_id}")))
    with world.db() as session:
        row = session.get(Meeting, uuid.UUID(meeting_id))
        assert row is not None
        seen["_row"] = (row.version, row.updated_at, row.status, row.held_on, row.starts_at)
    return seen


def case_snapshot(world: World, case_id: str) -> dict[str, Any]:
    """The case as the coordinator reads it, with its row's version and agenda position."""
    seen = dict(ok(world.as_("coordinator").get(f"/cases/{case_id}")))
    with world.db() as session:
        row = session.get(Case, uuid.UUID(case_id))
        assert row is not None
        seen["_row"] = (row.version, row.updated_at, row.meeting_id, row.agenda_position)
    return seen


def refused(response: Any, status: int, slug: str) -> dict[str, Any]:
    """The problem answered: its status and its own type."""
    body = problem(response, status)
    assert body["type"] == PROBLEM + slug, body
    return body


def refusal_event(
    world: World, before: int, action: str, slug: str, meeting_id: str | None
) -> dict[str, Any]:
    """The one denied event since ``before``: the route's action, the problem type and the
    meeting the request named."""
    [event] = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert event["action"] == action, event
    expected = slug if meeting_id is None else f"{slug} meeting:{meeting_id}"
    assert event["detail"] == expected, event
    return event
