"""The fiche 1.3 indicators at 1,000 and at 100,000 cases, on PostgreSQL, in one run.

    .venv/bin/python -m bench.indicators_bench [--sizes 1000 100000] [--explain]
    (or: make bench-indicators)

Creates a throw-away database per size (CENOMED_BENCH_DATABASE_URL, default the local cluster;
named cenomed_bench_indicators_<size>, dropped at the end), migrates it, and fills it with a
synthetic statistical skeleton written directly with COPY (no nominative row: the indicators
never read one): 20 cells, a meeting a month per cell, cases received over the last three
years with one to three motifs, parquet decisions, examinations, orientations, transmissions
and feedback. Then it times ``app.indicators.service.read_indicators`` (authorisation, the
queries, shaping; the audit event is queued and rolled back) over the last year, Paris-wide
(as steering) and for one cell (as its coordinator), the reads of both sizes interleaved: the
median of --repeat rounds after two warm-up rounds. The target (issue 6): 100,000 cases in
under 10 times the time of 1,000.

Writes bench/results/indicators.json and bench/results/indicators.md.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.cases.age import AGE_BRACKETS
from app.clock import today
from app.db import make_engine, make_sessionmaker
from app.directory.models import Cell, User
from app.indicators import repository
from app.indicators.repository import Period
from app.indicators.schemas import IndicatorsRead
from app.indicators.service import default_period, read_indicators
from app.principal import Principal
from app.vocabulary import (
    CENOMED_DESTINATIONS,
    FeedbackOutcome,
    Motif,
    Organisation,
    Role,
)
from bench.audit_bench import DEFAULT_URL, server, throwaway_database
from bench.results_file import provenance, publish

DATABASE = "cenomed_bench_indicators"  # one per size: _1000, _100000
SIZES, REPEAT, CELLS, YEARS = (1_000, 100_000), 15, 20, 3
ORIGINS = [o.value for o in Organisation if o.value not in ("parquet", "dpp", "dases")]
BRACKETS = [f"{low}-{high}" for low, high in AGE_BRACKETS[:4]]
DESTINATIONS = sorted(d.value for d in CENOMED_DESTINATIONS)
OUTCOMES = [o.value for o in FeedbackOutcome]


def _noon(on: date) -> datetime:
    return datetime(on.year, on.month, on.day, 12, tzinfo=UTC)


# --- the skeleton -----------------------------------------------------------------------------


def skeleton(cases: int, on: date, seed: int = 6) -> dict[str, list[tuple[Any, ...]]]:
    """Rows for meeting, case_file, case_motif and orientation: every step at a plausible
    distance from the previous one, none after ``on``; the same rows for the same seed."""
    rng = random.Random(seed)
    start = on - timedelta(days=365 * YEARS)
    rows: dict[str, list[tuple[Any, ...]]] = {
        "meeting": [],
        "case_file": [],
        "case_motif": [],
        "orientation": [],
    }
    meetings: dict[int, list[tuple[uuid.UUID, date]]] = {}
    for cell in range(1, CELLS + 1):  # one a month, the last one still to come
        held = start + timedelta(days=rng.randrange(30))
        meetings[cell] = []
        while held <= on + timedelta(days=30):
            new_meeting = uuid.uuid4()
            meetings[cell].append((new_meeting, held))
            rows["meeting"].append((new_meeting, cell, held, 1, _noon(held)))
            held += timedelta(days=30)
    for number in range(1, cases + 1):
        case_id, cell = uuid.uuid4(), rng.randrange(1, CELLS + 1)
        received = start + timedelta(days=rng.randrange((on - start).days + 1))
        decided = received + timedelta(days=rng.randrange(1, 30))
        state, retained, decided_at, closed_at = "submitted", None, None, None
        meeting_id: uuid.UUID | None = None
        if decided <= on and rng.random() < 0.85:
            retained, decided_at = rng.random() < 0.8, _noon(decided)
            state = "research" if retained else "not_retained"
            # The first meeting a calendar month (about) after receipt.
            examined: tuple[uuid.UUID | None, date] = next(
                ((m, held) for m, held in meetings[cell] if held >= received + timedelta(31)),
                (None, on + timedelta(days=1)),
            )
            if retained and examined[1] <= on and rng.random() < 0.7:
                meeting_id, held = examined
                state = "cell_review"
                if rng.random() < 0.8:
                    state = "oriented"
                    oriented = min(held + timedelta(days=rng.randrange(3)), on)
                    destinations = rng.sample(DESTINATIONS, rng.randrange(1, 4))
                    for position, destination in enumerate(destinations):
                        row, fed = _orientation(rng, case_id, position, destination, oriented, on)
                        rows["orientation"].append(row)
                        state = "feedback" if fed else state
                    if oriented + timedelta(days=400) < on:  # statistics outlive the data
                        state, closed_at = "purged", _noon(oriented + timedelta(days=200))
        rows["case_file"].append(
            (
                case_id,
                cell,
                state,
                rng.choice(ORIGINS),
                received,
                rng.choice(["F", "M", "X", None]),
                rng.choice(BRACKETS),
                1,
                _noon(received),
                retained,
                decided_at,
                meeting_id,
                closed_at,
                _noon(received),
                1,
                # Unique, as references are (the statistics never read them).
                f"{cell:02d}-{received.year}-{number:06d}",
            )
        )
        for motif in rng.sample(list(Motif), rng.randrange(1, 4)):
            rows["case_motif"].append((case_id, motif.value))
    return rows


def _orientation(
    rng: random.Random, case_id: uuid.UUID, position: int, destination: str, on: date, now: date
) -> tuple[tuple[Any, ...], bool]:
    transmitted = on + timedelta(days=rng.randrange(1, 20))
    feedback = transmitted + timedelta(days=rng.randrange(5, 90))
    sent = rng.random() < 0.8 and transmitted <= now
    fed = sent and rng.random() < 0.6 and feedback <= now
    row = (
        uuid.uuid4(),
        case_id,
        position,
        destination,
        _noon(on),
        _noon(transmitted) if sent else None,
        1 if sent else None,
        rng.choice(OUTCOMES) if fed else None,
        _noon(feedback) if fed else None,
        1 if fed else None,
    )
    return row, fed


COLUMNS = {
    "meeting": "id, cell_id, held_on, created_by, created_at",
    "case_file": "id, cell_id, state, origin, received_on, sex, age_bracket, submitted_by, "
    "submitted_at, retained, parquet_decided_at, meeting_id, closed_at, updated_at, version, "
    "reference",
    "case_motif": "case_id, motif",
    "orientation": "id, case_id, position, destination, decided_at, transmitted_at, "
    "transmitted_by, feedback_outcome, feedback_at, feedback_by",
}


def fill(engine: Engine, cases: int, on: date) -> dict[str, int]:
    """Empties the skeleton's tables and writes a new one with COPY; returns the row counts."""
    rows = skeleton(cases, on)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE orientation, case_motif, case_file, meeting CASCADE"))
        raw: Any = connection.connection.dbapi_connection
        with raw.cursor() as cursor:
            for table in ("meeting", "case_file", "case_motif", "orientation"):
                with cursor.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                    for row in rows[table]:
                        copy.write_row(row)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("meeting", "case_file", "case_motif", "orientation"):
            connection.execute(text(f"VACUUM ANALYZE {table}"))
    return {table: len(table_rows) for table, table_rows in rows.items()}


def cells_and_account(engine: Engine) -> None:
    """The cells and the one account every row refers to."""
    with Session(engine) as session, session.begin():
        session.execute(
            insert(Cell),
            [
                {"id": n, "name": f"Bench {n}", "kind": "cenomed", "arrondissement": n}
                for n in range(1, CELLS + 1)
            ],
        )
        session.execute(
            insert(User).values(id=1, username="bench", role="coordinator", organisation="dpp")
        )


# --- the measurement --------------------------------------------------------------------------

STEERING = Principal(1, "bench", Role.STEERING, Organisation.OTHER, frozenset(), True, frozenset())
COORDINATOR = Principal(
    1, "bench", Role.COORDINATOR, Organisation.DPP, frozenset({1}), True, frozenset()
)


def one_read(
    sessions: sessionmaker[Session], principal: Principal, cell_id: int | None
) -> tuple[float, IndicatorsRead]:
    with sessions() as session:
        began = time.perf_counter()
        figures = read_indicators(
            session, principal=principal, cell_id=cell_id, first=None, last=None, today=today()
        )
        elapsed = time.perf_counter() - began
        session.rollback()  # the audit event waits for a commit that never comes
    return elapsed, figures


SCOPES = {"paris": (STEERING, None), "cell": (COORDINATOR, 1)}


def timed(databases: dict[int, sessionmaker[Session]], repeat: int) -> dict[int, dict[str, Any]]:
    """Every (size, scope) read in turn, ``repeat`` rounds: a slower moment of the machine
    weighs on both sizes alike."""
    runs: dict[tuple[int, str], list[float]] = {}
    figures: dict[tuple[int, str], IndicatorsRead] = {}
    for round_ in range(repeat + 2):
        for size, sessions in databases.items():
            for scope, (principal, cell_id) in SCOPES.items():
                elapsed, figures[(size, scope)] = one_read(sessions, principal, cell_id)
                if round_ >= 2:  # two warm-up rounds
                    runs.setdefault((size, scope), []).append(elapsed)
    return {
        size: {
            scope: {
                "median_ms": round(statistics.median(runs[(size, scope)]) * 1000, 2),
                "runs_ms": [round(r * 1000, 2) for r in runs[(size, scope)]],
                # What the read counted: cases received, orientations decided, in the year.
                "signalements": figures[(size, scope)].signalements,
                "orientations": figures[(size, scope)].orientations,
            }
            for scope in SCOPES
        }
        for size in databases
    }


def explain(engine: Engine, on: date, cell_id: int | None) -> Iterator[str]:
    """EXPLAIN ANALYZE of every query of one read (printed with --explain, not published)."""
    seen: list[tuple[str, Any]] = []
    sessions = make_sessionmaker(engine)
    with sessions() as session:

        def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
            seen.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        try:
            first, _ = default_period(on, None, None)
            repository.count(session, cell_id=cell_id, period=Period(first, on, on))
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        raw: Any = session.connection().connection.dbapi_connection
        for statement, parameters in seen:
            with raw.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                yield statement + "\n" + "\n".join(r[0] for r in cursor.fetchall()) + "\n"


def measure(sizes: list[int], repeat: int, show_plans: bool) -> dict[str, Any]:
    began = time.perf_counter()
    url = os.environ.get("CENOMED_BENCH_DATABASE_URL", DEFAULT_URL)
    on = today()
    with ExitStack() as stack:
        engines, rows, fill_s = {}, {}, {}
        for size in sizes:
            bench_url = stack.enter_context(throwaway_database(url, f"{DATABASE}_{size}"))
            migrate.upgrade(bench_url)
            engines[size] = engine = make_engine(bench_url)
            stack.callback(engine.dispose)
            cells_and_account(engine)
            filled = time.perf_counter()
            rows[size] = fill(engine, size, on)
            fill_s[size] = round(time.perf_counter() - filled, 1)
        reads = timed({size: make_sessionmaker(e) for size, e in engines.items()}, repeat)
        if show_plans:
            for cell_id in (None, 1):
                for plan in explain(engines[max(sizes)], on, cell_id):
                    print(plan)  # noqa: T201
        postgres = server(engines[max(sizes)])
    results = [
        {"cases": size, "rows": rows[size], "fill_s": fill_s[size], **reads[size]} for size in sizes
    ]
    small, large = results[0], results[-1]
    return {
        **provenance(
            " ".join(["python -m bench.indicators_bench", *sys.argv[1:]]),
            f"PostgreSQL on {make_url(url).host}; read_indicators() over the last year "
            "(the policy decision, the queries, shaping; the audit event rolled back); one "
            f"database per size, the reads of both sizes and both scopes interleaved, median of "
            f"{repeat} rounds after 2 warm-up rounds; {CELLS} cells, cases received over the "
            f"last {YEARS} years, skeleton written with COPY then VACUUM ANALYZE",
        ),
        "postgresql": postgres,
        "sizes": results,
        "ratio": {
            "cases": round(large["cases"] / small["cases"]),
            "paris": round(large["paris"]["median_ms"] / small["paris"]["median_ms"], 2),
            "cell": round(large["cell"]["median_ms"] / small["cell"]["median_ms"], 2),
        },
        "run_time_s": round(time.perf_counter() - began, 1),
    }


def markdown(result: dict[str, Any]) -> str:
    pg = result["postgresql"]
    ratio = result["ratio"]
    lines = [
        "# The fiche 1.3 indicators at two sizes (PostgreSQL)",
        "",
        f"- date: {result['date']}",
        f"- command: `{result['command']}`",
        f"- machine: {result['machine']}, Python {result['python']}",
        f"- PostgreSQL {pg['version']}, shared_buffers={pg['shared_buffers']}",
        f"- method: {result['method']}",
        f"- run time: {result['run_time_s']} s",
        "",
        "| cases | orientations | in the last year: signalements (Paris / cell 1) "
        "| orientations (Paris / cell 1) | Paris-wide (ms) | one cell (ms) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size in result["sizes"]:
        paris, cell = size["paris"], size["cell"]
        lines.append(
            f"| {size['cases']:,} | {size['rows']['orientation']:,} "
            f"| {paris['signalements']:,} / {cell['signalements']:,} "
            f"| {paris['orientations']:,} / {cell['orientations']:,} "
            f"| {paris['median_ms']} | {cell['median_ms']} |"
        )
    lines += [
        "",
        f"Ratio for {ratio['cases']}x the cases: Paris-wide {ratio['paris']}x, one cell "
        f"{ratio['cell']}x (target: under 10x).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.indicators_bench", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs=2, default=list(SIZES), help="two sizes")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="runs per figure (median)")
    parser.add_argument("--explain", action="store_true", help="print the plans at the larger")
    args = parser.parse_args()
    publish("indicators", measure(sorted(args.sizes), args.repeat, args.explain), markdown)


if __name__ == "__main__":
    main()
