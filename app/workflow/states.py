from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    SUBMITTED = "submitted"
    PARQUET_REVIEW = "parquet_review"
    NOT_RETAINED = "not_retained"
    RESEARCH = "research"
    CELL_REVIEW = "cell_review"
    ORIENTED = "oriented"
    FEEDBACK = "feedback"
    CLOSED = "closed"
    PURGED = "purged"
    # Taken back by its author or the coordinator before the parquet saw it; terminal.
    WITHDRAWN = "withdrawn"


class Step(StrEnum):
    """Every action of the procedure that a user fires on a case (also the permission names)."""

    SUBMIT = "submit"
    # Entering a signalement received outside the service, with its day and channel (R4).
    DECLARE_RECEIPT = "declare_receipt"
    REFER_TO_PARQUET = "refer_to_parquet"
    RETAIN = "retain"
    NOT_RETAIN = "not_retain"
    ADD_RESEARCH_NOTE = "add_research_note"
    EXAMINE_AT_MEETING = "examine_at_meeting"
    # Issue 17: taken off a meeting's agenda before the cell decided (by the coordinator, or
    # with the meeting's cancellation): back to research, for another meeting.
    REMOVE_FROM_AGENDA = "remove_from_agenda"
    ORIENT = "orient"
    CLOSE_WITHOUT_ACTION = "close_without_action"
    RECORD_FAMILY_INFORMATION = "record_family_information"
    ADD_ORIENTATION = "add_orientation"
    TRANSMIT = "transmit"
    RECORD_FEEDBACK = "record_feedback"
    CLOSE = "close"
    # Not moves of the procedure: reading an archived case (R17), the data-subject export (R22).
    REQUEST_ARCHIVE_ACCESS = "request_archive_access"
    EXPORT_SUBJECT_ACCESS = "export_subject_access"
    # Corrections (R4, R10): the signalement amended by its author or the coordinator before the
    # parquet's decision; the identity and contact corrected by the coordinator afterwards.
    AMEND = "amend"
    CORRECT_IDENTITY = "correct_identity"
    WITHDRAW = "withdraw"
    # The coordinator sends an incomplete signalement back to its author, who amends it.
    RETURN_TO_AUTHOR = "return_to_author"
    AMEND_RESEARCH_NOTE = "amend_research_note"
    # The previous values of the amended fields, kept for the coordinator (R10).
    READ_REVISIONS = "read_revisions"
    # Issue 16. A possible duplicate decided (on the case kept, or on both for "different
    # minors"), and the case closed as the duplicate of another.
    DECIDE_DUPLICATE = "decide_duplicate"
    CLOSE_AS_DUPLICATE = "close_as_duplicate"
    # A transfer to another cell of the same kind: proposed by the case's coordinator, seen,
    # accepted or declined by the receiving cell's coordinator.
    PROPOSE_TRANSFER = "propose_transfer"
    SEE_PENDING_TRANSFER = "see_pending_transfer"
    ACCEPT_TRANSFER = "accept_transfer"
    DECLINE_TRANSFER = "decline_transfer"
