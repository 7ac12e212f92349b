"""Purge throughput on PostgreSQL: cases destroyed per second, and the dry run's pace.

    .venv/bin/python -m bench.purge_bench [--cases N]      (or: make bench-purge)

Creates a throw-away database (CENOMED_BENCH_DATABASE_URL, default the local cluster), submits
N cases through the service (encrypted as in production, with guardians and a research
note each), closes them more than three years ago (a SQL update of the dates), then times
``cenomed purge``'s function: a dry run (the rules asked of every case), then the purge (each
case destroyed in its own transaction, with its audit event). Writes bench/results/purge.json
and bench/results/purge.md.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import update

from app import migrate
from app.audit.chain import verify
from app.cases.models import Case
from app.cases.schemas import CaseCreate
from app.cases.service import submit_case
from app.crypto.keyring import LocalKeyringProvider
from app.crypto.vault import Vault
from app.db import make_engine, make_sessionmaker, unit_of_work
from app.directory import service as directory
from app.retention.service import purge
from app.vocabulary import CellKind, Organisation, Role
from bench.audit_bench import DEFAULT_URL, server, throwaway_database
from bench.results_file import provenance, publish

CASES = 2_000
DATABASE = "cenomed_bench_purge"


def populate(url: str, vault: Vault, cases: int) -> float:
    """Submits the cases through the service; returns cases/s."""
    sessions = make_sessionmaker(make_engine(url))
    with unit_of_work(sessions) as session:
        cell = directory.create_cell(
            session, name="Bench", kind=CellKind.CENOMED, arrondissement=18
        )
        directory.create_user(
            session,
            username="bench-police",
            role=Role.MEMBER,
            organisation=Organisation.POLICE,
            cell_ids=[cell.id],
        )
        directory.accept_charter(
            session,
            principal=_principal(session),
            version="bench",
            current_version="bench",
        )
    principal = _principal_of(sessions)
    on = date.today()
    start = time.perf_counter()
    for n in range(cases):
        body = CaseCreate.model_validate(
            {
                "cell_id": cell.id,
                "motifs": ["absenteeism"],
                "facts": f"Récit fictif numéro {n}.",
                "minor": {
                    "last_name": f"Fictif{n}",
                    "first_name": "Exemple",
                    "birth_date": date(on.year - 14, 1 + n % 12, 1 + n % 28).isoformat(),
                    "sex": "F" if n % 2 else "M",
                    "address": "1 rue Imaginaire",
                },
                "guardians": [{"name": "Parent Fictif", "relationship": "parent"}],
            }
        )
        with unit_of_work(sessions) as session:
            # Sent 40 days ago, as the member would have then: received that day.
            submit_case(
                session,
                principal=principal,
                vault=vault,
                data=body,
                today=on - timedelta(days=40),
                received_on_max_days=0,
            )
    return cases / (time.perf_counter() - start)


def _principal(session: Any) -> Any:
    principal = directory.load_principal(session, "bench-police", charter_version="bench")
    assert principal is not None
    return principal


def _principal_of(sessions: Any) -> Any:
    with unit_of_work(sessions) as session:
        return _principal(session)


def measure(cases: int) -> dict[str, Any]:
    url = os.environ.get("CENOMED_BENCH_DATABASE_URL", DEFAULT_URL)
    with throwaway_database(url, DATABASE) as bench_url, TemporaryDirectory() as keys:
        migrate.upgrade(bench_url)
        keyring = Path(keys) / "keyring.json"
        vault = Vault(LocalKeyringProvider.create(keyring), cache_seconds=60)
        submitted = populate(bench_url, vault, cases)
        engine = make_engine(bench_url)
        sessions = make_sessionmaker(engine)
        long_ago = datetime.now(UTC) - timedelta(days=4 * 365)
        with unit_of_work(sessions) as session:
            session.execute(update(Case).values(state="closed", closed_at=long_ago))
        vault.forget_all()  # as a purge run starts: no data key in memory
        start = time.perf_counter()
        dry = purge(sessions, vault, as_of=date.today(), dry_run=True)
        dry_seconds = time.perf_counter() - start
        start = time.perf_counter()
        report = purge(sessions, vault, as_of=date.today())
        seconds = time.perf_counter() - start
        with unit_of_work(sessions) as session:
            verdict = verify(session)
        database = server(engine)
        engine.dispose()
    assert sum(len(ids) for ids in dry.by_rule.values()) == cases
    assert report.purged == cases
    return {
        **provenance(
            f"python -m bench.purge_bench --cases {cases}",
            "PostgreSQL on 127.0.0.1; cases submitted through the service (encrypted), closed "
            "four years ago by a SQL update, then one dry run and one purge, timed end to end",
        ),
        "database": database,
        "cases": cases,
        "submitted_per_s": round(submitted),
        "dry_run_cases_per_s": round(cases / dry_seconds),
        "purged_cases_per_s": round(cases / seconds),
        "audit_log_valid_after": verdict.valid,
        "audit_events": verdict.events,
    }


def markdown(result: dict[str, Any]) -> str:
    return "\n".join(
        [
            "# Purge throughput (PostgreSQL)",
            "",
            f"- date: {result['date']}",
            f"- command: `{result['command']}`",
            f"- machine: {result['machine']}",
            f"- PostgreSQL {result['database']['version']}, synchronous_commit="
            f"{result['database']['synchronous_commit']}",
            f"- method: {result['method']}",
            "",
            "| | cases/s |",
            "|---|---:|",
            f"| dry run (the retention rules asked of {result['cases']:,} cases) "
            f"| {result['dry_run_cases_per_s']:,} |",
            f"| purge (one transaction and one audit event per case) "
            f"| {result['purged_cases_per_s']:,} |",
            f"| for comparison: submission through the service | {result['submitted_per_s']:,} |",
            "",
            f"After the purge the audit log verifies: {result['audit_log_valid_after']} "
            f"({result['audit_events']:,} events).",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.purge_bench", description=__doc__)
    parser.add_argument("--cases", type=int, default=CASES, help="cases to purge")
    args = parser.parse_args()
    publish("purge", measure(args.cases), markdown)


if __name__ == "__main__":
    main()
