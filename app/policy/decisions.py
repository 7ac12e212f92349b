"""The one decision point for actions: every step and every meeting action asks the charter.

Refusals say what to do: accept the charter first, or who may take this step.
"""

from __future__ import annotations

from app.errors import Forbidden
from app.policy.engine import get_engine
from app.policy.visibility import CaseFacts, case_shape, principal_shape
from app.principal import Principal
from app.vocabulary import Destination
from app.workflow.states import Step

CHARTER_FIRST = (
    "Accept the current version of the charter first (GET /api/v1/me tells which, "
    "POST /api/v1/me/charter-acceptance records it)."
)


def charter_refusal() -> Forbidden:
    return Forbidden(CHARTER_FIRST, slug="charter-not-accepted")


def may_step(
    principal: Principal, step: Step, case: CaseFacts, destination: Destination | None = None
) -> bool:
    shape = case_shape(principal, case)
    shape["context_destination"] = destination.value if destination else ""
    decisions = get_engine().case_decisions(principal_shape(principal, case), shape, (step.value,))
    return decisions[step.value]


def require_step(
    principal: Principal, step: Step, case: CaseFacts, destination: Destination | None = None
) -> None:
    """Raises Forbidden unless the charter lets the caller take ``step`` on this case."""
    if may_step(principal, step, case, destination):
        return
    if not principal.charter_accepted:
        raise charter_refusal()
    raise Forbidden(
        f"The charter does not let your role ({principal.role.value}) take the step "
        f"'{step.value}' on this case.",
        slug="role-not-allowed",
    )


def may_in_cell(principal: Principal, action: str, cell_id: int) -> bool:
    member = principal.is_member_of(cell_id)
    return get_engine().cell_decision(principal_shape(principal), member, action)


def may_as_member(principal: Principal, action: str) -> bool:
    """Whether the caller's role may take ``action`` in a cell they belong to: a refusal then
    comes from the role (or the charter), not from the cell."""
    return get_engine().cell_decision(principal_shape(principal), True, action)


def require_in_cell(principal: Principal, action: str, cell_id: int, what: str) -> None:
    if may_in_cell(principal, action, cell_id):
        return
    if not principal.charter_accepted:
        raise charter_refusal()
    if not principal.is_member_of(cell_id):
        raise Forbidden("You are not a member of this cell.", slug="not-a-cell-member")
    raise Forbidden(f"The charter does not let your role {what}.", slug="role-not-allowed")


def may_read_audit_log(principal: Principal) -> bool:
    return get_engine().whole_decision(principal_shape(principal), "AuditLog", "read_audit_log")


def may_read_all_indicators(principal: Principal) -> bool:
    """R19: the indicators of any cell, and of Paris as a whole."""
    return get_engine().whole_decision(
        principal_shape(principal), "Indicators", "read_all_indicators"
    )


def require_audit_log(principal: Principal) -> None:
    """R23: the audit log is the auditors'; anyone else is refused (403)."""
    if may_read_audit_log(principal):
        return
    if not principal.charter_accepted:
        raise charter_refusal()
    raise Forbidden(
        "The audit log is read by the auditors only; a coordinator reads the access log of "
        "the cases of their cells (GET /api/v1/cases/{id}/access-log).",
        slug="role-not-allowed",
    )


def may_manage_directory(principal: Principal) -> bool:
    """Issue 19: the accounts, the cells and the charter's acceptances are the admin's."""
    return get_engine().whole_decision(principal_shape(principal), "Directory", "manage_directory")


def require_manage_directory(principal: Principal) -> None:
    """Anyone but an administrator (or one who has not accepted the charter) is refused."""
    if may_manage_directory(principal):
        return
    if not principal.charter_accepted:
        raise charter_refusal()
    raise Forbidden(
        "The accounts and the cells are managed by the administrators only.",
        slug="role-not-allowed",
    )
