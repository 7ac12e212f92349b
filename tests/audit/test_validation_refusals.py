"""Every refused request that names a case or a meeting is an audit event (R23), schema
refusals (422) included (finding 6 of the hostile review)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import meeting, ok, problem, to_cell_review, to_oriented, to_research


def _only_refusal(world: World, before: int) -> dict[str, Any]:
    [refusal] = events(world, before)
    assert refusal["outcome"] == "denied"
    assert refusal["blocks"] == []
    return refusal


@pytest.mark.parametrize(
    ("who", "path", "body", "action"),
    [
        ("parquet", "parquet-decision", {"retained": "peut-être"}, "decide_parquet"),
        ("parquet", "parquet-decision", {}, "decide_parquet"),
        ("police", "research-notes", {"content": "a\x00b"}, "add_research_note"),
        ("police", "research-notes", {"content": "x", "author": "y"}, "add_research_note"),
        (
            "coordinator",
            "review-decision",
            {"decision": "orient", "orientations": [{"destination": "nulle-part"}]},
            "review_decision",
        ),
        (
            "coordinator",
            "family-information",
            {"informed_on": "hier", "means": "letter", "outcome": "informed"},
            "record_family_information",
        ),
        ("coordinator", "archive-access", {"reason": "court"}, "request_archive_access"),
    ],
)
def test_a_step_refused_by_its_schema_is_logged_against_its_case(
    world: World, who: str, path: str, body: dict[str, Any], action: str
) -> None:
    case_id = to_research(world)
    before = head(world)
    refused = problem(world.as_(who).post(f"/cases/{case_id}/{path}", body), 422)
    assert refused["type"] == "urn:cenomed:problem:validation-error"
    refusal = _only_refusal(world, before)
    assert (refusal["action"], refusal["case_id"], refusal["detail"]) == (
        action,
        case_id,
        "validation-error",
    )
    assert refusal["actor_id"] == world.users[who]
    assert refusal["severity"] == "info"


def test_a_feedback_with_a_field_the_form_does_not_have_is_logged(world: World) -> None:
    case_id, ids = to_oriented(world, "crip")
    coordinator = world.as_("coordinator")
    ok(coordinator.post(f"/cases/{case_id}/orientations/{ids['crip']}/transmission"))
    before = head(world)
    body = {"outcome": "support_in_place", "nature": "suivi éducatif"}
    path = f"/cases/{case_id}/orientations/{ids['crip']}/feedback"
    assert problem(coordinator.post(path, body), 422)["type"].endswith(":validation-error")
    refusal = _only_refusal(world, before)
    assert (refusal["action"], refusal["case_id"]) == ("record_feedback", case_id)


def test_a_malformed_agenda_request_is_logged_against_its_meeting(world: World) -> None:
    to_cell_review(world)
    meeting_id = meeting(world)
    before = head(world)
    body = {"case_id": "pas-un-identifiant"}
    response = world.as_("coordinator").post(f"/meetings/{meeting_id}/cases", body)
    assert problem(response, 422)["type"].endswith(":validation-error")
    refusal = _only_refusal(world, before)
    assert (refusal["action"], refusal["case_id"]) == ("put_on_agenda", None)
    assert refusal["detail"] == f"validation-error meeting:{meeting_id}"


def test_probing_another_cells_meeting_is_logged(world: World) -> None:
    meeting_id = meeting(world)
    before = head(world)
    response = world.as_("coordinator-19").get(f"/meetings/{meeting_id}")
    assert problem(response, 404)["type"].endswith(":meeting-not-found")
    refusal = _only_refusal(world, before)
    assert (refusal["action"], refusal["detail"], refusal["severity"]) == (
        "read_meeting",
        f"meeting-not-found meeting:{meeting_id}",
        "high",
    )
    assert refusal["actor_id"] == world.users["coordinator-19"]
