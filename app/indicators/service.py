"""Who reads which indicators (R19, R2), and their shape: complete breakdowns, masking.

A coordinator reads the indicators of a cell they coordinate, and must name it; the steering
committee and the auditors read those of any cell, or of Paris as a whole. The policies decide
(``read_cell_indicators`` on the cell, ``read_all_indicators`` on the whole); this module
only asks and explains a refusal. Every successful read is an audit event (R23).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from sqlalchemy.orm import Session

from app.audit import trail
from app.audit.trail import Action
from app.cases.age import AGE_BRACKETS
from app.directory import repository as directory
from app.errors import Forbidden, InvalidInput
from app.indicators import disclosure, repository
from app.indicators.repository import Counts, Median, Period
from app.indicators.schemas import Count, IndicatorsRead, MedianDays
from app.policy import decisions
from app.principal import Principal
from app.vocabulary import (
    ClosureReason,
    Destination,
    FeedbackOutcome,
    Motif,
    Organisation,
    Sex,
    WithdrawalReason,
)
from app.workflow.guards import add_calendar_months

CELL_ACTION = "read_cell_indicators"
MAX_YEARS = 10
NO_SEX = "unknown"
AGE_BRACKET_LABELS = (*(f"{low}-{high}" for low, high in AGE_BRACKETS), "26+")


def default_period(today: date, first: date | None, last: date | None) -> tuple[date, date]:
    """The last year by default: from the same day a year ago to today, both included."""
    last = last or today
    first = first or add_calendar_months(today, -12)
    if first > last:
        raise InvalidInput("'from' must be on or before 'to'.")
    try:
        furthest = add_calendar_months(first, 12 * MAX_YEARS)
    except ValueError:  # beyond the calendar's last year: any 'to' is within reach
        furthest = date.max
    if last > furthest:
        raise InvalidInput(f"Ask for {MAX_YEARS} years at most between 'from' and 'to'.")
    return first, last


def read_indicators(
    session: Session,
    *,
    principal: Principal,
    cell_id: int | None,
    first: date | None,
    last: date | None,
    today: date,
    mask_under: int | None = None,
    min_count: int = disclosure.DEFAULT_MIN_COUNT,
) -> IndicatorsRead:
    """The indicators of ``cell_id`` (None: Paris-wide) from ``first`` to ``last``, exact for
    the coordinator of that cell, under disclosure control for everyone else
    (:mod:`app.indicators.disclosure`)."""
    _authorise(session, principal, cell_id)
    first, last = default_period(today, first, last)
    counts = repository.count(session, cell_id=cell_id, period=Period(first, last, today))
    trail.record(
        session,
        principal,
        Action.READ_INDICATORS,
        detail=f"cell:{cell_id}" if cell_id is not None else "paris",
    )
    control = disclosure.control_for(
        exact_reader=reads_the_cases(principal, cell_id),
        min_count=min_count,
        mask_under=mask_under,
        first=first,
        last=last,
    )
    return shape(counts, cell_id=cell_id, first=first, last=last, control=control)


def reads_the_cases(principal: Principal, cell_id: int | None) -> bool:
    """Whether the reader reads the cases these figures count: the coordinator of the cell
    (the policies' ``read_cell_indicators`` on it). Paris as a whole, or a cell read by the
    steering committee or an auditor, is read by someone who does not."""
    return cell_id is not None and decisions.may_in_cell(principal, CELL_ACTION, cell_id)


def readable_scopes(
    session: Session, *, principal: Principal
) -> tuple[bool, list[tuple[int, str]]]:
    """What the caller may ask for: Paris as a whole or not, and which cells (id, name), as the
    policies decide (the same decisions as :func:`_authorise`)."""
    if decisions.may_read_all_indicators(principal):
        return True, repository.cells(session)
    own = [
        (cell_id, cell.name)
        for cell_id in sorted(principal.cell_ids)
        if decisions.may_in_cell(principal, CELL_ACTION, cell_id)
        and (cell := directory.get_cell(session, cell_id)) is not None
    ]
    return False, sorted(own, key=lambda c: c[1])


def _authorise(session: Session, principal: Principal, cell_id: int | None) -> None:
    if decisions.may_read_all_indicators(principal):
        if cell_id is not None and directory.get_cell(session, cell_id) is None:
            raise InvalidInput("No cell has this cell_id; leave it out for Paris-wide figures.")
        return
    if not decisions.may_as_member(principal, CELL_ACTION):
        if not principal.charter_accepted:
            raise decisions.charter_refusal()
        raise Forbidden(
            f"The charter does not let your role ({principal.role.value}) read the indicators: "
            "they are for the coordinators (of their cells), the steering committee and the "
            "auditors.",
            slug="role-not-allowed",
        )
    if cell_id is None:
        raise InvalidInput(
            "Give cell_id: the indicators you may read are those of a cell you coordinate."
        )
    decisions.require_in_cell(principal, CELL_ACTION, cell_id, "read the indicators")


# --- shape ------------------------------------------------------------------------------------


def _complete(values: Iterable[str], found: dict[str, int]) -> dict[str, int]:
    """Every value of the closed list, zero where none, then any value the list no longer
    has (so that a breakdown always adds up)."""
    complete = dict.fromkeys((str(value) for value in values), 0)
    for value, n in found.items():
        complete[value] = complete.get(value, 0) + n
    return complete


# The totals the breakdowns add up to (rule 3 of the disclosure control); the others add up
# to nothing published (a situation counts once per motif; feedback has no total).
TOTAL_OF = {
    "by_origin": "signalements",
    "by_sex": "signalements",
    "by_age_bracket": "signalements",
    "by_destination": "orientations",
    "by_closure_reason": "closed",
    "by_withdrawal_reason": "withdrawn",
    "additional_by_origin": "additional_signalements",
}
# The breakdowns that portray the children counted (rule 4).
PORTRAITS = ("by_sex", "by_age_bracket", "by_motif")
NOT_PERSONS = ("meetings",)


def shape(
    counts: Counts, *, cell_id: int | None, first: date, last: date, control: disclosure.Control
) -> IndicatorsRead:
    by_origin: dict[str, int] = {}
    by_sex: dict[str, int] = {}
    by_bracket: dict[str, int] = {}
    for (origin, sex, bracket), n in counts.signalements.items():
        by_origin[origin] = by_origin.get(origin, 0) + n
        by_sex[sex or NO_SEX] = by_sex.get(sex or NO_SEX, 0) + n
        by_bracket[bracket] = by_bracket.get(bracket, 0) + n
    destinations = _complete(Destination, counts.destinations)
    totals = {
        "meetings": counts.meetings,
        "signalements": sum(counts.signalements.values()),
        "retained": counts.parquet_decisions.get(True, 0),
        "not_retained": counts.parquet_decisions.get(False, 0),
        "examined": counts.examined,
        "orientations": sum(destinations.values()),
        "transmitted": counts.transmitted,
        "closed": sum(counts.closures.values()),
        "withdrawn": sum(counts.withdrawals.values()),
        "additional_signalements": sum(counts.additional.values()),
        "transfers_in": counts.transfers_in,
        "transfers_out": counts.transfers_out,
    }
    breakdowns = {
        "by_origin": _complete(Organisation, by_origin),
        "by_motif": _complete(Motif, counts.motifs),
        "by_sex": _complete([*Sex, NO_SEX], by_sex),
        "by_age_bracket": _complete(AGE_BRACKET_LABELS, by_bracket),
        "by_destination": destinations,
        "feedback": _complete(FeedbackOutcome, counts.outcomes),
        "by_closure_reason": _complete(ClosureReason, counts.closures),
        "by_withdrawal_reason": _complete(WithdrawalReason, counts.withdrawals),
        "additional_by_origin": _complete(Organisation, counts.additional),
    }
    withheld = _withheld(totals, breakdowns, counts.medians, control)

    def shown(key: str, n: int) -> Count:
        return None if key in withheld else n

    def days(step: str, m: Median) -> float | None:
        return None if f"median_days.{step}" in withheld else m.days

    return IndicatorsRead(
        cell_id=cell_id,
        from_=first,
        to=last,
        masked_under=control.threshold,
        suppressed=withheld,
        **{key: shown(key, n) for key, n in totals.items()},
        **{
            name: {value: shown(f"{name}.{value}", n) for value, n in values.items()}
            for name, values in breakdowns.items()
        },
        median_days=MedianDays(**{step: days(step, m) for step, m in counts.medians.items()}),
    )


def _withheld(
    totals: dict[str, int],
    breakdowns: dict[str, dict[str, int]],
    medians: dict[str, Median],
    control: disclosure.Control,
) -> dict[str, str]:
    """Every value to withhold (``indicator`` or ``indicator.value``), and why."""
    withheld: dict[str, str] = {}
    threshold = control.threshold
    if threshold is not None:
        for key, n in totals.items():
            if key not in NOT_PERSONS and disclosure.small(n, threshold):
                withheld[key] = disclosure.UNDER_THRESHOLD
        for name, values in breakdowns.items():
            total = totals[TOTAL_OF[name]] if name in TOTAL_OF else None
            for value, why in disclosure.protect_breakdown(values, threshold, total).items():
                withheld[f"{name}.{value}"] = why
        for step, median in medians.items():
            if disclosure.small(median.over, threshold):
                withheld[f"median_days.{step}"] = disclosure.UNDER_THRESHOLD
    if not control.portraits:
        for name in PORTRAITS:
            for value in breakdowns[name]:
                withheld[f"{name}.{value}"] = disclosure.SHORT_PERIOD
    return withheld


# How a withheld value reads in a CSV file: a small count says so; a value withheld to protect
# another is the statistical secret's "s" (INSEE's convention).
WITHHELD_MARK = "s"


def withheld_text(why: str, threshold: int | None) -> str:
    return f"<{threshold}" if why == disclosure.UNDER_THRESHOLD else WITHHELD_MARK


def csv_rows(indicators: IndicatorsRead) -> Iterator[tuple[str, str, str]]:
    """(indicator, breakdown, value): the period first, then one row per indicator and per
    value of each breakdown; a withheld value as ``<5`` or ``s``, an empty median empty."""
    document = indicators.model_dump(by_alias=True, mode="json", exclude={"suppressed"})
    withheld = indicators.suppressed

    def text(key: str, value: object) -> str:
        if key in withheld:
            return withheld_text(withheld[key], indicators.masked_under)
        return "" if value is None else str(value)

    for key, value in document.items():
        if isinstance(value, dict):
            for breakdown, n in value.items():
                yield key, breakdown, text(f"{key}.{breakdown}", n)
        else:
            yield key, "", text(key, value)
