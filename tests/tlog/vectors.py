"""The published test vectors (copied from ../shared/vectors with their SOURCES.md): the expected
values the tlog tests compare against, none of them computed by the code under test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent / "vectors"


def load(name: str) -> Any:
    return json.loads((HERE / name).read_text(encoding="utf-8"))


RFC6962 = load("rfc6962.json")
PROBES = load("rfc6962_probes.json")
SIGNED_NOTE = load("signed_note.json")
