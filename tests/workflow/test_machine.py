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


def test_no_step_leaves_a_closed_purged_or_withdrawn_case() -> None:
    assert possible_steps(S.CLOSED) == []
    assert possible_steps(S.PURGED) == []
    assert possible_steps(S.WITHDRAWN) == []


CORRECTIONS = [
    (Step.WITHDRAW, S.SUBMITTED, S.WITHDRAWN),
    (Step.RETURN_TO_AUTHOR, S.SUBMITTED, S.SUBMITTED),
    (Step.AMEND, S.SUBMITTED, S.SUBMITTED),
    (Step.AMEND, S.PARQUET_REVIEW, S.PARQUET_REVIEW),
    (Step.CORRECT_IDENTITY, S.RESEARCH, S.RESEARCH),
    (Step.CORRECT_IDENTITY, S.FEEDBACK, S.FEEDBACK),
    (Step.AMEND_RESEARCH_NOTE, S.RESEARCH, S.RESEARCH),
]


@pytest.mark.parametrize(("step", "before", "after"), CORRECTIONS)
def test_corrections_move_only_a_withdrawal_out(step: Step, before: S, after: S) -> None:
    assert fire(step, before, FACTS) is after


def test_the_signalement_itself_is_amended_until_the_parquets_decision_only() -> None:
    assert ALLOWED_FROM[Step.AMEND] == {S.SUBMITTED, S.PARQUET_REVIEW}
    assert ALLOWED_FROM[Step.WITHDRAW] == {S.SUBMITTED}
    # A research note stands as written once the case is on a meeting's agenda.
    assert ALLOWED_FROM[Step.AMEND_RESEARCH_NOTE] == {S.RESEARCH}
    assert ALLOWED_FROM[Step.CORRECT_IDENTITY] == {
        S.RESEARCH,
        S.CELL_REVIEW,
        S.ORIENTED,
        S.FEEDBACK,
    }


def test_a_returned_signalement_waits_for_its_author() -> None:
    returned = StepFacts(today=TODAY, returned_to_author=True)
    with pytest.raises(GuardFailed) as refused:
        fire(Step.REFER_TO_PARQUET, S.SUBMITTED, returned)
    assert refused.value.slug == "returned-to-author"
    with pytest.raises(GuardFailed) as again:
        fire(Step.RETURN_TO_AUTHOR, S.SUBMITTED, returned)
    assert again.value.slug == "already-returned"
    # Withdrawn or amended, it may still be.
    assert fire(Step.WITHDRAW, S.SUBMITTED, returned) is S.WITHDRAWN
    assert fire(Step.AMEND, S.SUBMITTED, returned) is S.SUBMITTED


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
