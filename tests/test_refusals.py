"""Every refusal of the procedure answers a clear problem and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.clock import today
from app.vocabulary import Role
from tests.conftest import World
from tests.scenario import (
    case_body,
    meeting,
    meeting_body,
    ok,
    problem,
    submit,
    to_cell_review,
    to_oriented,
    to_research,
)


def _unchanged(world: World, case_id: str, before: dict[str, Any]) -> None:
    assert _snapshot(world, case_id) == before


def _snapshot(world: World, case_id: str) -> dict[str, Any]:
    """Everything the coordinator sees, plus the row's version and last change."""
    import uuid

    from app.cases.models import Case

    seen = dict(ok(world.as_("coordinator").get(f"/cases/{case_id}")))
    with world.db() as session:
        row = session.get(Case, uuid.UUID(case_id))
        assert row is not None
        seen["_row"] = (row.version, row.updated_at)
    return seen


# --- 403: a role not allowed ------------------------------------------------------------------


@pytest.mark.parametrize("who", ["police", "parquet", "cst"])
def test_only_the_coordinator_refers_to_the_parquet(world: World, who: str) -> None:
    case_id = submit(world)
    before = _snapshot(world, case_id)
    body = problem(world.as_(who).post(f"/cases/{case_id}/parquet-referral"), 403)
    assert body["type"] == "urn:cenomed:problem:role-not-allowed"
    _unchanged(world, case_id, before)


@pytest.mark.parametrize("who", ["coordinator", "police", "cst"])
def test_only_the_parquet_decides(world: World, who: str) -> None:
    case_id = submit(world)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    before = _snapshot(world, case_id)
    response = world.as_(who).post(f"/cases/{case_id}/parquet-decision", {"retained": True})
    problem(response, 403)
    _unchanged(world, case_id, before)


def test_the_cst_adds_no_research_note(world: World) -> None:
    case_id = to_research(world)
    before = _snapshot(world, case_id)
    problem(world.as_("cst").post(f"/cases/{case_id}/research-notes", {"content": "x"}), 403)
    _unchanged(world, case_id, before)


@pytest.mark.parametrize("who", ["cst", "parquet", "auditor", "admin"])
def test_only_members_and_the_coordinator_submit(world: World, who: str) -> None:
    problem(world.as_(who).post("/cases", case_body(world.cell.id)), 403)
    assert ok(world.as_("coordinator").get("/cases"))["items"] == []


def test_a_member_cannot_submit_in_the_name_of_another_organisation(world: World) -> None:
    body = case_body(world.cell.id, origin="education")
    assert problem(world.as_("police").post("/cases", body), 403)["type"].endswith(
        "origin-reserved"
    )


def test_a_member_submits_only_to_their_cells(world: World) -> None:
    problem(world.as_("police").post("/cases", case_body(world.other_cell.id)), 403)


def test_social_services_feedback_comes_from_the_cst_only(world: World) -> None:
    case_id, ids = to_oriented(world, "social_services", "crip")
    coordinator = world.as_("coordinator")
    ok(coordinator.post(f"/cases/{case_id}/family-information", _informed()))
    for oid in ids.values():
        ok(coordinator.post(f"/cases/{case_id}/orientations/{oid}/transmission"))
    social = f"/cases/{case_id}/orientations/{ids['social_services']}/feedback"
    crip = f"/cases/{case_id}/orientations/{ids['crip']}/feedback"
    problem(coordinator.post(social, {"outcome": "support_in_place"}), 403)
    problem(world.as_("cst").post(crip, {"outcome": "support_in_place"}), 403)


@pytest.mark.parametrize("who", ["auditor", "admin"])
def test_roles_that_never_read_cases_are_refused_the_list(world: World, who: str) -> None:
    problem(world.as_(who).get("/cases"), 403)


def test_a_member_sees_nothing_of_someone_elses_fresh_submission(world: World) -> None:
    case_id = submit(world, by="police")
    body = problem(world.as_("teacher").get(f"/cases/{case_id}"), 403)
    assert body["type"].endswith("charter-withholds-case")


# --- 404: another cell ------------------------------------------------------------------------


def test_a_case_of_another_cell_is_not_found(world: World) -> None:
    case_id = submit(world)
    before = _snapshot(world, case_id)
    other = world.as_("coordinator-19")
    assert problem(other.get(f"/cases/{case_id}"), 404)["type"].endswith("case-not-found")
    problem(other.post(f"/cases/{case_id}/parquet-referral"), 404)
    unknown = problem(other.get("/cases/00000000-0000-4000-8000-000000000000"), 404)
    # The same answer whether the case exists elsewhere or not at all.
    assert unknown["detail"] == problem(other.get(f"/cases/{case_id}"), 404)["detail"]
    _unchanged(world, case_id, before)


def test_a_meeting_of_another_cell_is_not_found(world: World) -> None:
    meeting_id = meeting(world)
    problem(world.as_("coordinator-19").get(f"/meetings/{meeting_id}"), 404)


# --- 409: the procedure forbids it now --------------------------------------------------------


def test_a_step_out_of_order_conflicts(world: World) -> None:
    case_id = submit(world)
    before = _snapshot(world, case_id)
    body = problem(
        world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": True}), 409
    )
    assert body["type"].endswith("step-not-allowed-in-state")
    assert "parquet_review" in body["detail"]
    problem(
        world.as_("coordinator").post(f"/cases/{case_id}/closure", {"reason": "moved_away"}), 409
    )
    problem(world.as_("police").post(f"/cases/{case_id}/research-notes", {"content": "x"}), 409)
    _unchanged(world, case_id, before)


def test_a_case_is_examined_only_a_calendar_month_after_receipt(world: World) -> None:
    case_id = to_research(world, received_days_ago=20)
    before = _snapshot(world, case_id)
    meeting_id = meeting(world)
    body = problem(
        world.as_("coordinator").post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}), 409
    )
    assert body["type"].endswith("one-month-rule")
    _unchanged(world, case_id, before)
    assert ok(world.as_("coordinator").get(f"/meetings/{meeting_id}"))["agenda"] == []
    # A meeting held late enough takes it.
    later = meeting(world, held_on=today() + timedelta(days=15))
    ok(world.as_("coordinator").post(f"/meetings/{later}/cases", {"case_id": case_id}))


def test_a_case_goes_only_to_a_meeting_of_its_own_cell(world: World) -> None:
    case_id = to_research(world)
    world.add_user("coordinator-both", Role.COORDINATOR, cells=[world.cell.id, world.other_cell.id])
    both = world.as_("coordinator-both")
    other_meeting = ok(both.post("/meetings", meeting_body(world.other_cell.id, today())))["id"]
    response = both.post(f"/meetings/{other_meeting}/cases", {"case_id": case_id})
    assert problem(response, 409)["type"].endswith("meeting-of-another-cell")


def test_the_decision_waits_for_the_meeting_date(world: World) -> None:
    case_id = to_research(world)
    later = meeting(world, held_on=today() + timedelta(days=3))
    ok(world.as_("coordinator").post(f"/meetings/{later}/cases", {"case_id": case_id}))
    response = world.as_("coordinator").post(
        f"/cases/{case_id}/review-decision", {"decision": "no_action"}
    )
    assert problem(response, 409)["type"].endswith("meeting-not-held-yet")


def test_social_services_transmission_needs_the_family_informed(world: World) -> None:
    case_id, ids = to_oriented(world, "social_services")
    coordinator = world.as_("coordinator")
    transmission = f"/cases/{case_id}/orientations/{ids['social_services']}/transmission"
    before = _snapshot(world, case_id)
    body = problem(coordinator.post(transmission), 409)
    assert body["type"].endswith("family-not-informed")
    _unchanged(world, case_id, before)
    ok(coordinator.post(f"/cases/{case_id}/family-information", _informed()))
    ok(coordinator.post(transmission))
    assert problem(coordinator.post(transmission), 409)["type"].endswith("already-transmitted")


def test_social_services_transmission_needs_a_cst_in_the_cell(world: World) -> None:
    case_id, ids = to_oriented(world, "social_services")
    with world.db() as session:
        from app.directory import service

        service.deactivate_user(session, username="cst")
    coordinator = world.as_("coordinator")
    ok(coordinator.post(f"/cases/{case_id}/family-information", _informed()))
    response = coordinator.post(
        f"/cases/{case_id}/orientations/{ids['social_services']}/transmission"
    )
    assert problem(response, 409)["type"].endswith("no-social-coordinator")


def test_other_destinations_need_no_family_information(world: World) -> None:
    case_id, ids = to_oriented(world, "crip")
    ok(world.as_("coordinator").post(f"/cases/{case_id}/orientations/{ids['crip']}/transmission"))


def test_feedback_waits_for_the_transmission_and_comes_once(world: World) -> None:
    case_id, ids = to_oriented(world, "crip")
    coordinator = world.as_("coordinator")
    feedback = f"/cases/{case_id}/orientations/{ids['crip']}/feedback"
    assert problem(coordinator.post(feedback, {"outcome": "support_in_place"}), 409)[
        "type"
    ].endswith("not-transmitted")
    ok(coordinator.post(f"/cases/{case_id}/orientations/{ids['crip']}/transmission"))
    ok(coordinator.post(feedback, {"outcome": "support_in_place"}))
    body = problem(coordinator.post(feedback, {"outcome": "support_not_possible"}), 409)
    assert body["type"].endswith("feedback-already-recorded")


def test_a_closed_case_takes_no_more_steps(world: World) -> None:
    case_id = to_cell_review(world)
    coordinator = world.as_("coordinator")
    ok(coordinator.post(f"/cases/{case_id}/review-decision", {"decision": "no_action"}))
    problem(coordinator.post(f"/cases/{case_id}/closure", {"reason": "moved_away"}), 409)
    problem(coordinator.post(f"/cases/{case_id}/family-information", _informed()), 409)


# --- 422: malformed bodies --------------------------------------------------------------------


def test_feedback_is_a_closed_form(world: World) -> None:
    case_id, ids = to_oriented(world, "crip")
    coordinator = world.as_("coordinator")
    ok(coordinator.post(f"/cases/{case_id}/orientations/{ids['crip']}/transmission"))
    feedback = f"/cases/{case_id}/orientations/{ids['crip']}/feedback"
    before = _snapshot(world, case_id)
    extra = {"outcome": "support_in_place", "comment": "Suivi éducatif renforcé"}
    body = problem(coordinator.post(feedback, extra), 422)
    assert "(unknown field)" in body["detail"]
    # Neither the value nor the name the client chose for the field is echoed.
    assert "comment" not in str(body)
    assert "Suivi" not in str(body)
    problem(coordinator.post(feedback, {"outcome": "reoriented"}), 422)
    problem(
        coordinator.post(feedback, {"outcome": "support_in_place", "reoriented_to": "social"}), 422
    )
    problem(coordinator.post(feedback, {"outcome": "nature_of_the_follow_up"}), 422)
    _unchanged(world, case_id, before)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"motifs": []}, "motifs"),
        ({"motifs": ["religion"]}, "motifs"),
        ({"received_via": "pigeon"}, "received_via"),
        ({"unexpected": "x"}, "(unknown field)"),
    ],
)
def test_a_malformed_signalement_is_refused(
    world: World, change: dict[str, Any], field: str
) -> None:
    body = problem(world.as_("police").post("/cases", case_body(world.cell.id, **change)), 422)
    assert field in body["detail"]
    assert ok(world.as_("coordinator").get("/cases"))["items"] == []


def test_a_cenomed_cell_takes_minors_only(world: World) -> None:
    body = case_body(world.cell.id)
    body["minor"]["birth_date"] = f"{today().year - 19}-01-01"
    detail = problem(world.as_("police").post("/cases", body), 422)["detail"]
    assert "under 18" in detail


def test_destinations_are_those_of_the_cell_kind(world: World) -> None:
    case_id = to_cell_review(world)
    response = world.as_("coordinator").post(
        f"/cases/{case_id}/review-decision",
        {"decision": "orient", "orientations": [{"destination": "spip"}]},
    )
    assert "spip" in problem(response, 422)["detail"]
    response = world.as_("coordinator").post(
        f"/cases/{case_id}/review-decision", {"decision": "orient", "orientations": []}
    )
    problem(response, 422)


@pytest.mark.parametrize(
    "raw",
    [
        b"not-a-cursor",
        b"2026-01-01T00:00:00|00000000-0000-4000-8000-000000000000",  # no time zone
        b"99999-01-01T00:00:00+00:00|00000000-0000-4000-8000-000000000000",
        b"2026-01-01T00:00:00+00:00|not-a-uuid",
    ],
)
def test_a_malformed_cursor_is_a_problem(world: World, raw: bytes) -> None:
    import base64

    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    problem(world.as_("coordinator").get("/cases", params={"cursor": cursor}), 422)


@pytest.mark.parametrize(
    ("where", "value"),
    [("last_name", "Zyx\u0000wavel"), ("address", "12 rue\u0007 X"), ("first_name", "a\nb")],
)
def test_control_characters_are_refused(world: World, where: str, value: str) -> None:
    body = case_body(world.cell.id)
    body["minor"][where] = value
    detail = problem(world.as_("police").post("/cases", body), 422)["detail"]
    assert where in detail


# Zero-width space, right-to-left override, a word joiner and a BOM, a left-to-right isolate.
INVISIBLE_ONLY = ["\u200b\u200b", "\u202e", "\u2060 \ufeff", "\u2066\u00a0\u2069"]


@pytest.mark.parametrize(
    ("where", "value"),
    [
        *[("minor.last_name", v) for v in INVISIBLE_ONLY],
        ("minor.first_name", "\u202e"),
        ("minor.first_name", "1234"),
        ("minor.last_name", "-- ' ."),
        ("minor.first_name", "\u0301"),  # a combining accent, on no letter
        ("guardians.0.name", "\u200d"),
        ("guardians.0.name", "06 00"),
        ("minor.address", "\u200b\u202e"),
        ("minor.school", "\ufeff"),
    ],
)
def test_a_name_without_a_letter_or_a_line_without_a_visible_character_is_refused(
    world: World, where: str, value: str
) -> None:
    """Invisible characters do not count; a name needs a letter (of any script). The schema
    refuses it, like any malformed body (validation errors are not audit events)."""
    body = case_body(world.cell.id)
    block, field = where.split(".", 1)
    if block == "guardians":
        body["guardians"][0]["name"] = value
    else:
        body["minor"][field] = value
    refused = problem(world.as_("police").post("/cases", body), 422)
    assert refused["type"] == "urn:cenomed:problem:validation-error"
    assert where in refused["detail"]
    assert [".".join(str(part) for part in e["loc"][1:]) for e in refused["errors"]] == [where]
    assert value not in refused["detail"]
    assert ok(world.as_("coordinator").get("/cases"))["items"] == []


def test_invisible_characters_are_removed_from_what_is_stored(world: World) -> None:
    body = case_body(world.cell.id)
    body["minor"].update(
        last_name="Zyx\u200bwavel\u200d",
        first_name="\u202eQuentinette\u202c",
        address="12\u00a0\u00a0rue\u2066 Imaginaire,\u2003 75018\u2069 Paris",
        school="Collège\ufeff Fictif\u00ad",
    )
    body["guardians"][0]["name"] = "Parent\u2060 \u200fZyxwavel"
    case_id = ok(world.as_("police").post("/cases", body))["id"]
    case = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    assert (case["minor"]["last_name"], case["minor"]["first_name"]) == ("Zyxwavel", "Quentinette")
    assert case["minor"]["school"] == "Collège Fictif"
    assert case["contact"]["address"] == "12 rue Imaginaire, 75018 Paris"
    assert case["contact"]["guardians"][0]["name"] == "Parent Zyxwavel"


def test_names_in_other_scripts_and_with_digits_are_accepted(world: World) -> None:
    body = case_body(world.cell.id)
    body["minor"].update(last_name="Зыхвавел 2", first_name="ژیلا")
    case_id = ok(world.as_("police").post("/cases", body))["id"]
    minor = ok(world.as_("coordinator").get(f"/cases/{case_id}"))["minor"]
    assert (minor["last_name"], minor["first_name"]) == ("Зыхвавел 2", "ژیلا")


def test_line_breaks_are_kept_in_the_account(world: World) -> None:
    case_id = submit(world, facts="Première ligne.\nSeconde ligne.")
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["facts"] == (
        "Première ligne.\nSeconde ligne."
    )


def test_names_are_stored_in_nfc(world: World) -> None:
    body = case_body(world.cell.id)
    body["minor"]["first_name"] = "Zoe\u0301"  # e + combining acute accent
    case_id = ok(world.as_("police").post("/cases", body))["id"]
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["minor"]["first_name"] == "Zoé"


def test_a_member_is_refused_feedback_before_the_orientation_is_looked_up(world: World) -> None:
    case_id, _ids = to_oriented(world, "crip")
    unknown = "00000000-0000-4000-8000-000000000000"
    response = world.as_("police").post(
        f"/cases/{case_id}/orientations/{unknown}/feedback", {"outcome": "support_in_place"}
    )
    problem(response, 403)


def test_unknown_routes_answer_problems(world: World) -> None:
    problem(world.client.get("/api/v1/nowhere"), 404)


def _informed() -> dict[str, str]:
    return {"informed_on": today().isoformat(), "means": "meeting", "outcome": "informed"}


def test_a_transmission_records_no_content(world: World) -> None:
    """R15: the destinations are not users; what is sent to them is never recorded."""
    case_id, ids = to_oriented(world, "crip")
    url = f"/cases/{case_id}/orientations/{ids['crip']}/transmission"
    before = _snapshot(world, case_id)
    body = problem(world.as_("coordinator").post(url, {"content": "Dossier complet"}), 422)
    assert body["type"].endswith("transmission-takes-no-content")
    _unchanged(world, case_id, before)
    sent = ok(world.as_("coordinator").post(url))
    [orientation] = sent["orientations"]
    assert set(orientation) == {"id", "destination", "service", "decided_at", "transmitted_at"}
    assert orientation["service"] is None  # the cell lists no CRIP service
