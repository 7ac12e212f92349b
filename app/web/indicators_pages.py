"""The fiche 1.3 indicators per cell and Paris-wide: tables, SVG charts drawn from the data,
and CSV."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
