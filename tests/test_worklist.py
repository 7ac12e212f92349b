"""What awaits each role (issue 18, point 1): ``GET /me/worklist`` over the procedure's own
data. The expected items are written from what each test did (never from the worklist's
code); the boundaries (R7's month, the feedback's due day) are pinned on both sides with a
fixed day; each case listed is an audited read of its workflow block, and nobody is shown a
case the charter hides from them."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import update

from app.cases.models import ArchiveAccess
from app.clock import now, today
from app.vocabulary import Organisation, Role
from app.workflow.guards import add_calendar_months
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import meeting, ok, on_day, problem, submit, to_cell_review, to_research


def _worklist(world: World, who: str) -> dict[str, Any]:
    return ok(world.as_(who).get("/me/worklist"))


def _kinds(worklist: dict[str, Any]) -> dict[str, list[str | None]]:
    """Per kind, the case ids (or meeting ids) listed, in order."""
    found: dict[str, list[str | None]] = {}
    for item in worklist["items"]:
        found.setdefault(item["kind"], []).append(item["case_id"] or item["meeting_id"])
    return found


def _reference(world: World, case_id: str) -> str:
    return str(ok(world.as_("coordinator").get(f"/cases/{case_id}"))["reference"])


def _oriented(world: World, destination: str) -> tuple[str, str]:
    case_id = to_cell_review(world)
    decided = world.as_("coordinator").post(
        f"/cases/{case_id}/review-decision",
        {"decision": "orient", "orientations": [{"destination": destination}]},
    )
    [orientation] = ok(decided)["orientations"]
    return case_id, orientation["id"]


def test_the_coordinator_is_told_what_to_refer_complete_and_examine(world: World) -> None:
    fresh = submit(world, received_days_ago=3)
    returned = submit(world, by="teacher", received_days_ago=2)
    ok(
        world.as_("coordinator").post(
            f"/cases/{returned}/return", {"reason": "incomplete_identity"}
        )
    )
    ready = to_research(world, received_days_ago=40)
    recent = to_research(world, received_days_ago=10)
    before = head(world)
    worklist = _worklist(world, "coordinator")
    kinds = _kinds(worklist)
    assert kinds["refer_to_parquet"] == [fresh]
    assert kinds["awaiting_author"] == [returned]
    assert kinds["ready_for_meeting"] == [ready]
    assert recent not in sum(kinds.values(), [])
    [item] = [i for i in worklist["items"] if i["case_id"] == ready]
    received = today() - timedelta(days=40)
    assert item["due_on"] == add_calendar_months(received, 1).isoformat()
    assert (item["reference"], item["state"]) == (_reference(world, ready), "research")
    assert worklist["counts"]["refer_to_parquet"] == 1
    # Each case listed is one read of its workflow block.
    reads = {
        e["case_id"]: e["blocks"] for e in events(world, before) if e["action"] == "read_worklist"
    }
    assert reads == {fresh: ["workflow"], returned: ["workflow"], ready: ["workflow"]}


def test_a_case_is_ready_for_a_meeting_on_the_day_the_month_has_passed(world: World) -> None:
    received = date(2026, 1, 31)
    case_id = to_research(world, received_days_ago=(today() - received).days)
    # 31 January + one calendar month = 28 February 2026 (the month's last day).
    with on_day(world, date(2026, 2, 27)):
        assert case_id not in sum(_kinds(_worklist(world, "coordinator")).values(), [])
    with on_day(world, date(2026, 2, 28)):
        [item] = _worklist(world, "coordinator")["items"]
    assert (item["kind"], item["case_id"], item["due_on"]) == (
        "ready_for_meeting",
        case_id,
        "2026-02-28",
    )


def test_orientations_ask_for_the_family_a_transmission_then_the_feedback(world: World) -> None:
    social, _ = _oriented(world, "social_services")
    crip, crip_orientation = _oriented(world, "crip")
    kinds = _kinds(_worklist(world, "coordinator"))
    assert set(kinds["inform_family"]) == {social, crip}
    # The CRIP may be seized now; social services only once the family is informed (R8).
    assert kinds["transmit"] == [crip]

    ok(world.as_("coordinator").post(f"/cases/{crip}/orientations/{crip_orientation}/transmission"))
    transmitted = today()
    due = transmitted + timedelta(days=90)
    with on_day(world, due):
        assert "feedback_overdue" not in _kinds(_worklist(world, "coordinator"))
    with on_day(world, due + timedelta(days=1)):
        worklist = _worklist(world, "coordinator")
    [item] = [i for i in worklist["items"] if i["kind"] == "feedback_overdue"]
    assert (item["case_id"], item["due_on"], item["overdue"]) == (crip, due.isoformat(), True)


def test_the_cst_sees_the_feedback_it_owes_with_its_due_day(world: World) -> None:
    case_id, orientation = _oriented(world, "social_services")
    coordinator = world.as_("coordinator")
    ok(
        coordinator.post(
            f"/cases/{case_id}/family-information",
            {"informed_on": today().isoformat(), "means": "phone", "outcome": "informed"},
        )
    )
    ok(coordinator.post(f"/cases/{case_id}/orientations/{orientation}/transmission"))
    [item] = _worklist(world, "cst")["items"]
    assert (item["kind"], item["case_id"], item["overdue"]) == ("awaiting_feedback", case_id, False)
    assert item["due_on"] == (today() + timedelta(days=90)).isoformat()
    # A CRIP orientation is not the CST's (R13).
    _oriented(world, "crip")
    assert len(_worklist(world, "cst")["items"]) == 1


def test_the_parquet_sees_its_referrals_oldest_first_with_their_age(world: World) -> None:
    first, second = submit(world), submit(world)
    with on_day(world, today() - timedelta(days=6)):
        ok(world.as_("coordinator").post(f"/cases/{first}/parquet-referral"))
    ok(world.as_("coordinator").post(f"/cases/{second}/parquet-referral"))
    items = _worklist(world, "parquet")["items"]
    assert [(i["kind"], i["case_id"]) for i in items] == [
        ("decide_referral", first),
        ("decide_referral", second),
    ]
    # Referred on the server's day: both today (the pinned day only dates the request).
    assert {i["age_days"] for i in items} == {0}
    with on_day(world, today() + timedelta(days=4)):
        aged = _worklist(world, "parquet")["items"]
    assert [i["age_days"] for i in aged] == [4, 4]


def test_a_member_follows_their_signalements_and_the_research(world: World) -> None:
    own = submit(world, by="police", received_days_ago=5)
    theirs = submit(world, by="teacher", received_days_ago=5)
    research = to_research(world, by="teacher")
    upcoming = meeting(world, held_on=today() + timedelta(days=7))
    kinds = _kinds(_worklist(world, "police"))
    assert kinds["own_signalement"] == [own]
    assert kinds["in_research"] == [research]
    assert kinds["meeting"] == [upcoming]
    # Another member's signalement before the parquet's decision: not theirs to see (R12).
    assert theirs not in sum(kinds.values(), [])
    returned = world.as_("coordinator").post(
        f"/cases/{own}/return", {"reason": "incomplete_identity"}
    )
    ok(returned)
    assert _kinds(_worklist(world, "police"))["complete_signalement"] == [own]


def test_meetings_to_run_and_archive_accesses_ending(world: World) -> None:
    ready = to_research(world, received_days_ago=20)
    upcoming = meeting(world, held_on=today() + timedelta(days=15))
    past = meeting(world, held_on=today() - timedelta(days=2))
    worklist = _worklist(world, "coordinator")
    [next_one] = [i for i in worklist["items"] if i["kind"] == "next_meeting"]
    # Received 20 days ago, it can be examined at a meeting 15 days from now.
    assert (next_one["meeting_id"], next_one["count"]) == (upcoming, 1)
    assert ready not in _kinds(worklist).get("ready_for_meeting", [])
    [to_close] = [i for i in worklist["items"] if i["kind"] == "meeting_to_close"]
    assert (to_close["meeting_id"], to_close["overdue"]) == (past, True)

    closed = to_research(world)
    ok(world.as_("coordinator").post(f"/cases/{closed}/closure", {"reason": "moved_away"}))
    ok(
        world.as_("coordinator").post(
            f"/cases/{closed}/archive-access",
            {"reason": "Demande du juge des enfants pour une audience prochaine."},
        )
    )
    assert "archive_access_expiring" not in _kinds(_worklist(world, "coordinator"))
    with world.db() as session:
        session.execute(
            update(ArchiveAccess)
            .where(ArchiveAccess.case_id == uuid.UUID(closed))
            .values(expires_at=now() + timedelta(minutes=30))
        )
    assert _kinds(_worklist(world, "coordinator"))["archive_access_expiring"] == [closed]


def test_without_the_charter_accepted_the_worklist_is_refused_and_logged(world: World) -> None:
    world.add_user("nouveau", Role.MEMBER, Organisation.POLICE, accept_charter=False)
    before = head(world)
    refused = problem(world.as_("nouveau").get("/me/worklist"), 403)
    assert refused["type"] == "urn:cenomed:problem:charter-not-accepted"
    [event] = events(world, before)
    assert (event["action"], event["outcome"]) == ("read_worklist", "denied")
