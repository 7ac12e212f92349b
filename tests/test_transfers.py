"""Issue 16, point 6: a case follows the minor to another cell of the same kind. The proposal,
the receiving cell's answer, who sees what on each side afterwards, the one-month rule across
a transfer, and every refusal with its problem type and its audit event."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from app.clock import today
from app.directory import service as directory
from app.vocabulary import CellKind, Role
from app.workflow.guards import add_calendar_months
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import (
    FIRST_NAME,
    LAST_NAME,
    meeting,
    meeting_body,
    ok,
    on_day,
    problem,
    submit,
    to_cell_review,
    to_research,
)


def _propose(world: World, case_id: str, cell_id: int, who: str = "coordinator") -> Any:
    return world.as_(who).post(f"/cases/{case_id}/transfer", {"cell_id": cell_id})


def _answer(world: World, case_id: str, decision: str, who: str = "coordinator-19") -> Any:
    return world.as_(who).post(f"/cases/{case_id}/transfer/decision", {"decision": decision})


def _transferred(world: World, case_id: str) -> dict[str, Any]:
    ok(_propose(world, case_id, world.other_cell.id))
    answer: dict[str, Any] = ok(_answer(world, case_id, "accept"))
    return answer


def _denied(world: World, before: int, action: str, case_id: str, slug: str) -> None:
    [event] = [e for e in events(world, before) if e["outcome"] == "denied"]
    assert (event["action"], event["case_id"]) == (action, case_id)
    assert slug in str(event["detail"])
    assert LAST_NAME not in str(event)


def _add_cell(world: World, name: str, kind: CellKind, arrondissement: int) -> int:
    with world.db() as session:
        return int(
            directory.create_cell(session, name=name, kind=kind, arrondissement=arrondissement).id
        )


# --- proposal and answer ----------------------------------------------------------------------


def test_the_receiving_coordinator_sees_a_waiting_transfer_and_nothing_nominative(
    world: World,
) -> None:
    case_id = to_research(world)
    proposed = ok(_propose(world, case_id, world.other_cell.id))
    [transfer] = proposed["transfers"]
    assert (transfer["from_cell_id"], transfer["to_cell_id"]) == (
        world.cell.id,
        world.other_cell.id,
    )
    assert transfer["outcome"] == "pending"
    assert proposed["history"][-1]["step"] == "propose_transfer"

    before = head(world)
    response = world.as_("coordinator-19").get("/transfers")
    [waiting] = ok(response)["items"]
    assert waiting["case_id"] == case_id
    # The reference people speak of (it says nothing of the minor), kept across the transfer.
    assert waiting["reference"] == proposed["reference"]
    assert waiting["case_state"] == "research"
    assert waiting["origin"] == "police"
    assert waiting["received_on"]
    assert LAST_NAME not in response.text
    assert FIRST_NAME not in response.text
    assert "motifs" not in waiting
    [listed] = events(world, before)
    assert (listed["action"], listed["case_id"]) == ("list_transfers", case_id)
    # Before acceptance, the case itself is not theirs to read.
    problem(world.as_("coordinator-19").get(f"/cases/{case_id}"), 404)
    # The receiving cell's other roles see no waiting transfer.
    assert ok(world.as_("parquet-19").get("/transfers"))["items"] == []
    assert ok(world.as_("coordinator").get("/transfers"))["items"] == []


def test_acceptance_moves_the_case_its_history_and_its_notes(world: World) -> None:
    case_id = to_research(world)
    ok(world.as_("teacher").post(f"/cases/{case_id}/research-notes", {"content": "Note fictive."}))
    before = head(world)
    answer = _transferred(world, case_id)
    assert answer["outcome"] == "accepted"
    assert answer["decided_at"]
    decided = [e for e in events(world, before) if e["action"] == "decide_transfer"]
    assert [(e["case_id"], e["outcome"]) for e in decided] == [(case_id, "allowed")]

    shown = ok(world.as_("coordinator-19").get(f"/cases/{case_id}"))
    assert shown["cell_id"] == world.other_cell.id
    assert shown["state"] == "research"
    # Every block opens with the same key: nothing was re-encrypted.
    assert shown["minor"]["last_name"] == LAST_NAME
    assert len(shown["research_notes"]) == 1
    steps = [s["step"] for s in shown["history"]]
    assert steps[0] == "submit"
    assert steps[-2:] == ["propose_transfer", "accept_transfer"]
    assert shown["transferred_to"] == world.other_cell.id
    # And it is no longer waiting.
    assert ok(world.as_("coordinator-19").get("/transfers"))["items"] == []


@pytest.mark.parametrize("who", ["coordinator", "parquet", "teacher", "cst"])
def test_the_origin_cell_loses_every_view(world: World, who: str) -> None:
    case_id = to_research(world)
    ok(world.as_("teacher").post(f"/cases/{case_id}/research-notes", {"content": "Note fictive."}))
    _transferred(world, case_id)
    before = head(world)
    refused = problem(world.as_(who).get(f"/cases/{case_id}"), 404)
    assert refused["type"] == "urn:cenomed:problem:case-not-found"
    [event] = events(world, before)
    assert (event["case_id"], event["outcome"]) == (case_id, "denied")
    listed = ok(world.as_(who).get("/cases"))["items"]
    assert case_id not in [item["id"] for item in listed]


def test_the_author_keeps_the_workflow_view_showing_transferred(world: World) -> None:
    case_id = to_research(world)  # sent by the police
    _transferred(world, case_id)
    police = world.as_("police")
    shown = ok(police.get(f"/cases/{case_id}"))
    assert shown["withheld"] == [
        "identity",
        "contact",
        "facts",
        "research",
        "orientation",
        "feedback",
    ]
    assert shown["transferred_to"] == world.other_cell.id
    assert shown["transferred_at"]
    assert LAST_NAME not in str(shown)
    listed = ok(police.get("/cases"))["items"]
    assert [item["id"] for item in listed] == [case_id]
    # A workflow view only: no step on it.
    refused = problem(police.post(f"/cases/{case_id}/research-notes", {"content": "Suite."}), 403)
    assert refused["type"] == "urn:cenomed:problem:role-not-allowed"


@pytest.mark.parametrize("who", ["coordinator-19", "parquet-19"])
def test_the_receiving_cell_reads_it_as_its_own(world: World, who: str) -> None:
    case_id = to_research(world)
    _transferred(world, case_id)
    shown = ok(world.as_(who).get(f"/cases/{case_id}"))
    assert shown["minor"]["last_name"] == LAST_NAME


def test_a_decline_leaves_the_case_where_it_was(world: World) -> None:
    case_id = submit(world)
    ok(_propose(world, case_id, world.other_cell.id))
    answer = ok(_answer(world, case_id, "decline"))
    assert answer["outcome"] == "declined"
    shown = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    assert shown["cell_id"] == world.cell.id
    assert shown["transferred_to"] is None
    assert [t["outcome"] for t in shown["transfers"]] == ["declined"]
    problem(world.as_("coordinator-19").get(f"/cases/{case_id}"), 404)
    # Another proposal may follow.
    ok(_propose(world, case_id, world.other_cell.id))


# --- the one-month rule (R7) across a transfer --------------------------------------------------


def test_the_one_month_rule_counts_from_the_original_receipt(world: World) -> None:
    received = date.fromordinal(today().toordinal() - 40)
    case_id = to_research(world, received_days_ago=40)
    _transferred(world, case_id)
    shown = ok(world.as_("coordinator-19").get(f"/cases/{case_id}"))
    assert shown["received_on"] == received.isoformat()
    boundary = add_calendar_months(received, 1)
    coordinator = world.as_("coordinator-19")
    with on_day(world, boundary):
        early = _meeting_19(world, date.fromordinal(boundary.toordinal() - 1))
        response = coordinator.post(f"/meetings/{early}/cases", {"case_id": case_id})
        assert problem(response, 409)["type"] == "urn:cenomed:problem:one-month-rule"
        on_time = _meeting_19(world, boundary)
        ok(coordinator.post(f"/meetings/{on_time}/cases", {"case_id": case_id}))


def _meeting_19(world: World, held_on: date) -> str:
    body = meeting_body(world.other_cell.id, held_on)
    return str(ok(world.as_("coordinator-19").post("/meetings", body))["id"])


# --- refusals ---------------------------------------------------------------------------------


def test_a_transfer_to_the_same_cell_is_refused(world: World) -> None:
    case_id = submit(world)
    before = head(world)
    body = problem(_propose(world, case_id, world.cell.id), 422)
    assert body["type"] == "urn:cenomed:problem:transfer-to-same-cell"
    assert body["errors"][0]["loc"] == ["body", "cell_id"]
    _denied(world, before, "propose_transfer", case_id, "transfer-to-same-cell")


def test_a_transfer_to_another_kind_of_cell_is_refused(world: World) -> None:
    group = _add_cell(world, "Groupe récidive 18e", CellKind.RECIDIVISM, 18)
    case_id = submit(world)
    before = head(world)
    body = problem(_propose(world, case_id, group), 422)
    assert body["type"] == "urn:cenomed:problem:transfer-to-other-kind"
    _denied(world, before, "propose_transfer", case_id, "transfer-to-other-kind")


def test_a_transfer_to_no_cell_is_refused(world: World) -> None:
    case_id = submit(world)
    before = head(world)
    body = problem(_propose(world, case_id, 99999), 422)
    assert body["type"] == "urn:cenomed:problem:transfer-cell-unknown"
    _denied(world, before, "propose_transfer", case_id, "transfer-cell-unknown")


def test_a_second_proposal_while_one_waits_is_a_conflict(world: World) -> None:
    third = _add_cell(world, "CENOMED 20e", CellKind.CENOMED, 20)
    case_id = submit(world)
    ok(_propose(world, case_id, world.other_cell.id))
    before = head(world)
    body = problem(_propose(world, case_id, third), 409)
    assert body["type"] == "urn:cenomed:problem:transfer-already-pending"
    _denied(world, before, "propose_transfer", case_id, "transfer-already-pending")
    transfers = ok(world.as_("coordinator").get(f"/cases/{case_id}"))["transfers"]
    assert [t["to_cell_id"] for t in transfers] == [world.other_cell.id]


@pytest.mark.parametrize("who", ["police", "parquet", "cst"])
def test_only_the_coordinator_proposes(world: World, who: str) -> None:
    case_id = to_research(world)
    before = head(world)
    body = problem(_propose(world, case_id, world.other_cell.id, who), 403)
    assert body["type"] == "urn:cenomed:problem:role-not-allowed"
    _denied(world, before, "propose_transfer", case_id, "role-not-allowed")


def test_a_case_on_the_agenda_stays_with_the_cell_that_examines_it(world: World) -> None:
    case_id = to_cell_review(world)
    before = head(world)
    body = problem(_propose(world, case_id, world.other_cell.id), 409)
    assert body["type"] == "urn:cenomed:problem:step-not-allowed-in-state"
    _denied(world, before, "propose_transfer", case_id, "step-not-allowed-in-state")


def test_only_the_receiving_coordinator_answers(world: World) -> None:
    case_id = submit(world)
    ok(_propose(world, case_id, world.other_cell.id))
    # The proposing coordinator cannot accept their own proposal.
    before = head(world)
    body = problem(_answer(world, case_id, "accept", "coordinator"), 403)
    assert body["type"] == "urn:cenomed:problem:role-not-allowed"
    _denied(world, before, "decide_transfer", case_id, "role-not-allowed")
    # The receiving cell's parquet neither.
    before = head(world)
    body = problem(_answer(world, case_id, "accept", "parquet-19"), 403)
    _denied(world, before, "decide_transfer", case_id, "role-not-allowed")
    # A third cell's coordinator does not even learn the case exists.
    third = _add_cell(world, "CENOMED 20e", CellKind.CENOMED, 20)
    world.add_user("coordinator-20", Role.COORDINATOR, cells=[third])
    before = head(world)
    body = problem(_answer(world, case_id, "accept", "coordinator-20"), 404)
    assert body["type"] == "urn:cenomed:problem:case-not-found"
    _denied(world, before, "decide_transfer", case_id, "case-not-found")
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["cell_id"] == world.cell.id


def test_an_answer_with_nothing_waiting_is_a_conflict(world: World) -> None:
    case_id = submit(world)
    before = head(world)
    body = problem(_answer(world, case_id, "accept", "coordinator"), 409)
    assert body["type"] == "urn:cenomed:problem:no-pending-transfer"
    _denied(world, before, "decide_transfer", case_id, "no-pending-transfer")


def test_the_origin_goes_on_while_a_transfer_waits(world: World) -> None:
    """Steps stay possible for the case's cell until acceptance; a case that reached the
    agenda meanwhile is no longer transferable: the acceptance is refused, the decline not."""
    case_id = to_research(world)
    ok(_propose(world, case_id, world.other_cell.id))
    meeting_id = meeting(world)
    ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}))
    before = head(world)
    body = problem(_answer(world, case_id, "accept"), 409)
    assert body["type"] == "urn:cenomed:problem:step-not-allowed-in-state"
    _denied(world, before, "decide_transfer", case_id, "step-not-allowed-in-state")
    ok(_answer(world, case_id, "decline"))
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["cell_id"] == world.cell.id


def test_transfers_are_counted_in_the_indicators(world: World) -> None:
    case_id = submit(world)
    _transferred(world, case_id)
    origin = ok(world.as_("coordinator").get(f"/indicators?cell_id={world.cell.id}"))
    receiving = ok(world.as_("coordinator-19").get(f"/indicators?cell_id={world.other_cell.id}"))
    assert (origin["transfers_out"], origin["transfers_in"]) == (1, 0)
    assert (receiving["transfers_out"], receiving["transfers_in"]) == (0, 1)
