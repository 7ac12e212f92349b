"""Which blocks of a case a caller sees at the case's current step (R10-R17).

The decision is the charter's (``policies/charter.cedar``), asked for every block in one batch;
this module only describes the case to it and reads the answers. An empty view means the charter
lets the caller see nothing of this case now (answered 403).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from app.policy.engine import BLOCK_ACTIONS, get_engine
from app.principal import Principal
from app.vocabulary import Destination
from app.workflow.states import CaseState


class Block(StrEnum):
    WORKFLOW = "workflow"
    IDENTITY = "identity"
    CONTACT = "contact"
    FACTS = "facts"
    RESEARCH = "research"
    ORIENTATION = "orientation"
    FEEDBACK = "feedback"


# The blocks whose fields are stored encrypted: showing one needs the case's data key.
SEALED_BLOCKS = frozenset({Block.IDENTITY, Block.CONTACT, Block.FACTS, Block.RESEARCH})


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """The non-nominative facts about a case that the policies look at."""

    state: CaseState
    cell_id: int
    submitted_by: int
    on_agenda: bool = False
    destinations: frozenset[str] = frozenset()
    social_services_transmitted: bool = False
    research_authors: frozenset[int] = frozenset()
    origin: str = "other"
    case_id: uuid.UUID | None = None
    # Issue 16: the cell a pending transfer would move the case to; the cells it has left.
    transfer_cell: int | None = None
    transferred_from: frozenset[int] = frozenset()
    # Issue 17: who attended the meeting whose agenda holds the case; None until the
    # coordinator records attendance (then those absent do not gain the meeting's view).
    agenda_attendees: frozenset[int] | None = None


@dataclass(frozen=True, slots=True)
class CaseView:
    blocks: frozenset[Block]
    # R12: a member who may not read every note still reads the ones they wrote.
    own_research_only: bool = False
    # R13: the CST sees the orientation to social services, not the others.
    only_destination: Destination | None = None

    @property
    def withheld(self) -> list[Block]:
        return [block for block in Block if block not in self.blocks]


NOTHING = CaseView(frozenset())


def principal_shape(principal: Principal, case: CaseFacts | None = None) -> dict[str, object]:
    """What the policies may know of the caller (ids reduced to relations with the case)."""
    archive = case is not None and case.case_id in principal.archive_case_ids
    return {
        "role": principal.role.value,
        "organisation": principal.organisation.value,
        "charter_accepted": principal.charter_accepted,
        "archive_granted": archive,
    }


def case_shape(principal: Principal, case: CaseFacts) -> dict[str, object]:
    return {
        "in_cell": principal.is_member_of(case.cell_id),
        "state": case.state.value,
        "origin": case.origin,
        "is_submitter": case.submitted_by == principal.user_id,
        "on_agenda": case.on_agenda,
        "destinations": sorted(case.destinations),
        "social_services_transmitted": case.social_services_transmitted,
        "is_author": principal.user_id in case.research_authors,
        "in_transfer_cell": (
            None if case.transfer_cell is None else principal.is_member_of(case.transfer_cell)
        ),
        "from_my_cell": bool(principal.cell_ids & case.transferred_from),
        "attendance_recorded": case.agenda_attendees is not None,
        "attended": case.agenda_attendees is not None
        and principal.user_id in case.agenda_attendees,
    }


def case_view(principal: Principal, case: CaseFacts) -> CaseView:
    decisions = get_engine().case_decisions(
        principal_shape(principal, case), case_shape(principal, case), BLOCK_ACTIONS
    )
    blocks = {
        Block(action.removeprefix("read_"))
        for action, allowed in decisions.items()
        if allowed and action not in ("read_own_research", "read_all_orientations")
    }
    own_only = decisions["read_own_research"] and not decisions["read_research"]
    if own_only:
        blocks.add(Block.RESEARCH)
    # R13: without every destination, the orientation block is the one to social services.
    only = None if decisions["read_all_orientations"] else Destination.SOCIAL_SERVICES
    return CaseView(frozenset(blocks), own_research_only=own_only, only_destination=only)
