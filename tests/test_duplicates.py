"""Issue 16, point 5: the coordinator resolves a possible duplicate. Each decision works, each
refusal answers its problem and leaves its audit event, and nothing else changes."""

from __future__ import annotations

from typing import Any

import pytest

from app.vocabulary import Role
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import (
    FIRST_NAME,
    LAST_NAME,
    case_body,
    ok,
    problem,
    submit,
    to_research,
)


def _pair(world: World) -> tuple[str, str]:
    """Two signalements of the same invented minor: the older by the police (40 days ago),
    the newer by the teacher (10 days ago)."""
    older = submit(world, by="police", received_days_ago=40)
    newer = submit(world, by="teacher", received_days_ago=10)
    return older, newer


def _decide(world: World, case_id: str, other: str, decision: str, who: str = "coordinator") -> Any:
    return world.as_(who).post(
        f"/cases/{case_id}/duplicate-decision", {"other_case_id": other, "decision": decision}
    )


def _denied(world: World, before: int, action: str, case_id: str, slug: str) -> None:
    """The refusal's one audit event: denied, naming the case and the problem."""
    [event] = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert event["action"] == action
    assert event["case_id"] == case_id
    assert slug in str(event["detail"])
    assert LAST_NAME not in str(event)


def test_a_flagged_pair_is_shown_to_the_coordinator(world: World) -> None:
    older, newer = _pair(world)
    assert ok(world.as_("coordinator").get(f"/cases/{newer}"))["possible_duplicates"] == [older]
    assert ok(world.as_("coordinator").get(f"/cases/{older}"))["possible_duplicates"] == [newer]


@pytest.mark.parametrize("asked_on", ["older", "newer"])
def test_same_minor_keeps_the_older_case_and_closes_the_other(world: World, asked_on: str) -> None:
    older, newer = _pair(world)
    coordinator = world.as_("coordinator")
    ok(coordinator.post(f"/cases/{older}/parquet-referral"))
    note_case = newer
    asked, other = (older, newer) if asked_on == "older" else (newer, older)
    before = head(world)

    decided = ok(_decide(world, asked, other, "same_minor"))

    assert decided == {
        "decision": "same_minor",
        "case_id": asked,
        "other_case_id": other,
        "kept_case_id": older,
        "closed_case_id": newer,
    }
    kept = ok(coordinator.get(f"/cases/{older}"))
    assert kept["state"] == "parquet_review"
    assert kept["merged_into"] is None
    [additional] = kept["additional_signalements"]
    assert additional["merged_case_id"] == newer
    assert additional["origin"] == "education"
    # The merged pair is no one's possible duplicate any more.
    assert kept["possible_duplicates"] == []
    assert kept["history"][-1]["step"] == "decide_duplicate"
    # The closed one is archived: its record, read from the archive, names the kept case.
    ok(
        coordinator.post(
            f"/cases/{note_case}/archive-access",
            {"reason": "Vérifier la fusion des deux signalements."},
        )
    )
    closed = ok(coordinator.get(f"/cases/{newer}"))
    assert closed["state"] == "closed"
    assert closed["closure_reason"] == "duplicate"
    assert closed["merged_into"] == older
    assert closed["history"][-1]["step"] == "close_as_duplicate"
    # One event per case, each naming its own case, nothing nominative.
    decided_events = [e for e in events(world, before) if e["action"] == "decide_duplicate"]
    assert sorted(e["case_id"] for e in decided_events) == sorted([older, newer])
    assert all(e["outcome"] == "allowed" for e in decided_events)


def test_research_notes_stay_where_they_were_written(world: World) -> None:
    older = to_research(world, received_days_ago=40)
    newer = to_research(world, by="teacher", received_days_ago=10)
    ok(world.as_("police").post(f"/cases/{newer}/research-notes", {"content": "Note fictive."}))
    ok(_decide(world, older, newer, "same_minor"))
    kept = ok(world.as_("coordinator").get(f"/cases/{older}"))
    assert kept["research_notes"] == []
    ok(
        world.as_("coordinator").post(
            f"/cases/{newer}/archive-access", {"reason": "Relire la note de recherche fusionnée."}
        )
    )
    assert len(ok(world.as_("coordinator").get(f"/cases/{newer}"))["research_notes"]) == 1


def test_different_minor_removes_the_flag_for_good(world: World) -> None:
    older, newer = _pair(world)
    before = head(world)
    decided = ok(_decide(world, newer, older, "different_minor"))
    assert decided == {
        "decision": "different_minor",
        "case_id": newer,
        "other_case_id": older,
    }
    coordinator = world.as_("coordinator")
    for case_id in (older, newer):
        shown = ok(coordinator.get(f"/cases/{case_id}"))
        assert shown["possible_duplicates"] == []
        assert shown["state"] == "submitted"
        assert shown["history"][-1]["detail"] == "different_minor"
    assert {e["case_id"] for e in events(world, before) if e["action"] == "decide_duplicate"} == {
        older,
        newer,
    }
    # A third signalement of the same minor is flagged with both again: the pair only is
    # dismissed.
    third = submit(world, by="police", received_days_ago=2)
    assert sorted(ok(coordinator.get(f"/cases/{third}"))["possible_duplicates"]) == sorted(
        [older, newer]
    )
    # And the dismissed pair cannot be decided again.
    body = problem(_decide(world, older, newer, "same_minor"), 409)
    assert body["type"] == "urn:cenomed:problem:not-a-possible-duplicate"


def test_a_pair_not_flagged_is_a_conflict(world: World) -> None:
    first = submit(world)
    other_minor = case_body(
        world.cell.id,
        minor={"last_name": "Vobrelin", "first_name": "Ostrac", "birth_date": "2013-02-03"},
    )
    second = ok(world.as_("coordinator").post("/cases", {**other_minor, "received_via": "letter"}))
    before = head(world)
    body = problem(_decide(world, first, second["id"], "same_minor"), 409)
    assert body["type"] == "urn:cenomed:problem:not-a-possible-duplicate"
    _denied(world, before, "decide_duplicate", first, "not-a-possible-duplicate")
    assert ok(world.as_("coordinator").get(f"/cases/{second['id']}"))["state"] == "submitted"


def test_a_case_of_another_cell_is_not_found(world: World) -> None:
    """404 whatever the caller's other cells: a decision never joins two cells' records."""
    mine = submit(world)
    body = case_body(world.other_cell.id)
    theirs = ok(world.as_("coordinator-19").post("/cases", {**body, "received_via": "letter"}))
    world.add_user("coordinator-both", Role.COORDINATOR, cells=[world.cell.id, world.other_cell.id])
    for who in ("coordinator", "coordinator-both"):
        before = head(world)
        refused = problem(_decide(world, mine, theirs["id"], "same_minor", who), 404)
        assert refused["type"] == "urn:cenomed:problem:case-not-found"
        _denied(world, before, "decide_duplicate", theirs["id"], "case-not-found")
    unknown = "00000000-0000-4000-8000-000000000000"
    before = head(world)
    assert problem(_decide(world, mine, unknown, "same_minor"), 404)["type"].endswith(
        "case-not-found"
    )
    _denied(world, before, "decide_duplicate", unknown, "case-not-found")


@pytest.mark.parametrize("who", ["police", "parquet", "cst"])
def test_only_the_coordinator_decides(world: World, who: str) -> None:
    older, newer = _pair(world)
    before = head(world)
    body = problem(_decide(world, newer, older, "same_minor", who), 403)
    assert body["type"] == "urn:cenomed:problem:role-not-allowed"
    _denied(world, before, "decide_duplicate", newer, "role-not-allowed")
    assert ok(world.as_("coordinator").get(f"/cases/{newer}"))["state"] == "submitted"


def test_a_case_is_not_its_own_duplicate(world: World) -> None:
    older, _ = _pair(world)
    before = head(world)
    body = problem(_decide(world, older, older, "same_minor"), 422)
    assert body["type"] == "urn:cenomed:problem:duplicate-of-itself"
    _denied(world, before, "decide_duplicate", older, "duplicate-of-itself")


def test_a_not_retained_situation_is_not_merged(world: World) -> None:
    older, newer = _pair(world)
    coordinator = world.as_("coordinator")
    ok(coordinator.post(f"/cases/{older}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{older}/parquet-decision", {"retained": False}))
    before = head(world)
    body = problem(_decide(world, newer, older, "same_minor"), 409)
    assert body["type"] == "urn:cenomed:problem:duplicate-not-open"
    # The event names the case that cannot be merged.
    _denied(world, before, "decide_duplicate", older, "duplicate-not-open")
    # Nor decided otherwise: its record waits for the purge, which ends the flag.
    body = problem(_decide(world, newer, older, "different_minor"), 409)
    assert body["type"] == "urn:cenomed:problem:step-not-allowed-in-state"


def test_a_bad_decision_is_refused(world: World) -> None:
    older, newer = _pair(world)
    response = world.as_("coordinator").post(
        f"/cases/{newer}/duplicate-decision", {"other_case_id": older, "decision": "maybe"}
    )
    assert problem(response, 422)["type"] == "urn:cenomed:problem:validation-error"


def test_additional_signalements_are_counted_by_origin(world: World) -> None:
    older, newer = _pair(world)
    ok(_decide(world, older, newer, "same_minor"))
    figures = ok(world.as_("coordinator").get(f"/indicators?cell_id={world.cell.id}"))
    assert figures["additional_signalements"] == 1
    assert figures["additional_by_origin"]["education"] == 1
    assert figures["additional_by_origin"]["police"] == 0
    assert FIRST_NAME not in str(figures)
