"""What awaits a coordinator at 1,000 and at 100,000 cases (issue 18): the same time.

    .venv/bin/python -m bench.worklist_bench [--sizes 1000 100000] [--rounds N]
    (or: make bench-worklist)

For each population size, its own throw-away PostgreSQL database (CENOMED_BENCH_DATABASE_URL,
default the local cluster) migrated to head, the load benchmark's ten cells and their accounts
(``bench.load_population.create_accounts``), a meeting a month in each cell over four years
and the month to come (``bench.load_population._meetings``: the past ones held, but the last
one, not yet marked held; the upcoming ones scheduled), then the cases, each built by the load
benchmark's ``_Case`` the way the service writes it (its steps, its orientations, its data key,
sealed identity, guardians, notes and blind index) and written with COPY.

The assumption: a coordinator's open work does not grow with the archive. Each cell has the
same open cases at both sizes, ``OPEN_PER_CELL`` (60): submitted (a share sent back to their
author), in parquet_review (with their refer_to_parquet step), not retained and waiting to be
presented, in research (received 8 to 60 days ago, so some over a month old, off any agenda),
in cell_review (on a meeting's agenda), oriented (orientations transmitted or not, some long
ago without feedback; a share with the family not informed yet, some of them with a
social-services orientation) and in feedback; one pending transfer proposed to each cell. All
the other cases (400 at 1,000, 99,400 at 100,000) are the history: closed (70 %, a few with an
expired archive access) or purged (30 %), each with its orientations and steps, 1 % with a
transfer declined long ago. The audit events of the population are not written (the worklist
never reads the log; it appends to it, at its head).

Timed: what ``GET /me/worklist`` runs, without HTTP: ``app.worklist.service.worklist`` for the
first cell's coordinator, in a committed transaction with its audit read events, as the
request would. After a warm-up, ``--rounds`` rounds, alternating between the databases (both
are built first), so that whatever else the machine does (two cores, shared) weighs on every
size alike; median and 95th percentile in milliseconds. Counted per call, with a SQLAlchemy
``before_cursor_execute`` listener: the SQL statements (and each one's time, to tell which
grows with the size); the items listed. The statements whose time grows most are explained
(``EXPLAIN (ANALYZE, BUFFERS)``) on the largest database.

Writes bench/results/worklist.json and bench/results/worklist.md.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from time import perf_counter
from typing import Any

from sqlalchemy import Engine, event, insert, select, text

from app import migrate
from app.audit.checkpoint import load_signer, session_info
from app.cases.models import CaseReferenceCounter, CaseTransfer
from app.clock import today
from app.config import Settings
from app.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from app.directory import service as directory
from app.directory.models import Cell
from app.main import make_vault
from app.principal import Principal
from app.vocabulary import MeetingStatus, ReturnReason, TransferOutcome
from app.workflow.states import CaseState, Step
from app.worklist import service
from bench.audit_bench import DEFAULT_URL, server, throwaway_database
from bench.load_population import (
    TABLES,
    Account,
    _Case,
    _Clock,
    _copy,
    _meetings,
    _Rows,
    _World,
    create_accounts,
    username,
)
from bench.results_file import provenance, publish
from bench.search_bench import _settings, _summary

DATABASE = "cenomed_bench_worklist"
SIZES = (1_000, 100_000)
ROUNDS = 200
WARM_UP = 20
BATCH = 5_000
TARGET_RATIO = 1.25
# A cell's open work, the same at every size (60 cases).
OPEN_PER_CELL: dict[CaseState, int] = {
    CaseState.SUBMITTED: 7,
    CaseState.PARQUET_REVIEW: 5,
    CaseState.NOT_RETAINED: 2,
    CaseState.RESEARCH: 16,
    CaseState.CELL_REVIEW: 6,
    CaseState.ORIENTED: 14,
    CaseState.FEEDBACK: 10,
}
RETURNED_SHARE = 0.3  # of the submitted ones: sent back to their author
UNINFORMED_SHARE = 0.35  # of the oriented ones: the family not informed yet
PURGED_SHARE = 0.3  # of the history
DECLINED_TRANSFER_SHARE = 0.01  # of the history
EXPLAINED = 3  # statements explained on the largest database


class _WorkCase(_Case):
    """The load benchmark's case, with what the worklist looks for: a signalement sent back
    to its author, an oriented case whose family is not informed yet (nothing transmitted,
    as R8's guard requires for social services)."""

    def __init__(self, *args: Any, returned: bool = False, uninformed: bool = False) -> None:
        super().__init__(*args)
        self.returned, self.uninformed = returned, uninformed

    def _follow_up(
        self, target: CaseState, state: CaseState, clock: _Clock, coordinator: Account
    ) -> None:
        if target is CaseState.ORIENTED and self.uninformed:
            return self._finish(state, clock)
        return super()._follow_up(target, state, clock, coordinator)

    def _finish(self, state: CaseState, clock: _Clock) -> None:
        if state is CaseState.SUBMITTED and self.returned:
            at = clock.after(0.01, 2)
            coordinator = self.world.account("coordinator", self.cell)
            reason = self.rng.choice(list(ReturnReason)).value
            self.values.update(returned_reason=reason, returned_at=at)
            self.step(Step.RETURN_TO_AUTHOR, state, state, coordinator, at)
        super()._finish(state, clock)

    def _write(self, *, sealed: bool) -> None:
        # A column added after the load benchmark (migration 0009): received in the service.
        self.values.setdefault("received_on_declared", False)
        super()._write(sealed=sealed)


def _meeting_statuses(rows: _Rows, on: date) -> None:
    """The past meetings held, but each cell's last one (not yet marked held); the upcoming
    ones scheduled at 14:00."""
    columns = TABLES["meeting"]
    cell, held_on, status, version = (
        columns.index(c) for c in ("cell_id", "held_on", "status", "version")
    )
    last_past: dict[int, date] = {}
    for row in rows.tables["meeting"]:
        if row[held_on] < on:
            last_past[row[cell]] = max(last_past.get(row[cell], row[held_on]), row[held_on])
    fixed = []
    for row in rows.tables["meeting"]:
        values = list(row)
        scheduled = row[held_on] >= on or row[held_on] == last_past.get(row[cell])
        values[status] = (MeetingStatus.SCHEDULED if scheduled else MeetingStatus.HELD).value
        values[version] = 1
        if row[held_on] >= on:
            values[columns.index("starts_at")] = time(14)
        fixed.append(tuple(values))
    rows.tables["meeting"] = fixed


def _open_work(cells: list[int], rng: random.Random) -> list[tuple[int, CaseState, str]]:
    """(cell, state, variant) of each cell's open cases."""
    plan: list[tuple[int, CaseState, str]] = []
    for cell in cells:
        for state, count in OPEN_PER_CELL.items():
            for _ in range(count):
                variant = ""
                if state is CaseState.SUBMITTED and rng.random() < RETURNED_SHARE:
                    variant = "returned"
                elif state is CaseState.ORIENTED and rng.random() < UNINFORMED_SHARE:
                    variant = "uninformed"
                plan.append((cell, state, variant))
    return plan


def _transfer(case: _Case, to_cell: int, at: datetime, outcome: TransferOutcome) -> dict[str, Any]:
    world = case.world
    decided = outcome is not TransferOutcome.PENDING
    return {
        "id": uuid.uuid4(),
        "case_id": case.id,
        "from_cell_id": case.cell,
        "to_cell_id": to_cell,
        "proposed_by": world.account("coordinator", case.cell).user_id,
        "proposed_at": at,
        "outcome": outcome.value,
        "decided_by": world.account("coordinator", to_cell).user_id if decided else None,
        "decided_at": at + timedelta(days=2) if decided else None,
    }


def populate(
    engine: Engine, settings: Settings, accounts: dict[str, Account], cases: int, seed: int
) -> tuple[float, dict[str, int]]:
    """The meetings and ``cases`` cases; returns the seconds taken and the cases by state.

    The meetings and the open work are drawn first, from their own random generator: the
    same at every size. The history, drawn from another, is then built around them, the open
    cases scattered among it (written in a random order, as in a deployment)."""
    began = perf_counter()
    rng, history_rng = random.Random(seed), random.Random(seed + 1)
    world = _World(accounts, make_vault(settings), now=utcnow(), today=today())
    with engine.connect() as connection:
        world.arrondissements = dict(connection.execute(select(Cell.id, Cell.arrondissement)).all())
    rows = _Rows()
    _meetings(world, rows, rng)
    _meeting_statuses(rows, world.today)
    _copy(engine, rows.tables)
    cells = sorted(world.meetings)
    by_state: dict[str, int] = {}
    transfers: list[dict[str, Any]] = []
    researching: dict[int, _Case] = {}
    open_rows: list[_Rows | None] = []
    for cell, state, variant in _open_work(cells, rng):
        rows = _Rows()
        case = _WorkCase(
            world,
            rows,
            rng,
            cell,
            returned=variant == "returned",
            uninformed=variant == "uninformed",
        )
        case.build(state)
        by_state[state.value] = by_state.get(state.value, 0) + 1
        if state is CaseState.RESEARCH:
            researching.setdefault(cell, case)
        open_rows.append(rows)
    history = cases - len(open_rows)
    if history < 0:
        raise SystemExit(f"at least {len(open_rows)} cases: the cells' open work")
    slots = open_rows + [None] * history
    history_rng.shuffle(slots)
    for start in range(0, len(slots), BATCH):
        rows = _Rows()
        for slot in slots[start : start + BATCH]:
            if slot is not None:
                for table, table_rows in slot.tables.items():
                    rows.tables[table].extend(table_rows)
                continue
            cell = history_rng.choice(cells)
            state = CaseState.PURGED if history_rng.random() < PURGED_SHARE else CaseState.CLOSED
            case = _WorkCase(world, rows, history_rng, cell)
            case.build(state)
            by_state[state.value] = by_state.get(state.value, 0) + 1
            if history_rng.random() < DECLINED_TRANSFER_SHARE:
                received: date = case.values["received_on"]
                at = datetime.combine(received + timedelta(days=20), time(10), tzinfo=UTC)
                other = history_rng.choice([c for c in cells if c != cell])
                transfers.append(_transfer(case, other, at, TransferOutcome.DECLINED))
        _copy(engine, rows.tables)
    # One pending transfer proposed to each cell, by the cell before it.
    for n, cell in enumerate(cells):
        proposed = world.now - timedelta(days=rng.uniform(1, 10))
        transfers.append(
            _transfer(researching[cells[n - 1]], cell, proposed, TransferOutcome.PENDING)
        )
    with engine.begin() as connection:
        connection.execute(
            insert(CaseReferenceCounter),
            [
                {"cell_id": cell, "year": year, "last": last}
                for (cell, year), last in world.references.items()
            ],
        )
        connection.execute(insert(CaseTransfer), transfers)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    return perf_counter() - began, dict(sorted(by_state.items()))


@dataclass
class _Statement:
    sql: str
    parameters: Any
    seconds: float = 0.0


@dataclass
class Population:
    """One size's database, ready for the worklist, and what was measured on it."""

    cases: int
    engine: Engine
    factory: Any
    settings: Settings
    principal: Principal
    built_in_s: float
    by_state: dict[str, int]
    samples: list[float] = field(default_factory=list)
    # Per call, the time spent in its SQL statements (from the cursor events).
    sql_samples: list[float] = field(default_factory=list)
    items: set[int] = field(default_factory=set)
    statements: set[int] = field(default_factory=set)
    selects: set[int] = field(default_factory=set)
    # Per statement text, its time summed over one call, per recorded call.
    per_statement: dict[str, list[float]] = field(default_factory=dict)
    # Per statement text, its last run (with its parameters), to be explained.
    examples: dict[str, _Statement] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    _log: list[_Statement] | None = None

    def __post_init__(self) -> None:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        if self._log is not None:
            self._log.append(_Statement(sql, parameters))
            conn.info["worklist_bench_started"] = perf_counter()

    def _after(self, conn: Any, *_: Any) -> None:
        if self._log is not None and self._log:
            self._log[-1].seconds = perf_counter() - conn.info["worklist_bench_started"]

    def call(self, *, record: bool) -> None:
        self._log = []
        started = perf_counter()
        with unit_of_work(self.factory) as session:
            found = service.worklist(
                session,
                principal=self.principal,
                today=today(),
                now=utcnow(),
                feedback_days=self.settings.feedback_due_days,
            )
        seconds = perf_counter() - started
        log, self._log = self._log, None
        if not record:
            return
        self.samples.append(seconds)
        self.sql_samples.append(sum(s.seconds for s in log))
        self.items.add(len(found.items))
        self.statements.add(len(log))
        self.selects.add(sum(s.sql.lstrip().upper().startswith("SELECT") for s in log))
        summed: dict[str, float] = {}
        for statement in log:
            summed[statement.sql] = summed.get(statement.sql, 0.0) + statement.seconds
        for sql, spent in summed.items():
            self.per_statement.setdefault(sql, []).append(spent)
        self.examples.update((" ".join(s.sql.split()), s) for s in log)
        self.counts = {str(k): v for k, v in found.counts.items()}

    def result(self) -> dict[str, Any]:
        with self.engine.connect() as connection:
            events = connection.scalar(text("SELECT count(*) FROM audit_event"))
        return {
            "cases": self.cases,
            "by_state": self.by_state,
            "built_in_s": round(self.built_in_s, 1),
            "audit_events_at_end": events,
            "database": server(self.engine),
            **_summary(self.samples),
            "sql_median_ms": round(statistics.median(self.sql_samples) * 1000, 2),
            "items": sorted(self.items),
            "items_by_kind": self.counts,
            "statements": sorted(self.statements),
            "selects": sorted(self.selects),
        }


def prepare(stack: ExitStack, url: str, cases: int, name: str) -> Population:
    """A fresh database of ``cases`` cases, and the first cell's coordinator."""
    bench_url = stack.enter_context(throwaway_database(url, name))
    scratch = stack.enter_context(TemporaryDirectory())
    migrate.upgrade(bench_url)
    settings = _settings(Path(scratch), bench_url)
    engine = make_engine(bench_url)
    stack.callback(engine.dispose)
    signer = load_signer(settings)
    factory = make_sessionmaker(engine, info=session_info(signer, settings.audit_checkpoint_every))
    accounts = create_accounts(factory, settings)
    built_in, by_state = populate(engine, settings, accounts, cases, seed=18)
    first_cell = min(a.cell_id for a in accounts.values() if a.cell_id is not None)
    with unit_of_work(factory) as session:
        principal = directory.load_principal(
            session, username("coordinator", first_cell), charter_version=settings.charter_version
        )
    assert principal is not None
    return Population(cases, engine, factory, settings, principal, built_in, by_state)


def _growth(small: Population, large: Population) -> list[dict[str, Any]]:
    """Each statement's median time per call at both sizes, the most grown first."""
    rows = []
    for sql, large_times in large.per_statement.items():
        small_times = small.per_statement.get(sql)
        if not small_times:
            continue
        small_ms = statistics.median(small_times) * 1000
        large_ms = statistics.median(large_times) * 1000
        rows.append(
            {
                "sql": " ".join(sql.split()),
                "small_ms": round(small_ms, 3),
                "large_ms": round(large_ms, 3),
                "added_ms": round(large_ms - small_ms, 3),
            }
        )
    return sorted(rows, key=lambda r: r["added_ms"], reverse=True)


def _explain(population: Population, sqls: list[str]) -> list[dict[str, str]]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of these statements, as last run, rolled back."""
    plans = []
    for wanted in sqls:
        statement = population.examples[wanted]
        with population.engine.connect() as connection:
            lines = connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.parameters
            ).scalars()
            plans.append({"sql": wanted, "plan": "\n".join(lines)})
            connection.rollback()
    return plans


def measure(sizes: list[int], rounds: int) -> dict[str, Any]:
    url = os.environ.get("CENOMED_BENCH_DATABASE_URL", DEFAULT_URL)
    with ExitStack() as stack:
        populations = [prepare(stack, url, cases, f"{DATABASE}_{cases}") for cases in sorted(sizes)]
        # Interleaved, so that whatever else the machine does weighs on every size alike.
        for round_ in range(WARM_UP + rounds):
            for population in populations:
                population.call(record=round_ >= WARM_UP)
        runs = [population.result() for population in populations]
        growth = _growth(populations[0], populations[-1])
        selects = [g["sql"] for g in growth if g["sql"].upper().startswith("SELECT")]
        plans = _explain(populations[-1], selects[:EXPLAINED])
    small, large = runs[0], runs[-1]
    ratio = round(large["median_ms"] / small["median_ms"], 3)
    sizes_text = " ".join(str(s) for s in sizes)
    return {
        **provenance(
            f"python -m bench.worklist_bench --sizes {sizes_text} --rounds {rounds}",
            "PostgreSQL on 127.0.0.1; per size a fresh database migrated to head, ten cells, "
            "a meeting a month per cell, the cases built as the load benchmark builds them "
            "(steps, orientations, sealed nominative data) and written with COPY; the same "
            f"open work in every cell at every size ({sum(OPEN_PER_CELL.values())} open cases "
            "per cell, one pending transfer to each), all the other cases closed (70 %) or "
            f"purged (30 %) history; {WARM_UP} warm-up rounds, then {rounds} rounds, each size "
            "in turn, of the worklist service function for the first cell's coordinator in a "
            "committed transaction with its audit read events; statements counted and timed "
            "with before/after_cursor_execute listeners; the population's own audit events not "
            "written (the worklist appends to the log, never reads it)",
        ),
        "assumption": (
            "A coordinator's open work does not grow with the archive: each cell has the same "
            f"{sum(OPEN_PER_CELL.values())} open cases at both sizes; the extra cases of the "
            "larger deployment are closed or purged history, each with its orientations and "
            "steps."
        ),
        "open_per_cell": {s.value: n for s, n in OPEN_PER_CELL.items()},
        "rounds": rounds,
        "runs": runs,
        "ratio_large_to_small_median": ratio,
        "target_ratio": TARGET_RATIO,
        "ratio_met": ratio <= TARGET_RATIO,
        "statements_by_growth": growth,
        "plans_largest": plans,
    }


def _short(sql: str) -> str:
    """A statement without its list of columns."""
    verb, _, rest = sql.partition(" ")
    return f"{verb} … {rest[rest.index(' FROM ') + 1 :]}" if " FROM " in rest else sql


def markdown(result: dict[str, Any]) -> str:
    runs = result["runs"]
    database = runs[0]["database"]
    small, large = runs[0], runs[-1]
    lines = [
        "# What awaits a coordinator (issue 18)",
        "",
        f"- date: {result['date']}",
        f"- command: `{result['command']}`",
        f"- machine: {result['machine']}",
        f"- PostgreSQL {database['version']}, synchronous_commit={database['synchronous_commit']}",
        f"- method: {result['method']}",
        f"- assumption: {result['assumption']}",
        "",
        "| cases | median (ms) | p95 (ms) | of which in SQL, median (ms) | items "
        "| SQL statements per call (of which SELECT) | built in (s) |",
        "|---:|---:|---:|---:|---|---|---:|",
    ]
    for run in runs:
        lines.append(
            f"| {run['cases']:,} | {run['median_ms']} | {run['p95_ms']} | {run['sql_median_ms']} "
            f"| {', '.join(str(n) for n in run['items'])} "
            f"| {', '.join(str(n) for n in run['statements'])} "
            f"({', '.join(str(n) for n in run['selects'])}) | {run['built_in_s']} |"
        )
    lines += [
        "",
        f"Ratio of the medians, {large['cases']:,} to {small['cases']:,} cases: "
        f"{result['ratio_large_to_small_median']} (target ≤ {result['target_ratio']}: "
        f"{'met' if result['ratio_met'] else 'NOT met'}).",
        "",
        "Items by kind (the last call): "
        + "; ".join(
            f"{run['cases']:,}: " + ", ".join(f"{k} {v}" for k, v in run["items_by_kind"].items())
            for run in runs
        )
        + ".",
        "",
        "Cases by state: "
        + "; ".join(
            f"{run['cases']:,}: " + ", ".join(f"{s} {n:,}" for s, n in run["by_state"].items())
            for run in runs
        )
        + ".",
        "",
        "## The statements whose time grew most (median per call)",
        "",
        f"| statement | {small['cases']:,} (ms) | {large['cases']:,} (ms) | added (ms) |",
        "|---|---:|---:|---:|",
    ]
    for row in result["statements_by_growth"][:8]:
        sql = _short(row["sql"])
        lines.append(f"| `{sql}` | {row['small_ms']} | {row['large_ms']} | {row['added_ms']} |")
    lines += [
        "",
        f"## The plans of the most grown SELECTs on the {large['cases']:,}-case database",
        "",
        "`EXPLAIN (ANALYZE, BUFFERS)` of each, with the parameters of its last timed run.",
        "",
    ]
    for plan in result["plans_largest"]:
        lines += ["```sql", plan["sql"], "```", "", "```", plan["plan"], "```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worklist_bench", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="timed rounds per size")
    args = parser.parse_args()
    publish("worklist", measure(args.sizes, args.rounds), markdown)


if __name__ == "__main__":
    main()
