"""Finding a case by identity at 1,000 and at 100,000 cases (issue 16): the same time, and
never more cases decrypted than returned.

    .venv/bin/python -m bench.search_bench [--sizes 1000 100000] [--searches N]
    (or: make bench-search)

For each population size, its own throw-away PostgreSQL database (CENOMED_BENCH_DATABASE_URL,
default the local cluster) migrated to head, the load benchmark's ten cells and their accounts
(``bench.load_population.create_accounts``), then N cases written with COPY. Each case is sealed
the way the service seals it: its own data key from ``Vault.new_case_key`` (wrapped by the
keyring's KEK), its identity sealed by ``app.cases.personal.seal_personal``, its blind index
from ``Vault.index_identity``. States are drawn among the open ones and ``closed``. One minor,
the *target*, has three cases in the first cell (two open, one closed), planted among the
others; everyone else is a distinct invented identity.

Timed: what ``POST /cases/search`` runs, without HTTP: the search service function
(``app.cases.search.search_cases``: the charter, the hourly limit counted from the audit log,
the blind-index lookup, the views) and the serialisation of its results (``case_read``, which
opens the identities), in a committed transaction with its audit events, as the first cell's
coordinator. Two searches alternate: the target (two cases shown, one closed case named) and
an identity held by no case (nothing found). After a warm-up, each is timed ``--searches``
times; median and 95th percentile in milliseconds. Both databases are built first and the
rounds alternate between them, so that whatever else the machine does (two cores, shared)
weighs on every size alike. The hourly limit is raised for the run (the
count itself is still made on every search).

Counted, by wrapping the vault and the identity opener in this benchmark only: the cases whose
data key was opened (``Vault.cipher_for``) and whose identity was decrypted
(``app.cases.personal.open_identity``) during each search, against the cases it returned.

Writes bench/results/search.json and bench/results/search.md.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, cast

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from app import migrate
from app.audit.checkpoint import ensure_signing_key, load_signer, session_info
from app.auth import ensure_local_keys
from app.cases import personal, search
from app.cases.age import age_bracket
from app.cases.references import format_reference
from app.cases.search_schemas import CaseSearch
from app.cases.serialise import case_read
from app.clock import today
from app.config import Settings
from app.crypto.keyring import LocalKeyringProvider
from app.crypto.models import CaseKey
from app.crypto.vault import Vault
from app.db import make_engine, make_sessionmaker, unit_of_work
from app.directory import service as directory
from app.directory.models import Cell
from app.main import make_vault
from app.principal import Principal
from app.retention.policy import birth_month
from app.vocabulary import CellKind
from app.workflow.states import CaseState
from bench.audit_bench import DEFAULT_URL, server, throwaway_database
from bench.load_population import (
    _Collector,
    _copy,
    _name,
    _orm_row,
    _row,
    create_accounts,
    username,
)
from bench.results_file import provenance, publish

DATABASE = "cenomed_bench_search"
SIZES = (1_000, 100_000)
SEARCHES = 300
WARM_UP = 30
BATCH = 10_000
TARGET_RATIO = 1.25
STATES = (
    (CaseState.SUBMITTED, 0.10),
    (CaseState.PARQUET_REVIEW, 0.10),
    (CaseState.RESEARCH, 0.25),
    (CaseState.CELL_REVIEW, 0.10),
    (CaseState.ORIENTED, 0.10),
    (CaseState.CLOSED, 0.35),
)
# The minor searched for: invented, three cases in the first cell.
TARGET = ("Zyxwavel-Bench", "Quentinette", date(today().year - 14, 5, 17))
TARGET_STATES = (CaseState.RESEARCH, CaseState.CELL_REVIEW, CaseState.CLOSED)
NOBODY = ("Zyxwavel-Personne", "Quentinette", date(today().year - 13, 2, 3))


def _settings(directory_: Path, url: str) -> Settings:
    data_dir = directory_ / "data"
    data_dir.mkdir(mode=0o700)
    settings = Settings(data_dir=data_dir, database_url=url)
    ensure_local_keys(settings.keys_dir)
    ensure_signing_key(settings.audit_signing_key_path)
    LocalKeyringProvider.create(settings.local_keyring_path)
    return settings


def _case_rows(
    tables: dict[str, list[tuple[Any, ...]]],
    vault: Vault,
    *,
    cell: int,
    submitter: int,
    state: CaseState,
    identity: tuple[str, str, date],
    submitted_at: datetime,
    reference: str,
) -> None:
    """One case as the service seals it: its key, its identity, its blind index."""
    case_id = uuid.uuid4()
    last, first, born = identity
    received = submitted_at.date()
    tables["case_file"].append(
        _row(
            "case_file",
            id=case_id,
            reference=reference,
            cell_id=cell,
            state=state.value,
            origin="police",
            received_on=received,
            received_on_declared=False,
            age_bracket=age_bracket(born, received),
            birth_month_on=birth_month(born),
            submitted_by=submitter,
            submitted_at=submitted_at,
            retained=True if state not in (CaseState.SUBMITTED, CaseState.PARQUET_REVIEW) else None,
            closed_at=submitted_at + timedelta(days=90) if state is CaseState.CLOSED else None,
            closure_reason="feedback_received" if state is CaseState.CLOSED else None,
            updated_at=submitted_at,
            version=1,
        )
    )
    collector = _Collector()
    session = cast(Session, collector)
    cipher = vault.new_case_key(session, case_id)
    vault.index_identity(session, case_id, last, first, born)
    for instance in collector.added:
        if isinstance(instance, CaseKey):
            instance.created_at = submitted_at
        tables[type(instance).__tablename__].append(_orm_row(instance))
    sealed = personal.seal_personal(
        cipher,
        case_id,
        last_name=last,
        first_name=first,
        birth_date=born,
        address=None,
        school=None,
        facts=None,
    )
    tables["case_personal"].append(_orm_row(sealed))


def populate(engine: Engine, vault: Vault, cases: int, cells: dict[int, int], seed: int) -> float:
    """``cases`` cases over the cells (cell -> a member who submitted), the target's among
    them, each with its reference (numbered per cell and year); returns the seconds taken."""
    began = time.perf_counter()
    with engine.connect() as connection:
        arrondissement = dict(connection.execute(select(Cell.id, Cell.arrondissement)).all())
    numbers: dict[tuple[int, int], int] = {}
    rng = random.Random(seed)
    states = [s for s, _ in STATES]
    weights = [w for _, w in STATES]
    now = datetime.now(UTC)
    first_cell = min(cells)
    planted = {
        rng.randrange(cases - len(TARGET_STATES)) + i: s for i, s in enumerate(TARGET_STATES)
    }
    for start in range(0, cases, BATCH):
        tables: dict[str, list[tuple[Any, ...]]] = {
            t: [] for t in ("case_file", "case_personal", "case_key", "identity_index")
        }
        for n in range(start, min(start + BATCH, cases)):
            submitted_at = now - timedelta(days=rng.uniform(1, 4 * 365))
            if n in planted:
                cell, state, identity = first_cell, planted[n], TARGET
            else:
                cell = rng.choice(list(cells))
                state = rng.choices(states, weights)[0]
                born = submitted_at.date() - timedelta(days=rng.randint(365 * 10 + 1, 365 * 17))
                identity = (f"{_name(rng)}-{n}", _name(rng), born)
            year = submitted_at.year
            numbers[cell, year] = numbers.get((cell, year), 0) + 1
            reference = format_reference(
                CellKind.CENOMED, arrondissement[cell], year, numbers[cell, year]
            )
            _case_rows(
                tables,
                vault,
                cell=cell,
                submitter=cells[cell],
                state=state,
                identity=identity,
                submitted_at=submitted_at,
                reference=reference,
            )
        _copy(engine, tables)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - began


@contextmanager
def counting(vault: Vault) -> Iterator[tuple[set[uuid.UUID], set[uuid.UUID]]]:
    """The cases whose key was opened, and whose identity was decrypted, in the block."""
    keys: set[uuid.UUID] = set()
    identities: set[uuid.UUID] = set()
    cipher_for = vault.cipher_for
    open_identity = personal.open_identity

    def counted_cipher_for(case_id: uuid.UUID, key: CaseKey | None) -> Any:
        keys.add(case_id)
        return cipher_for(case_id, key)

    def counted_open_identity(cipher: Any, row: Any) -> personal.Identity:
        identities.add(row.case_id)
        return open_identity(cipher, row)

    vault.cipher_for = counted_cipher_for  # type: ignore[method-assign]
    personal.open_identity = counted_open_identity
    try:
        yield keys, identities
    finally:
        del vault.cipher_for
        personal.open_identity = open_identity


def _one_search(
    sessions: Callable[[], Any], vault: Vault, principal: Principal, terms: CaseSearch
) -> tuple[float, int, int, int]:
    """(seconds, cases returned, keys opened, identities decrypted) of one search."""
    with counting(vault) as (keys, identities):
        started = time.perf_counter()
        with sessions() as session:
            found = search.search_cases(
                session,
                principal=principal,
                vault=vault,
                data=terms,
                now=datetime.now(UTC),
                per_hour=1_000_000,
            )
            [case_read(v, principal, in_list=True) for v in found.cases]
        seconds = time.perf_counter() - started
    return seconds, found.count, len(keys), len(identities)


def _terms(identity: tuple[str, str, date]) -> CaseSearch:
    last, first, born = identity
    return CaseSearch(last_name=last, first_name=first, birth_date=born)


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2),
        "min_ms": round(ordered[0] * 1000, 2),
    }


@dataclass
class Population:
    """One size's database, ready to search, and what was measured on it."""

    cases: int
    engine: Engine
    factory: Any
    vault: Vault
    principal: Principal
    built_in_s: float
    samples: dict[str, list[float]] = field(default_factory=dict)
    returned: dict[str, set[int]] = field(default_factory=dict)
    keys_opened: dict[str, int] = field(default_factory=dict)
    identities_decrypted: dict[str, int] = field(default_factory=dict)

    def search(self, kind: str, terms: CaseSearch, *, record: bool) -> None:
        seconds, count, keys, identities = _one_search(
            lambda: unit_of_work(self.factory), self.vault, self.principal, terms
        )
        if not record:
            return
        self.samples.setdefault(kind, []).append(seconds)
        self.returned.setdefault(kind, set()).add(count)
        self.keys_opened[kind] = max(self.keys_opened.get(kind, 0), keys)
        self.identities_decrypted[kind] = max(self.identities_decrypted.get(kind, 0), identities)

    def result(self) -> dict[str, Any]:
        with self.engine.connect() as connection:
            events = connection.scalar(text("SELECT count(*) FROM audit_event"))
        return {
            "cases": self.cases,
            "built_in_s": round(self.built_in_s, 1),
            "audit_events_at_end": events,
            "database": server(self.engine),
            **{
                kind: {
                    **_summary(values),
                    "returned": sorted(self.returned[kind]),
                    "keys_opened_max": self.keys_opened[kind],
                    "identities_decrypted_max": self.identities_decrypted[kind],
                }
                for kind, values in self.samples.items()
            },
        }


def prepare(stack: ExitStack, url: str, cases: int, name: str) -> Population:
    """A fresh database of ``cases`` cases, and the first cell's coordinator to search it."""
    bench_url = stack.enter_context(throwaway_database(url, name))
    scratch = stack.enter_context(TemporaryDirectory())
    migrate.upgrade(bench_url)
    settings = _settings(Path(scratch), bench_url)
    engine = make_engine(bench_url)
    stack.callback(engine.dispose)
    signer = load_signer(settings)
    factory = make_sessionmaker(engine, info=session_info(signer, settings.audit_checkpoint_every))
    accounts = create_accounts(factory, settings)
    cells = {
        a.cell_id: a.user_id
        for a in accounts.values()
        if a.cell_id is not None and a.username.startswith("police-")
    }
    built_in = populate(engine, make_vault(settings), cases, cells, seed=16)
    with unit_of_work(factory) as session:
        principal = directory.load_principal(
            session, username("coordinator", min(cells)), charter_version=settings.charter_version
        )
    assert principal is not None
    # The timed service's own vault: no data key in memory yet.
    return Population(cases, engine, factory, make_vault(settings), principal, built_in)


def measure(sizes: list[int], searches: int) -> dict[str, Any]:
    url = os.environ.get("CENOMED_BENCH_DATABASE_URL", DEFAULT_URL)
    kinds = {"target": _terms(TARGET), "nobody": _terms(NOBODY)}
    with ExitStack() as stack:
        populations = [prepare(stack, url, cases, f"{DATABASE}_{cases}") for cases in sorted(sizes)]
        # Interleaved, so that whatever else the machine does weighs on every size alike.
        for round_ in range(WARM_UP + searches):
            for population in populations:
                for kind, terms in kinds.items():
                    population.search(kind, terms, record=round_ >= WARM_UP)
        runs = [population.result() for population in populations]
    small, large = runs[0], runs[-1]
    ratios = {kind: round(large[kind]["median_ms"] / small[kind]["median_ms"], 3) for kind in kinds}
    sizes_text = " ".join(str(s) for s in sizes)
    return {
        **provenance(
            f"python -m bench.search_bench --sizes {sizes_text} --searches {searches}",
            "PostgreSQL on 127.0.0.1; per size a fresh database, ten cells, the cases sealed as "
            "the service seals them (own data key, identity, blind index) and written with "
            f"COPY; {WARM_UP} warm-up rounds, then {searches} rounds, each size in turn, of two "
            "searches by the first cell's coordinator (the target: three cases, two shown and "
            "one closed, an archive index entry; an identity held by no case), each the search "
            "service function and the serialisation of its results in a committed transaction "
            "with its audit events; "
            "keys opened and identities decrypted counted per search by wrapping "
            "Vault.cipher_for and personal.open_identity",
        ),
        "searches_per_kind": searches,
        "runs": runs,
        "ratio_large_to_small_median": ratios,
        "target_ratio": TARGET_RATIO,
        "ratio_met": all(r <= TARGET_RATIO for r in ratios.values()),
        "never_decrypts_more_than_returned": all(
            run[kind]["keys_opened_max"] <= min(run[kind]["returned"])
            and run[kind]["identities_decrypted_max"] <= min(run[kind]["returned"])
            for run in runs
            for kind in kinds
        ),
    }


def markdown(result: dict[str, Any]) -> str:
    runs = result["runs"]
    database = runs[0]["database"]
    lines = [
        "# Finding a case by identity (issue 16)",
        "",
        f"- date: {result['date']}",
        f"- command: `{result['command']}`",
        f"- machine: {result['machine']}",
        f"- PostgreSQL {database['version']}, synchronous_commit={database['synchronous_commit']}",
        f"- method: {result['method']}",
        "",
        "| cases | search | median (ms) | p95 (ms) | results | keys opened (most) "
        "| identities decrypted (most) |",
        "|---:|---|---:|---:|---|---:|---:|",
    ]
    for run in runs:
        for kind, what in (("target", "the target (3 cases)"), ("nobody", "nobody (0 cases)")):
            row = run[kind]
            lines.append(
                f"| {run['cases']:,} | {what} | {row['median_ms']} | {row['p95_ms']} "
                f"| {', '.join(str(c) for c in row['returned'])} | {row['keys_opened_max']} "
                f"| {row['identities_decrypted_max']} |"
            )
    ratios = result["ratio_large_to_small_median"]
    lines += [
        "",
        f"Ratio of the medians, {runs[-1]['cases']:,} to {runs[0]['cases']:,} cases: target "
        f"{ratios['target']}, nobody {ratios['nobody']} (target ≤ {result['target_ratio']}: "
        f"{'met' if result['ratio_met'] else 'NOT met'}).",
        "",
        "Never more cases decrypted than returned: "
        f"{'yes' if result['never_decrypts_more_than_returned'] else 'NO'} (the closed case is "
        "the archive index's entry, its key never opened; the two open ones are the only keys "
        "opened).",
        "",
        "Populations built in "
        + ", ".join(f"{r['built_in_s']} s ({r['cases']:,} cases)" for r in runs)
        + ".",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search_bench", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--searches", type=int, default=SEARCHES, help="timed rounds per size")
    args = parser.parse_args()
    publish("search", measure(args.sizes, args.searches), markdown)


if __name__ == "__main__":
    main()
