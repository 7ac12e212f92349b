"""The fiche 1.3 indicators in SQL: GROUP BY counts over the statistical skeleton (R19).

Only non-nominative columns are read: ``case_file`` (cell, origin, received_on, sex,
age_bracket, retained, parquet_decided_at, meeting_id), ``case_motif``, ``meeting`` (cell,
held_on) and ``orientation`` (destination, decided_at, transmitted_at, feedback_outcome,
feedback_at). Never ``case_personal``, ``guardian``, ``research_note`` nor a ``*_enc`` column: a
purged case keeps these columns, so it keeps being counted whatever its state.

Each step is counted on the day it happened: a signalement by ``received_on``, a parquet
decision by ``parquet_decided_at``, an examination by its meeting's ``held_on``, an orientation
by ``decided_at``, a transmission by ``transmitted_at``, a feedback by ``feedback_at``. The
day of an instant is its UTC calendar day (instants are stored in UTC, and a day boundary taken
in the database's session time zone would move with the server's configuration).

Every query returns counts (a handful of rows per breakdown), never a row per case: the work
stays in the database whatever the number of cases. Medians too: the delays are grouped into a
histogram of days (one row per distinct delay), and a window over that histogram finds the
middle, in SQL that runs on SQLite and PostgreSQL alike; only "days between" and "UTC day of"
differ between the two, below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from app.cases.models import (
    AdditionalSignalement,
    Case,
    CaseMotif,
    CaseTransfer,
    Orientation,
)
from app.directory.models import Cell
from app.meetings.models import Meeting
from app.vocabulary import MeetingStatus, TransferOutcome

# --- the two expressions that differ between SQLite and PostgreSQL ----------------------------


class utc_day(FunctionElement[date]):
    """The UTC calendar day of an instant (a ``UtcDateTime`` column)."""

    type = Date()
    inherit_cache = True
    name = "utc_day"


class days_between(FunctionElement[int]):
    """Whole days from the first date to the second (negative if the second is earlier)."""

    type = Integer()
    inherit_cache = True
    name = "days_between"


def _args(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(clause, **kw) for clause in element.clauses]


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps UtcDateTime as naive UTC text ('2026-11-26 09:00:00.000000').
    [instant] = _args(element, compiler, **kw)
    return f"date({instant})"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # timestamptz AT TIME ZONE 'UTC' is the UTC wall-clock time, whatever the session's zone.
    [instant] = _args(element, compiler, **kw)
    return f"CAST(({instant} AT TIME ZONE 'UTC') AS DATE)"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _args(element, compiler, **kw)
    return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"


@compiles(days_between, "postgresql")
def _days_between_postgresql(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _args(element, compiler, **kw)
    return f"({end} - {start})"  # date - date is an integer number of days


# --- what is counted --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """Inclusive calendar days; ``today`` bounds what has already happened (meetings)."""

    first: date
    last: date
    today: date

    @property
    def held_until(self) -> date:
        return min(self.last, self.today)

    def instants(self, column: Any) -> ColumnElement[bool]:
        """``column`` (an instant) falls on a UTC day of the period: a half-open range of
        instants, which an index on the column serves."""
        start = datetime.combine(self.first, time(), UTC)
        if self.last == date.max:  # the calendar's last day: no midnight ends it
            starts: ColumnElement[bool] = column >= start
            return starts
        end = datetime.combine(self.last + timedelta(days=1), time(), UTC)
        return and_(column >= start, column < end)


@dataclass(frozen=True, slots=True)
class Median:
    days: float | None
    over: int  # how many items the median summarises


@dataclass(slots=True)
class Counts:
    meetings: int = 0
    # (origin, sex, age_bracket) -> signalements: one scan gives the three breakdowns.
    signalements: dict[tuple[str, str | None, str], int] = field(default_factory=dict)
    motifs: dict[str, int] = field(default_factory=dict)
    parquet_decisions: dict[bool, int] = field(default_factory=dict)
    examined: int = 0
    destinations: dict[str, int] = field(default_factory=dict)
    transmitted: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    # Closures of the period, by reason (kept with the skeleton after the purge).
    closures: dict[str, int] = field(default_factory=dict)
    # Signalements withdrawn in the period, by reason (R4; kept with the skeleton too).
    withdrawals: dict[str, int] = field(default_factory=dict)
    medians: dict[str, Median] = field(default_factory=dict)
    # Issue 16: signalements merged into a case of the cell (by their origin, on their day of
    # receipt), and transfers accepted in the period, into and out of the cell.
    additional: dict[str, int] = field(default_factory=dict)
    transfers_in: int = 0
    transfers_out: int = 0


def count(session: Session, *, cell_id: int | None, period: Period) -> Counts:
    """Every indicator of one cell (or of every cell, ``cell_id=None``) over ``period``."""
    counts = Counts()
    counts.meetings = _meetings(session, cell_id, period)
    _cases(session, cell_id, period, counts)
    counts.motifs = _motifs(session, cell_id, period)
    _orientations(session, cell_id, period, counts)
    counts.closures = _closures(session, cell_id, period)
    counts.withdrawals = _withdrawals(session, cell_id, period)
    counts.medians = {
        "received_to_parquet_decision": median(session, _decision_delays(cell_id, period)),
        "received_to_examination": median(session, _examination_delays(cell_id, period)),
        "examination_to_orientation": median(session, _orientation_delays(cell_id, period)),
        "transmission_to_feedback": median(session, _feedback_delays(cell_id, period)),
    }
    # Examined cases are exactly the population of the second median.
    counts.examined = counts.medians["received_to_examination"].over
    _movements(session, cell_id, period, counts)
    return counts


def _movements(session: Session, cell_id: int | None, period: Period, counts: Counts) -> None:
    """Issue 16: additional signalements by origin, transfers accepted in and out."""
    additional = (
        select(AdditionalSignalement.origin, func.count())
        .join(Case, Case.id == AdditionalSignalement.case_id)
        .where(
            AdditionalSignalement.received_on >= period.first,
            AdditionalSignalement.received_on <= period.last,
            *_in_cell(Case.cell_id, cell_id),
        )
        .group_by(AdditionalSignalement.origin)
    )
    counts.additional = {str(origin): int(n) for origin, n in session.execute(additional)}
    accepted = [
        CaseTransfer.outcome == TransferOutcome.ACCEPTED.value,
        period.instants(CaseTransfer.decided_at),
    ]
    into = select(func.count()).where(*accepted, *_in_cell(CaseTransfer.to_cell_id, cell_id))
    out = select(func.count()).where(*accepted, *_in_cell(CaseTransfer.from_cell_id, cell_id))
    counts.transfers_in = int(session.scalar(into) or 0)
    counts.transfers_out = int(session.scalar(out) or 0)


def _in_cell(column: Any, cell_id: int | None) -> list[ColumnElement[bool]]:
    return [] if cell_id is None else [column == cell_id]


def _when(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of the group meet ``condition`` (one scan serves several counts)."""
    return func.count(case((condition, 1)))


def _meetings(session: Session, cell_id: int | None, period: Period) -> int:
    # A cancelled meeting was never held (issue 17).
    query = select(func.count()).where(
        Meeting.held_on >= period.first,
        Meeting.held_on <= period.held_until,
        Meeting.status != MeetingStatus.CANCELLED.value,
        *_in_cell(Meeting.cell_id, cell_id),
    )
    return int(session.scalar(query) or 0)


def _received(period: Period) -> ColumnElement[bool]:
    return and_(Case.received_on >= period.first, Case.received_on <= period.last)


def _cases(session: Session, cell_id: int | None, period: Period, counts: Counts) -> None:
    """Signalements by origin, sex and age bracket, and the parquet's decisions: one scan."""
    received, decided = _received(period), period.instants(Case.parquet_decided_at)
    query = (
        select(
            Case.origin, Case.sex, Case.age_bracket, Case.retained, _when(received), _when(decided)
        )
        .where(or_(received, decided), *_in_cell(Case.cell_id, cell_id))
        .group_by(Case.origin, Case.sex, Case.age_bracket, Case.retained)
    )
    for origin, sex, bracket, retained, submitted, decisions in session.execute(query):
        key = (origin, sex, bracket)
        counts.signalements[key] = counts.signalements.get(key, 0) + submitted
        if retained is not None and decisions:
            retained = bool(retained)
            counts.parquet_decisions[retained] = (
                counts.parquet_decisions.get(retained, 0) + decisions
            )
    counts.signalements = {key: n for key, n in counts.signalements.items() if n}


def _closures(session: Session, cell_id: int | None, period: Period) -> dict[str, int]:
    """Cases closed in the period, by reason."""
    query = (
        select(Case.closure_reason, func.count())
        .where(
            period.instants(Case.closed_at),
            Case.closure_reason.is_not(None),
            *_in_cell(Case.cell_id, cell_id),
        )
        .group_by(Case.closure_reason)
    )
    return {str(reason): int(n) for reason, n in session.execute(query)}


def _withdrawals(session: Session, cell_id: int | None, period: Period) -> dict[str, int]:
    """Signalements withdrawn in the period, by reason."""
    query = (
        select(Case.withdrawal_reason, func.count())
        .where(
            period.instants(Case.withdrawn_at),
            Case.withdrawal_reason.is_not(None),
            *_in_cell(Case.cell_id, cell_id),
        )
        .group_by(Case.withdrawal_reason)
    )
    return {str(reason): int(n) for reason, n in session.execute(query)}


def _motifs(session: Session, cell_id: int | None, period: Period) -> dict[str, int]:
    query = (
        select(CaseMotif.motif, func.count())
        .join(Case, Case.id == CaseMotif.case_id)
        .where(_received(period), *_in_cell(Case.cell_id, cell_id))
        .group_by(CaseMotif.motif)
    )
    return {str(motif): int(n) for motif, n in session.execute(query)}


def _orientation_query(cell_id: int | None, *columns: Any) -> Select[Any]:
    query = select(*columns).select_from(Orientation)
    if cell_id is not None:
        query = query.join(Case, Case.id == Orientation.case_id).where(Case.cell_id == cell_id)
    return query


def _orientations(session: Session, cell_id: int | None, period: Period, counts: Counts) -> None:
    """Orientations decided by destination, transmissions, feedback by outcome: one scan."""
    decided = period.instants(Orientation.decided_at)
    transmitted = period.instants(Orientation.transmitted_at)
    fed = period.instants(Orientation.feedback_at)
    query = (
        _orientation_query(
            cell_id,
            Orientation.destination,
            Orientation.feedback_outcome,
            _when(decided),
            _when(transmitted),
            _when(fed),
        )
        .where(or_(decided, transmitted, fed))
        .group_by(Orientation.destination, Orientation.feedback_outcome)
    )
    for destination, outcome, oriented, sent, answered in session.execute(query):
        if oriented:
            counts.destinations[destination] = counts.destinations.get(destination, 0) + oriented
        counts.transmitted += sent
        if outcome is not None and answered:
            counts.outcomes[outcome] = counts.outcomes.get(outcome, 0) + answered


# --- medians ----------------------------------------------------------------------------------


def _decision_delays(cell_id: int | None, period: Period) -> Select[Any]:
    """Receipt to the parquet's decision, for the decisions of the period."""
    days = days_between(Case.received_on, utc_day(Case.parquet_decided_at))
    return select(days.label("days")).where(
        period.instants(Case.parquet_decided_at), *_in_cell(Case.cell_id, cell_id)
    )


def _examination_delays(cell_id: int | None, period: Period) -> Select[Any]:
    """Receipt to the meeting that examined the case, for the meetings held in the period."""
    days = days_between(Case.received_on, Meeting.held_on)
    return (
        select(days.label("days"))
        .select_from(Case)
        .join(Meeting, Meeting.id == Case.meeting_id)
        .where(
            Meeting.held_on >= period.first,
            Meeting.held_on <= period.held_until,
            *_in_cell(Meeting.cell_id, cell_id),
        )
    )


def _orientation_delays(cell_id: int | None, period: Period) -> Select[Any]:
    """The examining meeting to the orientation decided, once per case oriented in the
    period: a case's orientations are decided together (one review decision), so its first
    one (position 0) stands for the decision."""
    days = days_between(Meeting.held_on, utc_day(Orientation.decided_at))
    return (
        select(days.label("days"))
        .select_from(Orientation)
        .join(Case, Case.id == Orientation.case_id)
        .join(Meeting, Meeting.id == Case.meeting_id)
        .where(
            period.instants(Orientation.decided_at),
            Orientation.position == 0,
            *_in_cell(Case.cell_id, cell_id),
        )
    )


def _feedback_delays(cell_id: int | None, period: Period) -> Select[Any]:
    """The transmission to the service's feedback, for the feedback of the period."""
    days = days_between(utc_day(Orientation.transmitted_at), utc_day(Orientation.feedback_at))
    return _orientation_query(cell_id, days.label("days")).where(
        period.instants(Orientation.feedback_at), Orientation.transmitted_at.is_not(None)
    )


def median(session: Session, delays: Select[Any]) -> Median:
    """The median of the ``days`` column of ``delays``, and how many rows it has.

    The rows are grouped into a histogram (one row per distinct delay); running totals over
    it find the values at positions (n+1)/2 and (n+2)/2 (integer division: the same position
    when n is odd, the two middle ones when it is even), whose mean is the median.
    """
    rows = delays.subquery()
    histogram = (
        select(rows.c.days, func.count().label("n"))
        .where(rows.c.days.is_not(None))
        .group_by(rows.c.days)
        .subquery()
    )
    # SUM of a count is NUMERIC on PostgreSQL: cast back, so that // divides integers.
    running = select(
        histogram.c.days,
        cast(func.sum(histogram.c.n).over(order_by=histogram.c.days), BigInteger).label("upto"),
        cast(func.sum(histogram.c.n).over(), BigInteger).label("total"),
    ).subquery()
    lower = func.min(case((running.c.upto >= (running.c.total + 1) // 2, running.c.days)))
    upper = func.min(case((running.c.upto >= (running.c.total + 2) // 2, running.c.days)))
    row = session.execute(select(lower, upper, func.max(running.c.total))).one()
    low, high, total = row
    if total is None or low is None or high is None:
        return Median(None, 0)
    return Median((float(low) + float(high)) / 2, int(total))


def cells(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every cell, by name: the choices of whoever reads any cell's figures."""
    return [
        (int(i), str(n)) for i, n in session.execute(select(Cell.id, Cell.name).order_by(Cell.name))
    ]
