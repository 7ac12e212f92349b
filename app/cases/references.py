"""The reference people speak of a case by: ``18-2026-0042`` (a CENOMED cell of the 18th
arrondissement, the 42nd situation it received in 2026), ``R18-2026-0007`` for a recidivism
group. It says nothing of the minor, never changes, and is unique."""

from __future__ import annotations

import re

from app.vocabulary import CellKind

# What a reference looks like (the migration numbers existing cases the same way).
REFERENCE_PATTERN = r"^R?(0[1-9]|1[0-9]|20)-[0-9]{4}-[0-9]{4,6}$"
_REFERENCE = re.compile(REFERENCE_PATTERN)


def format_reference(kind: CellKind, arrondissement: int, year: int, sequence: int) -> str:
    prefix = "R" if kind is CellKind.RECIDIVISM else ""
    return f"{prefix}{arrondissement:02d}-{year}-{sequence:04d}"


def looks_like_reference(text: str) -> bool:
    return _REFERENCE.fullmatch(text) is not None
