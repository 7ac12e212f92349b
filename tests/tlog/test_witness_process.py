"""``cenomed witness init`` and ``cenomed witness serve`` as a partner runs them: real processes,
real HTTP, checkpoints signed by a test log key that grows, rolls back and forges."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from app.audit.note import COSIGNATURE_V1, VerifierKey, parse_note, verify_cosignature
from app.cli import main
from tests.server import free_port
from tests.tlog.log import TestLog, request


def _cenomed(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@contextmanager
def _serving(state: Path, log: TestLog, port: int) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "witness", "serve", "--state", str(state)]
        + ["--log-key", log.signer.verifier.encode(), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, "the witness exited"
                time.sleep(0.1)
        else:
            raise AssertionError("the witness did not start")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _add(url: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/add-checkpoint", content=body, timeout=10)


def test_a_witness_process_cosigns_growth_and_refuses_rollback_and_forgery(
    tmp_path: Path,
) -> None:
    state = tmp_path / "witness"
    made = _cenomed("witness", "init", "--name", "witness.parquet.test", "--state", str(state))
    assert made.returncode == 0, made.stderr
    key = VerifierKey.parse(made.stdout.strip())
    assert (key.name, key.key_type) == ("witness.parquet.test", COSIGNATURE_V1)
    assert stat.S_IMODE((state / "witness.key").stat().st_mode) == 0o600
    again = _cenomed("witness", "init", "--name", "witness.parquet.test", "--state", str(state))
    assert again.returncode == 1
    assert "already exists" in again.stderr

    log = TestLog(leaves=5)
    port = free_port()
    with _serving(state, log, port) as url:
        sizes = [0]
        for grown in (5, 6, 12, 40):
            log.add(grown - log.tree.size)
            old = sizes[-1]
            checkpoint = log.checkpoint(grown)
            answer = _add(url, request(old, log.proof(old, grown), checkpoint))
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"].startswith("text/plain")
            at = verify_cosignature(parse_note(checkpoint).text, answer.text, key)
            assert abs(at - time.time()) < 60
            sizes.append(grown)

        rollback = _add(url, request(12, [], log.checkpoint(12)))
        assert (rollback.status_code, rollback.text) == (409, "40\n")
        assert rollback.headers["content-type"] == "text/x.tlog.size"

        forged = TestLog()
        forged.tree.extend([b"event 0", b"forged", *(b"y%d" % i for i in range(48))])
        forged_checkpoint = log.checkpoint(50, root=forged.tree.root(50))
        forged_answer = _add(url, request(40, forged.proof(40, 50), forged_checkpoint))
        assert forged_answer.status_code == 422

        stranger = TestLog(leaves=50)  # same origin, another key
        assert (
            _add(url, request(40, stranger.proof(40, 50), stranger.checkpoint(50))).status_code
            == 403
        )
        assert _add(url, b"old forty\n\n").status_code == 400

    # Restarted, it still stands at 40: the rollback is refused again.
    with _serving(state, log, free_port()) as url:
        assert _add(url, request(0, [], log.checkpoint(12))).text == "40\n"
        log.add(2)
        final = _add(url, request(40, log.proof(40, 42), log.checkpoint(42)))
        assert final.status_code == 200


def _exit_code(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """The command run in this process (its refusals happen before it would serve)."""
    monkeypatch.setattr(sys, "argv", ["cenomed", *args])
    umask = os.umask(0o077)  # main() sets it for the process: the test's own is put back
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        os.umask(umask)
    return int(exited.value.code or 0)


def test_serve_refuses_a_log_key_that_is_not_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["witness", "serve", "--state", str(tmp_path), "--log-key", "not+a+key"]
    assert _exit_code(args, monkeypatch) == 2
    assert "--log-key is not a verifier key" in capsys.readouterr().err


def test_serve_without_init_says_to_run_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = TestLog().signer.verifier.encode()
    args = ["witness", "serve", "--state", str(tmp_path), "--log-key", key]
    assert _exit_code(args, monkeypatch) == 1
    assert "run 'cenomed witness init' first" in capsys.readouterr().err
