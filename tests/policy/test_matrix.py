"""policies/MATRIX.md is what the policies say, and what the API does.

1. The committed matrix equals the one computed from the policies (the legal authors' document
   cannot drift from the code).
2. For every role, every state and every block, a real case is read through the HTTP API by a
   user of that role, and the block is shown or withheld exactly as the committed matrix says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from app.clock import today
from app.directory.models import Membership
from app.policy.engine import policies_dir
from app.policy.matrix import render
from app.vocabulary import Role
from tests.conftest import World
from tests.scenario import meeting, ok, submit

MATRIX = policies_dir() / "MATRIX.md"
BLOCK_KEYS = {
    "workflow": "history",
    "identity": "minor",
    "contact": "contact",
    "facts": "facts",
    "research": "research_notes",
    "orientation": "orientations",
    "feedback": "feedback",
}
CONDITIONS = {
    "own submission": "own_submission",
    "wrote notes": "own_notes",
    "oriented to social services": "social_services",
    "transmitted to social services": "transmitted",
    "archive access": "archive_access",
}


def test_the_committed_matrix_is_the_one_the_policies_give() -> None:
    assert MATRIX.read_text() == render(), (
        "policies/MATRIX.md is stale: regenerate it with "
        "'cenomed policy matrix > policies/MATRIX.md' and review the difference"
    )


def _parse(path: Path) -> dict[tuple[str, str, str], str]:
    """(role, state, block) -> the matrix cell."""
    cells: dict[tuple[str, str, str], str] = {}
    role = None
    columns: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith("## Steps"):
            break
        if line.startswith("## "):
            role = line[3:].split(" ")[0]
        elif line.startswith("| state |"):
            columns = [c.strip() for c in line.strip("|").split("|")][1:]
        elif line.startswith("| ") and role and not line.startswith("|---"):
            state, *values = [c.strip() for c in line.strip("|").split("|")]
            for block, value in zip(columns, values, strict=True):
                cells[(role, state, block)] = value
    return cells


@dataclass(frozen=True)
class Situation:
    own_submission: bool = False
    own_notes: bool = False
    social_services: bool = False
    transmitted: bool = False
    archive_access: bool = False


def _expected(cell: str, situation: Situation) -> tuple[bool, str]:
    """(shown, restriction) that the matrix cell predicts: restriction is "", "own notes" or
    "social services only"."""
    restriction = ""
    for marker in ("own notes", "social services only"):
        if cell.endswith(f"({marker})"):
            restriction, cell = marker, cell.removesuffix(f"({marker})").strip()
    if cell == "·":
        return False, ""
    if cell == "✓":
        return True, restriction
    match = re.fullmatch(r"if (.+)", cell)
    assert match, f"unreadable matrix cell: {cell!r}"
    needed = [CONDITIONS[c.strip()] for c in match.group(1).split(" and ")]
    shown = all(getattr(situation, name) for name in needed)
    return shown, restriction if shown else ""


def _case_in_every_state(world: World) -> dict[str, str]:
    """Real cases, one per state: submitted by 'police', notes by 'teacher', oriented to social
    services and the CRIP (transmitted to social services from the feedback state on), and an
    archive access for the coordinator and the parquet on the closed one."""
    coordinator, parquet = world.as_("coordinator"), world.as_("parquet")

    def to_oriented(case_id: str) -> None:
        ok(coordinator.post(f"/cases/{case_id}/parquet-referral"))
        ok(parquet.post(f"/cases/{case_id}/parquet-decision", {"retained": True}))
        note = {"content": "Note du collège."}
        ok(world.as_("teacher").post(f"/cases/{case_id}/research-notes", note))
        ok(coordinator.post(f"/meetings/{meeting(world)}/cases", {"case_id": case_id}))
        decision = {
            "decision": "orient",
            "orientations": [{"destination": "social_services"}, {"destination": "crip"}],
        }
        ok(coordinator.post(f"/cases/{case_id}/review-decision", decision))

    def to_feedback(case_id: str) -> None:
        to_oriented(case_id)
        orientations = ok(coordinator.get(f"/cases/{case_id}"))["orientations"]
        social = next(o["id"] for o in orientations if o["destination"] == "social_services")
        informed = {"informed_on": today().isoformat(), "means": "letter", "outcome": "informed"}
        ok(coordinator.post(f"/cases/{case_id}/family-information", informed))
        ok(coordinator.post(f"/cases/{case_id}/orientations/{social}/transmission"))
        outcome = {"outcome": "support_in_place"}
        ok(world.as_("cst").post(f"/cases/{case_id}/orientations/{social}/feedback", outcome))

    cases = {state: submit(world, by="police") for state in STATES}
    ok(coordinator.post(f"/cases/{cases['parquet_review']}/parquet-referral"))
    ok(coordinator.post(f"/cases/{cases['not_retained']}/parquet-referral"))
    no = {"retained": False}
    ok(parquet.post(f"/cases/{cases['not_retained']}/parquet-decision", no))
    for state in ("research", "cell_review"):
        ok(coordinator.post(f"/cases/{cases[state]}/parquet-referral"))
        ok(parquet.post(f"/cases/{cases[state]}/parquet-decision", {"retained": True}))
        note = {"content": "Note du collège."}
        ok(world.as_("teacher").post(f"/cases/{cases[state]}/research-notes", note))
    agenda = {"case_id": cases["cell_review"]}
    ok(coordinator.post(f"/meetings/{meeting(world)}/cases", agenda))
    to_oriented(cases["oriented"])
    # Oriented to the CRIP only: the CST has nothing to do with it.
    crip_only = submit(world, by="police")
    ok(coordinator.post(f"/cases/{crip_only}/parquet-referral"))
    ok(parquet.post(f"/cases/{crip_only}/parquet-decision", {"retained": True}))
    note = {"content": "Note du collège."}
    ok(world.as_("teacher").post(f"/cases/{crip_only}/research-notes", note))
    ok(coordinator.post(f"/meetings/{meeting(world)}/cases", {"case_id": crip_only}))
    crip = {"decision": "orient", "orientations": [{"destination": "crip"}]}
    ok(coordinator.post(f"/cases/{crip_only}/review-decision", crip))
    to_feedback(cases["feedback"])
    to_feedback(cases["closed"])
    ok(coordinator.post(f"/cases/{cases['closed']}/closure", {"reason": "moved_away"}))
    reason = {"reason": "Vérification demandée par le comité de suivi ce trimestre."}
    ok(coordinator.post(f"/cases/{cases['closed']}/archive-access", reason))
    ok(parquet.post(f"/cases/{cases['closed']}/archive-access", reason))
    for state, case_id in cases.items():
        assert ok(coordinator.get(f"/cases/{case_id}"))["state"] == state
    cases["oriented (crip only)"] = crip_only
    return cases


STATES = (
    "submitted",
    "parquet_review",
    "not_retained",
    "research",
    "cell_review",
    "oriented",
    "feedback",
    "closed",
)
READERS = {
    "coordinator": "coordinator",
    "parquet": "parquet",
    "police": "member",
    "teacher": "member",
    "cst": "cst",
    "auditor": "auditor",
    "steering": "steering",
    "admin": "admin",
}
WITH_NOTES = {"research", "cell_review", "oriented", "feedback", "closed"}


def test_every_role_sees_every_block_of_every_state_as_the_matrix_says(world: World) -> None:
    world.add_user("steering", Role.STEERING, cells=[])
    # Put the Paris-wide roles in the cell, so that the charter (R2), not the cell, refuses them.
    with world.db() as session:
        for username in ("auditor", "admin", "steering"):
            session.add(Membership(user_id=world.users[username], cell_id=world.cell.id))
    matrix = _parse(MATRIX)
    cases = _case_in_every_state(world)
    checked = 0
    for username, role in READERS.items():
        for label, case_id in cases.items():
            state = label.split(" ")[0]
            situation = Situation(
                own_submission=username == "police",
                own_notes=username == "teacher" and state in WITH_NOTES,
                social_services=label in {"oriented", "feedback", "closed"},
                transmitted=state in {"feedback", "closed"},
                archive_access=state == "closed" and username in {"coordinator", "parquet"},
            )
            response = world.as_(username).get(f"/cases/{case_id}")
            assert response.status_code in (200, 403), (username, label, response.text)
            body = response.json() if response.status_code == 200 else {}
            for block, key in BLOCK_KEYS.items():
                shown, restriction = _expected(matrix[(role, state, block)], situation)
                assert (key in body) == shown, (username, label, block, response.status_code)
                if shown and restriction == "own notes":
                    authors = {note["author_id"] for note in body[key]}
                    assert authors <= {world.users[username]}, (username, label)
                if shown and restriction == "social services only":
                    destinations = {item["destination"] for item in body[key]}
                    assert destinations <= {"social_services"}, (username, label, block)
                checked += 1
            if not any(key in body for key in BLOCK_KEYS.values()):
                assert response.status_code in (403, 404), (username, state)
    assert checked == len(READERS) * len(cases) * len(BLOCK_KEYS)
