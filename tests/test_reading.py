"""Reading a case over HTTP: only the visible blocks' keys are sent, and ``withheld`` names
the others (R16)."""

from __future__ import annotations

from app.clock import today
from tests.conftest import World
from tests.scenario import (
    FIRST_NAME,
    LAST_NAME,
    ok,
    submit,
    to_cell_review,
    to_oriented,
    to_research,
)

WORKFLOW_KEYS = {
    "origin",
    "received_on",
    "received_on_declared",
    "received_via",
    "submitted_at",
    "parquet",
    "meeting_id",
    "review_decision",
    "closed_at",
    "closure_reason",
    "withdrawal",
    "returned",
    "history",
    # issue 16
    "merged_into",
    "additional_signalements",
    "transfers",
    "transferred_to",
    "transferred_at",
}
ALWAYS = {"id", "reference", "state", "cell_id", "version", "withheld"}


def test_the_cst_in_cell_review_sees_identity_only(world: World) -> None:
    case_id = to_cell_review(world)
    case = ok(world.as_("cst").get(f"/cases/{case_id}"))
    assert set(case) == ALWAYS | WORKFLOW_KEYS | {"minor", "possible_duplicates"}
    assert case["withheld"] == ["contact", "facts", "research", "orientation", "feedback"]
    assert "Absences" not in str(case)
    assert "rue Imaginaire" not in str(case)


def test_a_submitting_member_sees_the_workflow_of_their_submission_only(world: World) -> None:
    case_id = submit(world, by="police")
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    case = ok(world.as_("police").get(f"/cases/{case_id}"))
    assert set(case) == ALWAYS | WORKFLOW_KEYS
    assert LAST_NAME not in str(case)
    assert FIRST_NAME not in str(case)


def test_during_research_a_member_sees_their_own_notes_only(world: World) -> None:
    case_id = to_research(world)
    ok(world.as_("teacher").post(f"/cases/{case_id}/research-notes", {"content": "Note école."}))
    ok(world.as_("police").post(f"/cases/{case_id}/research-notes", {"content": "Note police."}))
    teacher_view = ok(world.as_("teacher").get(f"/cases/{case_id}"))
    assert [n["content"] for n in teacher_view["research_notes"]] == ["Note école."]
    assert "contact" in teacher_view["withheld"]
    parquet_view = ok(world.as_("parquet").get(f"/cases/{case_id}"))
    assert len(parquet_view["research_notes"]) == 2


def test_a_step_that_hides_the_case_still_answers_with_what_remains(world: World) -> None:
    case_id = submit(world, by="police")
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    # The parquet's decision of non-retention is answered with the parquet's view.
    answer = ok(
        world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": False})
    )
    assert answer["state"] == "not_retained"
    assert "research" in answer["withheld"]


def test_the_cst_sees_the_social_services_orientation_and_contact_once_transmitted(
    world: World,
) -> None:
    case_id, ids = to_oriented(world, "social_services", "crip")
    cst, coordinator = world.as_("cst"), world.as_("coordinator")
    before = ok(cst.get(f"/cases/{case_id}"))
    assert [o["destination"] for o in before["orientations"]] == ["social_services"]
    assert "contact" in before["withheld"]
    assert "rue Imaginaire" not in str(before)
    informed = {"informed_on": today().isoformat(), "means": "phone", "outcome": "informed"}
    ok(coordinator.post(f"/cases/{case_id}/family-information", informed))
    ok(coordinator.post(f"/cases/{case_id}/orientations/{ids['social_services']}/transmission"))
    after = ok(cst.get(f"/cases/{case_id}"))
    assert after["contact"]["address"].startswith("12 rue Imaginaire")
    assert [o["destination"] for o in after["orientations"]] == ["social_services"]
    assert "facts" in after["withheld"]


def test_a_member_keeps_their_own_notes_after_the_meeting(world: World) -> None:
    case_id = to_research(world)
    ok(world.as_("teacher").post(f"/cases/{case_id}/research-notes", {"content": "Note école."}))
    ok(world.as_("police").post(f"/cases/{case_id}/research-notes", {"content": "Note police."}))
    from tests.scenario import meeting

    ok(world.as_("coordinator").post(f"/meetings/{meeting(world)}/cases", {"case_id": case_id}))
    ok(
        world.as_("coordinator").post(
            f"/cases/{case_id}/review-decision",
            {"decision": "orient", "orientations": [{"destination": "crip"}]},
        )
    )
    view = ok(world.as_("teacher").get(f"/cases/{case_id}"))
    assert [n["content"] for n in view["research_notes"]] == ["Note école."]
    assert "minor" not in view
