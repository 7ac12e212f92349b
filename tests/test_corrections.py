"""Corrections (issue 16): a signalement amended, withdrawn, sent back to its author; a research
note amended; the revisions they leave for the coordinator. Each refusal asserts its problem
type and its audit event, and that nothing changed."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.cases.models import Case, CaseRevision
from app.clock import today
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import (
    FIRST_NAME,
    LAST_NAME,
    meeting,
    ok,
    problem,
    submit,
    to_cell_review,
    to_research,
)

NEW_NAME = "Vormandel"  # invented, like every name of the suite


def _refusal(world: World, before: int, case_id: str, action: str) -> dict[str, Any]:
    [refusal] = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert (refusal["case_id"], refusal["action"]) == (case_id, action)
    return refusal


def _row(world: World, case_id: str) -> tuple[Any, ...]:
    """What a refused request must leave as it was: state, version, return, withdrawal."""
    with world.db() as session:
        case = session.get(Case, uuid.UUID(case_id))
        assert case is not None
        return (case.state, case.version, case.returned_reason, case.withdrawal_reason)


def _revisions(world: World) -> int:
    with world.db() as session:
        return int(session.scalar(select(func.count()).select_from(CaseRevision)) or 0)


# --- amendments -------------------------------------------------------------------------------


def test_the_author_corrects_a_name_and_the_history_names_the_field_not_the_value(
    world: World,
) -> None:
    case_id = submit(world, by="police")
    before = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    amended = ok(
        world.as_("police").patch(
            f"/cases/{case_id}", {"version": before["version"], "minor": {"last_name": NEW_NAME}}
        )
    )
    assert amended["version"] == before["version"] + 1
    shown = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    assert shown["minor"]["last_name"] == NEW_NAME
    assert shown["minor"]["first_name"] == FIRST_NAME  # left out of the patch: unchanged
    step = shown["history"][-1]
    assert (step["step"], step["detail"], step["actor_role"]) == ("amend", "last_name", "member")
    assert LAST_NAME not in str(shown["history"])
    assert NEW_NAME not in str(shown["history"])
    # The replaced value is kept for the coordinator, sealed: never in the log.
    [revision] = ok(world.as_("coordinator").get(f"/cases/{case_id}/revisions"))
    assert (revision["fields"], revision["previous"]) == (["last_name"], {"last_name": LAST_NAME})
    logged = str(events(world))
    assert LAST_NAME not in logged
    assert NEW_NAME not in logged


def test_a_merge_patch_removes_an_optional_value_and_replaces_the_guardians(
    world: World,
) -> None:
    case_id = submit(world, by="coordinator")
    patch = {
        "minor": {"school": None},
        "contact": {"guardians": [{"name": "Tuteur Fictif", "relationship": "guardian"}]},
        "motifs": ["wandering"],
    }
    ok(world.as_("coordinator").patch(f"/cases/{case_id}", patch))
    shown = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    assert shown["minor"]["school"] is None
    assert shown["contact"]["guardians"] == [
        {"name": "Tuteur Fictif", "relationship": "guardian", "phone": None}
    ]
    assert shown["motifs"] == ["wandering"]
    assert shown["history"][-1]["detail"] == "guardians,motifs,school"


def test_a_stale_version_is_a_conflict_and_changes_nothing(world: World) -> None:
    case_id = submit(world, by="police")
    version = ok(world.as_("coordinator").get(f"/cases/{case_id}"))["version"]
    ok(world.as_("coordinator").patch(f"/cases/{case_id}", {"facts": "Faits complétés (fictif)."}))
    kept, revisions, before = _row(world, case_id), _revisions(world), head(world)
    stale = {"version": version, "minor": {"last_name": NEW_NAME}}
    refused = problem(world.as_("police").patch(f"/cases/{case_id}", stale), 409)
    assert refused["type"] == "urn:cenomed:problem:concurrent-change"
    assert (_row(world, case_id), _revisions(world)) == (kept, revisions)
    _refusal(world, before, case_id, "amend_case")


def test_after_the_parquet_only_the_coordinator_corrects_identity_and_contact(
    world: World,
) -> None:
    case_id = to_research(world)
    kept, before = _row(world, case_id), head(world)
    # The author no longer amends (R10: the coordinator corrects, while the case is open).
    refused = problem(world.as_("police").patch(f"/cases/{case_id}", {"facts": "Autre."}), 403)
    assert refused["type"] == "urn:cenomed:problem:role-not-allowed"
    _refusal(world, before, case_id, "amend_case")
    # The coordinator may not touch the facts any more: 403, naming the field.
    before = head(world)
    patch = {"minor": {"first_name": "Ysoline"}, "facts": "Autres faits."}
    refused = problem(world.as_("coordinator").patch(f"/cases/{case_id}", patch), 403)
    assert refused["type"] == "urn:cenomed:problem:amendment-field-not-allowed"
    assert [e["loc"] for e in refused["errors"]] == [["body", "facts"]]
    assert _row(world, case_id) == kept
    _refusal(world, before, case_id, "amend_case")
    # The identity alone is corrected.
    ok(world.as_("coordinator").patch(f"/cases/{case_id}", {"minor": {"first_name": "Ysoline"}}))
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["history"][-1]["step"] == (
        "correct_identity"
    )


def test_another_member_does_not_amend_a_signalement_they_did_not_send(world: World) -> None:
    case_id = submit(world, by="police")
    before = head(world)
    refused = problem(world.as_("teacher").patch(f"/cases/{case_id}", {"facts": "Autre."}), 403)
    assert refused["type"] == "urn:cenomed:problem:role-not-allowed"
    _refusal(world, before, case_id, "amend_case")


def test_a_closed_or_withdrawn_case_is_not_amended(world: World) -> None:
    case_id = submit(world, by="police")
    ok(world.as_("police").post(f"/cases/{case_id}/withdrawal", {"reason": "sent_by_mistake"}))
    before = head(world)
    refused = problem(world.as_("coordinator").patch(f"/cases/{case_id}", {"facts": "X y z."}), 409)
    assert refused["type"] == "urn:cenomed:problem:step-not-allowed-in-state"
    _refusal(world, before, case_id, "amend_case")


@pytest.mark.parametrize(
    ("patch", "kind", "where"),
    [
        ({}, "empty-amendment", None),
        ({"version": 1}, "empty-amendment", None),
        ({"minor": {"last_name": None}}, "required-field-removed", ["body", "minor", "last_name"]),
        ({"motifs": None}, "required-field-removed", ["body", "motifs"]),
        ({"minor": None}, "required-field-removed", ["body", "minor"]),
        ({"motifs": []}, "validation-error", ["body", "motifs"]),
        ({"minor": {"surname": "X"}}, "validation-error", ["body", "minor", "(unknown field)"]),
        ({"minor": {"last_name": "Nom\x00"}}, "validation-error", ["body", "minor", "last_name"]),
    ],
)
def test_bad_amendments_are_refused_with_their_field(
    world: World, patch: dict[str, Any], kind: str, where: list[str] | None
) -> None:
    case_id = submit(world, by="police")
    kept, revisions = _row(world, case_id), _revisions(world)
    refused = problem(world.as_("police").patch(f"/cases/{case_id}", patch), 422)
    assert refused["type"] == f"urn:cenomed:problem:{kind}"
    if where is not None:
        assert where in [e["loc"] for e in refused["errors"]]
    assert (_row(world, case_id), _revisions(world)) == (kept, revisions)


def test_a_birth_date_that_leaves_the_cells_public_is_refused(world: World) -> None:
    case_id = submit(world, by="police")
    adult = {"minor": {"birth_date": date(today().year - 19, 1, 1).isoformat()}}
    refused = problem(world.as_("police").patch(f"/cases/{case_id}", adult), 422)
    assert refused["errors"][0]["loc"] == ["body", "minor", "birth_date"]
    assert refused["errors"][0]["type"] == "not_a_minor"


def test_an_amendment_that_changes_nothing_leaves_no_revision(world: World) -> None:
    case_id = submit(world, by="coordinator")
    kept, before = _row(world, case_id), head(world)
    same = {"minor": {"last_name": LAST_NAME}, "motifs": ["night_presence", "absenteeism"]}
    ok(world.as_("coordinator").patch(f"/cases/{case_id}", same))
    assert (_row(world, case_id), _revisions(world)) == (kept, 0)
    assert [(e["action"], e["detail"]) for e in events(world, before)][0] == (
        "amend_case",
        "unchanged",
    )


def test_the_blind_index_follows_the_amended_identity(world: World) -> None:
    first = submit(world, by="police")
    other = {"last_name": NEW_NAME, "first_name": "Ysoline", "birth_date": "2013-02-03"}
    second = submit(world, by="teacher", minor=other)
    coordinator = world.as_("coordinator")
    assert ok(coordinator.get(f"/cases/{first}"))["possible_duplicates"] == []
    birth = ok(coordinator.get(f"/cases/{first}"))["minor"]["birth_date"]
    same = {"minor": {"last_name": LAST_NAME, "first_name": FIRST_NAME, "birth_date": birth}}
    ok(world.as_("teacher").patch(f"/cases/{second}", same))
    assert ok(coordinator.get(f"/cases/{first}"))["possible_duplicates"] == [second]
    # And away again when the identity is corrected back.
    ok(coordinator.patch(f"/cases/{second}", {"minor": {"first_name": "Ysoline"}}))
    assert ok(coordinator.get(f"/cases/{first}"))["possible_duplicates"] == []


def test_a_case_of_another_cell_is_not_found_and_the_probe_logged(world: World) -> None:
    case_id = submit(world, by="police")
    before = head(world)
    refused = problem(world.as_("coordinator-19").patch(f"/cases/{case_id}", {"facts": "X."}), 404)
    assert refused["type"] == "urn:cenomed:problem:case-not-found"
    _refusal(world, before, case_id, "amend_case")


# --- withdrawal -------------------------------------------------------------------------------


def test_the_author_withdraws_a_signalement_the_parquet_has_not_seen(world: World) -> None:
    case_id = submit(world, by="police")
    withdrawn = ok(
        world.as_("police").post(f"/cases/{case_id}/withdrawal", {"reason": "wrong_cell"})
    )
    assert withdrawn["state"] == "withdrawn"
    assert withdrawn["withdrawal"]["reason"] == "wrong_cell"
    assert withdrawn["withheld"] == [
        "identity", "contact", "facts", "research", "orientation", "feedback"
    ]  # fmt: skip
    # Terminal: nothing more happens to it; the parquet never sees it.
    before = head(world)
    refused = problem(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"), 409)
    assert refused["type"] == "urn:cenomed:problem:step-not-allowed-in-state"
    _refusal(world, before, case_id, "refer_to_parquet")
    assert world.as_("parquet").get(f"/cases/{case_id}").status_code == 403
    # The coordinator reads it until the purge.
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["minor"]["last_name"] == LAST_NAME


def test_withdrawal_refusals(world: World) -> None:
    sent = submit(world, by="police")
    before = head(world)
    refused = problem(
        world.as_("teacher").post(f"/cases/{sent}/withdrawal", {"reason": "other"}), 403
    )
    assert refused["type"] == "urn:cenomed:problem:role-not-allowed"
    _refusal(world, before, sent, "withdraw")
    refused = problem(
        world.as_("police").post(f"/cases/{sent}/withdrawal", {"reason": "because"}), 422
    )
    assert refused["type"] == "urn:cenomed:problem:validation-error"
    ok(world.as_("coordinator").post(f"/cases/{sent}/parquet-referral"))
    kept, before = _row(world, sent), head(world)
    refused = problem(
        world.as_("police").post(f"/cases/{sent}/withdrawal", {"reason": "other"}), 409
    )
    assert refused["type"] == "urn:cenomed:problem:step-not-allowed-in-state"
    assert _row(world, sent) == kept
    _refusal(world, before, sent, "withdraw")


# --- return to the author ---------------------------------------------------------------------


def test_a_returned_signalement_waits_for_its_authors_amendment(world: World) -> None:
    case_id = submit(world, by="police")
    coordinator = world.as_("coordinator")
    returned = ok(coordinator.post(f"/cases/{case_id}/return", {"reason": "incomplete_identity"}))
    assert returned["returned"]["reason"] == "incomplete_identity"
    # The author sees it among their cases, sent back.
    [mine] = [c for c in ok(world.as_("police").get("/cases"))["items"] if c["id"] == case_id]
    assert mine["returned"]["reason"] == "incomplete_identity"
    before = head(world)
    refused = problem(coordinator.post(f"/cases/{case_id}/parquet-referral"), 409)
    assert refused["type"] == "urn:cenomed:problem:returned-to-author"
    _refusal(world, before, case_id, "refer_to_parquet")
    before = head(world)
    refused = problem(
        coordinator.post(f"/cases/{case_id}/return", {"reason": "facts_missing"}), 409
    )
    assert refused["type"] == "urn:cenomed:problem:already-returned"
    _refusal(world, before, case_id, "return_to_author")
    # The author's amendment clears the return; the case goes on.
    ok(world.as_("police").patch(f"/cases/{case_id}", {"minor": {"first_name": "Ysoline"}}))
    assert ok(coordinator.get(f"/cases/{case_id}"))["returned"] is None
    assert ok(coordinator.post(f"/cases/{case_id}/parquet-referral"))["state"] == ("parquet_review")


def test_only_the_coordinator_returns_a_signalement(world: World) -> None:
    case_id = submit(world, by="police")
    before = head(world)
    refused = problem(
        world.as_("police").post(f"/cases/{case_id}/return", {"reason": "facts_missing"}), 403
    )
    assert refused["type"] == "urn:cenomed:problem:role-not-allowed"
    assert _row(world, case_id)[2] is None
    _refusal(world, before, case_id, "return_to_author")


# --- research notes ---------------------------------------------------------------------------


def _note(world: World, case_id: str, by: str, text: str) -> str:
    created = ok(world.as_(by).post(f"/cases/{case_id}/research-notes", {"content": text}))
    return str(created["id"])


def test_a_note_is_amended_by_its_author_and_the_earlier_text_kept(world: World) -> None:
    case_id = to_research(world)
    note_id = _note(world, case_id, "teacher", "Connue du collège (fictif).")
    amended = ok(
        world.as_("teacher").put(
            f"/cases/{case_id}/research-notes/{note_id}",
            {"content": "Connue du collège depuis 2024 (fictif)."},
        )
    )
    assert amended["amended_at"] is not None
    shown = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    [note] = shown["research_notes"]
    assert note["content"] == "Connue du collège depuis 2024 (fictif)."
    assert shown["history"][-1]["step"] == "amend_research_note"
    [revision] = ok(world.as_("coordinator").get(f"/cases/{case_id}/revisions"))
    assert revision["note_id"] == note_id
    assert revision["previous"] == {"content": "Connue du collège (fictif)."}


def test_note_amendment_refusals(world: World) -> None:
    case_id = to_research(world)
    note_id = _note(world, case_id, "teacher", "Connue du collège (fictif).")
    _note(world, case_id, "police", "Connue des services (fictif).")
    body = {"content": "Réécrite par un autre (fictif)."}
    path = f"/cases/{case_id}/research-notes"
    before = head(world)
    refused = problem(world.as_("police").put(f"{path}/{note_id}", body), 403)
    assert refused["type"] == "urn:cenomed:problem:not-note-author"
    _refusal(world, before, case_id, "amend_research_note")
    before = head(world)
    refused = problem(world.as_("cst").put(f"{path}/{note_id}", body), 403)
    assert refused["type"] == "urn:cenomed:problem:role-not-allowed"
    _refusal(world, before, case_id, "amend_research_note")
    before = head(world)
    refused = problem(world.as_("teacher").put(f"{path}/{uuid.uuid4()}", body), 404)
    assert refused["type"] == "urn:cenomed:problem:research-note-not-found"
    _refusal(world, before, case_id, "amend_research_note")
    # Once the case is on a meeting's agenda, the notes stand as written.
    ok(world.as_("coordinator").post(f"/meetings/{meeting(world)}/cases", {"case_id": case_id}))
    before = head(world)
    refused = problem(world.as_("teacher").put(f"{path}/{note_id}", body), 409)
    assert refused["type"] == "urn:cenomed:problem:step-not-allowed-in-state"
    _refusal(world, before, case_id, "amend_research_note")


# --- revisions --------------------------------------------------------------------------------


def test_revisions_are_the_coordinators_and_their_read_is_logged_high(world: World) -> None:
    case_id = to_cell_review(world)
    ok(world.as_("coordinator").patch(f"/cases/{case_id}", {"contact": {"address": None}}))
    before = head(world)
    [revision] = ok(world.as_("coordinator").get(f"/cases/{case_id}/revisions"))
    assert revision["previous"] == {"address": "12 rue Imaginaire, 75018 Paris"}
    [read] = events(world, before)
    assert (read["action"], read["severity"], read["detail"]) == (
        "read_revisions",
        "high",
        "revisions:1",
    )
    for other in ("parquet", "police", "cst"):
        before = head(world)
        refused = problem(world.as_(other).get(f"/cases/{case_id}/revisions"), 403)
        assert refused["type"] == "urn:cenomed:problem:role-not-allowed"
        _refusal(world, before, case_id, "read_revisions")


def test_a_closed_cases_revisions_need_an_archive_access(world: World) -> None:
    case_id = to_cell_review(world)
    coordinator = world.as_("coordinator")
    ok(coordinator.patch(f"/cases/{case_id}", {"minor": {"school": None}}))
    ok(coordinator.post(f"/cases/{case_id}/review-decision", {"decision": "no_action"}))
    before = head(world)
    refused = problem(coordinator.get(f"/cases/{case_id}/revisions"), 403)
    assert refused["type"] == "urn:cenomed:problem:archive-access-required"
    _refusal(world, before, case_id, "read_revisions")
    reason = {"reason": "Vérification demandée par la famille dans le cadre de son droit."}
    ok(coordinator.post(f"/cases/{case_id}/archive-access", reason))
    assert len(ok(coordinator.get(f"/cases/{case_id}/revisions"))) == 1


def test_a_withdrawn_case_is_destroyed_by_the_next_purge_and_stays_counted(
    world: World,
) -> None:
    from tests.retention.test_purge import _run

    case_id = submit(world, by="police", received_days_ago=3)
    ok(world.as_("police").patch(f"/cases/{case_id}", {"facts": "Précisés (fictif)."}))
    ok(world.as_("police").post(f"/cases/{case_id}/withdrawal", {"reason": "situation_resolved"}))
    report = _run(world, today())
    assert report.by_rule == {"R18-retiree": [case_id]}
    with world.db() as session:
        row = session.get(Case, uuid.UUID(case_id))
        assert row is not None
        assert (row.state, row.withdrawal_reason) == ("purged", "situation_resolved")
    assert _revisions(world) == 0  # the replaced values went with the rest
    figures = ok(world.as_("coordinator").get("/indicators", params={"cell_id": world.cell.id}))
    assert (figures["withdrawn"], figures["by_withdrawal_reason"]["situation_resolved"]) == (1, 1)
    assert world.as_("coordinator").get(f"/cases/{case_id}").status_code == 410
    # A signalement still under way is not touched by that rule.
    assert _run(world, today() + timedelta(days=1)).purged == 0


def test_a_withdrawn_signalement_is_nobodys_possible_duplicate(world: World) -> None:
    first = submit(world, by="police")
    second = submit(world, by="teacher")
    coordinator = world.as_("coordinator")
    assert ok(coordinator.get(f"/cases/{first}"))["possible_duplicates"] == [second]
    ok(world.as_("teacher").post(f"/cases/{second}/withdrawal", {"reason": "sent_by_mistake"}))
    assert ok(coordinator.get(f"/cases/{first}"))["possible_duplicates"] == []
    assert ok(coordinator.get(f"/cases/{second}"))["possible_duplicates"] == []
