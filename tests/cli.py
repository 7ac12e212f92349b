"""Running the real ``cenomed`` command in a subprocess, as an operator does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any


def cenomed(
    env: dict[str, str],
    *args: str,
    stdin: Any = subprocess.DEVNULL,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """The command, its standard input not a terminal (nothing is ever asked)."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        stdin=stdin,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


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
