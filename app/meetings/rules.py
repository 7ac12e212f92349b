"""The meeting's own rules (issue 17), as pure functions of plain values: when a meeting may
start, which moves its status allows, when attendance and decisions may be recorded, and
which agenda cases a new date would examine too early (R7's month).

Each refusal is a :class:`~app.workflow.guards.GuardFailed` (409: the meeting's state forbids
it now) or an :class:`~app.workflow.guards.InvalidStepInput` (422: the value itself is refused),
with its own problem type, so that a client or a form says precisely what to change.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import date, time

from app.text import normalise_line
from app.vocabulary import MeetingStatus
from app.workflow.guards import GuardFailed, InvalidStepInput, add_calendar_months

# Where a cell meets: one line, a room or a service's address (never a person).
PLACE_MAX_LENGTH = 200
# A cell meets during the working day: a start outside these hours is a typing error.
EARLIEST_START = time(7, 0)
LATEST_START = time(21, 0)


def check_starts_at(starts_at: time) -> None:
    if not EARLIEST_START <= starts_at <= LATEST_START:
        raise InvalidStepInput(
            "A meeting starts between 07:00 and 21:00.",
            code="starts_at_out_of_hours",
            field=("starts_at",),
            slug="starts-at-out-of-hours",
        )


def clean_place(place: str) -> str:
    """The place as stored (invisible characters removed, spaces collapsed, NFC), or a refusal
    of its own type: not one line (a control character), empty, longer than 200 characters."""
    if any(unicodedata.category(c) == "Cc" for c in place):
        raise InvalidStepInput(
            "The place is one line, without control characters.",
            code="place_not_one_line",
            field=("place",),
            slug="place-not-one-line",
        )
    cleaned = normalise_line(place)
    if not cleaned:
        raise InvalidStepInput(
            "Say where the cell meets.", code="place_empty", field=("place",), slug="place-empty"
        )
    if len(cleaned) > PLACE_MAX_LENGTH:
        raise InvalidStepInput(
            f"The place is at most {PLACE_MAX_LENGTH} characters long.",
            code="place_too_long",
            field=("place",),
            slug="place-too-long",
        )
    return cleaned


def check_rescheduled_on(held_on: date, today: date) -> None:
    """A meeting is moved to today or a later day, never into the past."""
    if held_on < today:
        raise InvalidStepInput(
            "A meeting cannot be moved to a past day.",
            code="date_in_past",
            field=("held_on",),
            slug="meeting-moved-into-past",
        )


def check_still_scheduled(status: MeetingStatus) -> None:
    """Its date, place and agenda change only while the meeting is still to be held."""
    if status is MeetingStatus.HELD:
        raise GuardFailed(
            "meeting-already-held",
            "This meeting has been held: its date, place and agenda are part of the record.",
        )
    if status is MeetingStatus.CANCELLED:
        raise GuardFailed(
            "meeting-cancelled",
            "This meeting was cancelled: schedule another one.",
        )


def check_cancellable(status: MeetingStatus, decided: int) -> None:
    """A held meeting is not cancelled, nor one where a decision was already taken."""
    check_still_scheduled(status)
    if decided:
        raise GuardFailed(
            "meeting-has-decisions",
            "The cell has already decided on cases of this meeting: it cannot be cancelled.",
        )


def check_day_has_come(held_on: date, today: date) -> None:
    """Attendance, and the meeting's being held, are recorded on or after its day."""
    if held_on > today:
        raise GuardFailed(
            "meeting-not-held-yet",
            f"This meeting takes place on {held_on.isoformat()}: record it on or after that day.",
        )


def check_attendance_recordable(status: MeetingStatus, held_on: date, today: date) -> None:
    if status is MeetingStatus.CANCELLED:
        check_still_scheduled(status)
    check_day_has_come(held_on, today)


def check_may_mark_held(
    status: MeetingStatus, held_on: date, today: date, undecided: list[str]
) -> None:
    """Held: on or after its day, once every case of its agenda is decided (or taken off the
    agenda, for a later meeting)."""
    check_still_scheduled(status)
    check_day_has_come(held_on, today)
    if undecided:
        raise GuardFailed(
            "agenda-not-decided",
            "Record the cell's decision on each case of the agenda, or take it off the agenda "
            f"for a later meeting, before marking the meeting held: {', '.join(undecided)}.",
        )


def examined_too_early(received: Mapping[str, date], held_on: date) -> list[str]:
    """The agenda's cases (by reference) that a meeting on ``held_on`` would examine less than
    one calendar month after their receipt (R7), in reference order."""
    return sorted(
        reference
        for reference, received_on in received.items()
        if held_on < add_calendar_months(received_on, 1)
    )


def check_month_rule_kept(received: Mapping[str, date], held_on: date) -> None:
    too_early = examined_too_early(received, held_on)
    if too_early:
        raise GuardFailed(
            "one-month-rule",
            f"On {held_on.isoformat()} these cases of the agenda would be examined less than "
            f"one calendar month after their receipt (R7): {', '.join(too_early)}. Take them "
            "off the agenda first, or choose a later day.",
        )
