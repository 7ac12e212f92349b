"""Case tables. Nominative values live only in the ``*_enc`` columns of ``case_personal``,
``guardian`` and ``research_note``, each sealed with the case's data key (``app.crypto``); the
workflow columns stay in clear for the procedure and the statistics (R19)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto.models import CaseKey
from app.db import Base, UtcDateTime, utcnow
from app.meetings.models import MeetingParticipant
from app.partners.models import PartnerService
from app.vocabulary import TransferOutcome
from app.workflow.states import CaseState

_STATES = ", ".join(f"'{state.value}'" for state in CaseState)


class Case(Base):
    __tablename__ = "case_file"
    __table_args__ = (
        CheckConstraint(f"state IN ({_STATES})", name="state_known"),
        # The listing's keyset order within the caller's cells.
        Index("ix_case_file_cell_submitted", "cell_id", "submitted_at", "id"),
        # The lists' two orders (newest received, newest changed) within the caller's cells.
        Index("ix_case_file_cell_received", "cell_id", "received_on", "id"),
        Index("ix_case_file_cell_updated", "cell_id", "updated_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The human reference people speak of ("18-2026-0042"): unique, stable, says nothing of the
    # minor (app.cases.references).
    reference: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("cell.id"))
    state: Mapped[str] = mapped_column(String(20), index=True)
    origin: Mapped[str] = mapped_column(String(30))
    received_on: Mapped[date] = mapped_column(Date)
    # The day of submission (the server's), unless the coordinator declared an earlier one for
    # a signalement received outside the service, and how it reached them.
    received_on_declared: Mapped[bool] = mapped_column(Boolean, default=False)
    received_via: Mapped[str | None] = mapped_column(String(20))
    sex: Mapped[str | None] = mapped_column(String(1))
    age_bracket: Mapped[str] = mapped_column(String(10))
    submitted_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    retained: Mapped[bool | None] = mapped_column(Boolean)
    parquet_decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    meeting_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("meeting.id"), index=True)
    # Its place in that meeting's agenda, which the coordinator orders (issue 17).
    agenda_position: Mapped[int | None] = mapped_column(Integer)
    # R7: the meeting at which the parquet presents this not-retained situation.
    presentation_meeting_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("meeting.id"), index=True
    )
    review_decision: Mapped[str | None] = mapped_column(String(20))
    family_informed_on: Mapped[date | None] = mapped_column(Date)
    family_information_means: Mapped[str | None] = mapped_column(String(20))
    # R8: the family's answer (informed, objects, unreachable).
    family_information_outcome: Mapped[str | None] = mapped_column(String(20))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Why it was closed (app.vocabulary.ClosureReason): a statistic, kept after the purge.
    closure_reason: Mapped[str | None] = mapped_column(String(30))
    # R18: the month of birth (its first day), kept only until the purge, for the 25-year rule.
    birth_month_on: Mapped[date | None] = mapped_column(Date, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The retention rule (its @id in policies/retention.cedar) under which it was destroyed.
    purge_rule: Mapped[str | None] = mapped_column(String(60))
    # Withdrawn by its author or the coordinator (R4): why and when (the skeleton keeps it).
    withdrawal_reason: Mapped[str | None] = mapped_column(String(30))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Sent back to its author to be completed; cleared by the author's amendment.
    returned_reason: Mapped[str | None] = mapped_column(String(30))
    returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Optimistic concurrency: every step bumps it; a concurrent step on a stale copy fails (409).
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    motifs: Mapped[list[CaseMotif]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="CaseMotif.motif"
    )
    personal: Mapped[CasePersonal | None] = relationship(
        lazy="raise", cascade="all, delete-orphan", uselist=False
    )
    guardians: Mapped[list[Guardian]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="Guardian.position"
    )
    research_notes: Mapped[list[ResearchNote]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ResearchNote.created_at"
    )
    orientations: Mapped[list[Orientation]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="Orientation.position"
    )
    steps: Mapped[list[CaseStep]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="CaseStep.id"
    )
    key: Mapped[CaseKey | None] = relationship(lazy="raise", uselist=False, viewonly=True)
    # Who was invited to, and who attended, the meeting whose agenda holds the case: the
    # charter shares the research notes with those who attend (R12, issue 17).
    agenda_participants: Mapped[list[MeetingParticipant]] = relationship(
        primaryjoin="Case.meeting_id == foreign(MeetingParticipant.meeting_id)",
        lazy="raise",
        viewonly=True,
    )
    # Issue 16: a case closed as a duplicate names the case it was merged into (same cell).
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    transfers: Mapped[list[CaseTransfer]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="CaseTransfer.proposed_at"
    )
    additional_signalements: Mapped[list[AdditionalSignalement]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="AdditionalSignalement.received_on",
        foreign_keys="AdditionalSignalement.case_id",
    )


class CaseMotif(Base):
    __tablename__ = "case_motif"

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), primary_key=True
    )
    motif: Mapped[str] = mapped_column(String(30), primary_key=True)


class CasePersonal(Base):
    """The minor's identity and address, and the signaler's account: ciphertexts only."""

    __tablename__ = "case_personal"

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), primary_key=True
    )
    last_name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    first_name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    birth_date_enc: Mapped[bytes] = mapped_column(LargeBinary)
    address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    school_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    facts_enc: Mapped[bytes | None] = mapped_column(LargeBinary)


class Guardian(Base):
    __tablename__ = "guardian"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    relationship: Mapped[str] = mapped_column(String(20))
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)


class ResearchNote(Base):
    __tablename__ = "research_note"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    author_organisation: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Its author amended it (the earlier text is a CaseRevision).
    amended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    content_enc: Mapped[bytes] = mapped_column(LargeBinary)


class Orientation(Base):
    """One destination decided at the meeting, its transmission and the service's feedback."""

    __tablename__ = "orientation"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    destination: Mapped[str] = mapped_column(String(30))
    # The cell's partner service named for this destination (none for social services,
    # reached through the CST, or when the cell lists none).
    service_id: Mapped[int | None] = mapped_column(ForeignKey("partner_service.id"))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    transmitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    transmitted_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    feedback_outcome: Mapped[str | None] = mapped_column(String(30))
    reoriented_to: Mapped[str | None] = mapped_column(String(20))
    feedback_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    feedback_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    service: Mapped[PartnerService | None] = relationship(lazy="raise", viewonly=True)


class CaseStep(Base):
    """The history of the steps fired on a case (who, when, from which state to which)."""

    __tablename__ = "case_step"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    actor_role: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # A code that says more of the step, never a nominative value: how a declared signalement
    # was received ("declared:letter"), a closure's reason, the family's answer.
    detail: Mapped[str | None] = mapped_column(String(80))


class ArchiveAccess(Base):
    """R17: a motivated, time-limited access of one user to one closed case."""

    __tablename__ = "archive_access"
    __table_args__ = (Index("ix_archive_access_user_expiry", "user_id", "expires_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # The reason may name people: sealed with the case's key like any nominative text.
    reason_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # Its purpose from a closed list, not nominative (None: granted before migration 0015).
    purpose: Mapped[str | None] = mapped_column(String(32), nullable=True)
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CaseReferenceCounter(Base):
    """The last sequence number given in a cell for a year of receipt (references)."""

    __tablename__ = "case_reference_counter"

    cell_id: Mapped[int] = mapped_column(ForeignKey("cell.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class CaseRevision(Base):
    """The values an amendment replaced (R10): sealed with the case's key, readable by the
    coordinator only. ``fields`` names what changed, never a value; a research note's
    revision points to the note."""

    __tablename__ = "case_revision"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), index=True
    )
    note_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("research_note.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    actor_role: Mapped[str] = mapped_column(String(20))
    fields: Mapped[str] = mapped_column(String(255))
    previous_enc: Mapped[bytes] = mapped_column(LargeBinary)


_OUTCOMES = ", ".join(f"'{outcome.value}'" for outcome in TransferOutcome)


class CaseTransfer(Base):
    """A transfer of a case to another cell of the same kind (the minor moved): proposed by
    the coordinator of the case's cell, accepted or declined by the receiving cell's. At most
    one is pending per case. Nothing nominative: cells, people's ids and dates."""

    __tablename__ = "case_transfer"
    __table_args__ = (
        CheckConstraint(f"outcome IN ({_OUTCOMES})", name="outcome_known"),
        CheckConstraint("from_cell_id <> to_cell_id", name="another_cell"),
        Index(
            "uq_case_transfer_pending",
            "case_id",
            unique=True,
            sqlite_where=text("outcome = 'pending'"),
            postgresql_where=text("outcome = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), index=True
    )
    from_cell_id: Mapped[int] = mapped_column(ForeignKey("cell.id"), index=True)
    to_cell_id: Mapped[int] = mapped_column(ForeignKey("cell.id"), index=True)
    proposed_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(10), default=TransferOutcome.PENDING.value)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AdditionalSignalement(Base):
    """A signalement of the same minor merged into this case (issue 16): its origin and the
    day it was received, counted by origin in the indicators (R19: not nominative)."""

    __tablename__ = "additional_signalement"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), index=True
    )
    # The case that was closed as a duplicate (its record stays, closed, with its notes).
    merged_case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case_file.id"), unique=True)
    origin: Mapped[str] = mapped_column(String(30))
    received_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DuplicateDismissal(Base):
    """Two cases of the same blind-indexed identity that the coordinator found to be of two
    different minors: never flagged again as possible duplicates. The pair is stored in the
    order of the ids (one row per pair)."""

    __tablename__ = "duplicate_dismissal"
    __table_args__ = (CheckConstraint("first_case_id < second_case_id", name="pair_ordered"),)

    first_case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), primary_key=True
    )
    second_case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    decided_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
