"""Meeting invitations as iCalendar (RFC 5545, iTIP RFC 5546) attachments.

The UID is the meeting's id, the same in every message about it, and SEQUENCE grows with
each change: a calendar then updates (``METHOD:REQUEST``) or removes (``METHOD:CANCEL``) the
one event instead of adding another. The event says the cell, the day, the time and the place;
never what is on the agenda.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from icalendar import Calendar, Event, vCalAddress

from app.clock import PARIS

# A meeting has no end recorded; calendars need one.
MEETING_LENGTH = timedelta(hours=2)


def meeting_uid(meeting_id: uuid.UUID) -> str:
    # The hexadecimal form: no run of digits and dashes that could look like a case reference.
    return f"meeting-{meeting_id.hex}@cenomed"


def invitation(
    *,
    meeting_id: uuid.UUID,
    sequence: int,
    cancelled: bool,
    cell_name: str,
    held_on: date,
    starts_at: time | None,
    place: str | None,
    organiser: str,
    attendee: str,
    stamp: datetime,
    link: str,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//cenomed//notifications//FR")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", meeting_uid(meeting_id))
    event.add("sequence", sequence)
    event.add("dtstamp", stamp)
    if starts_at is None:
        event.add("dtstart", held_on)
        event.add("dtend", held_on + timedelta(days=1))
    else:
        start = datetime.combine(held_on, starts_at, tzinfo=PARIS)
        event.add("dtstart", start)
        event.add("dtend", start + MEETING_LENGTH)
    event.add("summary", f"Réunion de la cellule {cell_name}")
    if place:
        event.add("location", place)
    event.add("description", f"Ordre du jour et participants dans cenomed : {link}")
    event.add("url", link)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("organizer", vCalAddress(f"mailto:{organiser}"))
    guest = vCalAddress(f"mailto:{attendee}")
    guest.params["ROLE"] = "REQ-PARTICIPANT"
    guest.params["RSVP"] = "FALSE"
    event.add("attendee", guest)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    ics: bytes = calendar.to_ical()
    return ics
