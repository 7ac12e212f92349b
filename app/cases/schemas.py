"""Request and response bodies of the case endpoints.

A case as read is cut into the charter's blocks; each block owns some keys, and a withheld
block's keys are absent (``withheld`` names it). ``workflow``: origin, received_on, submitted_at,
parquet, meeting_id, review_decision, closed_at, history. ``identity``: minor. ``contact``:
contact. ``facts``: motifs, facts. ``research``: research_notes. ``orientation``:
family_information, orientations. ``feedback``: feedback.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.audit.schemas import AuditEventRead
from app.partners.schemas import ServiceNamed
from app.schemas import (
    Address,
    FactsText,
    Name,
    NoteText,
    Phone,
    ReasonText,
    RowId,
    School,
    StrictInput,
)
from app.vocabulary import (
    ArchivePurpose,
    ClosureReason,
    Destination,
    DuplicateDecision,
    FamilyOutcome,
    FeedbackOutcome,
    GuardianRelationship,
    InformationMeans,
    Motif,
    Organisation,
    ReceivedVia,
    ReorientedTo,
    ReturnReason,
    ReviewDecision,
    Sex,
    TransferDecision,
    TransferOutcome,
    WithdrawalReason,
)
from app.workflow.states import CaseState

# What a caller may give when closing (other_legacy is the migration's own).
ClosureReasonAsked = Literal[
    "feedback_received",
    "moved_away",
    "aged_out",
    "judicial_follow_up",
    "family_unreachable",
    "no_action",
]

# --- requests ---------------------------------------------------------------------------------


class MinorIn(StrictInput):
    last_name: Name
    first_name: Name
    birth_date: date
    sex: Sex | None = None
    address: Address | None = None
    school: School | None = None


class GuardianIn(StrictInput):
    name: Name
    relationship: GuardianRelationship
    phone: Phone | None = None


class CaseCreate(StrictInput):
    """Step 1. ``received_on`` and ``received_via`` are the coordinator's only (a signalement
    received outside the service, how, and on which day); anyone else's is received the day it
    is sent, by the server's clock."""

    cell_id: RowId
    received_on: date | None = None
    received_via: ReceivedVia | None = None
    origin: Organisation | None = None
    motifs: Annotated[list[Motif], Field(min_length=1, max_length=len(Motif))]
    facts: FactsText | None = None
    minor: MinorIn
    guardians: Annotated[list[GuardianIn], Field(max_length=4)] = []


class MinorPatch(StrictInput):
    """The minor's identity as read (``MinorRead``): a key left out is unchanged; ``null``
    removes an optional value (RFC 7396). Names and birth date cannot be removed."""

    last_name: Name | None = None
    first_name: Name | None = None
    birth_date: date | None = None
    sex: Sex | None = None
    school: School | None = None


class ContactPatch(StrictInput):
    """The contact block as read (``ContactRead``); ``guardians`` replaces the whole list."""

    address: Address | None = None
    guardians: Annotated[list[GuardianIn], Field(max_length=4)] | None = None


class CasePatch(StrictInput):
    """An amendment of the signalement (JSON Merge Patch, RFC 7396) in the blocks' shape as
    read: ``minor``, ``contact``, ``motifs``, ``facts``. ``version``: the case's version the
    amendment was made on (as read); another request's change since is a 409."""

    version: Annotated[int, Field(ge=1)] | None = None
    minor: MinorPatch | None = None
    contact: ContactPatch | None = None
    motifs: Annotated[list[Motif], Field(min_length=1, max_length=len(Motif))] | None = None
    facts: FactsText | None = None

    def changes(self) -> dict[str, object]:
        """Each field the patch names (its flat name), with its new value (None: removed)."""
        named: dict[str, object] = {}
        for block in ("minor", "contact"):
            part = getattr(self, block)
            if block in self.model_fields_set and part is None:
                named[block] = None  # a whole block removed: refused by the service
            elif part is not None:
                for name in part.model_fields_set:
                    named[name] = getattr(part, name)
        for name in ("motifs", "facts"):
            if name in self.model_fields_set:
                named[name] = getattr(self, name)
        return named


class WithdrawalIn(StrictInput):
    reason: WithdrawalReason


class ReturnIn(StrictInput):
    reason: ReturnReason


class ParquetDecisionIn(StrictInput):
    retained: bool


class ResearchNoteIn(StrictInput):
    content: NoteText


class OrientationIn(StrictInput):
    destination: Destination
    # One of the cell's partner services for this destination (GET /cells/{id}/services),
    # required when it lists any; none for social services (reached through the CST).
    service_id: RowId | None = None


class ReviewDecisionIn(StrictInput):
    decision: ReviewDecision
    orientations: Annotated[list[OrientationIn], Field(max_length=len(Destination))] = []


class FamilyInformationIn(StrictInput):
    """R8: when and how the family was informed of the orientation, and its answer."""

    informed_on: date
    means: InformationMeans
    outcome: FamilyOutcome


class ClosureIn(StrictInput):
    """Why the case is closed; ``no_action`` is the review decision's own."""

    reason: ClosureReasonAsked | None = None


class ArchiveAccessIn(StrictInput):
    """R17: the purpose, from a closed list the audit log carries, and the reason, at least a
    sentence (sealed with the case)."""

    reason: ReasonText
    purpose: ArchivePurpose = ArchivePurpose.OTHER


class ArchiveAccessRead(BaseModel):
    case_id: uuid.UUID
    granted_at: datetime
    expires_at: datetime
    purpose: ArchivePurpose


class FeedbackIn(StrictInput):
    """R9: a closed form; any other field is refused."""

    outcome: FeedbackOutcome
    reoriented_to: ReorientedTo | None = None


# --- responses --------------------------------------------------------------------------------


class MinorRead(BaseModel):
    last_name: str
    first_name: str
    birth_date: date
    sex: Sex | None
    school: str | None


class GuardianRead(BaseModel):
    name: str
    relationship: GuardianRelationship
    phone: str | None


class ContactRead(BaseModel):
    address: str | None
    guardians: list[GuardianRead]


class ParquetRead(BaseModel):
    retained: bool
    decided_at: datetime


class StepRead(BaseModel):
    step: str
    from_state: CaseState | None
    to_state: CaseState
    actor_id: int
    actor_role: str
    at: datetime
    # A code that says more: "declared:letter" (a signalement the coordinator entered, and
    # how it was received), a closure's reason, "outcome:objects" (the family's answer)...
    detail: str | None = None


class ResearchNoteRead(BaseModel):
    id: uuid.UUID
    author_id: int
    author_organisation: Organisation
    created_at: datetime
    # Its author amended it (the earlier text is kept for the coordinator).
    amended_at: datetime | None = None
    content: str


class WithdrawalRead(BaseModel):
    reason: WithdrawalReason
    at: datetime


class ReturnRead(BaseModel):
    """The coordinator sent the signalement back to its author, who has not amended it yet."""

    reason: ReturnReason
    at: datetime


class RevisionRead(BaseModel):
    """An amendment: who, when, which fields, and the values it replaced (the coordinator's)."""

    id: uuid.UUID
    at: datetime
    actor_id: int
    actor_role: str
    note_id: uuid.UUID | None
    fields: list[str]
    previous: dict[str, object]


class FamilyInformationRead(BaseModel):
    informed_on: date
    means: InformationMeans
    # None only for an information recorded before the answer was asked (issue 15).
    outcome: FamilyOutcome | None


class OrientationRead(BaseModel):
    id: uuid.UUID
    destination: Destination
    service: ServiceNamed | None
    decided_at: datetime
    transmitted_at: datetime | None


class FeedbackRead(BaseModel):
    orientation_id: uuid.UUID
    destination: Destination
    outcome: FeedbackOutcome
    reoriented_to: ReorientedTo | None
    recorded_at: datetime


class CaseRead(BaseModel):
    id: uuid.UUID
    # The human reference ("18-2026-0042"): says nothing of the minor.
    reference: str
    state: CaseState
    cell_id: int
    # The version an amendment is made on (PATCH's "version").
    version: int
    withheld: list[str]
    possible_duplicates: list[uuid.UUID] | None = None
    # workflow
    origin: Organisation | None = None
    received_on: date | None = None
    # The coordinator declared the day (a signalement received outside the service), and how.
    received_on_declared: bool | None = None
    received_via: ReceivedVia | None = None
    submitted_at: datetime | None = None
    parquet: ParquetRead | None = None
    meeting_id: uuid.UUID | None = None
    review_decision: ReviewDecision | None = None
    closed_at: datetime | None = None
    closure_reason: ClosureReason | None = None
    withdrawal: WithdrawalRead | None = None
    returned: ReturnRead | None = None
    history: list[StepRead] | None = None
    # identity
    minor: MinorRead | None = None
    # contact
    contact: ContactRead | None = None
    # facts
    motifs: list[Motif] | None = None
    facts: str | None = None
    # research
    research_notes: list[ResearchNoteRead] | None = None
    # orientation
    family_information: FamilyInformationRead | None = None
    orientations: list[OrientationRead] | None = None
    # feedback
    feedback: list[FeedbackRead] | None = None
    # workflow (issue 16): duplicates merged, transfers between cells
    merged_into: uuid.UUID | None = None
    additional_signalements: list[AdditionalSignalementRead] | None = None
    transfers: list[TransferRead] | None = None
    # The last accepted transfer: to which cell, when (what its author sees of a case that
    # left their cell).
    transferred_to: int | None = None
    transferred_at: datetime | None = None


class CasePage(BaseModel):
    items: list[CaseRead]
    next_cursor: str | None


class ResearchNoteCreated(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    created_at: datetime


class ArchiveAccessHeld(BaseModel):
    id: uuid.UUID
    user_id: int
    granted_at: datetime
    expires_at: datetime
    reason: str


class SubjectAccessExportRead(BaseModel):
    """RGPD art. 15: everything held about the minor in this case, and who accessed it."""

    exported_at: datetime
    case: CaseRead
    archive_accesses: list[ArchiveAccessHeld]
    access_log: list[AuditEventRead]


# --- duplicates and transfers (issue 16) ------------------------------------------------------


class DuplicateDecisionIn(StrictInput):
    """The coordinator's decision on a possible duplicate of the case (same cell)."""

    other_case_id: uuid.UUID
    decision: DuplicateDecision


class DuplicateDecisionRead(BaseModel):
    decision: DuplicateDecision
    case_id: uuid.UUID
    other_case_id: uuid.UUID
    # same_minor: the older open case is kept, the other closed as its duplicate.
    kept_case_id: uuid.UUID | None = None
    closed_case_id: uuid.UUID | None = None


class AdditionalSignalementRead(BaseModel):
    """A signalement of the same minor merged into this case: its origin and day only."""

    merged_case_id: uuid.UUID
    origin: Organisation
    received_on: date


class TransferIn(StrictInput):
    """The cell (of the same kind) the case's coordinator proposes to transfer it to."""

    cell_id: RowId


class TransferDecisionIn(StrictInput):
    decision: TransferDecision


class TransferRead(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    from_cell_id: int
    to_cell_id: int
    proposed_at: datetime
    outcome: TransferOutcome
    decided_at: datetime | None = None


class PendingTransferRead(TransferRead):
    """A transfer waiting for the receiving cell's answer, as that cell's coordinator sees it
    before accepting: the case's workflow facts, nothing nominative (R1)."""

    reference: str
    case_state: CaseState
    received_on: date
    origin: Organisation


class PendingTransferPage(BaseModel):
    items: list[PendingTransferRead]


CaseRead.model_rebuild()
