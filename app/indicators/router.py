"""``GET /indicators``: the fiche 1.3 indicators, as JSON or as CSV for a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app.auth import CurrentPrincipal
from app.clock import Today
from app.config import CurrentSettings
from app.db import DbSession
from app.errors import responses
from app.indicators import service
from app.indicators.schemas import IndicatorsRead
from app.schemas import MAX_ROW_ID

router = APIRouter(tags=["indicators"])

CSV_COLUMNS = ("indicator", "breakdown", "value")


@router.get(
    "/indicators",
    response_model=IndicatorsRead,
    responses={
        **responses(401, 403, 422),
        200: {
            "description": "The indicators; as CSV, one row per indicator and breakdown",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
    },
    summary="Fiche 1.3 indicators: a cell's (its coordinator), any cell's or Paris-wide "
    "(steering, auditors)",
)
def read_indicators(
    principal: CurrentPrincipal,
    session: DbSession,
    on: Today,
    settings: CurrentSettings,
    cell_id: Annotated[
        int | None, Query(ge=1, le=MAX_ROW_ID, description="Leave out for Paris-wide figures")
    ] = None,
    from_: Annotated[
        date | None, Query(alias="from", description="First day, inclusive (a year ago)")
    ] = None,
    to: Annotated[date | None, Query(description="Last day, inclusive (today)")] = None,
    format: Literal["json", "csv"] = "json",
    mask_under: Annotated[
        int | None,
        Query(
            ge=1,
            le=100,
            description="Publish: withhold counts from 1 to this minus one (and what would "
            "reveal them), whoever reads; the disclosure control's own threshold applies anyway",
        ),
    ] = None,
) -> IndicatorsRead | Response:
    indicators = service.read_indicators(
        session,
        principal=principal,
        cell_id=cell_id,
        first=from_,
        last=to,
        today=on,
        mask_under=mask_under,
        min_count=settings.indicators_min_count,
    )
    if format == "json":
        return indicators
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(service.csv_rows(indicators))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")
