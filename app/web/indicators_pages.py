"""The fiche 1.3 indicators per cell and Paris-wide: tables, SVG charts drawn from the data,
and CSV.

The figures are the API's (``GET /api/v1/indicators``): the same service function, so the
same policies decide who reads which cell or Paris as a whole, and each read is an audit
event. The page's tables, its charts and the CSV file are made from one list of tables
(:func:`tables`), so that they cannot disagree. Counts only: nothing here is nominative.

The charts are inline SVG built here from the numbers (no script, no inline style: sizes and
colours are SVG presentation attributes, which the Content-Security-Policy allows); each has
``role="img"`` and a title, and the table above it is its text alternative.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRouter

from app.audit.context import audited_as
from app.audit.trail import Action
from app.clock import Today
from app.config import CurrentSettings, Settings
from app.db import DbSession
from app.errors import InvalidInput
from app.indicators import service
from app.indicators.schemas import IndicatorsRead
from app.principal import Principal
from app.schemas import MAX_ROW_ID
from app.vocabulary import (
    ClosureReason,
    Destination,
    FeedbackOutcome,
    Motif,
    Organisation,
    Sex,
    WithdrawalReason,
)
from app.web import labels
from app.web.deps import WebPrincipal
from app.web.labels import label
from app.web.rendering import page

router = APIRouter(include_in_schema=False)
INDICATORS = "/indicateurs"
PARIS = "paris"
MAX_MASK = 100
CSV_HEADER = ("Rubrique", "Intitulé", "Valeur")
Text = Annotated[str, Query(max_length=40)]

_MESSAGES = {
    "cellule": "Choisissez une cellule de la liste.",
    "du": "Saisissez une date valide.",
    "au": "Saisissez une date valide, postérieure ou égale à la date de début.",
    "masquer_sous": f"Saisissez un nombre entier de 1 à {MAX_MASK}, ou laissez le champ vide.",
}
NO_MEDIAN = "non disponible"
WITHHELD_MEANS = "valeur masquée pour qu'une petite valeur ne puisse pas s'en déduire"
PERIOD_REFUSED = (
    "Cette demande n'est pas possible : la période doit commencer avant de finir et couvrir "
    f"{service.MAX_YEARS} ans au plus, et la cellule doit être l'une de celles proposées."
)

# --- the tables -------------------------------------------------------------------------------

Value = int | float | None


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    value: Value
    missing: str = NO_MEDIAN  # what the page says for no value that was not withheld
    withheld: str | None = None  # as a spreadsheet says it ("<5", "s") when withheld

    @property
    def text(self) -> str:
        """As the page shows it."""
        if self.withheld is not None:
            return self.withheld.replace("<", "< ")
        return self.missing if self.value is None else _number(self.value)

    @property
    def csv(self) -> str:
        """As a spreadsheet reads it: a number (decimal comma), ``<5`` or ``s`` when withheld
        by the disclosure control, empty when there is none."""
        if self.withheld is not None:
            return self.withheld
        return "" if self.value is None else _number(self.value)


@dataclass(frozen=True, slots=True)
class Table:
    key: str
    title: str
    header: str
    unit: str
    lines: list[Line]
    charted: bool = True


def _number(value: int | float) -> str:
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    return str(value)


def _withheld(figures: IndicatorsRead, key: str) -> str | None:
    why = figures.suppressed.get(key)
    return None if why is None else service.withheld_text(why, figures.masked_under)


def _breakdown(figures: IndicatorsRead, name: str, words: Any) -> list[Line]:
    values: dict[str, Value] = getattr(figures, name)
    return [
        Line(words(key), value, withheld=_withheld(figures, f"{name}.{key}"))
        for key, value in values.items()
    ]


def _sex(value: str) -> str:
    return labels.SEX_NOT_GIVEN if value == service.NO_SEX else label(Sex, value)


def tables(figures: IndicatorsRead) -> list[Table]:
    """Every figure of the answer, as the tables the page shows and the CSV holds."""
    counts = [
        Line(words, getattr(figures, key), withheld=_withheld(figures, key))
        for key, words in labels.INDICATOR_COUNTS.items()
    ]
    words = labels.INDICATOR_BREAKDOWNS
    medians = figures.median_days.model_dump()
    return [
        Table("activite", "Activité de la période", "Indicateur", "Nombre", counts),
        Table(
            "origine",
            words["by_origin"],
            "Origine",
            "Situations",
            _breakdown(figures, "by_origin", lambda v: label(Organisation, v)),
        ),
        Table(
            "motif",
            words["by_motif"],
            "Motif",
            "Situations",
            _breakdown(figures, "by_motif", lambda v: label(Motif, v)),
        ),
        Table("sexe", words["by_sex"], "Sexe", "Situations", _breakdown(figures, "by_sex", _sex)),
        Table(
            "age",
            words["by_age_bracket"],
            "Âge à la réception",
            "Situations",
            _breakdown(figures, "by_age_bracket", labels.age_bracket_label),
        ),
        Table(
            "destination",
            words["by_destination"],
            "Destination",
            "Orientations",
            _breakdown(figures, "by_destination", lambda v: label(Destination, v)),
        ),
        Table(
            "retour",
            words["feedback"],
            "Issue",
            "Retours",
            _breakdown(figures, "feedback", lambda v: label(FeedbackOutcome, v)),
        ),
        Table(
            "cloture",
            words["by_closure_reason"],
            "Motif",
            "Situations",
            _breakdown(figures, "by_closure_reason", lambda v: label(ClosureReason, v)),
        ),
        Table(
            "retrait",
            words["by_withdrawal_reason"],
            "Motif",
            "Signalements",
            _breakdown(figures, "by_withdrawal_reason", lambda v: label(WithdrawalReason, v)),
        ),
        Table(
            "delais",
            "Délais médians, en jours",
            "Entre",
            "Jours (médiane)",
            [
                Line(text, medians[key], withheld=_withheld(figures, f"median_days.{key}"))
                for key, text in labels.INDICATOR_MEDIANS.items()
            ],
            charted=False,
        ),
    ]


# --- the charts -------------------------------------------------------------------------------

LABEL_WIDTH = 390
PLOT_WIDTH = 300
VALUE_WIDTH = 70
ROW_HEIGHT = 28
BAR_HEIGHT = 18
PADDING = 6
LABEL_CHARACTERS = 62


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    text: str
    x: int
    y: int
    width: int
    height: int
    middle: int  # the row's vertical middle, for its texts
    value_x: int
    masked: bool


@dataclass(frozen=True, slots=True)
class Chart:
    id: str
    title: str
    width: int
    height: int
    label_x: int
    bars: list[Bar]


def chart(table: Table) -> Chart:
    """A horizontal bar chart of a table's counts, one bar per line (a masked count has no
    bar, and says so), scaled on the largest count."""
    top = max([line.value for line in table.lines if line.value is not None] + [0])
    bars = []
    for index, line in enumerate(table.lines):
        y = PADDING + index * ROW_HEIGHT
        width = 0 if line.value is None or top == 0 else round(PLOT_WIDTH * line.value / top)
        text = line.label
        if len(text) > LABEL_CHARACTERS:
            text = text[: LABEL_CHARACTERS - 1].rstrip() + "…"
        bars.append(
            Bar(
                label=text,
                text=line.text,
                x=LABEL_WIDTH,
                y=y + (ROW_HEIGHT - BAR_HEIGHT) // 2,
                width=width,
                height=BAR_HEIGHT,
                middle=y + ROW_HEIGHT // 2,
                value_x=LABEL_WIDTH + width + 6,
                masked=line.value is None,
            )
        )
    return Chart(
        id=f"graphique-{table.key}",
        title=f"Graphique : {table.title}",
        width=LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH,
        height=2 * PADDING + ROW_HEIGHT * len(table.lines),
        label_x=LABEL_WIDTH - 8,
        bars=bars,
    )


# --- the filters ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Asked:
    """What the form asks for; ``cell`` None with ``paris`` False: the default scope."""

    paris: bool
    cell: int | None
    first: date | None
    last: date | None
    mask_under: int | None


def _asked(values: dict[str, str]) -> tuple[Asked, dict[str, str]]:
    errors: dict[str, str] = {}
    paris, cell = False, None
    scope = values["cellule"]
    if scope == PARIS:
        paris = True
    elif scope:
        if scope.isdigit() and 1 <= int(scope) <= MAX_ROW_ID:
            cell = int(scope)
        else:
            errors["cellule"] = _MESSAGES["cellule"]

    def day(name: str) -> date | None:
        if not values[name]:
            return None
        try:
            return date.fromisoformat(values[name])
        except ValueError:
            errors[name] = _MESSAGES[name]
            return None

    first, last = day("du"), day("au")
    if first and last and last < first:
        errors["au"] = _MESSAGES["au"]
    mask = None
    if values["masquer_sous"]:
        raw = values["masquer_sous"]
        if raw.isdigit() and 1 <= int(raw) <= MAX_MASK:
            mask = int(raw)
        else:
            errors["masquer_sous"] = _MESSAGES["masquer_sous"]
    return Asked(paris, cell, first, last, mask), errors


@dataclass(frozen=True, slots=True)
class Scopes:
    paris: bool
    cells: list[tuple[int, str]]

    def default(self) -> int | None:
        """Paris for whoever may read it, else the first of their cells."""
        if self.paris or not self.cells:
            return None
        return self.cells[0][0]

    def name(self, cell_id: int | None) -> str:
        if cell_id is None:
            return "Paris (toutes les cellules)"
        return dict(self.cells).get(cell_id, f"Cellule n° {cell_id}")


def _scopes(session: DbSession, principal: Principal, on: date) -> Scopes:
    paris, cells = service.readable_scopes(session, principal=principal)
    if not paris and not cells:
        # Nothing this user may read: the service's refusal (its words, and the audit log's
        # denied event), whatever the form asked for.
        service.read_indicators(
            session, principal=principal, cell_id=None, first=None, last=None, today=on
        )
    return Scopes(paris, cells)


def _values(cellule: str, du: str, au: str, masquer_sous: str) -> dict[str, str]:
    return {
        "cellule": cellule.strip(),
        "du": du.strip(),
        "au": au.strip(),
        "masquer_sous": masquer_sous.strip(),
    }


def _read(
    session: DbSession,
    principal: Principal,
    scopes: Scopes,
    asked: Asked,
    on: date,
    settings: Settings,
) -> IndicatorsRead:
    cell_id = None if asked.paris else asked.cell if asked.cell is not None else scopes.default()
    return service.read_indicators(
        session,
        principal=principal,
        cell_id=cell_id,
        first=asked.first,
        last=asked.last,
        today=on,
        mask_under=asked.mask_under,
        min_count=settings.indicators_min_count,
    )


def _query(figures: IndicatorsRead, asked: Asked) -> dict[str, str]:
    """The filters of these figures, as the form's fields (for the CSV link)."""
    query = {
        "cellule": PARIS if figures.cell_id is None else str(figures.cell_id),
        "du": figures.from_.isoformat(),
        "au": figures.to.isoformat(),
    }
    if asked.mask_under is not None:
        query["masquer_sous"] = str(asked.mask_under)
    return query


# --- the routes -------------------------------------------------------------------------------


@router.get(INDICATORS, dependencies=[audited_as(Action.READ_INDICATORS)])
def indicators_page(
    request: Request,
    principal: WebPrincipal,
    session: DbSession,
    on: Today,
    settings: CurrentSettings,
    cellule: Text = "",
    du: Text = "",
    au: Text = "",
    masquer_sous: Text = "",
) -> HTMLResponse:
    scopes = _scopes(session, principal, on)
    values = _values(cellule, du, au, masquer_sous)
    asked, errors = _asked(values)
    figures = None
    if not errors:
        try:
            figures = _read(session, principal, scopes, asked, on, settings)
        except InvalidInput:
            errors = {"form": PERIOD_REFUSED}
    shown = tables(figures) if figures else []
    if figures:
        query = _query(figures, asked)
        values = {**values, **query}
    return page(
        request,
        "indicators.html",
        {
            "principal": principal,
            "scopes": scopes,
            "values": values,
            "errors": errors,
            "figures": figures,
            "scope_name": scopes.name(figures.cell_id) if figures else "",
            "tables": [(table, chart(table) if table.charted else None) for table in shown],
            "csv_url": f"{INDICATORS}.csv?{urlencode(_query(figures, asked))}" if figures else None,
            "withheld_mark": service.WITHHELD_MARK,
            "max_mask": MAX_MASK,
        },
        status_code=422 if errors else 200,
    )


@router.get(INDICATORS + ".csv", dependencies=[audited_as(Action.READ_INDICATORS)])
def indicators_csv(
    principal: WebPrincipal,
    session: DbSession,
    on: Today,
    settings: CurrentSettings,
    cellule: Text = "",
    du: Text = "",
    au: Text = "",
    masquer_sous: Text = "",
) -> Response:
    scopes = _scopes(session, principal, on)
    asked, errors = _asked(_values(cellule, du, au, masquer_sous))
    if errors:
        raise InvalidInput("Correct these parameters: " + ", ".join(sorted(errors)) + ".")
    figures = _read(session, principal, scopes, asked, on, settings)
    scope = PARIS if figures.cell_id is None else f"cellule-{figures.cell_id}"
    name = f"indicateurs-{scope}-{figures.from_.isoformat()}-{figures.to.isoformat()}.csv"
    return Response(
        # The byte order mark tells Excel the file is UTF-8.
        "\ufeff" + csv_text(figures, scopes.name(figures.cell_id)),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        },
    )


def csv_text(figures: IndicatorsRead, scope_name: str) -> str:
    """The figures for a spreadsheet: semicolons (the separator of French Excel), decimal
    commas; the scope and period first, then one row per line of each table."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerow(("Périmètre", "", scope_name))
    writer.writerow(("Période", "Du", figures.from_.isoformat()))
    writer.writerow(("Période", "Au", figures.to.isoformat()))
    if figures.masked_under is not None:
        writer.writerow(("Secret statistique", "Effectifs inférieurs à", str(figures.masked_under)))
        writer.writerow(("Secret statistique", service.WITHHELD_MARK, WITHHELD_MEANS))
    for table in tables(figures):
        writer.writerows((table.title, line.label, line.csv) for line in table.lines)
    return out.getvalue()
