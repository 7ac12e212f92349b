"""Imports every table so that ``Base.metadata`` is complete (Alembic, tests)."""

from app.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from app.cases.models import (
    ArchiveAccess,
    Case,
    CaseMotif,
    CasePersonal,
    CaseReferenceCounter,
    CaseRevision,
    CaseStep,
    Guardian,
    Orientation,
    ResearchNote,
)
from app.crypto.models import CaseKey, IdentityIndex
from app.db import Base
from app.directory.models import Cell, CharterAcceptance, Membership, User
from app.meetings.models import Meeting, MeetingParticipant
from app.notifications.models import (
    MeetingCalendar,
    Notification,
    NotificationAttempt,
    NotificationMessage,
    SenderLease,
)
from app.partners.models import PartnerService
from app.web.models import WebSession

__all__ = [
    "AuditCheckpoint",
    "AuditEvent",
    "AuditHead",
    "ArchiveAccess",
    "CharterAcceptance",
    "Base",
    "Case",
    "CaseKey",
    "CaseMotif",
    "CasePersonal",
    "CaseReferenceCounter",
    "CaseRevision",
    "CaseStep",
    "Cell",
    "Guardian",
    "IdentityIndex",
    "Meeting",
    "MeetingCalendar",
    "MeetingParticipant",
    "Membership",
    "Notification",
    "NotificationAttempt",
    "NotificationMessage",
    "Orientation",
    "PartnerService",
    "ResearchNote",
    "SenderLease",
    "User",
    "WebSession",
]
