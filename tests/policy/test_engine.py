"""The policy set itself: loaded and validated, every rule traced to the charter, and the
memoised decisions equal to Cedar's own on real entities."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path

import cedarpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.policy.decisions import may_step
from app.policy.engine import BLOCK_ACTIONS, PolicyEngine, PolicyError, get_engine, policies_dir
from app.policy.visibility import CaseFacts, case_view
from app.principal import Principal
from app.vocabulary import Destination, Organisation, Role
from app.workflow.states import CaseState, Step

POLICIES = policies_dir()


def _policies_json() -> dict[str, dict[str, object]]:
    document = json.loads(cedarpy.policies_to_json_str((POLICIES / "charter.cedar").read_text()))
    return document["staticPolicies"]  # type: ignore[no-any-return]


def test_every_rule_names_the_charter_rule_it_implements() -> None:
    ids = [policy["annotations"]["id"] for policy in _policies_json().values()]  # type: ignore[index]
    assert ids
    assert all(re.match(r"^R\d+(-R\d+)?-[a-z0-9-]+$", i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    covered = {int(n) for i in ids for n in re.findall(r"R(\d+)", i.split("-")[0] + i)}
    assert {1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 17, 18} <= covered


def test_every_rule_is_preceded_by_a_french_comment() -> None:
    lines = (POLICIES / "charter.cedar").read_text().splitlines()
    for number, line in enumerate(lines):
        if line.startswith("@id("):
            above = number - 1
            while above >= 0 and lines[above].startswith("//"):
                above -= 1
            comment = lines[above + 1 : number]
            assert comment, f"line {number + 1} has no comment"
            assert comment[0].startswith("// R"), f"line {number + 1}: the comment names no rule"


def test_the_absolute_prohibitions_are_forbid_rules() -> None:
    effects = {p["annotations"]["id"]: p["effect"] for p in _policies_json().values()}  # type: ignore[index]
    for rule in (
        "R1-membre-de-la-cellule",
        "R1-charte-acceptee",
        "R2-separation-des-fonctions",
        "R6-pas-de-recherche-par-le-cst",
        "R13-cst-jamais-faits-ni-recherches",
        "R14-coordonnees-reservees",
        "R17-archive",
    ):
        assert effects[rule] == "forbid", rule


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    return target


def test_a_policy_that_does_not_parse_stops_the_engine(tmp_path: Path) -> None:
    broken = _copy(tmp_path)
    (broken / "charter.cedar").write_text("permit (principal, action, resource) when {")
    with pytest.raises(PolicyError, match="cannot be parsed"):
        PolicyEngine.from_dir(broken)


def test_a_policy_that_does_not_match_the_schema_stops_the_engine(tmp_path: Path) -> None:
    wrong = _copy(tmp_path)
    text = (wrong / "charter.cedar").read_text()
    (wrong / "charter.cedar").write_text(
        text
        + '\n@id("R0-faute")\npermit (principal, action, resource) when { principal.age > 3 };\n'
    )
    with pytest.raises(PolicyError, match="do not validate"):
        PolicyEngine.from_dir(wrong)


@pytest.mark.parametrize(
    "condition",
    [
        "resource.cell == 12",
        "principal.id == 3",
        "resource.submitter != 4",
        "[1, 2].contains(resource.cell)",
        'resource.id == "abc"',
        "principal.cells.contains(7)",
    ],
)
def test_a_policy_comparing_an_id_with_a_constant_is_refused(
    tmp_path: Path, condition: str
) -> None:
    """The memoised decisions hold only while ids are compared with ids."""
    wrong = _copy(tmp_path)
    text = (wrong / "charter.cedar").read_text()
    (wrong / "charter.cedar").write_text(
        text
        + '\n@id("R0-faute")\npermit (principal, action == Action::"read_identity", resource)'
        + f" when {{ {condition} }};\n"
    )
    with pytest.raises(PolicyError, match="compares an id with a constant"):
        PolicyEngine.from_dir(wrong)


# --- memoised shapes against direct evaluation --------------------------------------------------

ROLES = st.sampled_from(list(Role))
STATES = st.sampled_from(list(CaseState))
IDS = st.integers(min_value=1, max_value=50)


def _direct(principal: Principal, case: CaseFacts, action: str, destination: str = "") -> bool:
    """Cedar on the real entities: real ids, real cells, no shapes, no cache."""
    case_uid = str(case.case_id)
    entities = [
        {
            "uid": {"type": "User", "id": str(principal.user_id)},
            "attrs": {
                "id": principal.user_id,
                "role": principal.role.value,
                "organisation": principal.organisation.value,
                "cells": sorted(principal.cell_ids),
                "charter_accepted": principal.charter_accepted,
                "archive_cases": sorted(str(c) for c in principal.archive_case_ids),
            },
            "parents": [],
        },
        {
            "uid": {"type": "Case", "id": case_uid},
            "attrs": {
                "id": case_uid,
                "cell": case.cell_id,
                "state": case.state.value,
                "origin": case.origin,
                "submitter": case.submitted_by,
                "on_agenda": case.on_agenda,
                "destinations": sorted(case.destinations),
                "social_services_transmitted": case.social_services_transmitted,
                "research_authors": sorted(case.research_authors),
                "transferred_from": sorted(case.transferred_from),
                "attendance_recorded": case.agenda_attendees is not None,
                "agenda_attendees": sorted(case.agenda_attendees or ()),
                **({} if case.transfer_cell is None else {"transfer_cell": case.transfer_cell}),
            },
            "parents": [],
        },
    ]
    engine = get_engine()
    request = {
        "principal": f'User::"{principal.user_id}"',
        "action": f'Action::"{action}"',
        "resource": f'Case::"{case_uid}"',
        "context": {"destination": destination} if action == "record_feedback" else {},
    }
    [result] = cedarpy.is_authorized_batch([request], engine.policies, entities, engine.schema)
    return bool(result.allowed)


@settings(max_examples=150, deadline=None)
@given(
    role=ROLES,
    user_id=IDS,
    cells=st.frozensets(IDS, max_size=3),
    charter=st.booleans(),
    state=STATES,
    cell=IDS,
    submitter=IDS,
    on_agenda=st.booleans(),
    destinations=st.frozensets(st.sampled_from([d.value for d in Destination]), max_size=3),
    transmitted=st.booleans(),
    authors=st.frozensets(IDS, max_size=3),
    archived=st.booleans(),
    organisation=st.sampled_from([Organisation.POLICE, Organisation.DPP, Organisation.DASES]),
    origin=st.sampled_from(["police", "dpp", "social_landlord"]),
    transfer_cell=st.none() | IDS,
    transferred_from=st.frozensets(IDS, max_size=2),
    attendees=st.none() | st.frozensets(IDS, max_size=3),
)
def test_memoised_decisions_equal_cedar_on_real_entities(
    role: Role,
    user_id: int,
    cells: frozenset[int],
    charter: bool,
    state: CaseState,
    cell: int,
    submitter: int,
    on_agenda: bool,
    destinations: frozenset[str],
    transmitted: bool,
    authors: frozenset[int],
    archived: bool,
    organisation: Organisation,
    origin: str,
    transfer_cell: int | None,
    transferred_from: frozenset[int],
    attendees: frozenset[int] | None,
) -> None:
    case_id = uuid.uuid4()
    principal = Principal(
        user_id,
        "someone",
        role,
        organisation,
        cells,
        charter,
        frozenset({case_id}) if archived else frozenset(),
    )
    case = CaseFacts(
        state=state,
        cell_id=cell,
        submitted_by=submitter,
        on_agenda=on_agenda,
        destinations=destinations,
        social_services_transmitted=transmitted,
        research_authors=authors,
        origin=origin,
        case_id=case_id,
        transfer_cell=transfer_cell,
        transferred_from=transferred_from,
        agenda_attendees=attendees,
    )
    for step in Step:
        if step is Step.RECORD_FEEDBACK:
            for destination in (Destination.SOCIAL_SERVICES, Destination.CRIP):
                memoised = may_step(principal, step, case, destination)
                assert memoised == _direct(principal, case, step.value, destination.value)
        else:
            assert may_step(principal, step, case) == _direct(principal, case, step.value), step
    view = case_view(principal, case)
    for action in BLOCK_ACTIONS:
        if action == "read_own_research":
            continue
        if action == "read_all_orientations":
            direct = _direct(principal, case, action)
            if "orientation" in view.blocks:
                assert (view.only_destination is None) == direct
            continue
        block = action.removeprefix("read_")
        direct = _direct(principal, case, action)
        if block == "research":
            own = _direct(principal, case, "read_own_research")
            assert (block in view.blocks) == (direct or own), action
            assert view.own_research_only == (own and not direct)
        else:
            assert (block in view.blocks) == direct, action
