"""The service under load on PostgreSQL: what our guarantees cost against a bare row read.

    .venv/bin/python -m bench.load_bench [--quick] [--profile]        (or: make bench)

1. Two throw-away databases (CENOMED_BENCH_DATABASE_URL, default the local cluster; named
   cenomed_bench_load_<cases>, dropped at the end), each initialised by ``cenomed init`` (keys
   in a temporary data dir, schema by the migrations) and filled by ``bench.load_population``
   (see its docstring for the method): --cases (default 100,000: the main population, at least
   the 10,000 the issue asks for) and --small (default 1,000) cases across 10 cells, in every
   state of the procedure, sealed with their own data keys, with their history and audit log.
2. The real service on each, ``uvicorn bench.load_app:create_app --factory --workers 2``
   (``bench.load_app`` adds the two baseline routes to ``app.main.create_app()``; nothing else
   differs): the CPU split between the client, the workers and PostgreSQL is measured, no
   process is pinned.
3. An asyncio driver (uvloop; one persistent HTTP/1.1 connection per client, spread evenly
   over the workers; a minimal client on asyncio streams, see ``Connection``: httpx took 0.7 ms
   of CPU per request, a fifth of a core at the baseline's pace, taken from the server on
   this 2-core machine) runs --clients (32) concurrent clients in timed windows (--warmup s,
   then --seconds s measured; a request counts in the window it starts in):

   * ``health``: ``GET /health`` (no database), what the stack and the client can do at most;
   * ``baseline``: the case row by primary key (id, state, version), no token, no decryption,
     no policy, no audit (``bench.load_app``); ``baseline-auth``: the same after the API's
     bearer-token authentication;
   * ``read``: ``GET /cases/{id}`` by the coordinator of the case's cell, cases drawn uniformly
     among those the coordinator reads (every block decrypted, the charter asked per block,
     possible duplicates looked up, one audit event committed with the read);
   * ``list``: ``GET /cases`` (first page, 50 cases, each decrypted and logged) by a cell's
     coordinator;
   * ``mixed``: 70 % reads (coordinators, parquet, police members, each on cases the charter
     shows them), 20 % lists (coordinators, police members), 10 % steps valid at the case's
     state (research notes, referrals, parquet decisions, feedback, closures; each case
     stepped once).

   baseline, baseline-auth, read and list (at both sizes) are interleaved, --rounds rounds in
   alternating order; figures are the median of the rounds (throughput) and the percentiles
   of all the rounds' requests pooled (latency). ``mixed`` runs once, last (it changes cases).
4. Every response must have the expected status: any other, or a transport error, is counted
   and makes the run a failed run (exit 1). After the load, the audit log must verify.

Writes bench/results/load.json and bench/RESULTS.md. Targets (issue 8): a case read at least
0.6x the baseline's throughput; a case read's p99 under 5x its p50 at 32 clients; reading at
100,000 cases within 1.25x of reading at 1,000.

--profile instead runs the case-read window against a single worker under py-spy (sampling the
thread holding the GIL) and writes the top costs to bench/results/load-profile.txt.
--quick: 1,000 and 200 cases, one round of short windows (for development; not a result).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Coroutine
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, TypeVar

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.audit.chain import verify
from app.auth import issue_local_token
from app.config import Settings
from app.db import make_engine, make_sessionmaker, unit_of_work
from bench.audit_bench import DEFAULT_URL, server, throwaway_database
from bench.load_population import Account, Built, build
from bench.results_file import RESULTS, provenance

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
RESULTS_MD = Path(__file__).parent / "RESULTS.md"
PROFILE_TXT = RESULTS / "load-profile.txt"
DATABASE = "cenomed_bench_load"
API = "/api/v1"
TOKEN_TTL = 6 * 3600
CASES, SMALL, CLIENTS, WORKERS, SECONDS, WARMUP, ROUNDS = 100_000, 1_000, 32, 2, 15.0, 3.0, 3
QUICK = {"cases": 1_000, "small": 200, "seconds": 4.0, "warmup": 1.0, "rounds": 1}
STEP_RESERVE = 3_000  # cases set aside per kind of step (each stepped at most once)
TARGET_READ_VS_BASELINE = 0.6
TARGET_P99_OVER_P50 = 5.0
TARGET_SIZE_RATIO = 1.25
# The states in which the cell's coordinator reads every block of a case (policies/MATRIX.md).
OPEN_STATES: tuple[str, ...] = ("submitted", "parquet_review", "not_retained", "research")
OPEN_STATES += ("cell_review", "oriented", "feedback")
PARQUET_STATES = OPEN_STATES[1:]
MEMBER_STATES = ("research", "cell_review")
MIXED_WEIGHTS = {"read": 0.7, "list": 0.2, "step": 0.1}
NOTE = (
    "Entretien avec l'établissement : absences répétées depuis la rentrée, la famille a été "
    "reçue, un suivi est proposé. Note fictive écrite par le banc d'essai de charge, sans "
    "aucune donnée réelle, d'une longueur proche de celle d'une vraie note de recherche."
)


# --- the service, started as in production ------------------------------------------------


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """The driver's event loop: uvloop (which uvicorn[standard] brings), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] depends on it
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``uvicorn bench.load_app:create_app`` in its own process group, on one database."""

    def __init__(self, url: str, data_dir: Path, workers: int, log: Path) -> None:
        self.url, self.data_dir, self.workers, self.log = url, data_dir, workers, log
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.load_app:create_app",
            "--factory",
            "--workers",
            str(self.workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            "--log-level",
            "warning",
            # The driver keeps its connections between windows; the default is 5 s.
            "--timeout-keep-alive",
            "900",
        ]

    def start(self) -> None:
        env = os.environ | {
            "CENOMED_DATA_DIR": str(self.data_dir),
            "CENOMED_DATABASE_URL": self.url,
            "PYTHONPATH": str(ROOT),
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
                self.command(),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: stopping it stops the workers
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}{API}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError("the server did not answer /health within 90 s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


# --- what the clients ask ----------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    op: str
    method: str
    path: str
    token: str | None = None
    body: Any = None
    expect: int = 200


@dataclass
class Population:
    """A database as the driver sees it: tokens, and cases by what may be asked of them."""

    size: int
    url: str
    built: Built
    tokens: dict[str, str]
    readable: list[tuple[str, int]] = field(default_factory=list)
    parquet: list[tuple[str, int]] = field(default_factory=list)
    member: list[tuple[str, int]] = field(default_factory=list)
    cells: list[int] = field(default_factory=list)
    steps: dict[str, deque[Call]] = field(default_factory=dict)
    sample: dict[str, tuple[str, int]] = field(default_factory=dict)  # a case per state

    def token(self, role: str, cell: int) -> str:
        return self.tokens[f"{role}-{cell}"]


def load_pools(population: Population, rng: random.Random) -> None:
    """Sorts the cases by who may read or step them; the cases set aside for steps that take
    them out of a reader's view (closures) are not read."""
    engine = make_engine(population.url)
    with engine.connect() as connection:
        cases = [
            (str(r[0]), int(r[1]), str(r[2]))
            for r in connection.execute(
                text("SELECT id, cell_id, state FROM case_file ORDER BY id")
            )
        ]
        pending = [
            (str(r[0]), str(r[1]), int(r[2]), str(r[3]))
            for r in connection.execute(
                text(
                    "SELECT o.id, c.id, c.cell_id, o.destination FROM orientation o "
                    "JOIN case_file c ON c.id = o.case_id WHERE c.state IN ('oriented', "
                    "'feedback') AND o.transmitted_at IS NOT NULL AND o.feedback_outcome IS NULL "
                    "ORDER BY o.id"
                )
            )
        ]
    engine.dispose()
    rng.shuffle(cases)
    rng.shuffle(pending)
    by_state: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for case_id, cell, state in cases:
        by_state[state].append((case_id, cell))
        population.sample.setdefault(state, (case_id, cell))
    population.cells = sorted({cell for _, cell, _ in cases})

    def reserve(state: str) -> list[tuple[str, int]]:
        share = by_state[state][: min(STEP_RESERVE, len(by_state[state]) // 3)]
        return share

    feedback_cases = {case_id for _, case_id, _, _ in pending}
    closures = [c for c in reserve("feedback") if c[0] not in feedback_cases]
    closed_now = {case_id for case_id, _ in closures}
    steps: dict[str, deque[Call]] = {
        "step:research_note": deque(
            Call("step:research_note", "POST", f"{API}/cases/{case_id}/research-notes",
                 population.token("police", cell), {"content": NOTE}, 201)
            for case_id, cell in reserve("research")
        ),
        "step:referral": deque(
            Call("step:referral", "POST", f"{API}/cases/{case_id}/parquet-referral",
                 population.token("coordinator", cell))
            for case_id, cell in reserve("submitted")
        ),
        "step:parquet_decision": deque(
            Call("step:parquet_decision", "POST", f"{API}/cases/{case_id}/parquet-decision",
                 population.token("parquet", cell), {"retained": True})
            for case_id, cell in reserve("parquet_review")
        ),
        "step:feedback": deque(
            Call("step:feedback", "POST",
                 f"{API}/cases/{case_id}/orientations/{orientation}/feedback",
                 population.token("cst" if destination == "social_services" else "coordinator",
                                  cell),
                 {"outcome": "support_in_place"})
            for orientation, case_id, cell, destination in pending[:STEP_RESERVE]
        ),
        "step:closure": deque(
            Call("step:closure", "POST", f"{API}/cases/{case_id}/closure",
                 population.token("coordinator", cell))
            for case_id, cell in closures
        ),
    }  # fmt: skip
    population.steps = steps
    for case_id, cell, state in cases:
        if case_id in closed_now:
            continue
        if state in OPEN_STATES:
            population.readable.append((case_id, cell))
        if state in PARQUET_STATES:
            population.parquet.append((case_id, cell))
        if state in MEMBER_STATES:
            population.member.append((case_id, cell))


def read_call(population: Population, rng: random.Random, role: str = "coordinator") -> Call:
    pool = {"coordinator": population.readable, "parquet": population.parquet}.get(
        role, population.member
    )
    case_id, cell = rng.choice(pool)
    return Call("read", "GET", f"{API}/cases/{case_id}", population.token(role, cell))


def list_call(population: Population, rng: random.Random, role: str = "coordinator") -> Call:
    return Call("list", "GET", f"{API}/cases", population.token(role, rng.choice(population.cells)))


def baseline_call(population: Population, rng: random.Random, auth: bool) -> Call:
    case_id, cell = rng.choice(population.readable)
    if auth:
        token = population.token("coordinator", cell)
        return Call("baseline-auth", "GET", f"{API}/bench/baseline-auth/cases/{case_id}", token)
    return Call("baseline", "GET", f"{API}/bench/baseline/cases/{case_id}")


def mixed_call(population: Population, rng: random.Random) -> Call:
    draw = rng.random()
    if draw < MIXED_WEIGHTS["read"]:
        role = rng.choices(("coordinator", "parquet", "police"), (0.7, 0.15, 0.15))[0]
        return read_call(population, rng, role)
    if draw < MIXED_WEIGHTS["read"] + MIXED_WEIGHTS["list"]:
        return list_call(population, rng, rng.choice(("coordinator", "police")))
    kinds = [kind for kind, calls in population.steps.items() if calls]
    if not kinds:
        return read_call(population, rng)
    return population.steps[rng.choice(kinds)].popleft()


WORKLOADS: dict[str, Callable[[Population, random.Random], Call]] = {
    "health": lambda _p, _r: Call("health", "GET", f"{API}/health"),
    "baseline": lambda p, r: baseline_call(p, r, auth=False),
    "baseline-auth": lambda p, r: baseline_call(p, r, auth=True),
    "read": read_call,
    "list": list_call,
    "mixed": mixed_call,
}


# --- where the CPU goes ------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _postgres_cpu() -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += _proc_cpu(int(entry.name))
            except OSError:
                continue
    return total


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = values
    busy = user + nice + system + irq + softirq + steal
    return busy / TICKS, (busy + idle + iowait) / TICKS


@dataclass
class CpuSnapshot:
    at: float
    busy: float
    client: float
    server: float
    postgres: float

    @classmethod
    def take(cls, server_pids: list[int]) -> CpuSnapshot:
        times = os.times()
        return cls(
            at=time.perf_counter(),
            busy=_machine()[0],
            client=times.user + times.system,
            server=sum(_proc_cpu(pid) for pid in server_pids),
            postgres=_postgres_cpu(),
        )

    def cores_until(self, later: CpuSnapshot) -> dict[str, float]:
        wall = later.at - self.at
        busy = (later.busy - self.busy) / wall
        client = (later.client - self.client) / wall
        server_ = (later.server - self.server) / wall
        postgres = (later.postgres - self.postgres) / wall
        return {
            "machine_busy": round(busy, 2),
            "client": round(client, 2),
            "workers": round(server_, 2),
            "postgresql": round(postgres, 2),
            "other": round(max(0.0, busy - client - server_ - postgres), 2),
        }


# --- the driver --------------------------------------------------------------------------


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest rank."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def figures(latencies: list[float], seconds: float, errors: int) -> dict[str, Any]:
    ordered = sorted(latencies)
    if not ordered:
        return {"requests": 0, "rps": 0.0, "errors": errors}
    return {
        "requests": len(ordered),
        "rps": round(len(ordered) / seconds, 1),
        "p50_ms": round(_percentile(ordered, 0.50) * 1000, 1),
        "p95_ms": round(_percentile(ordered, 0.95) * 1000, 1),
        "p99_ms": round(_percentile(ordered, 0.99) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "errors": errors,
    }


@dataclass
class Window:
    workload: str
    size: int
    round: int
    seconds: float
    latencies: dict[str, list[float]]
    errors: Counter[str]
    error_samples: list[str]
    warmup_errors: int
    cpu: dict[str, float]
    client_cpu_per_request_ms: float

    def summary(self) -> dict[str, Any]:
        ops = {
            op: figures(lat, self.seconds, self.errors.get(op, 0))
            for op, lat in sorted(self.latencies.items())
        }
        total = sum(len(lat) for lat in self.latencies.values())
        return {
            "workload": self.workload,
            "cases": self.size,
            "round": self.round,
            "seconds": self.seconds,
            "rps": round(total / self.seconds, 1),
            "ops": ops,
            "errors": sum(self.errors.values()) + self.warmup_errors,
            "error_samples": self.error_samples,
            "cpu_cores": self.cpu,
            "client_cpu_per_request_ms": self.client_cpu_per_request_ms,
        }


class Connection:
    """One persistent HTTP/1.1 connection on asyncio streams: the driver's client.

    httpx spends about 0.7 ms of CPU per request here, about as much as a worker spends on a
    health check; on two shared cores that CPU would be taken from the server under test. This
    client sends a request and reads its answer (Content-Length or chunked) and nothing else:
    no pool, no redirects, no cookies.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, token: str | None = None, body: Any = None
    ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None or self.reader is None:
            await self.open()
        assert self.writer is not None
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        payload = b""
        if body is not None:
            payload = json.dumps(body).encode()
            lines.append("Content-Type: application/json")
        if body is not None or method == "POST":
            lines.append(f"Content-Length: {len(payload)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            content = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            content = await self._chunked()
        else:
            content = await self.reader.read()
            await self.close()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, headers, content

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)


class Driver:
    """Persistent connections to one server, spread evenly over its workers."""

    def __init__(self, server: Server, population: Population, clients: int) -> None:
        self.server, self.population, self.count = server, population, clients
        self.connections: list[Connection] = []
        self.worker_pids: list[int] = []
        self.connections_per_worker: dict[int, int] = {}

    async def _connection(self) -> tuple[Connection, int]:
        """A new connection, and the worker that accepted it."""
        connection = Connection("127.0.0.1", self.server.port)
        case_id, _ = self.population.readable[0]
        status, _, body = await connection.request("GET", f"{API}/bench/baseline/cases/{case_id}")
        if status != 200:
            raise RuntimeError(f"the baseline answered {status}")
        return connection, int(json.loads(body)["worker"])

    async def connect(self) -> None:
        """Opens the connections; reconnects those of the busiest worker until even."""
        opened = [await self._connection() for _ in range(self.count)]
        self.connections = [c for c, _ in opened]
        pids = [pid for _, pid in opened]
        for _ in range(200):
            counts = Counter(pids)
            if (
                len(counts) >= self.server.workers
                and max(counts.values()) - min(counts.values()) <= 1
            ):
                break
            index = pids.index(counts.most_common(1)[0][0])
            await self.connections[index].close()
            self.connections[index], pids[index] = await self._connection()
        self.connections_per_worker = dict(Counter(pids))
        self.worker_pids = sorted(set(pids))

    async def close(self) -> None:
        for connection in self.connections:
            await connection.close()

    async def window(
        self, workload: str, round_: int, seconds: float, warmup: float, seed: int
    ) -> Window:
        pick = WORKLOADS[workload]
        population = self.population
        start = time.perf_counter() + warmup
        stop = start + seconds
        latencies: dict[str, list[float]] = defaultdict(list)
        errors: Counter[str] = Counter()
        samples: list[str] = []
        warmup_errors = 0
        snapshots: list[CpuSnapshot] = []
        pids = [*self.worker_pids, self.server.process.pid if self.server.process else 0]

        async def client_loop(index: int, connection: Connection) -> None:
            nonlocal warmup_errors
            rng = random.Random(seed * 1000 + index)
            while True:
                began = time.perf_counter()
                if began >= stop:
                    return
                call = pick(population, rng)
                problem = None
                try:
                    status, headers, body = await connection.request(
                        call.method, call.path, call.token, call.body
                    )
                    if status != call.expect:
                        slug = ""
                        if "json" in headers.get("content-type", ""):
                            slug = json.loads(body).get("type", "")
                        problem = f"{call.op} {call.method} -> {status} {slug}"
                except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                    problem = f"{call.op} {call.method} -> {type(error).__name__}"
                    await connection.close()
                ended = time.perf_counter()
                if began < start:
                    warmup_errors += problem is not None
                    continue
                latencies[call.op].append(ended - began)
                if problem is not None:
                    errors[call.op] += 1
                    if len(samples) < 10:
                        samples.append(problem)

        async def cpu_probe() -> None:
            await asyncio.sleep(max(0.0, start - time.perf_counter()))
            snapshots.append(CpuSnapshot.take(pids))
            await asyncio.sleep(max(0.0, stop - time.perf_counter()))
            snapshots.append(CpuSnapshot.take(pids))

        await asyncio.gather(
            cpu_probe(), *(client_loop(i, c) for i, c in enumerate(self.connections))
        )
        requests = sum(len(v) for v in latencies.values())
        client_cpu = snapshots[1].client - snapshots[0].client
        return Window(
            workload=workload,
            size=population.size,
            round=round_,
            seconds=seconds,
            latencies=dict(latencies),
            errors=errors,
            error_samples=samples,
            warmup_errors=warmup_errors,
            cpu=snapshots[0].cores_until(snapshots[1]),
            client_cpu_per_request_ms=round(client_cpu / max(1, requests) * 1000, 3),
        )


# --- setting up --------------------------------------------------------------------------


def initialise(data_dir: Path, url: str) -> None:
    """``cenomed init``: the data dir's keys (once) and the schema of this database."""
    env = os.environ | {"CENOMED_DATA_DIR": str(data_dir), "CENOMED_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "app.cli", "init"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def populate(
    stack: ExitStack, root_url: str, data_dir: Path, size: int, rng: random.Random
) -> Population:
    url = stack.enter_context(throwaway_database(root_url, f"{DATABASE}_{size}"))
    initialise(data_dir, url)
    settings = Settings(data_dir=data_dir, database_url=url)
    print(f"populating {size:,} cases ...", file=sys.stderr, flush=True)  # noqa: T201
    built, accounts = build(url, settings, size)
    print(  # noqa: T201
        f"  {size:,} cases, {built.events:,} audit events in {built.total_seconds} s "
        f"{built.seconds}",
        file=sys.stderr,
        flush=True,
    )
    population = Population(size, url, built, tokens=_tokens(settings, accounts))
    load_pools(population, rng)
    return population


def _tokens(settings: Settings, accounts: dict[str, Account]) -> dict[str, str]:
    return {name: issue_local_token(settings, name, TOKEN_TTL) for name in accounts}


EXPECTED_BY_STATE = dict.fromkeys(OPEN_STATES, 200) | {"closed": 403, "purged": 410}


def check_population(base: str, population: Population) -> dict[str, Any]:
    """One case of each state read by its coordinator: opened (its names decrypt), refused
    while archived, gone once purged; anything else fails the run."""
    seen: dict[str, int] = {}
    for state, (case_id, cell) in sorted(population.sample.items()):
        token = population.token("coordinator", cell)
        response = httpx.get(
            f"{base}{API}/cases/{case_id}", headers={"Authorization": f"Bearer {token}"}
        )
        seen[state] = response.status_code
        if response.status_code != EXPECTED_BY_STATE[state]:
            raise RuntimeError(f"a {state} case answered {response.status_code}: {response.text}")
        if response.status_code == 200 and not response.json()["minor"]["last_name"]:
            raise RuntimeError(f"a {state} case shows no name")
    missing = set(EXPECTED_BY_STATE) - set(seen)
    if missing:
        raise RuntimeError(f"no case in {sorted(missing)}")
    return seen


def audit_log_verifies(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as session:
        verdict = verify(session)
    engine.dispose()
    return {"valid": verdict.valid, "events": verdict.events}


# --- the run -----------------------------------------------------------------------------


@dataclass
class Options:
    cases: int
    small: int
    clients: int
    workers: int
    seconds: float
    warmup: float
    rounds: int
    quick: bool
    profile: bool


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)  # noqa: T201


def plan(rounds: int, large: int, small: int) -> list[tuple[str, int, int]]:
    """(workload, size, round): baseline, baseline-auth and read at the main size and read and
    list at both sizes, interleaved, in reverse order every other round; mixed last."""
    order = [
        ("baseline", large),
        ("read", large),
        ("baseline-auth", large),
        ("read", small),
        ("list", large),
        ("list", small),
    ]
    windows = [("health", large, 0)]
    for r in range(rounds):
        windows += [(w, s, r) for w, s in (order if r % 2 == 0 else order[::-1])]
    return [*windows, ("mixed", large, 0)]


async def drive(
    options: Options, servers: dict[int, Server], populations: dict[int, Population]
) -> tuple[list[Window], dict[int, dict[int, int]]]:
    drivers = {size: Driver(servers[size], populations[size], options.clients) for size in servers}
    for driver in drivers.values():
        await driver.connect()
    windows: list[Window] = []
    try:
        for n, (workload, size, round_) in enumerate(plan(options.rounds, *sorted(servers)[::-1])):
            window = await drivers[size].window(
                workload, round_, options.seconds, options.warmup, seed=n
            )
            summary = window.summary()
            _log(
                f"  {workload:>13} @{size:>7,} r{round_}: {summary['rps']:>7} req/s, "
                f"errors {summary['errors']}, cpu {summary['cpu_cores']}"
            )
            windows.append(window)
    finally:
        for driver in drivers.values():
            await driver.close()
    return windows, {size: d.connections_per_worker for size, d in drivers.items()}


def pooled(windows: list[Window], workload: str, size: int, op: str) -> dict[str, Any]:
    """Median throughput of the rounds; latency percentiles over every round's requests."""
    mine = [w for w in windows if w.workload == workload and w.size == size and op in w.latencies]
    latencies = [x for w in mine for x in w.latencies[op]]
    seconds = sum(w.seconds for w in mine)
    result = figures(latencies, seconds, sum(w.errors.get(op, 0) for w in mine))
    result["rps"] = round(statistics.median(len(w.latencies[op]) / w.seconds for w in mine), 1)
    result["rps_rounds"] = [round(len(w.latencies[op]) / w.seconds, 1) for w in mine]
    return result


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def summarise(
    options: Options, windows: list[Window], large: int, small: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    table = {
        "health": pooled(windows, "health", large, "health"),
        "baseline": pooled(windows, "baseline", large, "baseline"),
        "baseline-auth": pooled(windows, "baseline-auth", large, "baseline-auth"),
        "read": pooled(windows, "read", large, "read"),
        "list": pooled(windows, "list", large, "list"),
    }
    sizes = {
        "read": {str(s): pooled(windows, "read", s, "read") for s in (small, large)},
        "list": {str(s): pooled(windows, "list", s, "list") for s in (small, large)},
    }
    read, base = table["read"], table["baseline"]
    throughput = read["rps"] / base["rps"]
    tail = read["p99_ms"] / read["p50_ms"]
    size_ratios = {
        op: {
            "throughput": round(sizes[op][str(small)]["rps"] / sizes[op][str(large)]["rps"], 3),
            "p50": round(sizes[op][str(large)]["p50_ms"] / sizes[op][str(small)]["p50_ms"], 3),
        }
        for op in ("read", "list")
    }
    read_size = max(size_ratios["read"].values())
    targets = {
        "read_vs_baseline_throughput": {
            "value": round(throughput, 3),
            "target": f">= {TARGET_READ_VS_BASELINE}",
            "verdict": _verdict(throughput >= TARGET_READ_VS_BASELINE),
        },
        "read_p99_over_p50": {
            "value": round(tail, 2),
            "target": f"< {TARGET_P99_OVER_P50}",
            "verdict": _verdict(tail < TARGET_P99_OVER_P50),
        },
        "read_large_vs_small": {
            "value": read_size,
            "target": f"<= {TARGET_SIZE_RATIO} (throughput at {small:,} / at {large:,}, and "
            f"p50 at {large:,} / at {small:,})",
            "verdict": _verdict(read_size <= TARGET_SIZE_RATIO),
        },
    }
    return {"table": table, "sizes": sizes, "size_ratios": size_ratios}, targets


def measure(options: Options) -> dict[str, Any]:
    began = time.perf_counter()
    root_url = os.environ.get("CENOMED_BENCH_DATABASE_URL", DEFAULT_URL)
    rng = random.Random(8)
    with ExitStack() as stack:
        data_dir = Path(stack.enter_context(TemporaryDirectory(prefix="cenomed-load-")))
        populations = {
            size: populate(stack, root_url, data_dir / "data", size, rng)
            for size in (options.small, options.cases)
        }
        population_s = time.perf_counter() - began
        servers: dict[int, Server] = {}
        for size, population in populations.items():
            servers[size] = Server(
                population.url, data_dir / "data", options.workers, data_dir / f"server-{size}.log"
            )
            stack.callback(servers[size].stop)
            servers[size].start()
        checks = {
            str(size): check_population(servers[size].base, populations[size])
            for size in populations
        }
        _log(f"measuring: {len(plan(options.rounds, 0, 0))} windows")
        windows, spread = run_async(drive(options, servers, populations))
        for server_ in servers.values():
            server_.stop()
        logs = {
            str(size): s.log.read_text(errors="replace")[-3000:]
            for size, s in servers.items()
            if any(w.size == size and w.summary()["errors"] for w in windows)
        }
        verdicts = {str(size): audit_log_verifies(p.url) for size, p in populations.items()}
        engine = make_engine(populations[options.cases].url)
        postgres = server(engine)
        engine.dispose()
        command = servers[options.cases].command()
    summary, targets = summarise(options, windows, options.cases, options.small)
    errors = sum(w.summary()["errors"] for w in windows)
    client = [w.client_cpu_per_request_ms for w in windows if w.workload == "health"]
    return {
        **provenance(
            " ".join(["python -m bench.load_bench", *sys.argv[1:]]),
            f"the service (uvicorn, {options.workers} workers, bench.load_app) on PostgreSQL at "
            f"{make_url(root_url).host}; {options.clients} concurrent clients (one asyncio "
            "process with uvloop, a minimal HTTP/1.1 client, one persistent connection each, "
            "spread evenly over the workers); "
            f"windows of {options.seconds:g} s after {options.warmup:g} s of warm-up; "
            f"{options.rounds} rounds of baseline, baseline-auth, read and list (both sizes) "
            "interleaved; throughput the median of the rounds, latency percentiles over the "
            "rounds' requests pooled",
        ),
        "quick": options.quick,
        "postgresql": postgres,
        "server_command": " ".join(Path(c).name if c == sys.executable else c for c in command),
        "workers": options.workers,
        "clients": options.clients,
        "pinning": "none: the client, the workers and PostgreSQL share the 2 cores",
        "connections_per_worker": {str(k): list(v.values()) for k, v in spread.items()},
        "populations": {str(s): asdict(p.built) for s, p in populations.items()},
        "population_check": checks,
        "population_s": round(population_s, 1),
        "summary": summary,
        "targets": targets,
        "client_cpu_ms_per_request_health": client[0] if client else None,
        "errors": errors,
        "audit_log_after": verdicts,
        "server_logs_on_error": logs,
        "windows": [w.summary() for w in windows],
        "run_time_s": round(time.perf_counter() - began, 1),
    }


# --- the report --------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


def _row(name: str, f: dict[str, Any]) -> str:
    rounds = " / ".join(f"{r:,.0f}" for r in f.get("rps_rounds", []))
    return (
        f"| {name} | {f['rps']:,.1f} | {rounds} | {_ms(f.get('p50_ms'))} | {_ms(f.get('p95_ms'))} "
        f"| {_ms(f.get('p99_ms'))} | {f['errors']} |"
    )


def _cpu_table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| window | cases | machine busy | client | workers | PostgreSQL | other |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    groups: dict[tuple[str, int], list[dict[str, float]]] = defaultdict(list)
    for window in result["windows"]:
        groups[(window["workload"], window["cases"])].append(window["cpu_cores"])
    for (workload, cases), cpus in groups.items():
        mean = {k: statistics.mean(c[k] for c in cpus) for k in cpus[0]}
        lines.append(
            f"| {workload} | {cases:,} | {mean['machine_busy']:.2f} | {mean['client']:.2f} "
            f"| {mean['workers']:.2f} | {mean['postgresql']:.2f} | {mean['other']:.2f} |"
        )
    return lines


# The statements of a case read beyond baseline-auth's two (the account, one row): the case's
# 5 collections, the duplicates lookup, the audit head's lock and the append (see the table).
EXTRA_STATEMENTS = 8


def _worker_ms(result: dict[str, Any], workload: str, cases: int) -> float:
    """Milliseconds of the workers' CPU per request of a kind of window (mean of the rounds)."""
    costs = [
        1000 * w["cpu_cores"]["workers"] / w["rps"]
        for w in result["windows"]
        if w["workload"] == workload and w["cases"] == cases and w["rps"]
    ]
    return statistics.mean(costs)


def _floor(result: dict[str, Any], large: int) -> list[str]:
    """What a request costs the workers, and the bound that authentication alone sets."""
    cost = {op: _worker_ms(result, op, large) for op in ("baseline", "baseline-auth", "read")}
    needed = cost["baseline"] / TARGET_READ_VS_BASELINE
    extra = cost["read"] - cost["baseline-auth"]
    per_statement = extra / EXTRA_STATEMENTS
    room = max(0.0, needed - cost["baseline-auth"]) / per_statement
    return [
        "## Where the floor is",
        "",
        "| request | workers' CPU per request (ms) | SQL statements |",
        "|---|---:|---|",
        f"| baseline | {cost['baseline']:.1f} | 1 (the row) |",
        f"| baseline-auth | {cost['baseline-auth']:.1f} | 2 (the account, the row) |",
        f"| case read | {cost['read']:.1f} | 10 to 13: the account; the case with its key and "
        "personal block; 5 collections (motifs, guardians, notes, orientations, history); "
        "the possible duplicates (1, and 3 more when there are some); the audit head's lock "
        "and the event with the head's move (2) |",
        "",
        "The workers are the limit in every window (the CPU table below). A case read costs "
        f"{cost['read']:.1f} ms of their CPU: {cost['baseline-auth']:.1f} ms for what it shares "
        "with baseline-auth (the request, the token, the account, one statement, the commit), "
        f"and {extra:.1f} ms for at least {EXTRA_STATEMENTS} further statements, about "
        f"{per_statement:.1f} ms each with the ORM's work on their rows (SQLAlchemy is about "
        "three fifths of a read's Python time in the profile, bench/results/load-profile.txt). "
        f"To run at {TARGET_READ_VS_BASELINE}x the baseline's throughput, a read would have to "
        f"cost at most {needed:.1f} ms, room for {room:.1f} such statements beyond "
        "authentication: the target would mean dropping the policy's facts, the blocks' "
        "collections or the read's audit event, which are what the service is for. That is "
        "the floor of this design (sync SQLAlchemy ORM, one audited transaction per read); "
        "lowering it further means hand-written SQL for the read path, not fewer guarantees.",
    ]


def markdown(result: dict[str, Any]) -> str:
    pg = result["postgresql"]
    summary, targets = result["summary"], result["targets"]
    table = summary["table"]
    large, small = (int(s) for s in sorted(result["populations"], key=int, reverse=True))
    mixed = next(w for w in result["windows"] if w["workload"] == "mixed")
    read, base, auth = table["read"], table["baseline"], table["baseline-auth"]
    health_cpu = result["client_cpu_ms_per_request_health"]
    lines = [
        "# The service under load (PostgreSQL)",
        "",
        f"- date: {result['date']}",
        f"- command: `make bench` (`{result['command']}`)",
        f"- machine: {result['machine']}, Python {result['python']}",
        f"- PostgreSQL {pg['version']}, synchronous_commit={pg['synchronous_commit']}, "
        f"fsync={pg['fsync']}, shared_buffers={pg['shared_buffers']}",
        f"- server: `{result['server_command']}` (the port varies); {result['workers']} workers, "
        f"connections per worker {result['connections_per_worker'][str(large)]}",
        f"- clients: {result['clients']} concurrent, {result['pinning']}",
        f"- method: {result['method']}",
        f"- population: {large:,} cases (main) and {small:,} cases, 10 cells, every state; "
        f"built in {result['population_s']} s (see below)",
        f"- run time: {result['run_time_s']} s in all; errors: {result['errors']}; the audit log "
        f"verifies after the run: "
        + ", ".join(
            f"{int(k):,} cases {v['valid']} ({v['events']:,} events)"
            for k, v in result["audit_log_after"].items()
        ),
        "",
        "## Targets (issue 8)",
        "",
        "| target | value | bound | verdict |",
        "|---|---:|---|---|",
        f"| case read throughput / baseline throughput | "
        f"{targets['read_vs_baseline_throughput']['value']} "
        f"| {targets['read_vs_baseline_throughput']['target']} "
        f"| **{targets['read_vs_baseline_throughput']['verdict']}** |",
        f"| case read p99 / p50 at {result['clients']} clients | "
        f"{targets['read_p99_over_p50']['value']} | {targets['read_p99_over_p50']['target']} "
        f"| **{targets['read_p99_over_p50']['verdict']}** |",
        f"| case read at {large:,} cases / at {small:,} (worse of throughput and p50) | "
        f"{targets['read_large_vs_small']['value']} | <= {TARGET_SIZE_RATIO} "
        f"| **{targets['read_large_vs_small']['verdict']}** |",
        "",
        f"## At {large:,} cases, {result['clients']} clients",
        "",
        "| operation | req/s (median) | req/s by round | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
        _row("`GET /health` (no database)", table["health"]),
        _row("baseline: case row by primary key, no token", base),
        _row("baseline-auth: the same after bearer-token authentication", auth),
        _row("`GET /cases/{id}` (coordinator, every block)", read),
        _row("`GET /cases` (first page of 50, coordinator)", table["list"]),
        "",
        f"The cost of our guarantees: a case read runs at {read['rps'] / base['rps']:.2f}x the "
        f"bare row read's throughput ({read['rps'] / auth['rps']:.2f}x the authenticated one's); "
        f"its median latency is {read['p50_ms'] / base['p50_ms']:.1f}x the baseline's. "
        f"Authentication alone takes the baseline to {auth['rps'] / base['rps']:.2f}x.",
        "",
        f"## Read and list at {small:,} and at {large:,} cases",
        "",
        "| operation | cases | req/s (median) | req/s by round | p50 ms | p95 ms | p99 ms "
        "| errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for op in ("read", "list"):
        for size in (small, large):
            f = summary["sizes"][op][str(size)]
            lines.append(_row(f"{op} | {size:,}", f))
    for op in ("read", "list"):
        r = summary["size_ratios"][op]
        lines.append("")
        lines.append(
            f"{op}: throughput at {small:,} / at {large:,} = {r['throughput']}; p50 at "
            f"{large:,} / at {small:,} = {r['p50']} (target for the read: both <= "
            f"{TARGET_SIZE_RATIO})."
        )
    lines += [
        "",
        f"## Mixed workload at {large:,} cases ({mixed['seconds']:g} s, {mixed['rps']:,} req/s)",
        "",
        "70 % reads (coordinators 70 %, parquet 15 %, police members 15 %, each on cases the "
        "charter shows them), 20 % lists (coordinators, police members), 10 % steps valid at "
        "the case's state, each case stepped once.",
        "",
        "| operation | req/s | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for op, f in mixed["ops"].items():
        lines.append(
            f"| {op} | {f['rps']:,.1f} | {_ms(f.get('p50_ms'))} | {_ms(f.get('p95_ms'))} "
            f"| {_ms(f.get('p99_ms'))} | {f['errors']} |"
        )
    lines += ["", *_floor(result, large)]
    lines += [
        "",
        "## Where the CPU went (cores in use, mean of each kind of window)",
        "",
        *_cpu_table(result),
        "",
        "The machine has 2 cores. *client*: the driver's process; *workers*: the uvicorn "
        "processes; *other*: anything else running on the machine meanwhile (noise).",
        f"The client spends {health_cpu} ms of CPU per request in the `/health` window: alone on "
        f"a core it could drive about {1000 / health_cpu:,.0f} req/s, "
        + (
            "well above every operation measured here, though the CPU it takes is CPU the "
            "workers and PostgreSQL do not get."
            if health_cpu and 1000 / health_cpu > 2 * base["rps"]
            else "not far above the fastest operations: there the driver is part of the limit."
        ),
        "",
        "## Populations",
        "",
        "| cases | "
        + " | ".join(s for s in sorted(result["populations"][str(large)]["by_state"]))
        + " | audit events | built in (s) |",
        "|---:|" + "---:|" * (len(result["populations"][str(large)]["by_state"]) + 2),
    ]
    for size in (small, large):
        built = result["populations"][str(size)]
        states = " | ".join(f"{n:,}" for _, n in sorted(built["by_state"].items()))
        seconds = sum(built["seconds"].values())
        lines.append(f"| {size:,} | {states} | {built['events']:,} | {seconds:.1f} |")
    lines += [
        "",
        "Method (bench/load_population.py): cells and accounts through the directory service "
        "(every account has accepted the charter); each case built as the service builds it "
        "(its data key wrapped by the keyring's KEK, every nominative field sealed by "
        "app.cases.personal, the blind index, one case_step and one audit event per step, dates "
        "within the procedure's rules), written with COPY; the audit events appended in "
        "chronological order by app.audit.chain.append_all with checkpoints signed every 1,000 "
        "events. Checked before the load: one case per state read through the API by its "
        "coordinator (open states 200 with the names decrypted, closed 403, purged 410): "
        f"{result['population_check'][str(large)]}.",
        "",
        "Where a case read's time goes: `python -m bench.load_bench --profile` (one worker under "
        "py-spy) writes bench/results/load-profile.txt.",
        "",
    ]
    return "\n".join(lines)


# --- the profile -------------------------------------------------------------------------


def _frame(raw: str) -> tuple[str, str]:
    """'function (path:line)' -> (function, short path)."""
    name, _, where = raw.rpartition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif str(ROOT) in path:
        path = path.split(str(ROOT) + "/", 1)[1]
    elif "/lib/python3" in path:
        path = "stdlib/" + path.split("/lib/python3", 1)[1].split("/", 1)[-1]
    return (name or raw), path


PACKAGES = (
    ("app/", None),
    ("sqlalchemy/", "sqlalchemy"),
    ("psycopg", "psycopg"),
    ("fastapi/", "fastapi"),
    ("starlette/", "starlette"),
    ("pydantic", "pydantic"),
    ("jose/", "python-jose"),
    ("cryptography/", "cryptography"),
    ("ecdsa/", "ecdsa"),
    ("cedarpy/", "cedarpy"),
    ("anyio/", "anyio"),
    ("uvicorn/", "uvicorn"),
    ("stdlib/asyncio", "asyncio"),
    ("stdlib/json", "json"),
)
STAGES = (
    ("authentication: get_principal", "get_principal", "app/auth.py"),
    ("  token signature check: username_of", "username_of", "app/auth.py"),
    (
        "  account, cells, charter, archive grants (one query): load_principal",
        "load_principal",
        "app/directory/service.py",
    ),
    ("service: read_case", "read_case", "app/cases/service.py"),
    ("  loading the case (its relationships): get_case", "get_case", "app/cases/repository.py"),
    ("  charter decision: case_view", "case_view", "app/policy/visibility.py"),
    ("  possible duplicates", "_possible_duplicates", "app/cases/service.py"),
    ("  data key: cipher_of", "cipher_of", "app/cases/service.py"),
    ("serialising: case_read", "case_read", "app/cases/serialise.py"),
    ("audit append before commit: _append_pending", "_append_pending", "app/audit/trail.py"),
    ("commit (with the audit append): Session.commit", "commit", "sqlalchemy/orm/session.py"),
    ("connection checkout from the pool", "_checkout", "sqlalchemy/pool/base.py"),
    ("  pre-ping: do_ping", "do_ping", "sqlalchemy/engine/default.py"),
    ("response model: serialize_response", "serialize_response", "fastapi/routing.py"),
    ("middlewares (each includes those inside it)", "__call__", "app/"),
)


def _named(function: str, name: str) -> bool:
    """'Session.commit' is named 'commit' (py-spy gives qualified names)."""
    return function == name or function.endswith("." + name)


def profile_text(raw: str, samples_note: str) -> str:
    total = 0
    inclusive: Counter[tuple[str, str]] = Counter()
    own: Counter[tuple[str, str]] = Counter()
    packages: Counter[str] = Counter()
    stacks: list[tuple[frozenset[tuple[str, str]], int]] = []
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        unique = frozenset(frames)
        stacks.append((unique, count))
        for key in unique:
            inclusive[key] += count
        leaf = frames[-1]
        own[leaf] += count
        # Self time by package: the innermost frame of a known package.
        for _name, path in reversed(frames):
            label = next(
                (
                    lab or "app/" + path.split("/")[1].removesuffix(".py")
                    for prefix, lab in PACKAGES
                    if path.startswith(prefix)
                ),
                None,
            )
            if label:
                packages[label] += count
                break
        else:
            packages["other"] += count
    if not total:
        return "No samples: py-spy recorded nothing.\n"

    def pct(n: int) -> str:
        return f"{100 * n / total:5.1f} %"

    out = [
        "Profile of GET /api/v1/cases/{id} (the case read) under load, one worker.",
        samples_note,
        f"{total:,} samples of the thread holding the GIL (py-spy record --gil): the share of",
        "the worker's Python CPU time. Inclusive: time in the function and what it calls.",
        "",
        "== Stages of a read (inclusive) ==",
    ]
    for label, name, path in STAGES:
        n = sum(
            count
            for frames, count in stacks
            if any(_named(f, name) and p.startswith(path) for f, p in frames)
        )
        out.append(f"{pct(n)}  {label}")
    out += ["", "== Self time by package (innermost frame of a known package) =="]
    out += [f"{pct(n)}  {name}" for name, n in packages.most_common()]
    out += ["", "== Application functions (inclusive), top 40 =="]
    app_functions = [(k, n) for k, n in inclusive.most_common() if k[1].startswith("app/")]
    out += [f"{pct(n)}  {f}  ({p})" for (f, p), n in app_functions[:40]]
    out += ["", "== All functions (inclusive), top 50 =="]
    out += [f"{pct(n)}  {f}  ({p})" for (f, p), n in inclusive.most_common(50)]
    out += ["", "== All functions (self), top 40 =="]
    out += [f"{pct(n)}  {f}  ({p})" for (f, p), n in own.most_common(40)]
    return "\n".join(out) + "\n"


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy: make dev (or pip install py-spy)")
    return found


async def _profiled_read(driver: Driver, options: Options, raw: Path) -> Window:
    await driver.connect()
    try:
        await driver.window("read", 0, options.warmup, 0.0, seed=1)  # warm-up
        pid = driver.worker_pids[0]
        record = await asyncio.create_subprocess_exec(
            _py_spy(),
            "record",
            "--pid",
            str(pid),
            "--rate",
            "200",
            "--gil",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(raw),
            "--duration",
            str(math.ceil(options.seconds) + 1),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        window = await driver.window("read", 0, options.seconds, 1.0, seed=2)
        if await record.wait() != 0:
            raise RuntimeError("py-spy failed (it needs ptrace: root or CAP_SYS_PTRACE)")
    finally:
        await driver.close()
    return window


def run_profile(options: Options) -> None:
    root_url = os.environ.get("CENOMED_BENCH_DATABASE_URL", DEFAULT_URL)
    _py_spy()
    with ExitStack() as stack:
        data_dir = Path(stack.enter_context(TemporaryDirectory(prefix="cenomed-load-")))
        population = populate(stack, root_url, data_dir / "data", options.cases, random.Random(8))
        server_ = Server(population.url, data_dir / "data", 1, data_dir / "server.log")
        stack.callback(server_.stop)
        server_.start()
        raw = data_dir / "profile.raw"
        window = run_async(
            _profiled_read(Driver(server_, population, options.clients), options, raw)
        )
        read = window.summary()["ops"]["read"]
        note = (
            f"{population.size:,} cases, {options.clients} clients, {options.seconds:g} s: "
            f"{read['rps']} req/s, p50 {read.get('p50_ms')} ms, p99 {read.get('p99_ms')} ms "
            f"(sampling slows the worker a little); date "
            f"{provenance('', '')['date']}; machine {provenance('', '')['machine']}."
        )
        text_ = profile_text(raw.read_text(), note)
    RESULTS.mkdir(exist_ok=True)
    PROFILE_TXT.write_text(text_)
    print(text_)  # noqa: T201


# --- the command -------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load_bench", description=__doc__)
    parser.add_argument("--cases", type=int, default=None, help="the main population's size")
    parser.add_argument("--small", type=int, default=None, help="the smaller population's size")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=WORKERS, help="uvicorn worker processes")
    parser.add_argument("--seconds", type=float, default=None, help="measured seconds per window")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up seconds per window")
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds of the interleaved windows"
    )
    parser.add_argument("--quick", action="store_true", help="small and short (not a result)")
    parser.add_argument("--profile", action="store_true", help="profile the case read instead")
    args = parser.parse_args()
    quick: dict[str, Any] = QUICK if args.quick else {}
    defaults = {"cases": CASES, "small": SMALL, "seconds": SECONDS, "warmup": WARMUP}
    defaults["rounds"] = ROUNDS
    values = {
        key: getattr(args, key) if getattr(args, key) is not None else quick.get(key, default)
        for key, default in defaults.items()
    }
    options = Options(
        clients=args.clients,
        workers=args.workers,
        quick=args.quick,
        profile=args.profile,
        **values,
    )
    if options.small >= options.cases:
        parser.error("--small must be smaller than --cases")
    if options.profile:
        run_profile(options)
        return
    result = measure(options)
    RESULTS.mkdir(exist_ok=True)
    name = "load-quick.json" if options.quick else "load.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    text_ = markdown(result)
    if not options.quick:
        RESULTS_MD.write_text(text_)
    print(text_)  # noqa: T201
    broken = [k for k, v in result["audit_log_after"].items() if not v["valid"]]
    if result["errors"] or broken:
        raise SystemExit(f"failed run: {result['errors']} errors; audit log broken at {broken}")


if __name__ == "__main__":
    main()
