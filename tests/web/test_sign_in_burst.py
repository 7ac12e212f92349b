"""A burst of wrong passwords from one address (finding 9 of the hostile review): thirty at
once all got 401 and none 429, and the worker's memory rose from about 140 MiB to 1.1 GiB
(argon2 ran in parallel without bound). Attempts are counted before they are checked, and a
worker checks few passwords at once."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from app.errors import TooManyRequests
from app.http_hardening import AuthFailureLimiter
from tests.conftest import World
from tests.server import free_port, running_server
from tests.web.browser import set_password

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
BURST = 30
LIMIT = 20  # CENOMED_AUTH_FAILURES_PER_MINUTE's default


def _memory_mib(pid: int, field: str) -> float:
    """VmRSS (resident now) or VmHWM (the peak resident since the process started)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field}")


def test_simultaneous_attempts_cannot_outrun_the_limit() -> None:
    """Thirty attempts held open at once: twenty are let through, ten refused at once."""
    limiter = AuthFailureLimiter(LIMIT)
    inside = threading.Barrier(LIMIT + 1, timeout=10)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            with limiter.attempt("192.0.2.7", "busy") as tried:
                inside.wait()  # every admitted attempt is under way at the same moment
                tried.fail()
            outcome = "checked"
        except TooManyRequests:
            outcome = "refused"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    inside.wait()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == ["checked"] * LIMIT + ["refused"] * (BURST - LIMIT)
    # Twenty failures in the window: the next attempt is refused; another address is not.
    with pytest.raises(TooManyRequests):
        limiter.attempt("192.0.2.7", "busy").__enter__()
    with limiter.attempt("198.51.100.1", "busy"):
        pass


def test_a_success_frees_its_place_and_a_failure_keeps_it() -> None:
    limiter = AuthFailureLimiter(2)
    for _ in range(5):
        with limiter.attempt("192.0.2.7", "busy"):
            pass  # successes never count
    with limiter.attempt("192.0.2.7", "busy") as tried:
        tried.fail()
    with limiter.attempt("192.0.2.7", "busy") as tried:
        tried.fail()
    with pytest.raises(TooManyRequests) as refused:
        limiter.attempt("192.0.2.7", "busy").__enter__()
    assert 1 <= refused.value.retry_after <= 61


def test_thirty_wrong_passwords_at_once_get_twenty_401_and_ten_429_with_flat_memory(
    world: World,
) -> None:
    set_password(world, "police")
    port = free_port()
    with running_server(world, port, workers=1) as server:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as browser:
            page = browser.get("/connexion")
            found = _CSRF.search(page.text)
            assert found
            cookies = dict(browser.cookies)
        form = {"csrf": found.group(1), "username": "police", "password": "pas le bon mot"}
        before = _memory_mib(server.pid, "VmHWM")

        def try_once(_: int) -> int:
            with httpx.Client(base_url=base, cookies=cookies, timeout=60) as client:
                return client.post("/connexion", data=form).status_code

        with ThreadPoolExecutor(BURST) as pool:
            statuses = list(pool.map(try_once, range(BURST)))
        peak = _memory_mib(server.pid, "VmHWM")
    assert sorted(statuses) == [401] * LIMIT + [429] * (BURST - LIMIT)
    # At most two argon2 checks (64 MiB each) at once, where thirty ran before.
    print(f"worker's peak memory: {before:.0f} MiB before, {peak:.0f} MiB after")  # noqa: T201
    assert peak - before < 320, (before, peak)
