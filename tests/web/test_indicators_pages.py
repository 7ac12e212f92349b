"""The indicators screen over the indicators service: the API's figures as tables, one SVG bar
per value, the same figures as CSV, and the charter's scopes (a coordinator's cells, Paris for
the steering committee and the auditors)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta
from typing import Any

import pytest

from app.clock import today
from app.vocabulary import (
    ClosureReason,
    Destination,
    FeedbackOutcome,
    Motif,
    Organisation,
    Role,
    Sex,
    WithdrawalReason,
)
from app.web import labels
from app.web.indicators_pages import PLOT_WIDTH
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import case_body, ok, submit, to_oriented
from tests.web.browser import signed_in

Table = tuple[str, list[tuple[str, str]]]


def _tables(page: str) -> list[Table]:
    """(caption, [(row header, value)]) of each figures table, as text."""
    found = []
    for caption, body in re.findall(
        r'<table class="figures">\s*<caption[^>]*>(.*?)</caption>.*?<tbody>(.*?)</tbody>',
        page,
        re.S,
    ):
        rows = re.findall(r'<th scope="row">(.*?)</th><td class="number"[^>]*>(.*?)</td>', body)
        found.append(
            (html.unescape(caption), [(html.unescape(k), html.unescape(v)) for k, v in rows])
        )
    return found


def _charts(page: str) -> list[str]:
    return re.findall(r'<svg class="chart".*?</svg>', page, re.S)


def _figures(world: World) -> None:
    """Two cases oriented, one not retained in the 18th; one signalement in the 19th."""
    to_oriented(world, "crip", "social_services")
    to_oriented(world, "crip")
    case_id = submit(world, by="teacher")
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": False}))
    ok(
        world.as_("coordinator-19").post(
            "/cases", case_body(world.other_cell.id, received_via="email")
        )
    )


def _expected(api: dict[str, Any]) -> list[Table]:
    """The API's answer, in the page's words."""

    withheld = api["suppressed"]

    def text(key: str, value: Any) -> str:
        """As the page shows it: a withheld value by its mark (a small count, or "s")."""
        if key in withheld:
            return f"< {api['masked_under']}" if withheld[key] == "under_threshold" else "s"
        return str(value)

    def words(kind: Any) -> Any:
        return lambda key: labels.label(kind, key)

    breakdowns = [
        ("by_origin", words(Organisation)),
        ("by_motif", words(Motif)),
        ("by_sex", lambda key: labels.SEX_NOT_GIVEN if key == "unknown" else key),
        ("by_age_bracket", labels.age_bracket_label),
        ("by_destination", words(Destination)),
        ("feedback", words(FeedbackOutcome)),
        ("by_closure_reason", words(ClosureReason)),
        ("by_withdrawal_reason", words(WithdrawalReason)),
    ]
    counts = [(words, text(key, api[key])) for key, words in labels.INDICATOR_COUNTS.items()]
    return [
        ("Activité de la période", counts),
        *[
            (
                labels.INDICATOR_BREAKDOWNS[key],
                [(name(value), text(f"{key}.{value}", n)) for value, n in api[key].items()],
            )
            for key, name in breakdowns
        ],
    ]


def _sexes(tables: list[Table]) -> list[Table]:
    """The sex table's labels as the API's codes (the page says 'Féminin' for 'F')."""
    names = {v: k for k, v in labels.LABELS[Sex].items()}
    title = labels.INDICATOR_BREAKDOWNS["by_sex"]
    return [
        (caption, [(names.get(k, k), v) for k, v in rows] if caption == title else rows)
        for caption, rows in tables
    ]


def test_a_coordinators_page_shows_the_apis_figures_for_the_same_filters(world: World) -> None:
    _figures(world)
    first = (today() - timedelta(days=90)).isoformat()
    last = today().isoformat()
    coordinator = signed_in(world, "coordinator")
    page = coordinator.get(f"/indicateurs?cellule={world.cell.id}&du={first}&au={last}")
    assert page.status_code == 200
    assert "<h1>Indicateurs de la fiche 1.3</h1>" in page.text
    api = ok(
        world.as_("coordinator").get(f"/indicators?cell_id={world.cell.id}&from={first}&to={last}")
    )
    assert api["signalements"] == 3
    assert api["by_destination"]["crip"] == 2
    shown = _sexes(_tables(page.text))
    assert shown[:-1] == _expected(api)
    # The median delays, in days (a decimal comma), last.
    caption, medians = shown[-1]
    assert caption == "Délais médians, en jours"
    expected = [
        "non disponible" if v is None else f"{v:g}".replace(".", ",")
        for v in api["median_days"].values()
    ]
    assert [v for _, v in medians] == expected
    # Without filters: the coordinator's cell, over the last year.
    default = coordinator.get("/indicateurs")
    yearly = ok(world.as_("coordinator").get(f"/indicators?cell_id={world.cell.id}"))
    assert _sexes(_tables(default.text))[:-1] == _expected(yearly)


def test_paris_wide_figures_for_the_steering_committee_and_the_auditors(world: World) -> None:
    world.add_user("steering", Role.STEERING, cells=[])
    _figures(world)
    for username in ("steering", "auditor"):
        browser = signed_in(world, username)
        page = browser.get("/indicateurs")  # Paris by default
        api = ok(world.as_(username).get("/indicators"))
        # Four situations: too few to show them to those who do not read the cases.
        assert (api["signalements"], api["suppressed"]["signalements"]) == (
            None,
            "under_threshold",
        )
        assert _sexes(_tables(page.text))[:-1] == _expected(api)
        assert "Secret statistique" in page.text
        assert f'<option value="{world.other_cell.id}"' in page.text  # any cell
        page = browser.get(f"/indicateurs?cellule={world.other_cell.id}")
        api = ok(world.as_(username).get(f"/indicators?cell_id={world.other_cell.id}"))
        assert api["suppressed"]["signalements"] == "under_threshold"
        assert _sexes(_tables(page.text))[:-1] == _expected(api)


def test_a_coordinator_reads_only_their_cells(world: World) -> None:
    _figures(world)
    coordinator = signed_in(world, "coordinator")
    page = coordinator.get("/indicateurs")
    assert 'value="paris"' not in page.text
    assert f'<option value="{world.other_cell.id}"' not in page.text
    before = head(world)
    refused = coordinator.get(f"/indicateurs?cellule={world.other_cell.id}")
    assert refused.status_code == 403
    [refusal] = events(world, before)
    assert (refusal["action"], refusal["outcome"]) == ("read_indicators", "denied")
    assert coordinator.get("/indicateurs?cellule=paris").status_code == 422
    assert coordinator.get(f"/indicateurs.csv?cellule={world.other_cell.id}").status_code == 403


def test_a_member_is_refused_the_indicators(world: World) -> None:
    police = signed_in(world, "police")
    before = head(world)
    for path in ("/indicateurs", "/indicateurs.csv", "/indicateurs?du=pas-une-date"):
        page = police.get(path)
        assert page.status_code == 403, path
        assert "Action non permise" in page.text
    refusals = [(e["action"], e["outcome"]) for e in events(world, before)]
    assert refusals == [("read_indicators", "denied")] * 3


def test_each_read_is_logged_and_wrong_filters_read_nothing(world: World) -> None:
    coordinator = signed_in(world, "coordinator")
    before = head(world)
    coordinator.get("/indicateurs")
    [read] = events(world, before)
    assert (read["action"], read["detail"]) == ("read_indicators", f"cell:{world.cell.id}")
    before = head(world)
    page = coordinator.get("/indicateurs?du=2026-13-40&masquer_sous=0")
    assert page.status_code == 422
    assert 'id="du-erreur"' in page.text
    assert 'id="masquer_sous-erreur"' in page.text
    assert head(world) == before


def test_the_csv_parses_and_equals_the_tables(world: World) -> None:
    _figures(world)
    coordinator = signed_in(world, "coordinator")
    page = coordinator.get(f"/indicateurs?cellule={world.cell.id}")
    link = re.search(r'href="(/indicateurs\.csv\?[^"]+)"', page.text)
    assert link is not None
    response = coordinator.get(html.unescape(link.group(1)))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="indicateurs-cellule-')
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM, for Excel
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Rubrique", "Intitulé", "Valeur"]
    assert rows[1] == ["Périmètre", "", "CENOMED 18e"]
    assert [r[0] for r in rows[2:4]] == ["Période", "Période"]
    tables = [
        [caption, label, "" if value in ("masqué", "non disponible") else value]
        for caption, lines in _tables(page.text)
        for label, value in lines
    ]
    assert rows[4:] == tables
    assert len(tables) > 40


def test_each_chart_has_one_bar_per_value(world: World) -> None:
    _figures(world)
    page = signed_in(world, "coordinator").get(f"/indicateurs?cellule={world.cell.id}")
    assert " style=" not in page.text  # the Content-Security-Policy forbids inline styles
    tables = _tables(page.text)
    charts = _charts(page.text)
    assert len(charts) == len(tables) - 1  # the medians have a table only
    for (caption, rows), chart in zip(tables, charts, strict=False):
        assert 'role="img"' in chart
        [labelled] = re.findall(r'aria-labelledby="([^"]+)"', chart)
        for ident in labelled.split():
            assert f'id="{ident}"' in chart
        assert f'<title id="{labelled.split()[0]}">Graphique : {caption}</title>' in html.unescape(
            chart
        )
        widths = [int(w) for w in re.findall(r'<rect class="bar"[^>]* width="(\d+)"', chart)]
        assert len(widths) == len(rows), caption
        values = [int(v) for _, v in rows]
        top = max(values)
        for width, value in zip(widths, values, strict=True):
            assert width == (round(PLOT_WIDTH * value / top) if top else 0), caption


@pytest.mark.parametrize("mask", [3])
def test_withheld_counts_have_no_bar_and_their_mark_in_the_csv(world: World, mask: int) -> None:
    _figures(world)
    coordinator = signed_in(world, "coordinator")
    query = f"cellule={world.cell.id}&masquer_sous={mask}"
    page = coordinator.get(f"/indicateurs?{query}")
    api = ok(world.as_("coordinator").get(f"/indicators?cell_id={world.cell.id}&mask_under={mask}"))
    assert api["by_destination"]["crip"] is None  # 2, under the threshold
    assert _sexes(_tables(page.text))[:-1] == _expected(api)
    [origin_chart] = [c for c in _charts(page.text) if "par origine" in c]
    [origin] = [rows for caption, rows in _tables(page.text) if "par origine" in caption]
    shown = [v for _, v in origin if v.isdigit()]
    assert origin_chart.count('<rect class="bar"') == len(shown) < len(origin)
    rows = list(
        csv.reader(
            io.StringIO(coordinator.get(f"/indicateurs.csv?{query}").content.decode("utf-8-sig")),
            delimiter=";",
        )
    )
    assert ["Secret statistique", "Effectifs inférieurs à", str(mask)] in rows
    [crip] = [r for r in rows if r[1] == labels.label(Destination, "crip")]
    assert crip[2] == f"<{mask}"
    # Social services (1) is small too; with crip (2) they hold 3: enough, nothing else hidden.
    [social] = [r for r in rows if r[1] == labels.label(Destination, "social_services")]
    assert social[2] == f"<{mask}"
