"""A meeting's day, its attendance and what it shows (issue 17): attendance and the meeting's
being held are recorded from its day on; a member recorded absent does not gain the meeting's
view of the shared research notes (R12) nor of the presented identities (R7); the meeting
expects the feedback of orientations transmitted before it (step 6); held, its agenda stays
readable for the record. Expected values are written by hand from what each test did."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from app.clock import today
from app.db import make_engine, make_sessionmaker
from app.retention.service import purge
from app.vocabulary import Organisation, Role
from tests.audit.log import head
from tests.conftest import World
from tests.meetings import (
    case_snapshot,
    convene,
    meeting_snapshot,
    put_on,
    reference,
    refusal_event,
    refused,
)
from tests.scenario import case_body, meeting, ok, on_day, submit, to_research

ALL_BLOCKS = ["workflow", "identity", "orientation", "feedback"]


def _attendance(world: World, meeting_id: str, *present: str) -> Any:
    ids = [world.users[name] for name in present]
    return world.as_("coordinator").put(f"/meetings/{meeting_id}/attendance", {"attended": ids})


def _notes(world: World, who: str, case_id: str) -> list[str]:
    case = ok(world.as_(who).get(f"/cases/{case_id}"))
    return sorted(note["content"] for note in case.get("research_notes") or [])


def _informed() -> dict[str, str]:
    return {"informed_on": today().isoformat(), "means": "meeting", "outcome": "informed"}


# --- the meeting's day -------------------------------------------------------------------------


def test_attendance_decisions_and_held_wait_for_the_meetings_day(world: World) -> None:
    with on_day(world, date(2027, 5, 1)):
        case_id = ok(world.as_("police").post("/cases", case_body(world.cell.id)))["id"]
    with on_day(world, date(2027, 6, 1)):
        ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
        ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": True}))
        meeting_id = convene(world, date(2027, 6, 8), "09:00")
        put_on(world, meeting_id, case_id)
    coordinator = world.as_("coordinator")
    with on_day(world, date(2027, 6, 7)):
        before_meeting = meeting_snapshot(world, meeting_id)
        before_case = case_snapshot(world, case_id)
        before = head(world)
        refused(_attendance(world, meeting_id, "police"), 409, "meeting-not-held-yet")
        refusal_event(world, before, "record_attendance", "meeting-not-held-yet", meeting_id)
        before = head(world)
        response = coordinator.post(f"/cases/{case_id}/review-decision", {"decision": "no_action"})
        refused(response, 409, "meeting-not-held-yet")
        event = refusal_event(world, before, "review_decision", "meeting-not-held-yet", None)
        assert event["case_id"] == case_id
        before = head(world)
        refused(coordinator.post(f"/meetings/{meeting_id}/held"), 409, "meeting-not-held-yet")
        refusal_event(world, before, "mark_meeting_held", "meeting-not-held-yet", meeting_id)
        assert meeting_snapshot(world, meeting_id) == before_meeting
        assert case_snapshot(world, case_id) == before_case
    with on_day(world, date(2027, 6, 8)):
        shown = ok(_attendance(world, meeting_id, "police", "coordinator"))
        assert shown["attendance_recorded"] is True
        ok(coordinator.post(f"/cases/{case_id}/review-decision", {"decision": "no_action"}))
        assert ok(coordinator.post(f"/meetings/{meeting_id}/held"))["status"] == "held"


def test_attendance_names_the_cells_members_once(world: World) -> None:
    meeting_id = meeting(world)
    before_meeting = meeting_snapshot(world, meeting_id)
    for present in (("police", "auditor"), ("coordinator-19",), ("police", "police")):
        before = head(world)
        problem = refused(_attendance(world, meeting_id, *present), 422, "not-a-participant")
        assert problem["errors"][0]["loc"] == ["body", "attended"]
        refusal_event(world, before, "record_attendance", "not-a-participant", meeting_id)
        assert meeting_snapshot(world, meeting_id) == before_meeting
    shown = ok(_attendance(world, meeting_id, "police", "coordinator"))
    assert [(p["username"], p["attended"]) for p in shown["participants"]] == [
        ("coordinator", True),
        ("cst", False),
        ("parquet", False),
        ("police", True),
        ("teacher", False),
    ]
    # Recorded again, it replaces the first record.
    shown = ok(_attendance(world, meeting_id, "teacher"))
    assert [p["username"] for p in shown["participants"] if p["attended"]] == ["teacher"]


def test_a_member_who_joined_the_cell_since_the_invitation_may_have_attended(
    world: World,
) -> None:
    meeting_id = meeting(world)
    world.add_user("educator", Role.MEMBER, Organisation.ASSOCIATION)
    invited = ok(world.as_("coordinator").get(f"/meetings/{meeting_id}"))["participants"]
    assert "educator" not in [p["username"] for p in invited]
    shown = ok(_attendance(world, meeting_id, "coordinator", "educator"))
    assert [(p["username"], p["attended"]) for p in shown["participants"]] == [
        ("coordinator", True),
        ("cst", False),
        ("educator", True),
        ("parquet", False),
        ("police", False),
        ("teacher", False),
    ]


def test_only_the_coordinator_records_attendance(world: World) -> None:
    meeting_id = meeting(world)
    before_meeting = meeting_snapshot(world, meeting_id)
    for who in ("parquet", "police", "cst"):
        before = head(world)
        response = world.as_(who).put(
            f"/meetings/{meeting_id}/attendance", {"attended": [world.users[who]]}
        )
        refused(response, 403, "role-not-allowed")
        refusal_event(world, before, "record_attendance", "role-not-allowed", meeting_id)
        before = head(world)
        refused(world.as_(who).post(f"/meetings/{meeting_id}/held"), 403, "role-not-allowed")
        refusal_event(world, before, "mark_meeting_held", "role-not-allowed", meeting_id)
    assert meeting_snapshot(world, meeting_id) == before_meeting


def test_attendance_is_not_recorded_for_a_cancelled_meeting(world: World) -> None:
    meeting_id = meeting(world)
    ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/cancellation"))
    before_meeting = meeting_snapshot(world, meeting_id)
    before = head(world)
    refused(_attendance(world, meeting_id, "police"), 409, "meeting-cancelled")
    refusal_event(world, before, "record_attendance", "meeting-cancelled", meeting_id)
    before = head(world)
    response = world.as_("coordinator").post(f"/meetings/{meeting_id}/held")
    refused(response, 409, "meeting-cancelled")
    refusal_event(world, before, "mark_meeting_held", "meeting-cancelled", meeting_id)
    assert meeting_snapshot(world, meeting_id) == before_meeting


# --- held: every case of the agenda decided ----------------------------------------------------


def test_a_meeting_is_held_once_every_case_of_its_agenda_is_decided(world: World) -> None:
    decided, removed = to_research(world), to_research(world)
    decided_ref, removed_ref = reference(world, decided), reference(world, removed)
    expected = sorted([decided_ref, removed_ref])
    meeting_id = meeting(world)
    put_on(world, meeting_id, decided)
    put_on(world, meeting_id, removed)
    coordinator = world.as_("coordinator")
    before_meeting = meeting_snapshot(world, meeting_id)
    before = head(world)
    problem = refused(coordinator.post(f"/meetings/{meeting_id}/held"), 409, "agenda-not-decided")
    assert f"{expected[0]}, {expected[1]}" in problem["detail"]
    refusal_event(world, before, "mark_meeting_held", "agenda-not-decided", meeting_id)
    assert meeting_snapshot(world, meeting_id) == before_meeting
    # One decided: the other is still named, alone.
    ok(coordinator.post(f"/cases/{decided}/review-decision", {"decision": "no_action"}))
    problem = refused(coordinator.post(f"/meetings/{meeting_id}/held"), 409, "agenda-not-decided")
    assert removed_ref in problem["detail"]
    assert decided_ref not in problem["detail"]
    # The other taken off the agenda, for a later meeting: held.
    response = coordinator.client.delete(
        f"/api/v1/meetings/{meeting_id}/cases/{removed}", headers=coordinator.headers
    )
    ok(response)
    held = ok(coordinator.post(f"/meetings/{meeting_id}/held"))
    assert held["status"] == "held"
    assert [(item["case_id"], item["state"]) for item in held["agenda"]] == [(decided, "closed")]
    listed = ok(coordinator.get("/meetings"))["items"]
    assert [(m["id"], m["status"]) for m in listed] == [(meeting_id, "held")]
    # Held once.
    before = head(world)
    refused(coordinator.post(f"/meetings/{meeting_id}/held"), 409, "meeting-already-held")
    refusal_event(world, before, "mark_meeting_held", "meeting-already-held", meeting_id)


# --- attendance and what the meeting shows (R7, R12) -------------------------------------------


def test_a_member_recorded_absent_does_not_gain_the_shared_notes(world: World) -> None:
    case_id = to_research(world)  # the police's signalement
    police_note = "Note de recherche de la police (exemple fictif)."
    teacher_note = "Note de recherche de l'établissement (exemple fictif)."
    ok(world.as_("police").post(f"/cases/{case_id}/research-notes", {"content": police_note}))
    ok(world.as_("teacher").post(f"/cases/{case_id}/research-notes", {"content": teacher_note}))
    both = sorted([police_note, teacher_note])
    # In research, off any agenda: each member their own note.
    assert _notes(world, "police", case_id) == [police_note]
    assert _notes(world, "teacher", case_id) == [teacher_note]
    meeting_id = meeting(world)
    put_on(world, meeting_id, case_id)
    # On the agenda, attendance not recorded yet: every member invited reads both.
    assert _notes(world, "police", case_id) == both
    assert _notes(world, "teacher", case_id) == both
    ok(_attendance(world, meeting_id, "coordinator", "parquet", "police"))
    assert _notes(world, "police", case_id) == both
    assert _notes(world, "teacher", case_id) == [teacher_note]
    # Recorded again with the teacher present: the notes are shared with them.
    ok(_attendance(world, meeting_id, "coordinator", "police", "teacher"))
    assert _notes(world, "teacher", case_id) == both


def test_a_meeting_moved_to_another_day_takes_its_attendance_anew(world: World) -> None:
    """Attendance is recorded on the meeting's day: moved to a later day, the meeting has not
    taken place, and the sheet recorded on the earlier day no longer withholds the shared
    notes from the member it said absent (R12)."""
    case_id = to_research(world)
    police_note = "Note de recherche de la police (exemple fictif)."
    teacher_note = "Note de recherche de l'établissement (exemple fictif)."
    ok(world.as_("police").post(f"/cases/{case_id}/research-notes", {"content": police_note}))
    ok(world.as_("teacher").post(f"/cases/{case_id}/research-notes", {"content": teacher_note}))
    meeting_id = meeting(world)
    put_on(world, meeting_id, case_id)
    ok(_attendance(world, meeting_id, "coordinator", "police"))
    assert _notes(world, "teacher", case_id) == [teacher_note]
    later = today() + timedelta(days=7)
    moved = ok(
        world.as_("coordinator").patch(f"/meetings/{meeting_id}", {"held_on": later.isoformat()})
    )
    assert moved["attendance_recorded"] is False
    assert {p["attended"] for p in moved["participants"]} == {None}
    assert _notes(world, "teacher", case_id) == sorted([police_note, teacher_note])
    # A new time the same day keeps the sheet of that day.
    with on_day(world, later):
        ok(_attendance(world, meeting_id, "coordinator", "police"))
        ok(world.as_("coordinator").patch(f"/meetings/{meeting_id}", {"starts_at": "20:30"}))
        assert _notes(world, "teacher", case_id) == [teacher_note]


@pytest.mark.parametrize(("present", "absent"), [("teacher", "police"), ("police", "teacher")])
def test_presented_identities_are_shown_to_those_who_attend(
    world: World, present: str, absent: str
) -> None:
    """R7: on the meeting's day, the parquet presents its not-retained situations, identity
    and mark, to the members attending; a member recorded absent is not shown them."""
    meeting_id = meeting(world)
    case_id = submit(world, by="coordinator")
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": False}))
    for member in (present, absent):
        [line] = ok(world.as_(member).get(f"/meetings/{meeting_id}"))["not_retained"]
        assert (line["case_id"], line["minor"]["last_name"]) == (case_id, "Zyxwavel")
    ok(_attendance(world, meeting_id, "coordinator", "parquet", present))
    [line] = ok(world.as_(present).get(f"/meetings/{meeting_id}"))["not_retained"]
    assert (line["case_id"], line["minor"]["first_name"], line["withheld"]) == (
        case_id,
        "Quentinette",
        [],
    )
    assert ok(world.as_(absent).get(f"/meetings/{meeting_id}"))["not_retained"] == []


# --- step 6: the feedback a meeting expects ----------------------------------------------------


def test_a_meeting_expects_the_feedback_of_orientations_transmitted_before_it(
    world: World,
) -> None:
    """Decided at a meeting ten days ago (recorded since), transmitted today: the next meeting
    expects both feedbacks, then shows them with their outcome once received; the meeting
    after it no longer lists them. The CST sees the social-services line only; a member none."""
    now = today()
    deciding = meeting(world, held_on=now - timedelta(days=10))
    case_id = to_research(world, received_days_ago=60)
    put_on(world, deciding, case_id)
    coordinator = world.as_("coordinator")
    decided = ok(
        coordinator.post(
            f"/cases/{case_id}/review-decision",
            {
                "decision": "orient",
                "orientations": [{"destination": "crip"}, {"destination": "social_services"}],
            },
        )
    )
    ids = {o["destination"]: o["id"] for o in decided["orientations"]}
    ok(coordinator.post(f"/cases/{case_id}/family-information", _informed()))
    for destination in ("crip", "social_services"):
        ok(coordinator.post(f"/cases/{case_id}/orientations/{ids[destination]}/transmission"))
    expected_reference = reference(world, case_id)
    next_one = meeting(world, held_on=now + timedelta(days=7))
    after = meeting(world, held_on=now + timedelta(days=14))

    def lines(who: str, meeting_id: str) -> list[tuple[Any, ...]]:
        shown = ok(world.as_(who).get(f"/meetings/{meeting_id}"))["feedback"]
        return [
            (
                line["case_id"],
                line["reference"],
                line["orientation"]["destination"],
                line["orientation"]["transmitted_on"],
                line["orientation"]["feedback"],
            )
            for line in shown
        ]

    crip = (case_id, expected_reference, "crip", now.isoformat())
    social = (case_id, expected_reference, "social_services", now.isoformat())
    assert lines("coordinator", next_one) == [(*crip, None), (*social, None)]
    assert lines("cst", next_one) == [(*social, None)]
    assert lines("teacher", next_one) == []
    assert lines("police", next_one) == []
    # Still expected at any later meeting until it comes.
    assert lines("coordinator", after) == [(*crip, None), (*social, None)]

    crip_feedback = f"/cases/{case_id}/orientations/{ids['crip']}/feedback"
    ok(coordinator.post(crip_feedback, {"outcome": "support_in_place"}))
    social_feedback = f"/cases/{case_id}/orientations/{ids['social_services']}/feedback"
    ok(world.as_("cst").post(social_feedback, {"outcome": "support_not_possible"}))
    assert lines("coordinator", next_one) == [
        (*crip, "support_in_place"),
        (*social, "support_not_possible"),
    ]
    assert lines("cst", next_one) == [(*social, "support_not_possible")]
    assert lines("teacher", next_one) == []
    # Received before it, the meeting after the next one has nothing left to expect.
    assert lines("coordinator", after) == []
    assert lines("cst", after) == []


# --- the record --------------------------------------------------------------------------------


def test_a_case_closed_at_a_meeting_stays_on_its_agenda_for_the_record(world: World) -> None:
    case_id = to_research(world)
    expected_reference = reference(world, case_id)
    meeting_id = meeting(world)
    put_on(world, meeting_id, case_id)
    coordinator = world.as_("coordinator")
    ok(coordinator.post(f"/cases/{case_id}/review-decision", {"decision": "no_action"}))
    ok(_attendance(world, meeting_id, "coordinator", "police", "teacher"))
    ok(coordinator.post(f"/meetings/{meeting_id}/held"))
    record = {
        "case_id": case_id,
        "reference": expected_reference,
        "position": 1,
        "state": "closed",
        "minor": None,
        "decision": None,
        "orientations": [],
        "withheld": ALL_BLOCKS,
    }
    for reader in ("coordinator", "teacher", "police"):
        shown = ok(world.as_(reader).get(f"/meetings/{meeting_id}"))
        assert (shown["status"], shown["agenda"]) == ("held", [record]), reader


def test_a_case_destroyed_since_its_meeting_stays_on_the_record(world: World) -> None:
    """Destroyed under the retention rules (R18), a case of a held meeting is still listed:
    its reference and that it was destroyed; a presented not-retained situation likewise."""
    closed = to_research(world)
    closed_reference = reference(world, closed)
    meeting_id = meeting(world)
    presented = submit(world, by="coordinator")
    ok(world.as_("coordinator").post(f"/cases/{presented}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{presented}/parquet-decision", {"retained": False}))
    presented_reference = reference(world, presented)
    put_on(world, meeting_id, closed)
    coordinator = world.as_("coordinator")
    ok(coordinator.post(f"/cases/{closed}/review-decision", {"decision": "no_action"}))
    ok(coordinator.post(f"/meetings/{meeting_id}/held"))
    engine = make_engine(world.settings.database_url)
    try:
        purge(make_sessionmaker(engine), world.vault, as_of=today() + timedelta(days=1096))
    finally:
        engine.dispose()
    for reader in ("coordinator", "parquet", "teacher"):
        shown = ok(world.as_(reader).get(f"/meetings/{meeting_id}"))
        assert shown["agenda"] == [
            {
                "case_id": closed,
                "reference": closed_reference,
                "position": 1,
                "state": "purged",
                "minor": None,
                "decision": None,
                "orientations": [],
                "withheld": ALL_BLOCKS,
            }
        ], reader
        assert shown["not_retained"] == [
            {
                "case_id": presented,
                "reference": presented_reference,
                "minor": None,
                "not_retained": True,
                "destroyed": True,
                "withheld": ["identity"],
            }
        ], reader
