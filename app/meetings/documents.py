"""A meeting's printable documents (issue 17): its agenda (ordre du jour) and, from its day on,
its minutes (relevé de décisions), as PDFs generated on demand and never stored.

Each document is the meeting as :func:`app.meetings.service.meeting_read` shows it to the
reader (the charter's decision, case by case), so that it holds exactly what the reader's
``GET /meetings/{id}`` shows; printing it is one audited read per case shown, of the blocks
shown, under ``print_agenda`` or ``print_minutes`` (R23). A case closed or destroyed since is
shown as its reference and "clôturée" or "détruite", never as an error. Every page carries the
confidentiality banner (who printed it, when) and its number.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from app.audit.trail import Action
from app.crypto.vault import Vault
from app.directory import repository as directory
from app.documents.pdf import banner, render_pdf
from app.errors import Conflict
from app.meetings import service
from app.meetings.schemas import MeetingRead
from app.principal import Principal
from app.vocabulary import MeetingStatus
from app.web.rendering import templates
from app.workflow.states import CaseState

# What a document says of a case the reader may no longer read, kept for the record.
RECORD_WORDS = {CaseState.CLOSED: "clôturée", CaseState.PURGED: "détruite"}
STATUS_WORDS = {
    MeetingStatus.SCHEDULED: "convoquée",
    MeetingStatus.HELD: "tenue",
    MeetingStatus.CANCELLED: "annulée",
}


class Document(StrEnum):
    """The two documents of a meeting."""

    AGENDA = "agenda"
    MINUTES = "minutes"


# Per document: its template, the audit action its printing is, its file's name.
TEMPLATES = {Document.AGENDA: "print/agenda.html", Document.MINUTES: "print/minutes.html"}
ACTIONS = {Document.AGENDA: Action.PRINT_AGENDA, Document.MINUTES: Action.PRINT_MINUTES}
FILE_PREFIXES = {Document.AGENDA: "ordre-du-jour", Document.MINUTES: "releve-de-decisions"}


@dataclass(frozen=True, slots=True)
class Printed:
    content: bytes
    filename: str


def printed(
    session: Session,
    *,
    principal: Principal,
    vault: Vault,
    meeting_id: uuid.UUID,
    document: Document,
    today: date,
    now: datetime,
) -> Printed:
    """A document of a meeting of the caller's cells, as the caller may see it: the agenda at
    any time, the minutes (each case's decision and orientations with the service named, the
    feedback received) from the meeting's day on; neither once it is cancelled."""
    meeting = service.get_meeting(session, principal=principal, meeting_id=meeting_id)
    if meeting.status == MeetingStatus.CANCELLED.value:
        raise Conflict(
            "This meeting was cancelled: it has no agenda or minutes to print.",
            slug="meeting-cancelled",
            meeting_id=meeting.id,
        )
    if document is Document.MINUTES and meeting.held_on > today:
        raise Conflict(
            "This meeting has not been held yet: its minutes exist from its day on.",
            slug="meeting-not-held-yet",
            meeting_id=meeting.id,
        )
    shown = service.meeting_read(
        session,
        principal=principal,
        vault=vault,
        meeting=meeting,
        today=today,
        action=ACTIONS[document],
    )
    cell = directory.get_cell(session, meeting.cell_id)
    content = render(TEMPLATES[document], shown, principal.username, cell.name if cell else "", now)
    return Printed(content, f"{FILE_PREFIXES[document]}-{meeting.held_on.isoformat()}.pdf")


def render(template: str, shown: MeetingRead, account: str, cell_name: str, now: datetime) -> bytes:
    """The PDF of a meeting as shown to ``account``, printed at ``now``, from the web's
    templates (their labels and French filters)."""
    context: dict[str, Any] = {
        "meeting": shown,
        "cell_name": cell_name,
        "status_word": STATUS_WORDS[shown.status],
        "record_words": RECORD_WORDS,
        "banner": banner(account, now),
    }
    return render_pdf(templates.env.get_template(template).render(context))
