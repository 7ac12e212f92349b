"""The audit chain against the same work without a chain, on PostgreSQL, in the same run.

    .venv/bin/python -m bench.audit_bench [--events N]      (or: make bench-audit)

Creates a throw-away database (CENOMED_BENCH_DATABASE_URL, default the local ``postgres``
cluster; the database is named cenomed_bench_audit, dropped and re-created at the start and
dropped at the end), migrates it with the project's migrations, and measures:

1. Verification: ``verify()`` over N appended events, against a bare baseline reading the same
   ``body`` bytes ordered by seq, in batches of the same size, and recomputing a plain SHA-256
   chain over them (h = sha256(prev || body)). Median of --repeat runs of each, interleaved.
2. Append: ``append()`` with one event per committed transaction, against a plain INSERT of the
   same row (same columns and indexes, bigserial seq, no triggers, no head row) also one per
   committed transaction, with 1 and with 4 concurrent clients (spawned processes, one engine
   and connection each). Median of --repeat windows of --seconds each, chained and plain
   interleaved.

Writes bench/results/audit.json and bench/results/audit.md.
Targets (issue 5): verify at least 0.5x the baseline; chained append at least 0.5x plain.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import inspect
import multiprocessing
import os
import pstats
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    create_engine,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.audit import chain
from app.audit.chain import GENESIS, Event, append, canonical, verify
from app.audit.models import AuditEvent
from app.db import UtcDateTime, make_engine, make_sessionmaker, unit_of_work
from bench.results_file import provenance, publish

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE = "cenomed_bench_audit"
EVENTS, REPEAT, SECONDS, SETUP_BATCH, SETUP_CALL = 100_000, 5, 3.0, 10_000, 500
CLIENTS = (1, 4)
CASE = uuid.UUID(int=5)

# audit_event's shape without the chain: no triggers, no head row, the seq from a sequence.
PLAIN = Table(
    "audit_plain",
    MetaData(),
    Column("seq", BigInteger, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor_id", Integer),
    Column("action", String(60), nullable=False),
    Column("case_id", Uuid),
    Column("outcome", String(10), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    *(Index(f"ix_audit_plain_{c}", c) for c in ("action", "actor_id", "at", "case_id")),
)
NO_HASH = bytes(32)


def sample_event(n: int) -> Event:
    """A typical read event; tests/audit/test_chain.py appends the same."""
    return Event(
        action="read_case",
        outcome="allowed" if n % 3 else "denied",
        actor_id=n,
        actor_role="coordinator",
        actor_organisation="dpp",
        case_id=CASE,
        blocks=("identity", "facts"),
        severity="info" if n % 3 else "high",
        request_id=f"req-{n}",
        client="127.0.0.1",
    )


def _plain_insert(session: Session, event: Event, n: int) -> None:
    """The same row as append() writes, without reading or moving a head: no chain."""
    session.execute(
        insert(PLAIN).values(
            at=event.at,
            actor_id=event.actor_id,
            action=event.action,
            case_id=event.case_id,
            outcome=event.outcome,
            severity=event.severity,
            body=canonical(event, n, GENESIS),
            prev_hash=NO_HASH,
            hash=NO_HASH,
        )
    )


# --- the throw-away database -------------------------------------------------------------


def _admin_engine(url: str) -> Engine:
    return create_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", hide_parameters=True
    )


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def throwaway_database(url: str, name: str = DATABASE) -> Iterator[str]:
    """A database created empty for one benchmark (the other benchmarks use it too) and
    dropped afterwards, whatever happens."""
    admin = _admin_engine(url)
    try:
        _drop(admin, name)
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(admin, name)
        admin.dispose()


# --- 1. verification ---------------------------------------------------------------------


def fill(sessions: sessionmaker[Session], events: int, one_by_one: bool) -> float:
    """Appends the events, SETUP_BATCH per transaction; returns events/s.

    With append_all() (when the chain has it: what append() itself calls, one head update per
    call) in calls of SETUP_CALL events, unless one_by_one: then append() per event, which
    costs three statements each (about 1.5 ms here, over two minutes for 100,000 events).
    """
    many = None if one_by_one else getattr(chain, "append_all", None)
    start = time.perf_counter()
    for first in range(1, events + 1, SETUP_BATCH):
        numbers = range(first, min(first + SETUP_BATCH, events + 1))
        with unit_of_work(sessions) as session:
            if many is None:
                for n in numbers:
                    append(session, sample_event(n))
                continue
            for call in range(0, len(numbers), SETUP_CALL):
                many(session, [sample_event(n) for n in numbers[call : call + SETUP_CALL]])
    return events / (time.perf_counter() - start)


def verify_batch() -> int:
    """verify()'s own batch size, so that the baseline reads the way it does."""
    parameter = inspect.signature(verify).parameters.get("batch")
    if parameter is None or not isinstance(parameter.default, int):
        return 5000
    return parameter.default


def bare_chain(session: Session, batch: int) -> tuple[int, bytes]:
    """The least any verifier does: the body bytes in seq order, one SHA-256 each."""
    previous, count, last = GENESIS, 0, 0
    while True:
        rows = session.execute(
            select(AuditEvent.seq, AuditEvent.body)
            .where(AuditEvent.seq > last)
            .order_by(AuditEvent.seq)
            .limit(batch)
        ).all()
        if not rows:
            return count, previous
        for row in rows:
            previous = hashlib.sha256(previous + row[1]).digest()
        count += len(rows)
        last = rows[-1][0]


def timed_verify(sessions: sessionmaker[Session], expected: int) -> float:
    with unit_of_work(sessions) as session:
        start = time.perf_counter()
        verdict = verify(session)
        elapsed = time.perf_counter() - start
    if not verdict.valid or verdict.events != expected:
        raise RuntimeError(f"the chain does not verify: {verdict}")
    return elapsed


def timed_baseline(sessions: sessionmaker[Session], expected: int, batch: int) -> float:
    with unit_of_work(sessions) as session:
        start = time.perf_counter()
        count, _ = bare_chain(session, batch)
        elapsed = time.perf_counter() - start
    if count != expected:
        raise RuntimeError(f"the baseline read {count} events, not {expected}")
    return elapsed


def measure_verify(sessions: sessionmaker[Session], events: int, repeat: int) -> dict[str, Any]:
    batch = verify_batch()
    timed_verify(sessions, events)  # warm the server's cache and the code paths
    timed_baseline(sessions, events, batch)
    ours, bare = [], []
    for _ in range(repeat):
        ours.append(timed_verify(sessions, events))
        bare.append(timed_baseline(sessions, events, batch))
    verify_rate = events / statistics.median(ours)
    bare_rate = events / statistics.median(bare)
    return {
        "events": events,
        "batch": batch,
        "verify_events_per_s": round(verify_rate),
        "baseline_events_per_s": round(bare_rate),
        "ratio": round(verify_rate / bare_rate, 3),
        "verify_runs_s": [round(t, 3) for t in ours],
        "baseline_runs_s": [round(t, 3) for t in bare],
    }


def profile_verify(sessions: sessionmaker[Session], lines: int = 25) -> str:
    """Where verify()'s time goes (printed with --profile, not published)."""
    profiler = cProfile.Profile()
    with unit_of_work(sessions) as session:
        profiler.runcall(verify, session)
    out = _Capture()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(lines)  # type: ignore[arg-type]
    return out.text


class _Capture:
    def __init__(self) -> None:
        self.text = ""

    def write(self, chunk: str) -> int:
        self.text += chunk
        return len(chunk)


# --- 2. append throughput ----------------------------------------------------------------


def _one(sessions: sessionmaker[Session], kind: str, n: int) -> None:
    with unit_of_work(sessions) as session:
        if kind == "chained":
            append(session, sample_event(n))
        else:
            _plain_insert(session, sample_event(n), n)


def client(
    url: str, worker: int, kinds: list[str], seconds: float, barrier: Any, results: Any
) -> None:
    """One client process: one engine, one transaction per event, phases in lock-step."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    n = worker * 10_000_000
    for kind in ("chained", "plain"):  # connect, and warm both paths
        n += 1
        _one(sessions, kind, n)
    for phase, kind in enumerate(kinds):
        barrier.wait(timeout=300)  # a client that died breaks it for the others
        count, start = 0, time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            n += 1
            _one(sessions, kind, n)
            count += 1
        results.put((phase, count, time.perf_counter() - start))
    engine.dispose()


def measure_append(url: str, clients: int, repeat: int, seconds: float) -> dict[str, Any]:
    kinds = ["chained", "plain"] * repeat
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(clients)
    results = context.Queue()
    workers = [
        context.Process(target=client, args=(url, w, kinds, seconds, barrier, results), daemon=True)
        for w in range(clients)
    ]
    for worker in workers:
        worker.start()
    reports = [results.get(timeout=seconds * 10 + 120) for _ in range(clients * len(kinds))]
    for worker in workers:
        worker.join(timeout=60)
        if worker.exitcode != 0:
            raise RuntimeError(f"a client exited with {worker.exitcode}")
    rates: dict[str, list[float]] = {"chained": [], "plain": []}
    for phase, kind in enumerate(kinds):
        mine = [(count, elapsed) for p, count, elapsed in reports if p == phase]
        rates[kind].append(sum(c for c, _ in mine) / max(e for _, e in mine))
    chained, plain = statistics.median(rates["chained"]), statistics.median(rates["plain"])
    return {
        "clients": clients,
        "chained_events_per_s": round(chained),
        "plain_events_per_s": round(plain),
        "ratio": round(chained / plain, 3),
        "chained_runs": [round(r) for r in rates["chained"]],
        "plain_runs": [round(r) for r in rates["plain"]],
    }


# --- the run -----------------------------------------------------------------------------


def server(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        version = str(connection.scalar(text("SHOW server_version")))
        settings = {
            name: str(connection.scalar(text(f"SHOW {name}")))
            for name in ("synchronous_commit", "fsync", "shared_buffers")
        }
    return {"version": version, **settings}


def measure(
    events: int, repeat: int, seconds: float, profile: bool, one_by_one: bool
) -> dict[str, Any]:
    began = time.perf_counter()
    url = os.environ.get("CENOMED_BENCH_DATABASE_URL", DEFAULT_URL)
    with throwaway_database(url) as bench_url:
        migrate.upgrade(bench_url)
        engine = make_engine(bench_url)
        PLAIN.create(engine)
        sessions = make_sessionmaker(engine)
        setup_rate = fill(sessions, events, one_by_one)
        setup = "append()" if one_by_one or not hasattr(chain, "append_all") else "append_all()"
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE audit_event"))  # no autovacuum mid-run
        verification = measure_verify(sessions, events, repeat)
        profiled = profile_verify(sessions) if profile else None
        appends = [measure_append(bench_url, k, repeat, seconds) for k in CLIENTS]
        with unit_of_work(sessions) as session:
            after = verify(session)
        postgres = server(engine)
        engine.dispose()
    if not after.valid:
        raise RuntimeError(f"the chain no longer verifies after the appends: {after}")
    if profiled:
        print(profiled)  # noqa: T201
    return {
        **provenance(
            " ".join(["python -m bench.audit_bench", *sys.argv[1:]]),
            f"PostgreSQL on {make_url(url).host}; verify: median of {repeat} runs against the "
            f"baseline, interleaved; append: median of {repeat} windows of {seconds:g} s, "
            "chained and plain interleaved, one event per committed transaction, clients are "
            "spawned processes (multiprocessing 'spawn'), one connection each",
        ),
        "postgresql": postgres,
        "setup": f"{setup}, {SETUP_BATCH} events per transaction",
        "setup_append_events_per_s": round(setup_rate),
        "verify": verification,
        "append": appends,
        "chain_valid_after_appends": after.valid,
        "chain_events_after_appends": after.events,
        "run_time_s": round(time.perf_counter() - began, 1),
    }


def markdown(result: dict[str, Any]) -> str:
    v = result["verify"]
    pg = result["postgresql"]
    lines = [
        "# The audit chain against the same work without a chain (PostgreSQL)",
        "",
        f"- date: {result['date']}",
        f"- command: `{result['command']}`",
        f"- machine: {result['machine']}, Python {result['python']}",
        f"- PostgreSQL {pg['version']}, synchronous_commit={pg['synchronous_commit']}, "
        f"fsync={pg['fsync']}, shared_buffers={pg['shared_buffers']}",
        f"- method: {result['method']}",
        f"- run time: {result['run_time_s']} s",
        "",
        f"## Verifying {v['events']:,} events (batches of {v['batch']})",
        "",
        "| | events/s | ratio |",
        "|---|---:|---:|",
        f"| bare baseline: body bytes by seq, sha256(prev \\|\\| body) | "
        f"{v['baseline_events_per_s']:,} | 1 |",
        f"| `verify()` | {v['verify_events_per_s']:,} | {v['ratio']} |",
        "",
        "Target: `verify()` at least 0.5x the baseline. The baseline reads seq and body only;",
        "`verify()` also reads the other columns, checks seq, link and hash, parses each body",
        "(JSON) and checks that the columns say what the hashed bytes say.",
        "",
        "## Appending, one event per committed transaction",
        "",
        "| clients | chained `append()` (events/s) | plain INSERT (events/s) | ratio |",
        "|---:|---:|---:|---:|",
    ]
    for a in result["append"]:
        lines.append(
            f"| {a['clients']} | {a['chained_events_per_s']:,} | {a['plain_events_per_s']:,} "
            f"| {a['ratio']} |"
        )
    lines += [
        "",
        "Target: chained at least 0.5x plain. The plain table has audit_event's columns and "
        "indexes, a bigserial seq, no triggers and no head row; its body is the canonical "
        "bytes, its hash columns zeros. Both go through the same session and unit of work; "
        "the sessions carry no checkpoint signer (app.audit.checkpoint), so a signed "
        "checkpoint's cost is not in these figures. The clients run on the same machine as the "
        "server and share its cores.",
        f"After the appends the chain verifies: {result['chain_valid_after_appends']} "
        f"({result['chain_events_after_appends']:,} events). Setup: {result['setup']}, "
        f"{result['setup_append_events_per_s']:,} events/s.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_bench", description=__doc__)
    parser.add_argument("--events", type=int, default=EVENTS, help="events to verify")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="runs per figure (median)")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="append window (s)")
    parser.add_argument("--profile", action="store_true", help="print where verify() spends")
    parser.add_argument(
        "--setup-one-by-one", action="store_true", help="fill with append() per event (slow)"
    )
    args = parser.parse_args()
    result = measure(args.events, args.repeat, args.seconds, args.profile, args.setup_one_by_one)
    publish("audit", result, markdown)


if __name__ == "__main__":
    main()
