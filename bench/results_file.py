"""What every benchmark records with its figures, and how it writes them."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def provenance(command: str, method: str) -> dict[str, str]:
    """Date, command, machine and method: a figure means nothing without them."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "python": sys.version.split()[0],
        "method": method,
    }


def publish(name: str, result: dict[str, Any], markdown: Callable[[dict[str, Any]], str]) -> None:
    """Writes results/NAME.json and results/NAME.md, and prints the Markdown."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (RESULTS / f"{name}.md").write_text(text)
    print(text)  # noqa: T201
