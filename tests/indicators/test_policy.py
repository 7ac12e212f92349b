"""The charter's answer on the indicators, asked of the engine for every role (no HTTP)."""

from __future__ import annotations

import pytest

from app.policy.decisions import may_as_member, may_in_cell, may_read_all_indicators
from app.principal import Principal
from app.vocabulary import Organisation, Role

CELL, OTHER_CELL = 7, 8


def _principal(role: Role, *, charter: bool = True) -> Principal:
    return Principal(
        1, "someone", role, Organisation.OTHER, frozenset({CELL}), charter, frozenset()
    )


@pytest.mark.parametrize("role", list(Role))
def test_who_reads_which_indicators(role: Role) -> None:
    principal = _principal(role)
    cell = may_in_cell(principal, "read_cell_indicators", CELL)
    assert cell == (role is Role.COORDINATOR)
    assert may_as_member(principal, "read_cell_indicators") == cell
    # R1: never the indicators of a cell one is not a member of, whatever the role.
    assert not may_in_cell(principal, "read_cell_indicators", OTHER_CELL)
    assert may_read_all_indicators(principal) == (role in (Role.STEERING, Role.AUDITOR))


@pytest.mark.parametrize("role", list(Role))
def test_nothing_before_the_charter_is_accepted(role: Role) -> None:
    principal = _principal(role, charter=False)
    assert not may_in_cell(principal, "read_cell_indicators", CELL)
    assert not may_read_all_indicators(principal)
