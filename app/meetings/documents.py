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

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.audit.trail import Action
from app.crypto.vault import Vault
from app.documents.pdf import banner, render_pdf
from app.errors import Conflict
from app.meetings import service
from app.meetings.models import Meeting
from app.meetings.schemas import MeetingRead
from app.principal import Principal
from app.vocabulary import MeetingStatus
from app.web.rendering import templates
from app.workflow.states import CaseState

AGENDA_TEMPLATE = "print/agenda.html"
MINUTES_TEMPLATE = "print/minutes.html"
# What a document says of a case the reader may no longer read, kept for the record.
RECORD_WORDS = {CaseState.CLOSED: "clôturée", CaseState.PURGED: "détruite"}
STATUS_WORDS = {
    MeetingStatus.SCHEDULED: "convoquée",
    MeetingStatus.HELD: "tenue",
    MeetingStatus.CANCELLED: "annulée",
}


def agenda_filename(meeting: Meeting) -> str:
    return f"ordre-du-jour-{meeting.held_on.isoformat()}.pdf"


def minutes_filename(meeting: Meeting) -> str:
    return f"releve-de-decisions-{meeting.held_on.isoformat()}.pdf"


def _not_cancelled(meeting: Meeting) -> None:
    if meeting.status == MeetingStatus.CANCELLED.value:
        raise Conflict(
            "This meeting was cancelled: it has no agenda or minutes to print.",
            slug="meeting-cancelled",
            meeting_id=meeting.id,
        )


def agenda_pdf(
    session: Session,
    *,
    principal: Principal,
    vault: Vault,
    meeting: Meeting,
    today: date,
    cell_name: str,
    now: datetime,
) -> bytes:
    """The agenda as the reader may see it, at any time but once the meeting is cancelled."""
    _not_cancelled(meeting)
    shown = service.meeting_read(
        session,
        principal=principal,
        vault=vault,
        meeting=meeting,
        today=today,
        action=Action.PRINT_AGENDA,
    )
    return render(AGENDA_TEMPLATE, shown, principal.username, cell_name, now)


def minutes_pdf(
    session: Session,
    *,
    principal: Principal,
    vault: Vault,
    meeting: Meeting,
    today: date,
    cell_name: str,
    now: datetime,
) -> bytes:
    """The minutes (each case's decision and orientations with the service named, the
    feedback received) as the reader may see them, from the meeting's day on."""
    _not_cancelled(meeting)
    if meeting.held_on > today:
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
        action=Action.PRINT_MINUTES,
    )
    return render(MINUTES_TEMPLATE, shown, principal.username, cell_name, now)


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
