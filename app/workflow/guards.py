"""Procedural rules checked before a step, as pure functions of plain values.

Each guard raises :class:`GuardFailed` with a message that names the rule and says what to do;
it never sees a nominative value. The machine calls them through :mod:`app.workflow.machine`,
and they are tested on their own.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from app.vocabulary import (
    DESTINATIONS_BY_KIND,
    CellKind,
    ClosureReason,
    Destination,
    FamilyOutcome,
)


class GuardFailed(Exception):
    """A procedural rule forbids the step now (answered as 409). ``day``: the day from which
    the rule will allow it, where the rule knows one (a page says so instead of a button)."""

    def __init__(self, slug: str, detail: str, *, day: date | None = None) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail
        self.day = day


class InvalidStepInput(Exception):
    """The step's values are refused whatever the case's state (answered as 422).

    ``code`` names the rule and ``field`` the value it refuses (its path in the step's body),
    so that a client, or a form, can show the refusal on that field in its own words."""

    def __init__(
        self, detail: str, *, code: str, field: tuple[str, ...] = (), slug: str = "invalid-input"
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.field = field
        self.slug = slug


@dataclass(frozen=True, slots=True)
class StepFacts:
    """What the guards of one step need to know; each step fills the fields it uses."""

    today: date
    cell_kind: CellKind = CellKind.CENOMED
    received_on: date | None = None
    meeting_held_on: date | None = None
    meeting_cell_matches: bool = True
    destinations: tuple[Destination, ...] = ()
    destination: Destination | None = None
    family_informed: bool = False
    already_transmitted: bool = False
    has_social_coordinator: bool = False
    feedback_recorded: bool = False
    family_outcome: FamilyOutcome | None = None
    meeting_record_days: int = 14
    existing_destinations: frozenset[Destination] = frozenset()
    # Closure: the reason given, and what the case's record says of its orientations.
    closure_reason: ClosureReason | None = None
    orientations: int = 0
    orientations_with_feedback: int = 0
    aged_out: bool = False
    # The coordinator sent the signalement back to its author, who has not amended it yet.
    returned_to_author: bool = False
    # Transfers (issue 16): whether one is pending now.
    transfer_pending: bool = False


def add_calendar_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def age_on(birth_date: date, on: date) -> int:
    """Age in completed years on a given day."""
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - int(before_birthday)


# --- step 1 -----------------------------------------------------------------------------------


def check_received_on(received_on: date, today: date, max_days: int) -> None:
    """A date the coordinator declares for a signalement received outside the service: never
    in the future, at most ``max_days`` back (CENOMED_RECEIVED_ON_MAX_DAYS)."""
    if received_on > today:
        raise InvalidStepInput(
            "received_on cannot be in the future.",
            code="date_in_future",
            field=("received_on",),
            slug="received-on-in-future",
        )
    if (today - received_on).days > max_days:
        raise InvalidStepInput(
            f"received_on can be declared at most {max_days} days back.",
            code="date_too_old",
            field=("received_on",),
            slug="received-on-too-old",
        )


AGE_LIMITS: dict[CellKind, tuple[int, int]] = {
    # R21: a CENOMED cell handles minors; a recidivism group, young people of 12 to 25.
    CellKind.CENOMED: (0, 17),
    CellKind.RECIDIVISM: (12, 25),
}


def check_meeting_recordable(held_on: date, today: date, record_days: int) -> None:
    """A meeting is recorded at most ``record_days`` after it was held
    (CENOMED_MEETING_RECORD_DAYS): the service is not a place to invent past meetings."""
    if (today - held_on).days > record_days:
        raise InvalidStepInput(
            f"A meeting is recorded at most {record_days} days after it was held.",
            code="recorded_too_late",
            field=("held_on",),
            slug="meeting-recorded-too-late",
        )


def check_public(kind: CellKind, birth_date: date, received_on: date) -> None:
    if birth_date > received_on:
        raise InvalidStepInput(
            "The birth date must be before the date received.",
            code="born_after_receipt",
            field=("minor", "birth_date"),
        )
    low, high = AGE_LIMITS[kind]
    age = age_on(birth_date, received_on)
    if not low <= age <= high:
        if kind is CellKind.CENOMED:
            raise InvalidStepInput(
                "A CENOMED cell handles minors only: the person must be under 18 on received_on "
                "(R21).",
                code="not_a_minor",
                field=("minor", "birth_date"),
            )
        raise InvalidStepInput(
            "A recidivism group handles young people aged 12 to 25 on received_on (R21).",
            code="outside_recidivism_ages",
            field=("minor", "birth_date"),
        )


# --- steps 4 and 5 ----------------------------------------------------------------------------


def meeting_in_case_cell(facts: StepFacts) -> None:
    if not facts.meeting_cell_matches:
        raise GuardFailed(
            "meeting-of-another-cell",
            "This meeting belongs to another cell; put the case on a meeting of its own cell.",
        )


def one_month_elapsed(facts: StepFacts) -> None:
    """R7: at least one calendar month between receipt (step 1) and examination (step 4)."""
    assert facts.received_on is not None
    assert facts.meeting_held_on is not None
    earliest = add_calendar_months(facts.received_on, 1)
    if facts.meeting_held_on < earliest:
        raise GuardFailed(
            "one-month-rule",
            "A situation may be examined only at a meeting held at least one calendar month "
            "after it was received (R7): choose a meeting held on or after "
            f"{earliest.isoformat()}.",
            day=earliest,
        )


def meeting_still_recordable(facts: StepFacts) -> None:
    """An examination is recorded at most ``meeting_record_days`` after its meeting."""
    assert facts.meeting_held_on is not None
    if (facts.today - facts.meeting_held_on).days > facts.meeting_record_days:
        raise GuardFailed(
            "meeting-recorded-too-late",
            f"This meeting was held more than {facts.meeting_record_days} days ago: put the case "
            "on the agenda of a meeting to come.",
        )


def meeting_has_taken_place(facts: StepFacts) -> None:
    assert facts.meeting_held_on is not None
    if facts.meeting_held_on > facts.today:
        raise GuardFailed(
            "meeting-not-held-yet",
            "The cell decides at its meeting: record the decision on or after "
            f"{facts.meeting_held_on.isoformat()}.",
            day=facts.meeting_held_on,
        )


def destinations_allowed(facts: StepFacts) -> None:
    if not facts.destinations:
        raise InvalidStepInput(
            "An 'orient' decision needs at least one orientation.",
            code="no_destination",
            field=("orientations",),
        )
    if len(set(facts.destinations)) != len(facts.destinations):
        raise InvalidStepInput(
            "Each destination may appear only once in a decision.",
            code="repeated_destination",
            field=("orientations",),
        )
    allowed = DESTINATIONS_BY_KIND[facts.cell_kind]
    refused = sorted(d.value for d in facts.destinations if d not in allowed)
    if refused:
        raise InvalidStepInput(
            f"Destinations not open to a {facts.cell_kind.value} cell: {', '.join(refused)}.",
            code="destination_not_open",
            field=("orientations",),
        )


# --- step 5: family information and transmission


def check_informed_on(informed_on: date, decided_on: date, today: date) -> None:
    """The family is informed of an orientation: not before the cell decided it, not in the
    future."""
    if informed_on > today:
        raise InvalidStepInput(
            "informed_on cannot be in the future.",
            code="date_in_future",
            field=("informed_on",),
            slug="informed-on-in-future",
        )
    if informed_on < decided_on:
        raise InvalidStepInput(
            "informed_on cannot be before the cell's decision to orient the case.",
            code="before_decision",
            field=("informed_on",),
            slug="informed-before-decision",
        )


def family_not_yet_informed(facts: StepFacts) -> None:
    if facts.family_informed:
        raise GuardFailed(
            "family-already-informed", "The family information is already recorded for this case."
        )


# --- step 5: transmission ---------------------------------------------------------------------


def not_yet_transmitted(facts: StepFacts) -> None:
    if facts.already_transmitted:
        raise GuardFailed("already-transmitted", "This orientation has already been transmitted.")


def family_informed_before_social_services(facts: StepFacts) -> None:
    """R8: a transmission to social services goes through the CST, after the family is informed."""
    if facts.destination is not Destination.SOCIAL_SERVICES:
        return
    if not facts.family_informed:
        raise GuardFailed(
            "family-not-informed",
            "Record the family information (date, means and answer) before transmitting to "
            "social services (R8).",
        )
    if facts.family_outcome is FamilyOutcome.UNREACHABLE:
        raise GuardFailed(
            "family-unreachable",
            "The family could not be reached: no transmission to social services (R8). Close "
            "the case as 'family_unreachable' or orient it elsewhere.",
        )
    if not facts.has_social_coordinator:
        raise GuardFailed(
            "no-social-coordinator",
            "A transmission to social services goes through the cell's CST, and this cell has "
            "no active CST: ask an administrator to add one.",
        )


# --- step 6 -----------------------------------------------------------------------------------


def transmitted_before_feedback(facts: StepFacts) -> None:
    if not facts.already_transmitted:
        raise GuardFailed(
            "not-transmitted",
            "Feedback can be recorded only for an orientation that has been transmitted.",
        )


def feedback_not_yet_recorded(facts: StepFacts) -> None:
    if facts.feedback_recorded:
        raise GuardFailed(
            "feedback-already-recorded", "Feedback for this orientation is already recorded."
        )


# --- step 5: another orientation ---------------------------------------------------------------


def another_destination(facts: StepFacts) -> None:
    """An orientation added after the decision (when the family could not be reached, say):
    a destination open to the cell, not one the case already has."""
    destinations_allowed(facts)
    repeated = sorted(d.value for d in facts.destinations if d in facts.existing_destinations)
    if repeated:
        raise InvalidStepInput(
            f"The case is already oriented to: {', '.join(repeated)}.",
            code="repeated_destination",
            field=("destination",),
        )


# --- closure ----------------------------------------------------------------------------------


def closure_reason_applies(facts: StepFacts) -> None:
    """A closure says why, and the reason must be true of the record: every feedback received,
    the family unreachable, the person out of the cell's public. ``no_action`` is the review
    decision's own; moving away and a judicial measure apply at any step."""
    reason = facts.closure_reason
    refusal: str | None = None
    if reason is ClosureReason.NO_ACTION:
        refusal = "'no_action' is what the cell's review decision records; give another reason."
    elif reason is ClosureReason.FEEDBACK_RECEIVED and (
        facts.orientations == 0 or facts.orientations_with_feedback < facts.orientations
    ):
        refusal = (
            "Not every orientation has its feedback: close for another reason (moved_away, "
            "aged_out, judicial_follow_up, family_unreachable), or wait for the feedback."
        )
    elif (
        reason is ClosureReason.FAMILY_UNREACHABLE
        and facts.family_outcome is not FamilyOutcome.UNREACHABLE
    ):
        refusal = "The family information does not record a family that could not be reached."
    elif reason is ClosureReason.AGED_OUT and not facts.aged_out:
        refusal = "The person has not left the cell's public (R21) by age."
    if refusal is not None:
        raise GuardFailed("closure-reason-not-applicable", refusal)


def not_returned_to_author(facts: StepFacts) -> None:
    if facts.returned_to_author:
        raise GuardFailed(
            "returned-to-author",
            "This signalement was sent back to its author to be completed: it goes to the "
            "parquet once amended.",
        )


def not_already_returned(facts: StepFacts) -> None:
    if facts.returned_to_author:
        raise GuardFailed(
            "already-returned",
            "This signalement is already waiting for its author's amendment.",
        )


# --- transfers (issue 16) ---------------------------------------------------------------------


def no_transfer_pending(facts: StepFacts) -> None:
    """One transfer at a time: the receiving cell answers the first before another is made."""
    if facts.transfer_pending:
        raise GuardFailed(
            "transfer-already-pending",
            "A transfer of this case is already waiting for the receiving cell's answer.",
        )


def transfer_pending(facts: StepFacts) -> None:
    if not facts.transfer_pending:
        raise GuardFailed("no-pending-transfer", "No transfer of this case is waiting.")
