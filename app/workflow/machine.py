"""The procedure's one state machine, built once at import and shared by every request.

Cases are not attached to the machine: :func:`fire` runs one step on a small holder of the
case's current state, so the machine keeps no reference to any row and is safe to share
between threads. A step fired from a state that does not allow it raises :class:`IllegalStep`;
a procedural rule that refuses it raises :class:`~app.workflow.guards.GuardFailed`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transitions import EventData, Machine, MachineError

from app.workflow import guards
from app.workflow.guards import StepFacts
from app.workflow.states import CaseState, Step

S = CaseState
Guard = Callable[[StepFacts], None]


class IllegalStep(Exception):
    """The step does not exist from the case's current state (answered as 409)."""

    def __init__(self, step: Step, state: CaseState) -> None:
        allowed = sorted(s.value for s in ALLOWED_FROM.get(step, ()))
        super().__init__(
            f"The step '{step.value}' is not possible while the case is '{state.value}'; "
            f"it needs a case in: {', '.join(allowed) or 'no state'}."
        )
        self.step = step
        self.state = state


def _condition(*checks: Guard) -> Callable[[EventData], bool]:
    """Adapts pure guards to the machine: each either passes or raises GuardFailed."""

    def condition(event: EventData) -> bool:
        facts: StepFacts = event.kwargs["facts"]
        for check in checks:
            check(facts)
        return True

    condition.__name__ = "+".join(check.__name__ for check in checks)
    return condition


# The states from which a case may be transferred to another cell (issue 16).
TRANSFERABLE = [S.SUBMITTED, S.PARQUET_REVIEW, S.RESEARCH]
# The states of a case still followed by its cell.
FOLLOWED = [S.SUBMITTED, S.PARQUET_REVIEW, S.RESEARCH, S.CELL_REVIEW, S.ORIENTED, S.FEEDBACK]

# dest=None marks an internal step: allowed in those states, the state does not change.
TRANSITIONS: list[dict[str, Any]] = [
    {
        "trigger": Step.REFER_TO_PARQUET,
        "source": S.SUBMITTED,
        "dest": S.PARQUET_REVIEW,
        "conditions": [_condition(guards.not_returned_to_author)],
    },
    # Corrections: the signalement itself until the parquet's decision; the identity and the
    # contact, by the coordinator, while the case is open.
    {"trigger": Step.AMEND, "source": [S.SUBMITTED, S.PARQUET_REVIEW], "dest": None},
    {
        "trigger": Step.CORRECT_IDENTITY,
        "source": [S.RESEARCH, S.CELL_REVIEW, S.ORIENTED, S.FEEDBACK],
        "dest": None,
    },
    {"trigger": Step.WITHDRAW, "source": S.SUBMITTED, "dest": S.WITHDRAWN},
    {
        "trigger": Step.RETURN_TO_AUTHOR,
        "source": S.SUBMITTED,
        "dest": None,
        "conditions": [_condition(guards.not_already_returned)],
    },
    {"trigger": Step.AMEND_RESEARCH_NOTE, "source": S.RESEARCH, "dest": None},
    {"trigger": Step.RETAIN, "source": S.PARQUET_REVIEW, "dest": S.RESEARCH},
    {"trigger": Step.NOT_RETAIN, "source": S.PARQUET_REVIEW, "dest": S.NOT_RETAINED},
    {"trigger": Step.ADD_RESEARCH_NOTE, "source": [S.RESEARCH, S.CELL_REVIEW], "dest": None},
    {
        "trigger": Step.EXAMINE_AT_MEETING,
        "source": S.RESEARCH,
        "dest": S.CELL_REVIEW,
        "conditions": [
            _condition(
                guards.meeting_in_case_cell,
                guards.meeting_still_recordable,
                guards.one_month_elapsed,
            )
        ],
    },
    {"trigger": Step.REMOVE_FROM_AGENDA, "source": S.CELL_REVIEW, "dest": S.RESEARCH},
    {
        "trigger": Step.ORIENT,
        "source": S.CELL_REVIEW,
        "dest": S.ORIENTED,
        "conditions": [_condition(guards.meeting_has_taken_place)],
    },
    {
        "trigger": Step.CLOSE_WITHOUT_ACTION,
        "source": S.CELL_REVIEW,
        "dest": S.CLOSED,
        "conditions": [_condition(guards.meeting_has_taken_place)],
    },
    {
        "trigger": Step.RECORD_FAMILY_INFORMATION,
        "source": [S.ORIENTED, S.FEEDBACK],
        "dest": None,
        "conditions": [_condition(guards.family_not_yet_informed)],
    },
    {
        "trigger": Step.ADD_ORIENTATION,
        "source": [S.ORIENTED, S.FEEDBACK],
        "dest": None,
    },
    {
        "trigger": Step.TRANSMIT,
        "source": [S.ORIENTED, S.FEEDBACK],
        "dest": None,
        "conditions": [
            _condition(guards.not_yet_transmitted, guards.family_informed_before_social_services)
        ],
    },
    {
        "trigger": Step.RECORD_FEEDBACK,
        "source": [S.ORIENTED, S.FEEDBACK],
        "dest": S.FEEDBACK,
        "conditions": [
            _condition(guards.transmitted_before_feedback, guards.feedback_not_yet_recorded)
        ],
    },
    {
        "trigger": Step.CLOSE,
        "source": [S.RESEARCH, S.CELL_REVIEW, S.ORIENTED, S.FEEDBACK],
        "dest": S.CLOSED,
        "conditions": [_condition(guards.closure_reason_applies)],
    },
    # Issue 16. A duplicate is decided between cases still followed (a not-retained one
    # waits for its purge, a closed one is archived), and the newer one closed as such.
    {"trigger": Step.DECIDE_DUPLICATE, "source": FOLLOWED, "dest": None},
    {
        "trigger": Step.CLOSE_AS_DUPLICATE,
        "source": FOLLOWED,
        "dest": S.CLOSED,
    },
    # A case moves to another cell until that cell's meeting takes it up (on an agenda, it
    # stays with the cell that examines it: close it as moved_away there). While a transfer
    # waits, the case's own cell goes on with it; the receiving cell's acceptance then needs a
    # case still transferable.
    {
        "trigger": Step.PROPOSE_TRANSFER,
        "source": TRANSFERABLE,
        "dest": None,
        "conditions": [_condition(guards.no_transfer_pending)],
    },
    {
        "trigger": Step.ACCEPT_TRANSFER,
        "source": TRANSFERABLE,
        "dest": None,
        "conditions": [_condition(guards.transfer_pending)],
    },
    # Declining a transfer is no move of the procedure (app.cases.movements): it clears a
    # waiting transfer whatever became of the case meanwhile.
]

MACHINE = Machine(
    model=None,
    states=CaseState,
    transitions=TRANSITIONS,
    initial=None,
    auto_transitions=False,
    send_event=True,
)


def _sources(transition: dict[str, Any]) -> frozenset[CaseState]:
    source = transition["source"]
    return frozenset(source if isinstance(source, list) else [source])


ALLOWED_FROM: dict[Step, frozenset[CaseState]] = {
    Step(t["trigger"]): _sources(t) for t in TRANSITIONS
}


@dataclass(slots=True)
class _StateHolder:
    state: CaseState


def fire(step: Step, state: CaseState, facts: StepFacts) -> CaseState:
    """Runs ``step`` from ``state``; returns the new state (the same one for internal steps)."""
    if state not in ALLOWED_FROM.get(step, frozenset()):
        raise IllegalStep(step, state)
    holder = _StateHolder(state)
    try:
        MACHINE.events[step.value].trigger(holder, facts=facts)
    except MachineError as error:  # pragma: no cover - ALLOWED_FROM is derived from TRANSITIONS
        raise IllegalStep(step, state) from error
    return CaseState(holder.state)


def possible_steps(state: CaseState) -> list[Step]:
    """The steps the procedure allows from ``state`` (roles and guards not considered)."""
    return [Step(name) for name in MACHINE.get_triggers(state)]
