"""The auditor's screen: the events with filters, the verification verdict, who looked at a file."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
