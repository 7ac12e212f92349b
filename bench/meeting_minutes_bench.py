"""The minutes of a 40-case meeting as a PDF (issue 17): generated in under a few seconds.

    .venv/bin/python -m bench.meeting_minutes_bench [--cases 40] [--runs 11]
    (or: make bench-minutes)

On a throw-away SQLite database migrated to head, one cell and its accounts, and one meeting
of today whose agenda holds ``--cases`` cases, each built through the API as the service
would see them: entered by the coordinator (received by letter 40 days ago, a distinct
invented minor each), referred to the parquet, retained, put on the agenda, decided "orient"
to the CRIP and to a prevention association (each a named service of the cell), both
orientations transmitted and the CRIP's feedback received. The minutes then list every case
with its identity, decision and two orientations, and the feedback section two lines a case.

Timed: ``GET /api/v1/meetings/{id}/minutes.pdf`` as the coordinator, in process (the
application under Starlette's test client): authentication, the charter's view of each case,
40 identities decrypted, one audit event per case appended and committed, the template and
WeasyPrint's PDF. One warm-up (fonts and Pango load), then ``--runs`` timed requests; median,
min and max in seconds. The agenda (``agenda.pdf``) is timed alike. Memory: the Python heap's
peak during one more request (tracemalloc, untimed) and the process's peak resident size.

Writes bench/results/meeting-minutes.json and bench/results/meeting-minutes.md.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import time
import tracemalloc
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from fastapi.testclient import TestClient
from pypdf import PdfReader

from app import migrate
from app.audit.checkpoint import ensure_signing_key
from app.auth import ensure_local_keys, issue_local_token
from app.clock import today
from app.config import Settings
from app.crypto.keyring import LocalKeyringProvider
from app.db import make_engine, make_sessionmaker, unit_of_work
from app.directory import service as directory
from app.main import create_app
from app.meetings import documents
from app.vocabulary import CellKind, Organisation, Role
from bench.results_file import provenance, publish

CASES = 40
RUNS = 11
TARGET_S = 3.0
SYLLABLES = "ba be bi bo bu da de di do du fa fe fi fo fu la le li lo lu ma me mi mo mu".split()


class Client:
    """The API as one account calls it."""

    def __init__(self, client: TestClient, settings: Settings, username: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {issue_local_token(settings, username)}"}

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.client.request(method, "/api/v1" + path, json=body, headers=self.headers)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.headers["content-type"].endswith("json") else response


def _settings(directory_: Path) -> Settings:
    url = f"sqlite:///{directory_ / 'bench.db'}"
    migrate.upgrade(url)
    data_dir = directory_ / "data"
    data_dir.mkdir(mode=0o700)
    settings = Settings(data_dir=data_dir, database_url=url)
    ensure_local_keys(settings.keys_dir)
    ensure_signing_key(settings.audit_signing_key_path)
    LocalKeyringProvider.create(settings.local_keyring_path)
    return settings


def _accounts(settings: Settings) -> int:
    """One cell, its coordinator and parquet; returns the cell's id."""
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as session:
        cell = directory.create_cell(
            session, name="CENOMED 18e", kind=CellKind.CENOMED, arrondissement=18
        )
        cell_id = cell.id
        for name, role, organisation in (
            ("coordinator", Role.COORDINATOR, None),
            ("parquet", Role.PARQUET, None),
            ("police", Role.MEMBER, Organisation.POLICE),
        ):
            directory.create_user(
                session, username=name, role=role, organisation=organisation, cell_ids=[cell_id]
            )
    version = settings.charter_version
    for name in ("coordinator", "parquet", "police"):
        with unit_of_work(factory) as session:
            principal = directory.load_principal(session, name, charter_version=version)
            assert principal is not None
            directory.accept_charter(
                session, principal=principal, version=version, current_version=version
            )
    engine.dispose()
    return cell_id


def _name(n: int) -> str:
    """An invented surname, distinct for each case."""
    return "".join(SYLLABLES[(n // len(SYLLABLES) ** i) % len(SYLLABLES)] for i in range(3)).title()


def _build(client: TestClient, settings: Settings, cell_id: int, cases: int) -> tuple[str, float]:
    """The meeting of today and its ``cases`` decided cases; returns its id and the seconds."""
    began = time.perf_counter()
    coordinator = Client(client, settings, "coordinator")
    parquet = Client(client, settings, "parquet")
    services = {
        destination: coordinator.call(
            "POST", f"/cells/{cell_id}/services", {"name": name, "destination": destination}
        )["id"]
        for destination, name in (
            ("crip", "CRIP 75 (service fictif)"),
            ("prevention_association", "Club de prévention Imaginaire"),
        )
    }
    on = today()
    meeting = coordinator.call(
        "POST",
        "/meetings",
        {
            "cell_id": cell_id,
            "held_on": on.isoformat(),
            "starts_at": "14:30",
            "place": "Salle du conseil, mairie d'arrondissement",
        },
    )["id"]
    for n in range(cases):
        body = {
            "cell_id": cell_id,
            "received_on": (on - timedelta(days=40)).isoformat(),
            "received_via": "letter",
            "motifs": ["absenteeism"],
            "facts": "Absences répétées (exemple fictif).",
            "minor": {
                "last_name": f"{_name(n)}-Banc",
                "first_name": "Quentinette",
                "birth_date": date(on.year - 14, 1 + n % 12, 1 + n % 28).isoformat(),
                "sex": "F",
            },
        }
        case_id = coordinator.call("POST", "/cases", body)["id"]
        coordinator.call("POST", f"/cases/{case_id}/parquet-referral")
        parquet.call("POST", f"/cases/{case_id}/parquet-decision", {"retained": True})
        coordinator.call("POST", f"/meetings/{meeting}/cases", {"case_id": case_id})
        decided = coordinator.call(
            "POST",
            f"/cases/{case_id}/review-decision",
            {
                "decision": "orient",
                "orientations": [
                    {"destination": d, "service_id": service} for d, service in services.items()
                ],
            },
        )
        for orientation in decided["orientations"]:
            path = f"/cases/{case_id}/orientations/{orientation['id']}"
            coordinator.call("POST", f"{path}/transmission")
            if orientation["destination"] == "crip":
                coordinator.call("POST", f"{path}/feedback", {"outcome": "support_in_place"})
    return meeting, time.perf_counter() - began


class RenderTimer:
    """The seconds each request spent in WeasyPrint (``render_pdf``), the rest being the
    service's: the charter, the decryption, the audit events, the template."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.render = documents.render_pdf

    def __call__(self, html: str) -> bytes:
        started = time.perf_counter()
        try:
            return self.render(html)
        finally:
            self.seconds.append(time.perf_counter() - started)


@dataclass
class Timings:
    """Seconds of each request: wall-clock, the process's CPU, and WeasyPrint's wall-clock."""

    wall: list[float]
    cpu: list[float]
    rendering: list[float]


def _timed(coordinator: Client, path: str, runs: int) -> tuple[Timings, bytes]:
    """The timings of ``runs`` requests, and the last PDF."""
    coordinator.call("GET", path)  # warm-up: WeasyPrint, Pango and the fonts load
    timer = RenderTimer()
    documents.render_pdf = timer
    samples = []
    cpu = []
    content = b""
    try:
        for _ in range(runs):
            started, processor = time.perf_counter(), time.process_time()
            content = coordinator.call("GET", path).content
            samples.append(time.perf_counter() - started)
            cpu.append(time.process_time() - processor)
    finally:
        documents.render_pdf = timer.render
    return Timings(samples, cpu, timer.seconds), content


def _summary(timings: Timings) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(timings.wall), 3),
        "min_s": round(min(timings.wall), 3),
        "max_s": round(max(timings.wall), 3),
        "cpu_median_s": round(statistics.median(timings.cpu), 3),
        "rendering_median_s": round(statistics.median(timings.rendering), 3),
    }


def measure(cases: int, runs: int) -> dict[str, Any]:
    with TemporaryDirectory() as scratch:
        settings = _settings(Path(scratch))
        cell_id = _accounts(settings)
        with TestClient(create_app(settings), raise_server_exceptions=True) as client:
            meeting, built_in = _build(client, settings, cell_id, cases)
            coordinator = Client(client, settings, "coordinator")
            load_before = os.getloadavg()[0]
            minutes, content = _timed(coordinator, f"/meetings/{meeting}/minutes.pdf", runs)
            agenda, _ = _timed(coordinator, f"/meetings/{meeting}/agenda.pdf", runs)
            load_after = os.getloadavg()[0]
            tracemalloc.start()
            coordinator.call("GET", f"/meetings/{meeting}/minutes.pdf")
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    reader = PdfReader(io.BytesIO(content))
    text = " ".join(page.extract_text() for page in reader.pages)
    return {
        **provenance(
            f"python -m bench.meeting_minutes_bench --cases {cases} --runs {runs}",
            "SQLite (a throw-away file migrated to head); one meeting of today whose agenda "
            f"holds {cases} cases built through the API, each decided 'orient' to two named "
            "services, both transmitted, the CRIP's feedback received; GET "
            "/api/v1/meetings/{id}/minutes.pdf (and agenda.pdf) as the coordinator, in process "
            "(Starlette's test client): authentication, the charter's view of each case, the "
            "identities decrypted, one audit event per case committed, the template and "
            f"WeasyPrint; one warm-up then {runs} timed requests; the Python heap's peak "
            "(tracemalloc) during one more, untimed",
        ),
        "cases": cases,
        "runs": runs,
        "built_in_s": round(built_in, 1),
        "minutes": {
            **_summary(minutes),
            "pages": len(reader.pages),
            "bytes": len(content),
            "cases_named": sum(f"{_name(n)}-Banc" in text for n in range(cases)),
        },
        "agenda": _summary(agenda),
        # The machine is shared: its 1-minute load average before and after the timed runs.
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "python_heap_peak_mib": round(peak / 2**20, 1),
        "process_max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "target_s": TARGET_S,
        "target_met": statistics.median(minutes.wall) < TARGET_S,
    }


def markdown(result: dict[str, Any]) -> str:
    minutes, agenda = result["minutes"], result["agenda"]
    return "\n".join(
        [
            f"# The minutes of a {result['cases']}-case meeting as a PDF (issue 17)",
            "",
            f"- date: {result['date']}",
            f"- command: `{result['command']}`",
            f"- machine: {result['machine']}, Python {result['python']}",
            f"- method: {result['method']}",
            "- load average (1 min, 2 shared cores) before and after the timed runs: "
            f"{result['load_average'][0]}, {result['load_average'][1]}",
            "",
            "| document | median (s) | min (s) | max (s) | CPU, median (s) "
            "| of which WeasyPrint, median (s) |",
            "|---|---:|---:|---:|---:|---:|",
            *(
                f"| {name} | {row['median_s']} | {row['min_s']} | {row['max_s']} "
                f"| {row['cpu_median_s']} | {row['rendering_median_s']} |"
                for name, row in (("minutes.pdf", minutes), ("agenda.pdf", agenda))
            ),
            "",
            f"The minutes: {minutes['pages']} pages, {minutes['bytes']:,} bytes, "
            f"{minutes['cases_named']} of {result['cases']} minors named in the text. "
            f"Python heap peak during one request: {result['python_heap_peak_mib']} MiB; "
            f"process peak resident size: {result['process_max_rss_mib']} MiB.",
            "",
            f"Target: under {result['target_s']} s (median): "
            f"{'met' if result['target_met'] else 'NOT met'}. "
            f"Meeting built through the API in {result['built_in_s']} s.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.meeting_minutes_bench", description=__doc__
    )
    parser.add_argument("--cases", type=int, default=CASES)
    parser.add_argument("--runs", type=int, default=RUNS, help="timed requests per document")
    args = parser.parse_args()
    publish("meeting-minutes", measure(args.cases, args.runs), markdown)


if __name__ == "__main__":
    main()
