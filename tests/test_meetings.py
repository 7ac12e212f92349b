"""Meetings the coordinator runs (issue 17), over HTTP: a time and a place within bounds, one
scheduled meeting per slot, rescheduling that keeps R7's month for the agenda, cancellation
that sends the agenda back to research, an agenda added to, ordered and taken from, and the
list of meetings. Every refusal answers its own problem type, is logged as a denied event of
its route naming the meeting, and changes nothing. Expected values are written by hand from
what each test did; days are pinned with ``on_day``."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from app.clock import today
from app.vocabulary import Role
from tests.audit.log import head
from tests.conftest import World
from tests.meetings import (
    PLACE,
    case_snapshot,
    convene,
    meeting_snapshot,
    put_on,
    reference,
    refusal_event,
    refused,
)
from tests.scenario import case_body, meeting, meeting_body, ok, on_day, submit, to_research

# --- convening: time and place within bounds -------------------------------------------------


@pytest.mark.parametrize(
    ("starts_at", "accepted"),
    [("06:59", False), ("07:00", True), ("21:00", True), ("21:01", False)],
)
def test_a_meeting_starts_between_seven_and_twenty_one(
    world: World, starts_at: str, accepted: bool
) -> None:
    day = today() + timedelta(days=5)
    body = {"cell_id": world.cell.id, "held_on": day.isoformat(), "starts_at": starts_at}
    before = head(world)
    response = world.as_("coordinator").post("/meetings", {**body, "place": PLACE})
    if accepted:
        created = ok(response)
        assert (created["held_on"], created["starts_at"], created["place"], created["status"]) == (
            day.isoformat(),
            starts_at,
            PLACE,
            "scheduled",
        )
        return
    problem = refused(response, 422, "starts-at-out-of-hours")
    assert problem["errors"][0]["loc"] == ["body", "starts_at"]
    refusal_event(world, before, "create_meeting", "starts-at-out-of-hours", None)
    assert ok(world.as_("coordinator").get("/meetings"))["items"] == []


@pytest.mark.parametrize("starts_at", ["7:00", "14:30:00", "24:00", "14h30", ""])
def test_a_start_time_is_written_hh_mm(world: World, starts_at: str) -> None:
    body = {
        "cell_id": world.cell.id,
        "held_on": (today() + timedelta(days=5)).isoformat(),
        "starts_at": starts_at,
        "place": PLACE,
    }
    before = head(world)
    problem = refused(world.as_("coordinator").post("/meetings", body), 422, "validation-error")
    assert [(e["loc"], e["type"]) for e in problem["errors"]] == [
        (["body", "starts_at"], "time_hh_mm")
    ]
    refusal_event(world, before, "create_meeting", "validation-error", None)
    assert ok(world.as_("coordinator").get("/meetings"))["items"] == []


@pytest.mark.parametrize(
    ("place", "error"),
    [
        ("Salle " + "a" * 194, None),  # 200 characters
        ("Salle " + "a" * 195, "place_too_long"),  # 201
        ("Salle\x07 du conseil", "place_not_one_line"),
        ("Salle du\n conseil", "place_not_one_line"),
        ("", "place_empty"),
        ("\u200b ", "place_empty"),  # invisible characters do not count
    ],
)
def test_a_place_is_one_line_of_at_most_two_hundred_characters(
    world: World, place: str, error: str | None
) -> None:
    body = {
        "cell_id": world.cell.id,
        "held_on": (today() + timedelta(days=5)).isoformat(),
        "starts_at": "14:00",
        "place": place,
    }
    before = head(world)
    response = world.as_("coordinator").post("/meetings", body)
    if error is None:
        assert ok(response)["place"] == place
        return
    slug = error.replace("_", "-")
    problem = refused(response, 422, slug)
    assert [(e["loc"], e["type"]) for e in problem["errors"]] == [(["body", "place"], error)]
    assert "Salle" not in response.text  # the value refused is never echoed
    refusal_event(world, before, "create_meeting", slug, None)
    assert ok(world.as_("coordinator").get("/meetings"))["items"] == []


def test_a_place_is_stored_as_one_clean_line(world: World) -> None:
    """Spaces collapsed, invisible characters removed, NFC: the place as the service keeps
    it (and as rescheduling checks it too)."""
    body = meeting_body(world.cell.id, today() + timedelta(days=5))
    created = ok(
        world.as_("coordinator").post(
            "/meetings", {**body, "place": "  Salle\u00a0 du\u200b conseil  "}
        )
    )
    assert created["place"] == "Salle du conseil"
    refused(
        world.as_("coordinator").patch(f"/meetings/{created['id']}", {"place": "a" * 201}),
        422,
        "place-too-long",
    )
    assert ok(world.as_("coordinator").get(f"/meetings/{created['id']}"))["place"] == (
        "Salle du conseil"
    )


def test_the_cells_members_are_invited(world: World) -> None:
    meeting_id = meeting(world, held_on=today() + timedelta(days=5))
    shown = ok(world.as_("police").get(f"/meetings/{meeting_id}"))
    invited = [(p["username"], p["role"], p["attended"]) for p in shown["participants"]]
    # Every account of the 18e that takes part in meetings; not the other cell's, nor the
    # auditor or the administrator.
    assert invited == [
        ("coordinator", "coordinator", None),
        ("cst", "cst", None),
        ("parquet", "parquet", None),
        ("police", "member", None),
        ("teacher", "member", None),
    ]
    assert shown["attendance_recorded"] is False
    assert shown["status"] == "scheduled"


# --- one scheduled meeting per slot ------------------------------------------------------------


def test_two_scheduled_meetings_of_a_cell_never_share_a_slot(world: World) -> None:
    day = today() + timedelta(days=6)
    coordinator = world.as_("coordinator")
    first = convene(world, day, "18:00")
    body = {"cell_id": world.cell.id, "held_on": day.isoformat(), "starts_at": "18:00"}
    before = head(world)
    refused(coordinator.post("/meetings", {**body, "place": "Ailleurs"}), 409, "meeting-slot-taken")
    refusal_event(world, before, "create_meeting", "meeting-slot-taken", None)
    assert [m["id"] for m in ok(coordinator.get("/meetings"))["items"]] == [first]
    # Another time that day, or the other cell at that time, are free.
    convene(world, day, "18:01")
    world.add_user("coordinator-both", Role.COORDINATOR, cells=[world.cell.id, world.other_cell.id])
    convene(world, day, "18:00", by="coordinator-both", cell_id=world.other_cell.id)
    # Cancelled, the first frees its slot.
    ok(coordinator.post(f"/meetings/{first}/cancellation"))
    again = convene(world, day, "18:00")
    statuses = {m["id"]: m["status"] for m in ok(coordinator.get("/meetings"))["items"]}
    assert (statuses[first], statuses[again]) == ("cancelled", "scheduled")


def test_a_meeting_is_not_rescheduled_onto_a_taken_slot(world: World) -> None:
    day = today() + timedelta(days=6)
    convene(world, day, "09:30")
    moving = convene(world, day + timedelta(days=1), "09:30")
    before_meeting = meeting_snapshot(world, moving)
    before = head(world)
    response = world.as_("coordinator").patch(f"/meetings/{moving}", {"held_on": day.isoformat()})
    refused(response, 409, "meeting-slot-taken")
    refusal_event(world, before, "reschedule_meeting", "meeting-slot-taken", moving)
    assert meeting_snapshot(world, moving) == before_meeting
    # Nor by its time alone.
    same_day = convene(world, day, "10:00")
    before_same_day = meeting_snapshot(world, same_day)
    before = head(world)
    response = world.as_("coordinator").patch(f"/meetings/{same_day}", {"starts_at": "09:30"})
    refused(response, 409, "meeting-slot-taken")
    refusal_event(world, before, "reschedule_meeting", "meeting-slot-taken", same_day)
    assert meeting_snapshot(world, same_day) == before_same_day
    # Another time is free.
    moved = ok(world.as_("coordinator").patch(f"/meetings/{moving}", {"starts_at": "11:15"}))
    assert (moved["held_on"], moved["starts_at"]) == (
        (day + timedelta(days=1)).isoformat(),
        "11:15",
    )


# --- rescheduling --------------------------------------------------------------------------


def test_a_rescheduling_changes_what_it_names_only(world: World) -> None:
    day = today() + timedelta(days=8)
    meeting_id = convene(world, day, "14:00")
    coordinator = world.as_("coordinator")
    moved = ok(coordinator.patch(f"/meetings/{meeting_id}", {"place": "Local de la DPP"}))
    assert (moved["held_on"], moved["starts_at"], moved["place"]) == (
        day.isoformat(),
        "14:00",
        "Local de la DPP",
    )
    moved = ok(coordinator.patch(f"/meetings/{meeting_id}", {"starts_at": "16:45"}))
    assert (moved["held_on"], moved["starts_at"], moved["place"]) == (
        day.isoformat(),
        "16:45",
        "Local de la DPP",
    )
    before_meeting = meeting_snapshot(world, meeting_id)
    for empty in ({}, {"held_on": None, "starts_at": None, "place": None}):
        before = head(world)
        refused(coordinator.patch(f"/meetings/{meeting_id}", empty), 422, "nothing-to-change")
        refusal_event(world, before, "reschedule_meeting", "nothing-to-change", meeting_id)
    assert meeting_snapshot(world, meeting_id) == before_meeting


@pytest.mark.parametrize(("starts_at", "accepted"), [("06:59", False), ("21:00", True)])
def test_a_rescheduled_time_keeps_the_working_day(
    world: World, starts_at: str, accepted: bool
) -> None:
    meeting_id = convene(world, today() + timedelta(days=8), "14:00")
    before_meeting = meeting_snapshot(world, meeting_id)
    before = head(world)
    response = world.as_("coordinator").patch(f"/meetings/{meeting_id}", {"starts_at": starts_at})
    if accepted:
        assert ok(response)["starts_at"] == starts_at
        return
    refused(response, 422, "starts-at-out-of-hours")
    refusal_event(world, before, "reschedule_meeting", "starts-at-out-of-hours", meeting_id)
    assert meeting_snapshot(world, meeting_id) == before_meeting


@pytest.mark.parametrize(("moved_to", "accepted"), [(-1, False), (0, True)])
def test_a_meeting_is_moved_to_today_or_later(world: World, moved_to: int, accepted: bool) -> None:
    now = date(2027, 3, 10)
    with on_day(world, now):
        meeting_id = convene(world, date(2027, 3, 20), "14:00")
        before_meeting = meeting_snapshot(world, meeting_id)
        before = head(world)
        day = now + timedelta(days=moved_to)
        response = world.as_("coordinator").patch(
            f"/meetings/{meeting_id}", {"held_on": day.isoformat()}
        )
        if accepted:
            assert ok(response)["held_on"] == "2027-03-10"
            return
        problem = refused(response, 422, "meeting-moved-into-past")
        assert problem["errors"][0]["loc"] == ["body", "held_on"]
        refusal_event(world, before, "reschedule_meeting", "meeting-moved-into-past", meeting_id)
        assert meeting_snapshot(world, meeting_id) == before_meeting


@pytest.mark.parametrize(("held_on", "accepted"), [("2028-01-11", True), ("2028-01-12", False)])
def test_a_meeting_is_convened_or_moved_within_a_year(
    world: World, held_on: str, accepted: bool
) -> None:
    """From 10 January 2027: 366 days on (11 January 2028) at the latest."""
    coordinator = world.as_("coordinator")
    with on_day(world, date(2027, 1, 10)):
        meeting_id = convene(world, date(2027, 2, 1), "11:00")
        before_meeting = meeting_snapshot(world, meeting_id)
        body = {"cell_id": world.cell.id, "held_on": held_on, "starts_at": "10:00", "place": PLACE}
        before = head(world)
        created = coordinator.post("/meetings", body)
        if accepted:
            assert ok(created)["held_on"] == held_on
            assert (
                ok(coordinator.patch(f"/meetings/{meeting_id}", {"held_on": held_on}))["held_on"]
                == held_on
            )
            return
        problem = refused(created, 422, "meeting-too-far")
        assert problem["errors"][0]["loc"] == ["body", "held_on"]
        refusal_event(world, before, "create_meeting", "meeting-too-far", None)
        before = head(world)
        moved = coordinator.patch(f"/meetings/{meeting_id}", {"held_on": held_on})
        refused(moved, 422, "meeting-too-far")
        refusal_event(world, before, "reschedule_meeting", "meeting-too-far", meeting_id)
        assert meeting_snapshot(world, meeting_id) == before_meeting
        assert [m["id"] for m in ok(coordinator.get("/meetings"))["items"]] == [meeting_id]


@pytest.mark.parametrize(
    ("received", "too_early", "in_time"),
    [
        # One calendar month after 31 January is 28 February (the month's end).
        (date(2027, 1, 31), date(2027, 2, 27), date(2027, 2, 28)),
        (date(2027, 3, 15), date(2027, 4, 14), date(2027, 4, 15)),
    ],
)
def test_a_rescheduling_keeps_the_month_for_every_case_of_the_agenda(
    world: World, received: date, too_early: date, in_time: date
) -> None:
    """R7: a case received on D is examined from D + 1 calendar month; a new day that would
    examine one earlier is refused, naming the cases; the day of the month is accepted."""
    with on_day(world, received):
        case_id = ok(world.as_("police").post("/cases", case_body(world.cell.id)))["id"]
        # A case received a week earlier, which the earlier day would examine in time.
        with on_day(world, received - timedelta(days=7)):
            older = ok(world.as_("teacher").post("/cases", case_body(world.cell.id)))["id"]
    now = too_early - timedelta(days=10)
    with on_day(world, now):
        for case in (case_id, older):
            ok(world.as_("coordinator").post(f"/cases/{case}/parquet-referral"))
            ok(world.as_("parquet").post(f"/cases/{case}/parquet-decision", {"retained": True}))
        meeting_id = convene(world, in_time + timedelta(days=5), "14:00")
        put_on(world, meeting_id, case_id)
        put_on(world, meeting_id, older)
        expected = reference(world, case_id)
        before_meeting = meeting_snapshot(world, meeting_id)
        before_case = case_snapshot(world, case_id)
        before = head(world)
        response = world.as_("coordinator").patch(
            f"/meetings/{meeting_id}", {"held_on": too_early.isoformat()}
        )
        problem = refused(response, 409, "one-month-rule")
        assert problem["cases"] == [expected]
        assert expected in problem["detail"]
        assert reference(world, older) not in problem["detail"]
        refusal_event(world, before, "reschedule_meeting", "one-month-rule", meeting_id)
        assert meeting_snapshot(world, meeting_id) == before_meeting
        assert case_snapshot(world, case_id) == before_case

        moved = ok(
            world.as_("coordinator").patch(
                f"/meetings/{meeting_id}", {"held_on": in_time.isoformat()}
            )
        )
        assert moved["held_on"] == in_time.isoformat()
        assert [item["case_id"] for item in moved["agenda"]] == [case_id, older]


def test_a_meeting_with_a_decision_is_not_rescheduled(world: World) -> None:
    case_id = to_research(world)
    meeting_id = meeting(world)
    put_on(world, meeting_id, case_id)
    ok(
        world.as_("coordinator").post(
            f"/cases/{case_id}/review-decision", {"decision": "no_action"}
        )
    )
    before_meeting = meeting_snapshot(world, meeting_id)
    before = head(world)
    later = (today() + timedelta(days=3)).isoformat()
    response = world.as_("coordinator").patch(f"/meetings/{meeting_id}", {"held_on": later})
    refused(response, 409, "meeting-has-decisions")
    refusal_event(world, before, "reschedule_meeting", "meeting-has-decisions", meeting_id)
    assert meeting_snapshot(world, meeting_id) == before_meeting


@pytest.mark.parametrize("who", ["parquet", "police", "cst"])
def test_only_the_coordinator_reschedules_or_cancels(world: World, who: str) -> None:
    meeting_id = convene(world, today() + timedelta(days=8), "14:00")
    before_meeting = meeting_snapshot(world, meeting_id)
    actor = world.as_(who)
    before = head(world)
    response = actor.patch(f"/meetings/{meeting_id}", {"place": "Ailleurs"})
    refused(response, 403, "role-not-allowed")
    refusal_event(world, before, "reschedule_meeting", "role-not-allowed", meeting_id)
    before = head(world)
    refused(actor.post(f"/meetings/{meeting_id}/cancellation"), 403, "role-not-allowed")
    refusal_event(world, before, "cancel_meeting", "role-not-allowed", meeting_id)
    assert meeting_snapshot(world, meeting_id) == before_meeting


# --- cancellation ------------------------------------------------------------------------------


def test_a_cancelled_meeting_sends_its_agenda_back_to_research(world: World) -> None:
    first, second = to_research(world), to_research(world)
    meeting_id = meeting(world, held_on=today() + timedelta(days=4))
    put_on(world, meeting_id, first)
    put_on(world, meeting_id, second)
    cancelled = ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/cancellation"))
    assert (cancelled["status"], cancelled["agenda"]) == ("cancelled", [])
    for case_id in (first, second):
        case = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
        assert (case["state"], case["meeting_id"]) == ("research", None)
    # Ready for another meeting.
    another = meeting(world, held_on=today() + timedelta(days=5))
    put_on(world, another, second)
    shown = put_on(world, another, first)
    assert [(i["case_id"], i["position"], i["state"]) for i in shown["agenda"]] == [
        (second, 1, "cell_review"),
        (first, 2, "cell_review"),
    ]
    listed = {m["id"]: m for m in ok(world.as_("coordinator").get("/meetings"))["items"]}
    assert (listed[meeting_id]["status"], listed[meeting_id]["agenda_size"]) == ("cancelled", 0)
    assert listed[another]["agenda_size"] == 2


def test_a_not_retained_situation_moves_to_the_next_meeting(world: World) -> None:
    first = meeting(world, held_on=today() + timedelta(days=3))
    later = meeting(world, held_on=today() + timedelta(days=10))
    case_id = submit(world)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": False}))
    coordinator = world.as_("coordinator")
    on_first = ok(coordinator.get(f"/meetings/{first}"))["not_retained"]
    assert [line["case_id"] for line in on_first] == [case_id]
    assert ok(coordinator.get(f"/meetings/{later}"))["not_retained"] == []
    cancelled = ok(coordinator.post(f"/meetings/{first}/cancellation"))
    assert cancelled["not_retained"] == []
    moved = ok(coordinator.get(f"/meetings/{later}"))["not_retained"]
    assert [(line["case_id"], line["not_retained"]) for line in moved] == [(case_id, True)]
    # With no meeting left to present it, the next one convened takes it.
    ok(coordinator.post(f"/meetings/{later}/cancellation"))
    assert ok(coordinator.get(f"/meetings/{later}"))["not_retained"] == []
    convened = meeting(world, held_on=today() + timedelta(days=12))
    moved = ok(coordinator.get(f"/meetings/{convened}"))["not_retained"]
    assert [line["case_id"] for line in moved] == [case_id]


def test_a_held_meeting_is_not_cancelled(world: World) -> None:
    case_id = to_research(world)
    meeting_id = meeting(world)
    put_on(world, meeting_id, case_id)
    ok(
        world.as_("coordinator").post(
            f"/cases/{case_id}/review-decision", {"decision": "no_action"}
        )
    )
    ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/held"))
    before_meeting = meeting_snapshot(world, meeting_id)
    before = head(world)
    response = world.as_("coordinator").post(f"/meetings/{meeting_id}/cancellation")
    refused(response, 409, "meeting-already-held")
    refusal_event(world, before, "cancel_meeting", "meeting-already-held", meeting_id)
    before = head(world)
    response = world.as_("coordinator").patch(f"/meetings/{meeting_id}", {"starts_at": "20:00"})
    refused(response, 409, "meeting-already-held")
    refusal_event(world, before, "reschedule_meeting", "meeting-already-held", meeting_id)
    assert meeting_snapshot(world, meeting_id) == before_meeting


def test_a_meeting_where_the_cell_decided_is_not_cancelled(world: World) -> None:
    decided, pending = to_research(world), to_research(world)
    meeting_id = meeting(world)
    put_on(world, meeting_id, decided)
    put_on(world, meeting_id, pending)
    response = world.as_("coordinator").post(
        f"/cases/{decided}/review-decision",
        {"decision": "orient", "orientations": [{"destination": "crip"}]},
    )
    ok(response)
    before_meeting = meeting_snapshot(world, meeting_id)
    before_cases = [case_snapshot(world, c) for c in (decided, pending)]
    before = head(world)
    response = world.as_("coordinator").post(f"/meetings/{meeting_id}/cancellation")
    refused(response, 409, "meeting-has-decisions")
    refusal_event(world, before, "cancel_meeting", "meeting-has-decisions", meeting_id)
    assert meeting_snapshot(world, meeting_id) == before_meeting
    assert [case_snapshot(world, c) for c in (decided, pending)] == before_cases


def test_a_cancelled_meeting_is_not_cancelled_again_nor_rescheduled(world: World) -> None:
    meeting_id = meeting(world, held_on=today() + timedelta(days=4))
    ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/cancellation"))
    before_meeting = meeting_snapshot(world, meeting_id)
    before = head(world)
    response = world.as_("coordinator").post(f"/meetings/{meeting_id}/cancellation")
    refused(response, 409, "meeting-cancelled")
    refusal_event(world, before, "cancel_meeting", "meeting-cancelled", meeting_id)
    before = head(world)
    response = world.as_("coordinator").patch(f"/meetings/{meeting_id}", {"place": "Ailleurs"})
    refused(response, 409, "meeting-cancelled")
    refusal_event(world, before, "reschedule_meeting", "meeting-cancelled", meeting_id)
    assert meeting_snapshot(world, meeting_id) == before_meeting


# --- the agenda --------------------------------------------------------------------------------


def test_a_case_is_added_once(world: World) -> None:
    case_id = to_research(world)
    meeting_id = meeting(world)
    put_on(world, meeting_id, case_id)
    before_meeting = meeting_snapshot(world, meeting_id)
    before_case = case_snapshot(world, case_id)
    before = head(world)
    response = world.as_("coordinator").post(f"/meetings/{meeting_id}/cases", {"case_id": case_id})
    refused(response, 409, "already-on-agenda")
    event = refusal_event(world, before, "put_on_agenda", "already-on-agenda", meeting_id)
    assert event["case_id"] == case_id
    assert meeting_snapshot(world, meeting_id) == before_meeting
    assert case_snapshot(world, case_id) == before_case


def test_a_case_goes_only_on_an_agenda_of_its_cell(world: World) -> None:
    case_id = to_research(world)
    world.add_user("coordinator-both", Role.COORDINATOR, cells=[world.cell.id, world.other_cell.id])
    other = convene(world, today(), "08:00", by="coordinator-both", cell_id=world.other_cell.id)
    both = world.as_("coordinator-both")
    before_case = case_snapshot(world, case_id)
    before_meeting = meeting_snapshot(world, other, by="coordinator-both")
    before = head(world)
    response = both.post(f"/meetings/{other}/cases", {"case_id": case_id})
    refused(response, 409, "meeting-of-another-cell")
    refusal_event(world, before, "put_on_agenda", "meeting-of-another-cell", other)
    assert case_snapshot(world, case_id) == before_case
    assert meeting_snapshot(world, other, by="coordinator-both") == before_meeting


def test_the_coordinator_takes_a_case_off_the_agenda_before_the_decision(world: World) -> None:
    kept, taken = to_research(world), to_research(world)
    meeting_id = meeting(world)
    put_on(world, meeting_id, kept)
    put_on(world, meeting_id, taken)
    shown = ok(_delete(world, f"/meetings/{meeting_id}/cases/{taken}"))
    assert [item["case_id"] for item in shown["agenda"]] == [kept]
    case = ok(world.as_("coordinator").get(f"/cases/{taken}"))
    assert (case["state"], case["meeting_id"]) == ("research", None)
    # Decided, a case stays on the agenda of the meeting that decided it.
    ok(world.as_("coordinator").post(f"/cases/{kept}/review-decision", {"decision": "no_action"}))
    before_meeting = meeting_snapshot(world, meeting_id)
    before = head(world)
    response = _delete(world, f"/meetings/{meeting_id}/cases/{kept}")
    refused(response, 409, "case-already-decided")
    event = refusal_event(world, before, "remove_from_agenda", "case-already-decided", meeting_id)
    assert event["case_id"] == kept
    assert meeting_snapshot(world, meeting_id) == before_meeting


def test_a_case_not_on_this_agenda_is_not_taken_off_it(world: World) -> None:
    elsewhere, waiting = to_research(world), to_research(world)
    meeting_id = meeting(world, held_on=today() + timedelta(days=2))
    another = meeting(world, held_on=today() + timedelta(days=3))
    put_on(world, another, elsewhere)
    before_meeting = meeting_snapshot(world, meeting_id)
    before_case = case_snapshot(world, elsewhere)
    before = head(world)
    response = _delete(world, f"/meetings/{meeting_id}/cases/{elsewhere}")
    refused(response, 409, "not-on-agenda")
    refusal_event(world, before, "remove_from_agenda", "not-on-agenda", meeting_id)
    assert meeting_snapshot(world, meeting_id) == before_meeting
    assert case_snapshot(world, elsewhere) == before_case
    # Nor a case on no agenda at all.
    before_waiting = case_snapshot(world, waiting)
    before = head(world)
    response = _delete(world, f"/meetings/{meeting_id}/cases/{waiting}")
    refused(response, 409, "not-on-agenda")
    refusal_event(world, before, "remove_from_agenda", "not-on-agenda", meeting_id)
    assert case_snapshot(world, waiting) == before_waiting
    assert meeting_snapshot(world, meeting_id) == before_meeting


def test_the_coordinator_orders_the_agenda(world: World) -> None:
    a, b, c = to_research(world), to_research(world), to_research(world)
    meeting_id = meeting(world)
    for case_id in (a, b, c):
        put_on(world, meeting_id, case_id)
    coordinator = world.as_("coordinator")
    shown = ok(coordinator.put(f"/meetings/{meeting_id}/agenda-order", {"case_ids": [c, a, b]}))
    assert [(i["case_id"], i["position"]) for i in shown["agenda"]] == [(c, 1), (a, 2), (b, 3)]
    # As read again, and a case added afterwards goes last.
    d = to_research(world)
    shown = put_on(world, meeting_id, d)
    assert [(i["case_id"], i["position"]) for i in shown["agenda"]] == [
        (c, 1),
        (a, 2),
        (b, 3),
        (d, 4),
    ]
    before_meeting = meeting_snapshot(world, meeting_id)
    for case_ids in ([c, a, b], [c, a, b, d, d], [c, a, b, d, to_research(world)], [d, d, a, b]):
        before = head(world)
        response = coordinator.put(f"/meetings/{meeting_id}/agenda-order", {"case_ids": case_ids})
        problem = refused(response, 422, "agenda-order-mismatch")
        assert problem["errors"][0]["loc"] == ["body", "case_ids"]
        refusal_event(world, before, "order_agenda", "agenda-order-mismatch", meeting_id)
        assert meeting_snapshot(world, meeting_id) == before_meeting


@pytest.mark.parametrize("status", ["held", "cancelled"])
def test_nothing_is_added_to_a_meeting_no_longer_scheduled(world: World, status: str) -> None:
    meeting_id = meeting(world)
    if status == "held":
        ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/held"))
    else:
        ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/cancellation"))
    case_id = to_research(world)
    before_meeting = meeting_snapshot(world, meeting_id)
    before_case = case_snapshot(world, case_id)
    slug = "meeting-already-held" if status == "held" else "meeting-cancelled"
    before = head(world)
    response = world.as_("coordinator").post(f"/meetings/{meeting_id}/cases", {"case_id": case_id})
    refused(response, 409, slug)
    refusal_event(world, before, "put_on_agenda", slug, meeting_id)
    before = head(world)
    response = world.as_("coordinator").put(
        f"/meetings/{meeting_id}/agenda-order", {"case_ids": [case_id]}
    )
    refused(response, 409, slug)
    refusal_event(world, before, "order_agenda", slug, meeting_id)
    assert meeting_snapshot(world, meeting_id) == before_meeting
    assert case_snapshot(world, case_id) == before_case


def _delete(world: World, url: str) -> Any:
    actor = world.as_("coordinator")
    return actor.client.delete("/api/v1" + url, headers=actor.headers)


# --- the list ----------------------------------------------------------------------------------


def _listed(world: World, who: str, query: str = "") -> list[tuple[str, str]]:
    """Every meeting a caller lists with ``query``, page after page: (id, day)."""
    seen: list[tuple[str, str]] = []
    cursor: str | None = None
    while True:
        url = "/meetings?" + query + (f"&cursor={cursor}" if cursor else "")
        page = ok(world.as_(who).get(url))
        seen += [(m["id"], m["held_on"]) for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_the_list_filters_by_cell_and_period_both_ends_included(world: World) -> None:
    now = date(2027, 5, 3)
    world.add_user("coordinator-both", Role.COORDINATOR, cells=[world.cell.id, world.other_cell.id])
    with on_day(world, now):
        before = convene(world, date(2027, 5, 9), "10:00")
        first = convene(world, date(2027, 5, 10), "10:00")
        middle = convene(world, date(2027, 5, 15), "10:00")
        last = convene(world, date(2027, 5, 20), "10:00")
        after = convene(world, date(2027, 5, 21), "10:00")
        other = convene(
            world, date(2027, 5, 15), "10:00", by="coordinator-both", cell_id=world.other_cell.id
        )
    period = "from=2027-05-10&to=2027-05-20"
    assert _listed(world, "coordinator", period) == [
        (first, "2027-05-10"),
        (middle, "2027-05-15"),
        (last, "2027-05-20"),
    ]
    # The coordinator of both cells: both (by day; the 15th's two in either order), or one.
    both = [m for m, _ in _listed(world, "coordinator-both", period)]
    assert (both[0], set(both[1:3]), both[3:]) == (first, {middle, other}, [last])
    assert [m for m, _ in _listed(world, "coordinator-both", f"cell_id={world.other_cell.id}")] == [
        other
    ]
    assert [m for m, _ in _listed(world, "coordinator", "from=2027-05-21")] == [after]
    assert [m for m, _ in _listed(world, "coordinator", "to=2027-05-09")] == [before]
    # A member lists the meetings of their cell, never another's.
    assert [m for m, _ in _listed(world, "police")] == [before, first, middle, last, after]


def test_the_list_is_paginated(world: World) -> None:
    days = [today() + timedelta(days=n) for n in (1, 2, 2, 3, 5)]
    ids = [convene(world, day, f"{9 + i:02d}:00") for i, day in enumerate(days)]
    coordinator = world.as_("coordinator")
    first = ok(coordinator.get("/meetings?limit=2"))
    second = ok(coordinator.get(f"/meetings?limit=2&cursor={first['next_cursor']}"))
    third = ok(coordinator.get(f"/meetings?limit=2&cursor={second['next_cursor']}"))
    assert (len(first["items"]), len(second["items"]), len(third["items"])) == (2, 2, 1)
    assert third["next_cursor"] is None
    pages = [m["id"] for page in (first, second, third) for m in page["items"]]
    # Each meeting once, by day (two on the same day in either order).
    assert sorted(pages) == sorted(ids)
    assert (pages[0], pages[3], pages[4]) == (ids[0], ids[3], ids[4])
    assert set(pages[1:3]) == {ids[1], ids[2]}
    assert [m["agenda_size"] for m in first["items"]] == [0, 0]
    assert first["items"][0]["place"] == PLACE


@pytest.mark.parametrize("cursor", ["bm9wZQ", "not-a-cursor!", "MjAyNy0wMS0wMXxub3BlCg"])
def test_a_forged_cursor_is_refused(world: World, cursor: str) -> None:
    meeting(world)
    before = head(world)
    response = world.as_("coordinator").get(f"/meetings?cursor={cursor}")
    problem = refused(response, 422, "invalid-cursor")
    assert problem["errors"][0]["loc"] == ["query", "cursor"]
    refusal_event(world, before, "list_meetings", "invalid-cursor", None)


def test_who_may_not_list_meetings_is_refused(world: World) -> None:
    meeting(world)
    world.add_user("steering", Role.STEERING, cells=[])
    for who, slug in (
        ("auditor", "not-a-cell-member"),
        ("admin", "not-a-cell-member"),
        ("steering", "not-a-cell-member"),
    ):
        before = head(world)
        refused(world.as_(who).get("/meetings"), 403, slug)
        refusal_event(world, before, "list_meetings", slug, None)
    # A member asks for another cell's meetings.
    before = head(world)
    response = world.as_("police").get(f"/meetings?cell_id={world.other_cell.id}")
    refused(response, 403, "not-a-cell-member")
    refusal_event(world, before, "list_meetings", "not-a-cell-member", None)
