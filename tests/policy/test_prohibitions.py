"""The charter's absolute prohibitions, asked of the engine in every situation: no policy edit
can open one of them without a test failing here."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import pytest

from app.policy.decisions import may_in_cell, may_step
from app.policy.visibility import Block, CaseFacts, case_view
from app.principal import Principal
from app.vocabulary import Destination, Organisation, Role
from app.workflow.states import CaseState, Step

CELL, CASE_ID = 7, uuid.UUID(int=9)


# No policy looks at the organisation today; two of them guard against one that would.
ORGANISATIONS = (Organisation.POLICE, Organisation.DASES)


def principals(
    role: Role, *, charter: bool = True, cells: frozenset[int] = frozenset({CELL})
) -> Iterator[Principal]:
    for organisation in ORGANISATIONS:
        yield Principal(1, "u", role, organisation, cells, charter, frozenset({CASE_ID}))


def cases() -> Iterator[CaseFacts]:
    for state, own, notes, social, sent in itertools.product(
        CaseState, [False, True], [False, True], [False, True], [False, True]
    ):
        yield CaseFacts(
            state=state,
            cell_id=CELL,
            submitted_by=1 if own else 2,
            on_agenda=True,
            destinations=frozenset({"social_services"} if social else set()),
            social_services_transmitted=sent,
            research_authors=frozenset({1}) if notes else frozenset(),
            case_id=CASE_ID,
        )


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR, Role.STEERING])
def test_r2_separated_duties_never_read_nor_act_on_a_case(role: Role) -> None:
    for principal in principals(role):
        for case in cases():
            assert not case_view(principal, case).blocks
            for step in Step:
                assert not may_step(principal, step, case, Destination.CRIP)
                assert not may_step(principal, step, case, Destination.SOCIAL_SERVICES)


def test_r13_the_cst_never_reads_facts_or_research_nor_writes_notes() -> None:
    for principal in principals(Role.CST):
        for case in cases():
            blocks = case_view(principal, case).blocks
            assert Block.FACTS not in blocks
            assert Block.RESEARCH not in blocks
            assert not may_step(principal, Step.ADD_RESEARCH_NOTE, case)


@pytest.mark.parametrize("role", [r for r in Role if r not in (Role.COORDINATOR, Role.CST)])
def test_r14_contact_details_go_to_the_coordinator_and_the_cst_only(role: Role) -> None:
    for principal in principals(role):
        for case in cases():
            assert Block.CONTACT not in case_view(principal, case).blocks


def _nothing_at_all(principal: Principal) -> None:
    for case in cases():
        assert not case_view(principal, case).blocks
        assert not any(may_step(principal, step, case) for step in Step)
    for action in ("schedule_meeting", "read_meeting", "see_presented_identities"):
        assert not may_in_cell(principal, action, CELL)


@pytest.mark.parametrize("role", list(Role))
def test_r1_nothing_without_the_charter(role: Role) -> None:
    for principal in principals(role, charter=False):
        _nothing_at_all(principal)


@pytest.mark.parametrize("role", list(Role))
def test_r1_nothing_outside_ones_cells(role: Role) -> None:
    for principal in principals(role, cells=frozenset({CELL + 1})):
        _nothing_at_all(principal)


@pytest.mark.parametrize("role", list(Role))
def test_r17_r18_closed_and_purged_cases_need_an_archive_access_or_are_empty(role: Role) -> None:
    for organisation in ORGANISATIONS:
        principal = Principal(1, "u", role, organisation, frozenset({CELL}), True, frozenset())
        for case in cases():
            if case.state in (CaseState.CLOSED, CaseState.PURGED):
                assert not case_view(principal, case).blocks
