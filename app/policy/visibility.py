"""Which blocks of a case a caller sees at the case's current step (R10-R16), pure.

The caller's cells were checked before (a case outside them is not found, R1). An empty
result means the charter lets the caller see nothing of this case now (answered 403).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.directory.principal import Principal
from app.vocabulary import Role
from app.workflow.states import CaseState


class Block(StrEnum):
    WORKFLOW = "workflow"
    IDENTITY = "identity"
    CONTACT = "contact"
    FACTS = "facts"
    RESEARCH = "research"
    ORIENTATION = "orientation"
    FEEDBACK = "feedback"


ALL_BLOCKS = frozenset(Block)
S = CaseState
FROM_STEP_2 = frozenset(
    {S.PARQUET_REVIEW, S.NOT_RETAINED, S.RESEARCH, S.CELL_REVIEW, S.ORIENTED, S.FEEDBACK, S.CLOSED}
)
FROM_STEP_3 = frozenset({S.RESEARCH, S.CELL_REVIEW, S.ORIENTED, S.FEEDBACK, S.CLOSED})
RESEARCH_AND_REVIEW = frozenset({S.RESEARCH, S.CELL_REVIEW})
AFTER_ORIENTATION = frozenset({S.ORIENTED, S.FEEDBACK, S.CLOSED})


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """The non-nominative facts about a case that visibility depends on."""

    state: CaseState
    cell_id: int
    submitted_by: int
    on_agenda: bool
    oriented_to_social_services: bool


@dataclass(frozen=True, slots=True)
class CaseView:
    blocks: frozenset[Block]
    # R12: outside the meeting a member sees only the research notes they wrote.
    own_research_only: bool = False

    @property
    def withheld(self) -> list[Block]:
        return [block for block in Block if block not in self.blocks]


NOTHING = CaseView(frozenset())


def case_view(principal: Principal, case: CaseFacts) -> CaseView:
    if not principal.is_member_of(case.cell_id) or case.state is S.PURGED:
        return NOTHING
    match principal.role:
        case Role.COORDINATOR:  # R10
            return CaseView(ALL_BLOCKS)
        case Role.PARQUET:  # R11
            return _parquet(case)
        case Role.MEMBER:  # R12
            return _member(principal, case)
        case Role.CST:  # R13
            return _cst(case)
        case _:  # R2: admin, auditor, steering never read case content
            return NOTHING


def _parquet(case: CaseFacts) -> CaseView:
    blocks: set[Block] = set()
    if case.state in FROM_STEP_2:
        blocks |= {Block.WORKFLOW, Block.IDENTITY, Block.FACTS}
    if case.state in FROM_STEP_3:
        blocks.add(Block.RESEARCH)
    return CaseView(frozenset(blocks))


def _member(principal: Principal, case: CaseFacts) -> CaseView:
    blocks: set[Block] = set()
    own_submission = case.submitted_by == principal.user_id
    if own_submission:
        blocks.add(Block.WORKFLOW)
    if case.state in RESEARCH_AND_REVIEW:
        blocks |= {Block.WORKFLOW, Block.IDENTITY, Block.FACTS, Block.RESEARCH}
    return CaseView(frozenset(blocks), own_research_only=not case.on_agenda)


def _cst(case: CaseFacts) -> CaseView:
    if case.state is S.CELL_REVIEW:
        return CaseView(frozenset({Block.WORKFLOW, Block.IDENTITY}))
    if case.state in AFTER_ORIENTATION and case.oriented_to_social_services:
        return CaseView(
            frozenset(
                {Block.WORKFLOW, Block.IDENTITY, Block.CONTACT, Block.ORIENTATION, Block.FEEDBACK}
            )
        )
    return NOTHING
