"""The state machine: which step goes from which state to which."""

from __future__ import annotations

from datetime import date

import pytest

from app.vocabulary import Destination
from app.workflow.guards import GuardFailed, StepFacts
from app.workflow.machine import ALLOWED_FROM, IllegalStep, fire, possible_steps
from app.workflow.states import CaseState as S
from app.workflow.states import Step

TODAY = date(2026, 6, 15)
FACTS = StepFacts(
    today=TODAY,
    received_on=date(2026, 4, 1),
    meeting_held_on=TODAY,
    destination=Destination.CRIP,
    already_transmitted=True,
)

HAPPY_PATH = [
    (Step.REFER_TO_PARQUET, S.SUBMITTED, S.PARQUET_REVIEW),
    (Step.RETAIN, S.PARQUET_REVIEW, S.RESEARCH),
    (Step.ADD_RESEARCH_NOTE, S.RESEARCH, S.RESEARCH),
    (Step.EXAMINE_AT_MEETING, S.RESEARCH, S.CELL_REVIEW),
    (Step.ADD_RESEARCH_NOTE, S.CELL_REVIEW, S.CELL_REVIEW),
    (Step.ORIENT, S.CELL_REVIEW, S.ORIENTED),
    (Step.RECORD_FEEDBACK, S.ORIENTED, S.FEEDBACK),
    (Step.CLOSE, S.FEEDBACK, S.CLOSED),
]


@pytest.mark.parametrize(("step", "before", "after"), HAPPY_PATH)
def test_the_procedure_moves_forward(step: Step, before: S, after: S) -> None:
    assert fire(step, before, FACTS) is after


def test_the_parquet_may_not_retain() -> None:
    assert fire(Step.NOT_RETAIN, S.PARQUET_REVIEW, FACTS) is S.NOT_RETAINED
    assert possible_steps(S.NOT_RETAINED) == []


def test_no_step_leaves_a_closed_or_purged_case() -> None:
    assert possible_steps(S.CLOSED) == []
    assert possible_steps(S.PURGED) == []


ILLEGAL = [(step, state) for step in ALLOWED_FROM for state in S if state not in ALLOWED_FROM[step]]


def test_every_state_but_purged_is_reachable_from_submitted() -> None:
    from app.workflow.machine import TRANSITIONS

    reachable, frontier = {S.SUBMITTED}, [S.SUBMITTED]
    while frontier:
        state = frontier.pop()
        for transition in TRANSITIONS:
            dest = transition["dest"]
            if dest is not None and state in ALLOWED_FROM[transition["trigger"]]:
                if dest not in reachable:
                    reachable.add(dest)
                    frontier.append(dest)
    # Purging is the retention job's, not a step of the procedure.
    assert reachable == set(S) - {S.PURGED}


@pytest.mark.parametrize(("step", "state"), ILLEGAL)
def test_every_step_from_a_state_that_does_not_allow_it_is_illegal(step: Step, state: S) -> None:
    with pytest.raises(IllegalStep) as refused:
        fire(step, state, FACTS)
    assert state.value in str(refused.value)


def test_a_failing_guard_leaves_the_state_and_says_why() -> None:
    early = StepFacts(today=TODAY, received_on=date(2026, 6, 1), meeting_held_on=TODAY)
    with pytest.raises(GuardFailed) as refused:
        fire(Step.EXAMINE_AT_MEETING, S.RESEARCH, early)
    assert refused.value.slug == "one-month-rule"


def test_the_machine_keeps_no_case() -> None:
    fire(Step.REFER_TO_PARQUET, S.SUBMITTED, FACTS)
    from app.workflow.machine import MACHINE

    assert MACHINE.models == []
