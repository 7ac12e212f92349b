"""The closed lists of the contract (R20): every coded value the service accepts."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    COORDINATOR = "coordinator"
    PARQUET = "parquet"
    MEMBER = "member"
    CST = "cst"
    AUDITOR = "auditor"
    STEERING = "steering"
    ADMIN = "admin"


class Organisation(StrEnum):
    POLICE = "police"
    EDUCATION = "education"
    MAIRIE = "mairie"
    CITY_SERVICE = "city_service"
    SOCIAL_LANDLORD = "social_landlord"
    PJJ = "pjj"
    PARQUET = "parquet"
    DPP = "dpp"
    DASES = "dases"
    ASSOCIATION = "association"
    OTHER = "other"


class CellKind(StrEnum):
    CENOMED = "cenomed"
    RECIDIVISM = "recidivism"


class Motif(StrEnum):
    PUBLIC_ORDER = "public_order"
    ABSENTEEISM = "absenteeism"
    SCHOOL_DROPOUT = "school_dropout"
    WANDERING = "wandering"
    VIOLENT_BEHAVIOUR = "violent_behaviour"
    NIGHT_PRESENCE = "night_presence"
    ENDANGERMENT = "endangerment"
    OTHER = "other"


class Destination(StrEnum):
    SOCIAL_SERVICES = "social_services"
    CRIP = "crip"
    PREVENTION_ASSOCIATION = "prevention_association"
    SCHOOL_HEAD = "school_head"
    REUSSITE_EDUCATIVE = "reussite_educative"
    OTHER = "other"
    # Recidivism groups only (fiche 1.4).
    MISSION_LOCALE = "mission_locale"
    INSERTION = "insertion"
    PJJ = "pjj"
    SPIP = "spip"
    HEALTH = "health"
    HOUSING = "housing"


CENOMED_DESTINATIONS = frozenset(
    {
        Destination.SOCIAL_SERVICES,
        Destination.CRIP,
        Destination.PREVENTION_ASSOCIATION,
        Destination.SCHOOL_HEAD,
        Destination.REUSSITE_EDUCATIVE,
        Destination.OTHER,
    }
)
DESTINATIONS_BY_KIND: dict[CellKind, frozenset[Destination]] = {
    CellKind.CENOMED: CENOMED_DESTINATIONS,
    CellKind.RECIDIVISM: frozenset(Destination),
}


class FeedbackOutcome(StrEnum):
    SUPPORT_IN_PLACE = "support_in_place"
    SUPPORT_NOT_POSSIBLE = "support_not_possible"
    REORIENTED = "reoriented"


class ReorientedTo(StrEnum):
    SOCIAL = "social"
    MEDICO_SOCIAL = "medico_social"


class Sex(StrEnum):
    F = "F"
    M = "M"
    X = "X"


class GuardianRelationship(StrEnum):
    PARENT = "parent"
    GUARDIAN = "guardian"
    OTHER = "other"


class InformationMeans(StrEnum):
    LETTER = "letter"
    MEETING = "meeting"
    PHONE = "phone"
    EMAIL = "email"


class ReviewDecision(StrEnum):
    ORIENT = "orient"
    NO_ACTION = "no_action"


class ReceivedVia(StrEnum):
    """How a signalement the coordinator enters reached them outside the service."""

    LETTER = "letter"
    EMAIL = "email"
    PHONE = "phone"
    MEETING = "meeting"
    IN_PERSON = "in_person"


class FamilyOutcome(StrEnum):
    """The family's answer when informed of the orientation (R8)."""

    INFORMED = "informed"
    OBJECTS = "objects"  # informed, and opposed: recorded, and shown to the CST
    UNREACHABLE = "unreachable"  # attempts failed: no transmission to social services


class ClosureReason(StrEnum):
    """Why a case was closed (kept with the statistics after the purge)."""

    FEEDBACK_RECEIVED = "feedback_received"  # every orientation has its feedback
    MOVED_AWAY = "moved_away"  # the minor left the cell's territory
    AGED_OUT = "aged_out"  # the person left the cell's public (R21)
    JUDICIAL_FOLLOW_UP = "judicial_follow_up"  # a judicial measure began
    FAMILY_UNREACHABLE = "family_unreachable"  # the family could not be reached (R8)
    NO_ACTION = "no_action"  # the review decision "no action"
    OTHER_LEGACY = "other_legacy"  # written only by the migration, for older closures
    DUPLICATE = "duplicate"  # merged into another case of the same minor (issue 16)


class ArchivePurpose(StrEnum):
    """Why a closed case is opened again (R17, R23's "why"): a closed list the audit log
    carries and the auditor reads; the free-text reason that details it stays sealed with the
    case, since it may name people (R2)."""

    CELL_MEETING = "cell_meeting"  # a meeting of the cell examines the minor again
    NEW_SIGNALEMENT = "new_signalement"  # a new signalement of the same minor
    JUDICIAL_REQUEST = "judicial_request"  # a request of the parquet or a judge
    SUBJECT_ACCESS = "subject_access"  # the person exercises their right of access (R22)
    COMPLAINT = "complaint"  # a complaint or a dispute about the case
    OTHER = "other"  # said in the reason only


class WithdrawalReason(StrEnum):
    """Why a signalement was withdrawn before the parquet saw it (R4)."""

    SENT_BY_MISTAKE = "sent_by_mistake"
    WRONG_CELL = "wrong_cell"
    SITUATION_RESOLVED = "situation_resolved"
    OTHER = "other"


class ReturnReason(StrEnum):
    """Why the coordinator sent a signalement back to its author to be completed (R4)."""

    INCOMPLETE_IDENTITY = "incomplete_identity"
    FACTS_MISSING = "facts_missing"
    OUTSIDE_CENOMED_SCOPE = "outside_cenomed_scope"


class DuplicateDecision(StrEnum):
    """The coordinator's answer on a possible duplicate (issue 16)."""

    SAME_MINOR = "same_minor"  # merged: the older open case is kept, the other closed
    DIFFERENT_MINOR = "different_minor"  # never flagged again for this pair


class TransferDecision(StrEnum):
    """The receiving cell's coordinator's answer to a proposed transfer (issue 16)."""

    ACCEPT = "accept"
    DECLINE = "decline"


class TransferOutcome(StrEnum):
    """Where a proposed transfer stands (issue 16)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class MeetingStatus(StrEnum):
    """A cell meeting (issue 17): convened, then held (its decisions recorded) or cancelled."""

    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


class NotificationKind(StrEnum):
    """What an e-mail notification tells (issue 18): a count of these, never which case."""

    NEW_CASE = "new_case"  # to the cell's coordinators
    PARQUET_REFERRAL = "parquet_referral"  # to the cell's parquet
    TRANSMISSION = "transmission"  # to the cell's CST
    CASE_RETURNED = "case_returned"  # to the signalement's author
    TRANSFER_PROPOSED = "transfer_proposed"  # to the receiving cell's coordinators
    FEEDBACK_OVERDUE = "feedback_overdue"  # to the cell's coordinators, once per transmission
    MEETING_SCHEDULED = "meeting_scheduled"  # to the meeting's participants, with an .ics
    MEETING_CHANGED = "meeting_changed"
    MEETING_CANCELLED = "meeting_cancelled"


MEETING_NOTIFICATIONS = frozenset(
    {
        NotificationKind.MEETING_SCHEDULED,
        NotificationKind.MEETING_CHANGED,
        NotificationKind.MEETING_CANCELLED,
    }
)


class NotifyMode(StrEnum):
    """An account's choice: each batch, one digest a day at 08:00 Paris time, or nothing."""

    IMMEDIATE = "immediate"
    DAILY = "daily"
    NONE = "none"
