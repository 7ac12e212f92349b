"""Dates as the field writes them: '1er octobre', the time in Paris."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.documents.french import french_date


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (date(2026, 10, 1), "1er octobre 2026"),
        (date(2026, 10, 2), "2 octobre 2026"),
        (date(2026, 9, 30), "30 septembre 2026"),
        (date(2028, 2, 29), "29 février 2028"),
        (date(2027, 1, 11), "11 janvier 2027"),
        (date(2026, 12, 21), "21 décembre 2026"),
        (None, ""),
    ],
)
def test_a_day_is_written_with_the_ordinal_first(value: date | None, written: str) -> None:
    assert french_date(value) == written


@pytest.mark.parametrize(
    ("instant", "written"),
    [
        # 23:30 UTC on 30 September is already 1 October in Paris (summer time, UTC+2).
        (datetime(2026, 9, 30, 22, 30, tzinfo=UTC), "1er octobre 2026 à 00:30"),
        (datetime(2026, 9, 30, 21, 59, tzinfo=UTC), "30 septembre 2026 à 23:59"),
        # Winter time, UTC+1.
        (datetime(2026, 12, 1, 8, 5, tzinfo=UTC), "1er décembre 2026 à 09:05"),
    ],
)
def test_an_instant_is_written_in_paris_time(instant: datetime, written: str) -> None:
    assert french_date(instant) == written
