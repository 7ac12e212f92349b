"""Which blocks of a case a caller sees at the case's current step (R10-R16), pure.

The caller's cells were checked before (a case outside them is not found, R1). An empty
result means the charter lets the caller see nothing of this case now (answered 403).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.directory.principal import Principal
from app.vocabulary import Destination, Role
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
    social_services_transmitted: bool = False
    research_authors: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class CaseView:
    blocks: frozenset[Block]
    # R12: outside the meeting a member sees only the research notes they wrote.
    own_research_only: bool = False
    # R13: the CST sees the orientation to social services, not the others.
    only_destination: Destination | None = None

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
    if case.submitted_by == principal.user_id:
        blocks.add(Block.WORKFLOW)
    if case.state in RESEARCH_AND_REVIEW:
        blocks |= {Block.WORKFLOW, Block.IDENTITY, Block.FACTS, Block.RESEARCH}
        return CaseView(frozenset(blocks), own_research_only=not case.on_agenda)
    if principal.user_id in case.research_authors:
        blocks.add(Block.RESEARCH)  # "their own notes always"
    return CaseView(frozenset(blocks), own_research_only=True)


def _cst(case: CaseFacts) -> CaseView:
    if case.state is S.CELL_REVIEW:
        return CaseView(frozenset({Block.WORKFLOW, Block.IDENTITY}))
    if case.state in AFTER_ORIENTATION and case.oriented_to_social_services:
        blocks = {Block.WORKFLOW, Block.IDENTITY, Block.ORIENTATION, Block.FEEDBACK}
        if case.social_services_transmitted:
            blocks.add(Block.CONTACT)  # R14: contact details for the transmission only
        return CaseView(frozenset(blocks), only_destination=Destination.SOCIAL_SERVICES)
    return NOTHING
