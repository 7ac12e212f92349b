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
