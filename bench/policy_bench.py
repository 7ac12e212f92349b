"""Cost of the charter's decision per case read, next to the same read without it, in one run.

    .venv/bin/python -m bench.policy_bench      (or: make bench-policy)

A real SQLite database (migrated), a real case with notes and orientations, read through the
service layer and the serialiser as the coordinator. "Without policy" replaces the decision by
a constant "every block" view (what a read would cost if nothing were checked); "with policy"
is the service as it runs (decisions memoised by shape); "cold" clears the memo before every
read (the first read of each shape after a start). Writes bench/results/policy.{json,md}.
Target (issue 4): the policy adds less than 20% to a case read.
"""

from __future__ import annotations

import tempfile
import timeit
import uuid
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.auth import ensure_local_keys
from app.cases import repository, service
from app.cases.models import Case
from app.cases.schemas import CaseCreate, MinorIn
from app.cases.serialise import case_read
from app.config import Settings
from app.crypto.keyring import LocalKeyringProvider
from app.db import make_engine, make_sessionmaker, unit_of_work
from app.directory import service as directory
from app.main import make_vault
from app.policy import visibility
from app.policy.engine import get_engine
from app.policy.visibility import Block, CaseView
from app.vocabulary import CellKind, Motif, Organisation, Role
from bench.results_file import provenance, publish

NUMBER, REPEAT = 300, 7


def per_read_us(statement: object, number: int = NUMBER) -> float:
    runs = timeit.repeat(statement, number=number, repeat=REPEAT)  # type: ignore[arg-type]
    return min(runs) / number * 1e6


def measure() -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="cenomed-bench-"))
    settings = Settings(data_dir=workdir, database_url=f"sqlite:///{workdir / 'bench.db'}")
    ensure_local_keys(settings.keys_dir)
    LocalKeyringProvider.create(settings.local_keyring_path)
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    vault = make_vault(settings)
    today = date.today()
    version = settings.charter_version
    with unit_of_work(sessions) as session:
        cell = directory.create_cell(
            session, name="Bench", kind=CellKind.CENOMED, arrondissement=18
        )
        for name, role, org in (
            ("coordinator", Role.COORDINATOR, None),
            ("police", Role.MEMBER, Organisation.POLICE),
            ("parquet", Role.PARQUET, None),
        ):
            directory.create_user(
                session, username=name, role=role, organisation=org, cell_ids=[cell.id]
            )
            who = directory.load_principal(session, name, charter_version=version)
            assert who is not None
            directory.accept_charter(
                session, principal=who, version=version, current_version=version
            )
    with unit_of_work(sessions) as session:
        police = directory.load_principal(session, "police", charter_version=version)
        coordinator = directory.load_principal(session, "coordinator", charter_version=version)
        parquet = directory.load_principal(session, "parquet", charter_version=version)
        assert police is not None
        assert coordinator is not None
        assert parquet is not None
        data = CaseCreate(
            cell_id=cell.id,
            motifs=[Motif.ABSENTEEISM],
            facts="Exemple fictif de signalement pour la mesure.",
            minor=MinorIn(last_name="Bench", first_name="Mesure", birth_date=date(2012, 1, 1)),
        )
        # Sent 40 days ago, as the member would have then: received that day.
        case_id = service.submit_case(
            session,
            principal=police,
            vault=vault,
            data=data,
            today=today - timedelta(days=40),
            received_on_max_days=0,
        ).id
        service.refer_to_parquet(session, principal=coordinator, case_id=case_id, today=today)
        service.decide_parquet(
            session, principal=parquet, case_id=case_id, retained=True, today=today
        )
        for n in range(3):
            service.add_research_note(
                session,
                principal=police,
                vault=vault,
                case_id=case_id,
                content=f"Note {n}",
                today=today,
            )

    def read() -> None:
        with unit_of_work(sessions) as session:
            visible = service.read_case(
                session, principal=coordinator, vault=vault, case_id=case_id
            )
            case_read(visible, coordinator)

    everything = CaseView(frozenset(Block))
    read()  # warm the memo and the data-key cache
    with_policy = per_read_us(read)
    with mock.patch.object(service, "case_view", return_value=everything):
        without_policy = per_read_us(read)

    def cold_read() -> None:
        get_engine()._case_shape.cache_clear()
        read()

    cold = per_read_us(cold_read, number=100)
    facts = service.facts_of(_loaded(sessions, case_id))
    decision_only = per_read_us(lambda: visibility.case_view(coordinator, facts), number=2000)
    engine.dispose()
    return {
        **provenance(
            "python -m bench.policy_bench",
            f"best of {REPEAT} runs; a read = session, query, policy, decrypt, serialise",
        ),
        "read_without_policy_us": round(without_policy, 1),
        "read_with_policy_us": round(with_policy, 1),
        "ratio": round(with_policy / without_policy, 3),
        "read_with_cold_policy_us": round(cold, 1),
        "cold_ratio": round(cold / without_policy, 3),
        "decision_memoised_us": round(decision_only, 2),
    }


def _loaded(sessions: sessionmaker[Session], case_id: uuid.UUID) -> Case:
    with unit_of_work(sessions) as session:
        case = repository.get_case(session, case_id)
    assert case is not None
    return case


def markdown(result: dict[str, object]) -> str:
    return "\n".join(
        [
            "# The charter's decision per case read",
            "",
            f"- date: {result['date']}",
            f"- command: `{result['command']}`",
            f"- machine: {result['machine']}, Python {result['python']}",
            f"- method: {result['method']}",
            "",
            "| read of one case (SQLite, coordinator, all blocks) | µs | ratio |",
            "|---|---:|---:|",
            f"| without the policy (every block, no decision) | {result['read_without_policy_us']}"
            " | 1 |",
            f"| with the policy, as the service runs (memoised) | {result['read_with_policy_us']}"
            f" | {result['ratio']} |",
            f"| with the policy, memo cleared before each read | "
            f"{result['read_with_cold_policy_us']} | {result['cold_ratio']} |",
            "",
            f"The decision itself, memoised: {result['decision_memoised_us']} µs per case "
            "(eight blocks). Target: under 1.2 (policy adds less than 20%).",
            "",
        ]
    )


def main() -> None:
    publish("policy", measure(), markdown)


if __name__ == "__main__":
    main()
