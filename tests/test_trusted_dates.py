"""Dates and decisions the cell can trust (issue 15): the server's own dates, bounded later
dates, a closure that says why, the family's answer. Each bypass a new user found is walked
here and refused, with its problem type, nothing changed, and (where it names a case) its
audit event."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.cases.models import Case
from app.clock import today
from app.config import Settings
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import (
    case_body,
    declared_body,
    meeting,
    meeting_body,
    ok,
    on_day,
    problem,
    submit,
    to_cell_review,
    to_oriented,
    to_research,
)


def _cases(world: World) -> int:
    with world.db() as session:
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def _refusal(world: World, before: int, case_id: str | None = None) -> dict[str, Any]:
    [refusal] = [e for e in events(world, before) if e["outcome"] == "denied"]
    if case_id is not None:
        assert refusal["case_id"] == case_id
    return refusal


# --- 1. the day a signalement is received is the server's -------------------------------------


@pytest.mark.parametrize("member", ["police", "teacher"])
def test_a_member_cannot_backdate_a_signalement(world: World, member: str) -> None:
    """The review's bypass: a member typed a receipt two months back."""
    backdated = case_body(world.cell.id, received_on=(today() - timedelta(days=60)).isoformat())
    refused = problem(world.as_(member).post("/cases", backdated), 403)
    assert refused["type"] == "urn:cenomed:problem:received-on-not-allowed"
    assert refused["errors"][0]["loc"] == ["body", "received_on"]
    # Nor declare a channel, nor even today's date: the day is the server's.
    for body in (
        case_body(world.cell.id, received_via="letter"),
        case_body(world.cell.id, received_on=today().isoformat()),
    ):
        assert problem(world.as_(member).post("/cases", body), 403)["type"].endswith(
            ":received-on-not-allowed"
        )
    assert _cases(world) == 0


def test_a_members_signalement_is_received_the_day_it_is_sent(world: World) -> None:
    sent_on = date(2026, 3, 2)
    with on_day(world, sent_on):
        case_id = ok(world.as_("police").post("/cases", case_body(world.cell.id)))["id"]
    case = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    assert (case["received_on"], case["received_on_declared"], case["received_via"]) == (
        sent_on.isoformat(),
        False,
        None,
    )
    assert case["history"][0]["detail"] is None


@pytest.mark.parametrize(("days", "received"), [(0, True), (92, True), (93, False), (-1, False)])
def test_the_coordinator_declares_a_receipt_within_the_bound(
    world: World, days: int, received: bool
) -> None:
    """``CENOMED_RECEIVED_ON_MAX_DAYS`` (92) pinned on both sides, and never in the future."""
    body = declared_body(world.cell.id, received_days_ago=days, received_via="phone")
    response = world.as_("coordinator").post("/cases", body)
    if received:
        case = ok(response)
        assert case["received_on"] == (today() - timedelta(days=days)).isoformat()
        assert (case["received_on_declared"], case["received_via"]) == (True, "phone")
        assert case["history"][0]["detail"] == "declared:phone"
        return
    slug = "received-on-too-old" if days > 0 else "received-on-in-future"
    assert problem(response, 422)["type"] == f"urn:cenomed:problem:{slug}"
    assert _cases(world) == 0


def test_the_bound_is_a_setting() -> None:
    assert Settings(received_on_max_days=30).received_on_max_days == 30
    assert Settings().received_on_max_days == 92


def test_the_coordinator_says_how_a_signalement_reached_them(world: World) -> None:
    refused = problem(world.as_("coordinator").post("/cases", case_body(world.cell.id)), 422)
    assert refused["type"] == "urn:cenomed:problem:received-via-required"
    assert refused["errors"][0]["loc"] == ["body", "received_via"]
    body = case_body(world.cell.id, received_via="in_person")
    case = ok(world.as_("coordinator").post("/cases", body))
    assert (case["received_on"], case["received_via"]) == (today().isoformat(), "in_person")


# --- 2. dates of later steps are bounded -------------------------------------------------------


@pytest.mark.parametrize(("days", "recorded"), [(14, True), (15, False)])
def test_a_meeting_is_recorded_at_most_fourteen_days_after_it_was_held(
    world: World, days: int, recorded: bool
) -> None:
    body = meeting_body(world.cell.id, today() - timedelta(days=days))
    response = world.as_("coordinator").post("/meetings", body)
    if recorded:
        ok(response)
        return
    refused = problem(response, 422)
    assert refused["type"] == "urn:cenomed:problem:meeting-recorded-too-late"
    assert refused["errors"][0]["loc"] == ["body", "held_on"]


@pytest.mark.parametrize(("days", "examined"), [(14, True), (15, False)])
def test_an_examination_is_recorded_at_most_fourteen_days_after_its_meeting(
    world: World, days: int, examined: bool
) -> None:
    """The review's bypass: a meeting invented in the past to examine a case at once."""
    held_on = today() - timedelta(days=days)
    with on_day(world, held_on):  # the meeting, recorded on its day
        meeting_id = meeting(world, held_on=held_on)
    case_id = to_research(world, received_days_ago=days + 40)
    before = head(world)
    response = world.as_("coordinator").post(f"/meetings/{meeting_id}/cases", {"case_id": case_id})
    if examined:
        ok(response)
        return
    assert problem(response, 409)["type"] == "urn:cenomed:problem:meeting-recorded-too-late"
    assert _refusal(world, before, case_id)["detail"] == (
        f"meeting-recorded-too-late meeting:{meeting_id}"
    )
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["state"] == "research"


def test_the_whole_bypass_of_the_review_is_refused(world: World) -> None:
    """A police member's signalement, sent today: however it is typed, it cannot be examined
    at a meeting created today, nor before a calendar month."""
    case_id = submit(world, received_days_ago=0)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": True}))
    today_meeting = meeting(world)
    refused = world.as_("coordinator").post(
        f"/meetings/{today_meeting}/cases", {"case_id": case_id}
    )
    assert problem(refused, 409)["type"] == "urn:cenomed:problem:one-month-rule"
    past = meeting_body(world.cell.id, today() - timedelta(days=60))
    assert problem(world.as_("coordinator").post("/meetings", past), 422)["type"].endswith(
        ":meeting-recorded-too-late"
    )


@pytest.mark.parametrize(
    ("offset", "slug"), [(0, None), (1, "informed-on-in-future"), (-1, "informed-before-decision")]
)
def test_the_family_is_informed_between_the_decision_and_today(
    world: World, offset: int, slug: str | None
) -> None:
    """The review's bypass: the family "informed" on a date before the decision existed.
    The decision is today's: today is the only day allowed, pinned on both sides."""
    case_id, _ = to_oriented(world, "social_services")
    informed = {
        "informed_on": (today() + timedelta(days=offset)).isoformat(),
        "means": "phone",
        "outcome": "informed",
    }
    before = head(world)
    response = world.as_("coordinator").post(f"/cases/{case_id}/family-information", informed)
    if slug is None:
        assert ok(response)["family_information"]["informed_on"] == today().isoformat()
        return
    refused = problem(response, 422)
    assert refused["type"] == f"urn:cenomed:problem:{slug}"
    assert refused["errors"][0]["loc"] == ["body", "informed_on"]
    assert _refusal(world, before, case_id)["detail"] == slug
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["family_information"] is None


def test_a_family_informed_days_after_the_decision_is_taken_on_its_day(world: World) -> None:
    case_id, _ = to_oriented(world, "crip")
    later = today() + timedelta(days=5)
    informed = {"informed_on": later.isoformat(), "means": "letter", "outcome": "informed"}
    with on_day(world, later):
        ok(world.as_("coordinator").post(f"/cases/{case_id}/family-information", informed))


# --- 3. a closure says why ----------------------------------------------------------------------


def _answered(world: World, *destinations: str) -> str:
    """A case oriented to ``destinations``, every one transmitted and answered."""
    case_id, ids = to_oriented(world, *destinations)
    coordinator = world.as_("coordinator")
    if "social_services" in ids:
        informed = {"informed_on": today().isoformat(), "means": "letter", "outcome": "informed"}
        ok(coordinator.post(f"/cases/{case_id}/family-information", informed))
    for destination, orientation_id in ids.items():
        ok(coordinator.post(f"/cases/{case_id}/orientations/{orientation_id}/transmission"))
        reporter = world.as_("cst" if destination == "social_services" else "coordinator")
        path = f"/cases/{case_id}/orientations/{orientation_id}/feedback"
        ok(reporter.post(path, {"outcome": "support_in_place"}))
    return case_id


def test_a_closure_without_a_reason_is_refused(world: World) -> None:
    """The review's bypass: closed right after orientation, one click, no reason."""
    case_id, _ = to_oriented(world, "crip")
    for body in (None, {}, {"reason": None}):
        before = head(world)
        refused = problem(world.as_("coordinator").post(f"/cases/{case_id}/closure", body), 422)
        assert refused["type"] == "urn:cenomed:problem:closure-reason-required"
        assert _refusal(world, before, case_id)["detail"] == "closure-reason-required"
    refused = problem(
        world.as_("coordinator").post(f"/cases/{case_id}/closure", {"reason": "other_legacy"}),
        422,
    )
    assert refused["type"] == "urn:cenomed:problem:validation-error"
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["state"] == "oriented"


@pytest.mark.parametrize(
    "reason", ["feedback_received", "family_unreachable", "aged_out", "no_action"]
)
def test_a_reason_the_record_does_not_bear_out_is_refused(world: World, reason: str) -> None:
    """An orientation awaits its transmission and feedback, the family was reached, the minor
    is 14: only moving away or a judicial measure apply now."""
    case_id, _ = to_oriented(world, "crip")
    before = head(world)
    body = {"reason": reason}
    refused = problem(world.as_("coordinator").post(f"/cases/{case_id}/closure", body), 409)
    assert refused["type"] == "urn:cenomed:problem:closure-reason-not-applicable"
    assert _refusal(world, before, case_id)["detail"] == "closure-reason-not-applicable"


@pytest.mark.parametrize("reason", ["moved_away", "judicial_follow_up"])
def test_moving_away_or_a_judicial_measure_close_a_case_at_any_step(
    world: World, reason: str
) -> None:
    for case_id in (to_research(world), to_cell_review(world), to_oriented(world, "crip")[0]):
        closed = ok(world.as_("coordinator").post(f"/cases/{case_id}/closure", {"reason": reason}))
        assert closed["state"] == "closed"
        with world.db() as session:
            row = session.get(Case, uuid.UUID(case_id))
            assert row is not None
            assert row.closure_reason == reason
    # Not before the parquet retained it, nor twice.
    fresh = submit(world)
    body = {"reason": reason}
    assert problem(world.as_("coordinator").post(f"/cases/{fresh}/closure", body), 409)[
        "type"
    ].endswith(":step-not-allowed-in-state")


def test_every_feedback_received_closes_with_that_reason_shown_in_the_history(
    world: World,
) -> None:
    case_id = _answered(world, "social_services", "crip")
    body = {"reason": "feedback_received"}
    ok(world.as_("coordinator").post(f"/cases/{case_id}/closure", body))
    reason = {"reason": "Vérifier la clôture pour le bilan de la cellule ce mois-ci."}
    ok(world.as_("coordinator").post(f"/cases/{case_id}/archive-access", reason))
    case = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    assert case["closure_reason"] == "feedback_received"
    assert case["history"][-1]["step"] == "close"
    assert case["history"][-1]["detail"] == "feedback_received"


def test_a_person_who_turned_18_closes_as_aged_out(world: World) -> None:
    on = today()
    born = date(on.year - 18, on.month, 1)  # 18 this month; 17 when received 40 days ago
    body = declared_body(world.cell.id, received_days_ago=40)
    body["minor"]["birth_date"] = born.isoformat()
    case_id = ok(world.as_("coordinator").post("/cases", body))["id"]
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": True}))
    closed = world.as_("coordinator").post(f"/cases/{case_id}/closure", {"reason": "aged_out"})
    assert ok(closed)["state"] == "closed"


def test_no_action_records_its_reason(world: World) -> None:
    case_id = to_cell_review(world)
    body = {"decision": "no_action"}
    ok(world.as_("coordinator").post(f"/cases/{case_id}/review-decision", body))
    with world.db() as session:
        row = session.get(Case, uuid.UUID(case_id))
        assert row is not None
        assert row.closure_reason == "no_action"


def test_closures_are_counted_by_reason_in_the_indicators(world: World) -> None:
    moved = to_oriented(world, "crip")[0]
    ok(world.as_("coordinator").post(f"/cases/{moved}/closure", {"reason": "moved_away"}))
    answered = _answered(world, "crip")
    body = {"reason": "feedback_received"}
    ok(world.as_("coordinator").post(f"/cases/{answered}/closure", body))
    figures = ok(world.as_("coordinator").get("/indicators", params={"cell_id": world.cell.id}))
    assert figures["closed"] == 2
    assert figures["by_closure_reason"]["moved_away"] == 1
    assert figures["by_closure_reason"]["feedback_received"] == 1
    assert figures["by_closure_reason"]["no_action"] == 0


# --- 4. the family's answer ---------------------------------------------------------------------


def test_an_unreachable_family_stops_the_social_services_transmission(world: World) -> None:
    case_id, ids = to_oriented(world, "social_services")
    coordinator = world.as_("coordinator")
    unreachable = {"informed_on": today().isoformat(), "means": "phone", "outcome": "unreachable"}
    ok(coordinator.post(f"/cases/{case_id}/family-information", unreachable))
    before = head(world)
    path = f"/cases/{case_id}/orientations/{ids['social_services']}/transmission"
    assert problem(coordinator.post(path), 409)["type"] == "urn:cenomed:problem:family-unreachable"
    assert _refusal(world, before, case_id)["detail"] == "family-unreachable"
    # Oriented elsewhere instead, or closed for it.
    other = ok(coordinator.post(f"/cases/{case_id}/orientations", {"destination": "crip"}))
    assert [o["destination"] for o in other["orientations"]] == ["social_services", "crip"]
    assert other["history"][-1]["detail"] == "destination:crip"
    again = coordinator.post(f"/cases/{case_id}/orientations", {"destination": "crip"})
    assert problem(again, 422)["errors"][0]["type"] == "repeated_destination"
    closed = coordinator.post(f"/cases/{case_id}/closure", {"reason": "family_unreachable"})
    assert ok(closed)["state"] == "closed"


def test_a_family_that_objects_is_recorded_and_shown_to_the_cst(world: World) -> None:
    case_id, ids = to_oriented(world, "social_services")
    coordinator = world.as_("coordinator")
    objects = {"informed_on": today().isoformat(), "means": "meeting", "outcome": "objects"}
    recorded = ok(coordinator.post(f"/cases/{case_id}/family-information", objects))
    assert recorded["family_information"]["outcome"] == "objects"
    assert recorded["history"][-1]["detail"] == "outcome:objects"
    path = f"/cases/{case_id}/orientations/{ids['social_services']}/transmission"
    ok(coordinator.post(path))
    seen = ok(world.as_("cst").get(f"/cases/{case_id}"))
    assert seen["family_information"]["outcome"] == "objects"


def test_the_familys_answer_is_required(world: World) -> None:
    case_id, _ = to_oriented(world, "social_services")
    informed = {"informed_on": today().isoformat(), "means": "phone"}
    refused = problem(
        world.as_("coordinator").post(f"/cases/{case_id}/family-information", informed), 422
    )
    assert refused["errors"][0]["loc"] == ["body", "outcome"]
