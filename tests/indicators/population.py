"""A population of cases built through the API, and the indicators it should give, counted
here in Python from what was built (never read back from the database).

Each case is a :class:`Spec`: who sends it and with which origin, motifs, sex and age, and how
many days ago each step happened. Steps the API dates itself (the parquet's decision, the
orientation, the transmission, the feedback: server time) are moved to those days afterwards
with SQL, as if they had been taken then; receipt and meetings are dated through the API.
"""

from __future__ import annotations

import statistics
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import update

from app.cases.models import Case, Orientation
from app.clock import today
from app.vocabulary import (
    ClosureReason,
    Destination,
    FeedbackOutcome,
    Motif,
    Organisation,
    Role,
    WithdrawalReason,
)
from tests.conftest import World
from tests.scenario import case_body, meeting_body, ok, on_day

AGE_BRACKETS = {8: "0-9", 9: "0-9", 10: "10-12", 11: "10-12", 12: "10-12", 13: "13-15"}
AGE_BRACKETS |= {14: "13-15", 15: "13-15", 16: "16-17", 17: "16-17"}
ALL_BRACKETS = ("0-9", "10-12", "13-15", "16-17", "18-21", "22-25", "26+")
SEXES = ("F", "M", "X", "unknown")


@dataclass(frozen=True)
class Team:
    """The accounts of one cell."""

    key: str
    coordinator: str
    parquet: str
    cst: str


@dataclass
class Spec:
    team: str
    by: str
    origin: str
    motifs: tuple[str, ...]
    sex: str | None
    age: int
    received: int  # days ago
    decided: int | None = None
    retained: bool = True
    meeting: int | None = None  # days ago the examining meeting is held (negative: to come)
    no_action: bool = False
    oriented: int | None = None
    destinations: tuple[str, ...] = ()
    transmitted: dict[str, int] = field(default_factory=dict)
    feedback: dict[str, tuple[str, int]] = field(default_factory=dict)
    closed: bool = False
    moved_to: int | None = None  # receipt (and decision) moved further back with SQL
    at_parquet: bool = False  # referred to the parquet, not decided yet
    case_id: str = ""


MEETINGS = {"a": (200, 100, 45, 10, 0, -20), "b": (150, 60, 5, -30)}

F, M, X = "F", "M", "X"
SPECS = [
    # Cell a (the 18e): every fate, from a closed case to one just received.
    Spec("a", "police", "police", ("absenteeism",), F, 14, 300, 290, True, 200,
         oriented=199, destinations=("social_services", "crip"),
         transmitted={"social_services": 190, "crip": 195},
         feedback={"social_services": ("support_in_place", 150), "crip": ("reoriented", 170)},
         closed=True),
    Spec("a", "teacher", "education", ("school_dropout", "absenteeism"), M, 11, 250, 240, False),
    Spec("a", "coordinator", "mairie", ("wandering", "night_presence"), M, 16, 150, 140, True, 100,
         oriented=100, destinations=("prevention_association",),
         transmitted={"prevention_association": 90},
         feedback={"prevention_association": ("support_not_possible", 30)}),
    Spec("a", "coordinator", "social_landlord", ("public_order",), X, 8, 120, 115, True, 45,
         no_action=True),
    Spec("a", "police", "police", ("violent_behaviour", "public_order"), F, 17, 90, 85, True, 45,
         oriented=44, destinations=("school_head", "reussite_educative", "social_services"),
         transmitted={"social_services": 40, "school_head": 41},
         feedback={"social_services": ("reoriented", 20)}),
    Spec("a", "police", "police", ("endangerment",), None, 13, 70, 60, True, 10,
         oriented=9, destinations=("crip",), transmitted={"crip": 8}),
    Spec("a", "teacher", "education", ("absenteeism",), F, 15, 60, 50, True, 10),
    Spec("a", "police", "police", ("night_presence",), M, 12, 40, 35, False),
    Spec("a", "teacher", "education", ("other",), F, 9, 30, 5, True),
    Spec("a", "police", "police", ("absenteeism",), M, 14, 20, at_parquet=True),
    Spec("a", "coordinator", "pjj", ("wandering",), F, 16, 3),
    Spec("a", "coordinator", "city_service", ("school_dropout",), X, 10, 0),
    Spec("a", "teacher", "education", ("public_order",), M, 15, 45, 40, True, 0,
         oriented=0, destinations=("crip",)),
    # On the agenda of a meeting still to come: not examined yet.
    Spec("a", "police", "police", ("absenteeism",), F, 14, 40, 30, True, -20),
    # Received and decided over a year ago: outside the default period.
    Spec("a", "police", "police", ("absenteeism", "wandering"), F, 14, 300, 290, False,
         moved_to=400),
    # Cell b (the 19e).
    Spec("b", "police-19", "police", ("absenteeism",), M, 14, 200, 190, True, 150,
         oriented=150, destinations=("social_services",),
         transmitted={"social_services": 140},
         feedback={"social_services": ("support_in_place", 100)}),
    Spec("b", "coordinator-19", "education", ("night_presence", "wandering"), F, 16, 100, 95,
         False),
    Spec("b", "police-19", "police", ("public_order",), F, 13, 110, 100, True, 60,
         oriented=59, destinations=("crip", "prevention_association"),
         transmitted={"crip": 50, "prevention_association": 55},
         feedback={"crip": ("support_in_place", 10),
                   "prevention_association": ("support_not_possible", 12)}),
    Spec("b", "coordinator-19", "association", ("endangerment",), None, 17, 50, 45, True, 5),
    Spec("b", "police-19", "police", ("violent_behaviour",), M, 11, 10),
]  # fmt: skip


def day(days_ago: int) -> date:
    return today() - timedelta(days=days_ago)


def year_ago() -> date:
    """The default period's first day: the same day a year ago (28 February for the 29th)."""
    now = today()
    try:
        return now.replace(year=now.year - 1)
    except ValueError:
        return now.replace(year=now.year - 1, day=28)


def at(days_ago: int) -> datetime:
    """Noon UTC: the same calendar day in UTC and in Paris."""
    return datetime.combine(day(days_ago), time(12), UTC)


@dataclass
class Population:
    world: World
    teams: dict[str, Team]
    cells: dict[str, int]
    specs: list[Spec]


def build(world: World, specs: list[Spec] | None = None) -> Population:
    """Every case of ``specs`` (default: SPECS) through the API, then the server-dated steps
    moved to their days."""
    world.add_user("steering", Role.STEERING, cells=[])
    world.add_user("police-19", Role.MEMBER, Organisation.POLICE, cells=[world.other_cell.id])
    world.add_user("cst-19", Role.CST, cells=[world.other_cell.id])
    teams = {
        "a": Team("a", "coordinator", "parquet", "cst"),
        "b": Team("b", "coordinator-19", "parquet-19", "cst-19"),
    }
    cells = {"a": world.cell.id, "b": world.other_cell.id}
    meetings = {
        (key, days_ago): _meeting(world, teams[key], cells[key], days_ago)
        for key, held in MEETINGS.items()
        for days_ago in held
    }
    population = Population(world, teams, cells, list(specs or SPECS))
    for spec in population.specs:
        _walk(population, spec, meetings)
    return population


def _meeting(world: World, team: Team, cell_id: int, days_ago: int) -> str:
    """A meeting held ``days_ago`` days ago, recorded on its day (or to come)."""
    body = meeting_body(cell_id, day(days_ago))
    with on_day(world, day(max(days_ago, 0))):
        return str(ok(world.as_(team.coordinator).post("/meetings", body))["id"])


def _birth_date(received_on: date, age: int) -> date:
    """``age`` on ``received_on``: the birthday was ten days before."""
    try:
        birthday = received_on.replace(year=received_on.year - age)
    except ValueError:  # 29 February
        birthday = received_on.replace(year=received_on.year - age, day=28)
    return birthday - timedelta(days=10)


def _walk(population: Population, spec: Spec, meetings: dict[tuple[str, int], str]) -> None:
    world, team = population.world, population.teams[spec.team]
    coordinator, parquet = world.as_(team.coordinator), world.as_(team.parquet)
    received_on = day(spec.received)
    minor = case_body(0)["minor"] | {
        "birth_date": _birth_date(received_on, spec.age).isoformat(),
        "sex": spec.sex,
    }
    body = case_body(population.cells[spec.team], motifs=list(spec.motifs), minor=minor)
    if spec.by == team.coordinator:
        body["origin"] = spec.origin
        body["received_via"] = "letter"
    # Sent on the day it is received: the server's clock pinned then.
    with on_day(world, received_on):
        case_id = spec.case_id = str(ok(world.as_(spec.by).post("/cases", body))["id"])
    if spec.at_parquet:
        ok(coordinator.post(f"/cases/{case_id}/parquet-referral"))
    if spec.decided is None:
        return
    ok(coordinator.post(f"/cases/{case_id}/parquet-referral"))
    decision = {"retained": spec.retained}
    ok(parquet.post(f"/cases/{case_id}/parquet-decision", decision))
    updates: dict[Any, Any] = {Case.parquet_decided_at: at(spec.decided)}
    if spec.moved_to is not None:
        updates = {
            Case.received_on: day(spec.moved_to),
            Case.parquet_decided_at: at(spec.moved_to - (spec.received - spec.decided)),
        }
    _set(world, Case, case_id, updates)
    if spec.meeting is None:
        return
    meeting_id = meetings[(spec.team, spec.meeting)]
    # Put on its agenda on the meeting's day (or now, for a meeting to come).
    with on_day(world, day(max(spec.meeting, 0))):
        ok(coordinator.post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}))
    if spec.no_action:
        ok(coordinator.post(f"/cases/{case_id}/review-decision", {"decision": "no_action"}))
    if spec.oriented is None:
        return
    decision_body = {
        "decision": "orient",
        "orientations": [{"destination": d} for d in spec.destinations],
    }
    answer = ok(coordinator.post(f"/cases/{case_id}/review-decision", decision_body))
    orientation = {o["destination"]: o["id"] for o in answer["orientations"]}
    if "social_services" in spec.transmitted:
        informed = {"informed_on": day(0).isoformat(), "means": "letter", "outcome": "informed"}
        ok(coordinator.post(f"/cases/{case_id}/family-information", informed))
    for destination in spec.transmitted:
        ok(
            coordinator.post(
                f"/cases/{case_id}/orientations/{orientation[destination]}/transmission"
            )
        )
    for destination, (outcome, _) in spec.feedback.items():
        reporter = team.cst if destination == "social_services" else team.coordinator
        feedback: dict[str, str] = {"outcome": outcome}
        if outcome == "reoriented":
            feedback["reoriented_to"] = "medico_social"
        url = f"/cases/{case_id}/orientations/{orientation[destination]}/feedback"
        ok(world.as_(reporter).post(url, feedback))
    if spec.closed:
        ok(coordinator.post(f"/cases/{case_id}/closure", {"reason": closure_reason(spec)}))
    for destination, oid in orientation.items():
        moved: dict[Any, Any] = {Orientation.decided_at: at(spec.oriented)}
        if destination in spec.transmitted:
            moved[Orientation.transmitted_at] = at(spec.transmitted[destination])
        if destination in spec.feedback:
            moved[Orientation.feedback_at] = at(spec.feedback[destination][1])
        _set(world, Orientation, oid, moved)


def _set(world: World, table: Any, row_id: str, values: dict[Any, Any]) -> None:
    with world.db() as session:
        session.execute(
            update(table)
            .where(table.id == uuid.UUID(row_id))
            .values({column.key: value for column, value in values.items()})
            .execution_options(synchronize_session=False)
        )


# --- the indicators, counted from the specs -----------------------------------------------


def closure_reason(spec: Spec) -> str:
    """Why a closed spec is closed: every orientation answered, or the minor moved away."""
    answered = spec.destinations and set(spec.feedback) == set(spec.destinations)
    return "feedback_received" if answered else "moved_away"


def expected(
    specs: list[Spec], team: str | None, first: date, last: date, mask_under: int | None = None
) -> dict[str, Any]:
    """What GET /indicators should answer for ``team`` (None: every cell) to a reader of exact
    counts, with only the small counts masked under ``mask_under`` (no secondary masking)."""
    return _counted(specs, team, first, last, mask_under)[0]


def median_sizes(specs: list[Spec], team: str | None, first: date, last: date) -> dict[str, int]:
    """How many cases each median of the period summarises."""
    return _counted(specs, team, first, last, None)[1]


def _counted(
    specs: list[Spec], team: str | None, first: date, last: date, mask_under: int | None
) -> tuple[dict[str, Any], dict[str, int]]:
    mine = [s for s in specs if team is None or s.team == team]
    now = today()

    def within(days_ago: int | None, *, held: bool = False) -> bool:
        if days_ago is None:
            return False
        on = day(days_ago)
        return first <= on <= last and (not held or on <= now)

    def received(spec: Spec) -> int:
        return spec.moved_to if spec.moved_to is not None else spec.received

    def decided(spec: Spec) -> int | None:
        if spec.decided is None or spec.moved_to is None:
            return spec.decided
        return spec.moved_to - (spec.received - spec.decided)

    signalements = [s for s in mine if within(received(s))]
    decisions = [s for s in mine if within(decided(s))]
    examined = [s for s in mine if within(s.meeting, held=True)]
    oriented = [s for s in mine if within(s.oriented)]
    feedback = [
        (s, d, outcome, days_ago)
        for s in mine
        for d, (outcome, days_ago) in s.feedback.items()
        if within(days_ago)
    ]
    closures = [
        "no_action" if s.no_action else closure_reason(s)
        for s in mine
        if (s.no_action or s.closed) and first <= now <= last
    ]
    keys = [team] if team else list(MEETINGS)
    meetings = sum(within(held, held=True) for key in keys for held in MEETINGS[key])

    def breakdown(values: list[str], counted: list[str]) -> dict[str, int]:
        return {str(v): 0 for v in values} | dict(Counter(counted))

    def middle(delays: list[int]) -> float | None:
        return float(statistics.median(delays)) if delays else None

    figures: dict[str, Any] = {
        "meetings": meetings,
        "signalements": len(signalements),
        "by_origin": breakdown(list(Organisation), [s.origin for s in signalements]),
        "by_motif": breakdown(list(Motif), [m for s in signalements for m in s.motifs]),
        "by_sex": breakdown(list(SEXES), [s.sex or "unknown" for s in signalements]),
        "by_age_bracket": breakdown(
            list(ALL_BRACKETS), [AGE_BRACKETS[s.age] for s in signalements]
        ),
        "retained": sum(s.retained for s in decisions),
        "not_retained": sum(not s.retained for s in decisions),
        "examined": len(examined),
        "orientations": sum(len(s.destinations) for s in oriented),
        "by_destination": breakdown(
            list(Destination), [d for s in oriented for d in s.destinations]
        ),
        "transmitted": sum(within(t) for s in mine for t in s.transmitted.values()),
        "feedback": breakdown(list(FeedbackOutcome), [outcome for _, _, outcome, _ in feedback]),
        # Closures are dated by the server (today): counted when today is in the period.
        "closed": len(closures),
        "by_closure_reason": breakdown(list(ClosureReason), closures),
        # The population withdraws nothing: every reason is zero.
        "withdrawn": 0,
        "by_withdrawal_reason": breakdown(list(WithdrawalReason), []),
        # Issue 16: this population has no merge and no transfer (tests/test_duplicates.py and
        # tests/test_transfers.py count theirs).
        "additional_signalements": 0,
        "additional_by_origin": breakdown(list(Organisation), []),
        "transfers_in": 0,
        "transfers_out": 0,
    }
    delays = {
        "received_to_parquet_decision": [received(s) - (decided(s) or 0) for s in decisions],
        "received_to_examination": [s.received - (s.meeting or 0) for s in examined],
        "examination_to_orientation": [(s.meeting or 0) - (s.oriented or 0) for s in oriented],
        "transmission_to_feedback": [s.transmitted[d] - ago for s, d, _, ago in feedback],
    }
    sizes = {step: len(values) for step, values in delays.items()}
    if mask_under is not None:
        figures = {key: _mask(value, mask_under) for key, value in figures.items()}
        delays = {k: v if not 0 < len(v) < mask_under else [] for k, v in delays.items()}
    figures["median_days"] = {step: middle(values) for step, values in delays.items()}
    answer = {
        "cell_id": None,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "masked_under": mask_under,
        "suppressed": {},
        **figures,
    }
    return answer, sizes


def _mask(value: Any, under: int) -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, under) for k, v in value.items()}
    return None if 0 < value < under else value
