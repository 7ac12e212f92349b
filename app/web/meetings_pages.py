"""The meeting screen: the agenda, the not-retained situations the parquet presents, the
decisions (step 4)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
