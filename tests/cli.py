"""Running the real ``cenomed`` command in a subprocess, as an operator does: optionally on a
frozen day (the service's Paris clock, ``app.clock.today``, pinned inside the subprocess, so
that a test never straddles midnight), or with a terminal as its standard input."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

# The command's own entry point, after pinning the clock it asks for "today".
_ON_A_FROZEN_DAY = (
    "import sys, datetime, app.clock\n"
    "day = datetime.date.fromisoformat(sys.argv.pop(1))\n"
    "app.clock.today = lambda: day\n"
    "from app.cli import main\n"
    "main()\n"
)


def _command(args: tuple[str, ...], today: date | None) -> list[str]:
    if today is None:
        return [sys.executable, "-m", "app.cli", *args]
    return [sys.executable, "-c", _ON_A_FROZEN_DAY, today.isoformat(), *args]


def cenomed(
    env: dict[str, str],
    *args: str,
    today: date | None = None,
    stdin: Any = subprocess.DEVNULL,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """The command, its standard input not a terminal (nothing is ever asked)."""
    return subprocess.run(
        _command(args, today),
        env=env,
        stdin=stdin,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cenomed_in_a_terminal(
    env: dict[str, str], *args: str, answer: str
) -> subprocess.CompletedProcess[str]:
    """The command with a pseudo-terminal as its standard input, where ``answer`` is typed
    (stdout and stderr stay pipes, as when an operator redirects the JSON report)."""
    controller, terminal = pty.openpty()
    try:
        with subprocess.Popen(
            _command(args, None),
            env=env,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            os.close(terminal)
            terminal = -1
            os.write(controller, answer.encode())
            stdout, stderr = process.communicate(timeout=120)
    finally:
        if terminal != -1:
            os.close(terminal)
        os.close(controller)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def one_line(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """Exit ``code``, nothing on stdout, one line on stderr holding every word."""
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("cenomed: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    return result.stderr
