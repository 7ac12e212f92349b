"""The indicators as answered: counts only, every breakdown listing every value of its closed
list (zeros included), so that the shape is the same for every cell and every period."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

# None: withheld by the disclosure control (``suppressed`` says why), or a median of nothing.
Count = int | None
Withheld = Literal["under_threshold", "secondary", "short_period"]


class MedianDays(BaseModel):
    """Median whole days between two steps, over the later step's period; ``null`` when no
    case took both steps (or masked: fewer than ``masked_under`` cases)."""

    received_to_parquet_decision: float | None
    received_to_examination: float | None
    examination_to_orientation: float | None
    transmission_to_feedback: float | None


class IndicatorsRead(BaseModel):
    cell_id: int | None = Field(description="The cell; null for every cell (Paris-wide)")
    from_: date = Field(serialization_alias="from", description="First day, inclusive")
    to: date = Field(description="Last day, inclusive")
    masked_under: int | None = Field(
        description="The disclosure control's threshold: counts of persons from 1 to this minus "
        "one are withheld (null), and more values so that none can be worked out from a total; "
        "null: exact counts (the coordinator of the cell)"
    )
    suppressed: dict[str, Withheld] = Field(
        description="Each value withheld ('indicator' or 'indicator.value') and why: "
        "'under_threshold' (a small count, or a median of few cases), 'secondary' (to protect "
        "a small value elsewhere), 'short_period' (the breakdowns by sex, age and motif need a "
        "calendar month at least)"
    )
    meetings: Count = Field(description="Meetings held in the period (and by today)")
    signalements: Count = Field(description="Situations received in the period (received_on)")
    by_origin: dict[str, Count]
    by_motif: dict[str, Count] = Field(description="A situation counts once per motif")
    by_sex: dict[str, Count] = Field(description="'unknown': the sex was not given")
    by_age_bracket: dict[str, Count] = Field(description="Age on the date received")
    retained: Count = Field(description="Retained by the parquet in the period")
    not_retained: Count = Field(description="Not retained by the parquet in the period")
    examined: Count = Field(description="Put on the agenda of a meeting held in the period")
    orientations: Count = Field(description="Orientations decided in the period")
    by_destination: dict[str, Count]
    transmitted: Count = Field(description="Orientations transmitted in the period")
    feedback: dict[str, Count] = Field(description="Feedback recorded in the period, by outcome")
    closed: Count = Field(description="Cases closed in the period")
    by_closure_reason: dict[str, Count] = Field(description="Cases closed in the period, by reason")
    withdrawn: Count = Field(description="Signalements withdrawn in the period (R4)")
    by_withdrawal_reason: dict[str, Count] = Field(
        description="Signalements withdrawn in the period, by reason"
    )
    median_days: MedianDays
    # Issue 16.
    additional_signalements: Count = Field(
        description="Signalements received in the period and merged, as duplicates, into "
        "another case of the cell (the minor already followed)"
    )
    additional_by_origin: dict[str, Count] = Field(
        description="The merged signalements, by their origin"
    )
    transfers_in: Count = Field(
        description="Cases transferred to the cell (accepted in the period)"
    )
    transfers_out: Count = Field(
        description="Cases transferred from the cell to another (accepted in the period)"
    )
