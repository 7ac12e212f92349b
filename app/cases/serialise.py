"""Turns a case and the caller's view of it into a ``CaseRead`` holding only visible blocks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.cases import personal
from app.cases.models import Case, CaseTransfer, Orientation
from app.cases.schemas import (
    AdditionalSignalementRead,
    CaseRead,
    ContactRead,
    FamilyInformationRead,
    FeedbackRead,
    GuardianRead,
    MinorRead,
    OrientationRead,
    ParquetRead,
    ResearchNoteRead,
    ReturnRead,
    StepRead,
    TransferRead,
    WithdrawalRead,
)
from app.cases.service import VisibleCase
from app.crypto.envelope import FieldCipher
from app.errors import IntegrityFailure
from app.partners.schemas import ServiceNamed
from app.policy.visibility import SEALED_BLOCKS, Block
from app.principal import Principal
from app.vocabulary import Destination, TransferOutcome


def case_read(visible: VisibleCase, principal: Principal, *, in_list: bool = False) -> CaseRead:
    """``in_list``: a block that fails to open is withheld instead of failing the whole list."""
    case, view = visible.case, visible.view
    withheld = set(view.withheld)
    fields: dict[str, Any] = {
        "id": case.id,
        "reference": case.reference,
        "state": case.state,
        "cell_id": case.cell_id,
        "version": case.version,
    }
    if visible.possible_duplicates is not None:
        fields["possible_duplicates"] = visible.possible_duplicates
    own_notes = principal.user_id if view.own_research_only else None
    for block in view.blocks:
        if block in _CLEAR_BLOCKS:
            fields.update(_CLEAR_BLOCKS[block](case, view.only_destination))
        elif visible.cipher is None:
            withheld.add(block)
        else:
            try:
                fields.update(_SEALED_BLOCKS[block](case, visible.cipher, own_notes))
            except IntegrityFailure:
                if not in_list:
                    raise
                withheld.add(block)
    if visible.archive_entry:
        # R17: the archive's index (nothing nominative); reading the case needs an access.
        withheld = set(Block)
        fields.update(
            received_on=case.received_on,
            submitted_at=case.submitted_at,
            closed_at=case.closed_at,
            closure_reason=case.closure_reason,
        )
    fields["withheld"] = [block.value for block in Block if block in withheld]
    # Only the keys set here are sent: a withheld block's keys are absent, not null.
    return CaseRead(**fields)


def _workflow(case: Case, _only: Destination | None) -> dict[str, Any]:
    parquet = None
    if case.retained is not None and case.parquet_decided_at is not None:
        parquet = ParquetRead(retained=case.retained, decided_at=case.parquet_decided_at)
    return {
        "origin": case.origin,
        "received_on": case.received_on,
        "received_on_declared": case.received_on_declared,
        "received_via": case.received_via,
        "submitted_at": case.submitted_at,
        "parquet": parquet,
        "meeting_id": case.meeting_id,
        "review_decision": case.review_decision,
        "closed_at": case.closed_at,
        "closure_reason": case.closure_reason,
        "withdrawal": (
            WithdrawalRead(reason=case.withdrawal_reason, at=case.withdrawn_at)
            if case.withdrawal_reason and case.withdrawn_at
            else None
        ),
        "returned": (
            ReturnRead(reason=case.returned_reason, at=case.returned_at)
            if case.returned_reason and case.returned_at
            else None
        ),
        "history": [
            StepRead(
                step=s.step,
                from_state=s.from_state,
                to_state=s.to_state,
                actor_id=s.actor_id,
                actor_role=s.actor_role,
                at=s.at,
                detail=s.detail,
            )
            for s in case.steps
        ],
        **_movements(case),
    }


def _movements(case: Case) -> dict[str, Any]:
    """Issue 16, in the workflow block: merges and transfers (cells, dates, origins)."""
    accepted = [t for t in case.transfers if t.outcome == TransferOutcome.ACCEPTED]
    return {
        "merged_into": case.merged_into_id,
        "additional_signalements": [
            AdditionalSignalementRead(
                merged_case_id=a.merged_case_id, origin=a.origin, received_on=a.received_on
            )
            for a in case.additional_signalements
        ],
        "transfers": [transfer_read(t) for t in case.transfers],
        "transferred_to": accepted[-1].to_cell_id if accepted else None,
        "transferred_at": accepted[-1].decided_at if accepted else None,
    }


def transfer_read(transfer: CaseTransfer) -> TransferRead:
    return TransferRead(
        id=transfer.id,
        case_id=transfer.case_id,
        from_cell_id=transfer.from_cell_id,
        to_cell_id=transfer.to_cell_id,
        proposed_at=transfer.proposed_at,
        outcome=TransferOutcome(transfer.outcome),
        decided_at=transfer.decided_at,
    )


def _identity(case: Case, cipher: FieldCipher, _own: int | None) -> dict[str, Any]:
    if case.personal is None:
        return {}
    identity = personal.open_identity(cipher, case.personal)
    return {
        "minor": MinorRead(
            last_name=identity.last_name,
            first_name=identity.first_name,
            birth_date=identity.birth_date,
            sex=case.sex,
            school=identity.school,
        )
    }


def _contact(case: Case, cipher: FieldCipher, _own: int | None) -> dict[str, Any]:
    guardians = []
    for guardian in case.guardians:
        name, phone = personal.open_guardian(cipher, guardian)
        guardians.append(GuardianRead(name=name, relationship=guardian.relationship, phone=phone))
    address = personal.open_address(cipher, case.personal) if case.personal else None
    return {"contact": ContactRead(address=address, guardians=guardians)}


def _facts(case: Case, cipher: FieldCipher, _own: int | None) -> dict[str, Any]:
    return {
        "motifs": [m.motif for m in case.motifs],
        "facts": personal.open_facts(cipher, case.personal) if case.personal else None,
    }


def _research(case: Case, cipher: FieldCipher, own_notes: int | None) -> dict[str, Any]:
    """All notes, or (R12, outside the meeting) only those the caller wrote: only they open."""
    notes = [n for n in case.research_notes if own_notes is None or n.author_id == own_notes]
    return {
        "research_notes": [
            ResearchNoteRead(
                id=n.id,
                author_id=n.author_id,
                author_organisation=n.author_organisation,
                created_at=n.created_at,
                amended_at=n.amended_at,
                content=personal.open_note(cipher, n),
            )
            for n in notes
        ]
    }


def _orientations(case: Case, only: Destination | None) -> list[Orientation]:
    return [o for o in case.orientations if only is None or o.destination == only]


def _orientation(case: Case, only: Destination | None) -> dict[str, Any]:
    family = None
    if case.family_informed_on is not None and case.family_information_means is not None:
        family = FamilyInformationRead(
            informed_on=case.family_informed_on,
            means=case.family_information_means,
            outcome=case.family_information_outcome,
        )
    return {
        "family_information": family,
        "orientations": [
            OrientationRead(
                id=o.id,
                destination=o.destination,
                service=ServiceNamed(id=o.service.id, name=o.service.name) if o.service else None,
                decided_at=o.decided_at,
                transmitted_at=o.transmitted_at,
            )
            for o in _orientations(case, only)
        ],
    }


def _feedback(case: Case, only: Destination | None) -> dict[str, Any]:
    return {
        "feedback": [
            FeedbackRead(
                orientation_id=o.id,
                destination=o.destination,
                outcome=o.feedback_outcome,
                reoriented_to=o.reoriented_to,
                recorded_at=o.feedback_at,
            )
            for o in _orientations(case, only)
            if o.feedback_outcome is not None and o.feedback_at is not None
        ]
    }


_CLEAR_BLOCKS: dict[Block, Callable[[Case, Destination | None], dict[str, Any]]] = {
    Block.WORKFLOW: _workflow,
    Block.ORIENTATION: _orientation,
    Block.FEEDBACK: _feedback,
}
_SEALED_BLOCKS: dict[Block, Callable[[Case, FieldCipher, int | None], dict[str, Any]]] = {
    Block.IDENTITY: _identity,
    Block.CONTACT: _contact,
    Block.FACTS: _facts,
    Block.RESEARCH: _research,
}
assert set(_SEALED_BLOCKS) == SEALED_BLOCKS
assert set(_CLEAR_BLOCKS) | SEALED_BLOCKS == set(Block)
