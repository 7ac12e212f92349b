"""Which role fires which step of the procedure (R4-R9), in one table."""

from __future__ import annotations

from app.directory.principal import Principal
from app.errors import Forbidden
from app.vocabulary import Destination, Role
from app.workflow.states import Step

STEP_ROLES: dict[Step, frozenset[Role]] = {
    Step.SUBMIT: frozenset({Role.MEMBER, Role.COORDINATOR}),  # R4
    Step.REFER_TO_PARQUET: frozenset({Role.COORDINATOR}),  # R5
    Step.RETAIN: frozenset({Role.PARQUET}),  # R5
    Step.NOT_RETAIN: frozenset({Role.PARQUET}),  # R5
    Step.ADD_RESEARCH_NOTE: frozenset({Role.MEMBER, Role.PARQUET, Role.COORDINATOR}),  # R6
    Step.EXAMINE_AT_MEETING: frozenset({Role.COORDINATOR}),  # R7
    Step.ORIENT: frozenset({Role.COORDINATOR}),  # R8
    Step.CLOSE_WITHOUT_ACTION: frozenset({Role.COORDINATOR}),
    Step.RECORD_FAMILY_INFORMATION: frozenset({Role.COORDINATOR}),  # R8
    Step.TRANSMIT: frozenset({Role.COORDINATOR}),  # R8
    Step.CLOSE: frozenset({Role.COORDINATOR}),
}

# R9: social services report back through the CST; the other services through the coordinator.
FEEDBACK_ROLES: dict[bool, frozenset[Role]] = {
    True: frozenset({Role.CST}),
    False: frozenset({Role.COORDINATOR}),
}

FEEDBACK_REPORTERS = FEEDBACK_ROLES[True] | FEEDBACK_ROLES[False]

MEETING_ROLES = frozenset({Role.COORDINATOR})
MEETING_READERS = frozenset({Role.COORDINATOR, Role.PARQUET, Role.MEMBER, Role.CST})


def roles_for(step: Step, destination: Destination | None = None) -> frozenset[Role]:
    if step is Step.RECORD_FEEDBACK:
        return FEEDBACK_ROLES[destination is Destination.SOCIAL_SERVICES]
    return STEP_ROLES[step]


def require_step(principal: Principal, step: Step, destination: Destination | None = None) -> None:
    """Raises Forbidden unless the caller's role may fire ``step``."""
    allowed = roles_for(step, destination)
    if principal.role not in allowed:
        names = ", ".join(sorted(role.value for role in allowed))
        raise Forbidden(
            f"The step '{step.value}' is reserved to: {names}.", slug="role-not-allowed"
        )


def require_role(principal: Principal, allowed: frozenset[Role], action: str) -> None:
    if principal.role not in allowed:
        names = ", ".join(sorted(role.value for role in allowed))
        raise Forbidden(f"{action} is reserved to: {names}.", slug="role-not-allowed")
