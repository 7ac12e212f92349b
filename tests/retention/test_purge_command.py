"""The guards of ``cenomed purge`` (finding 12): never as of a day after today (Paris); never
more than ``CENOMED_PURGE_MAX_SHARE`` of the cases not yet purged in one run without
``--yes`` (asked in a terminal, refused otherwise). A refusal destroys nothing; a refusal by
the share is logged, with counts only."""

from __future__ import annotations

import json
import os
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.cases.models import Case
from app.clock import today
from app.retention.service import above_share
from tests.audit.log import events, head
from tests.cli import cenomed, cenomed_in_a_terminal, one_line
from tests.conftest import World
from tests.scenario import submit

POPULATION = 10


def _env(world: World, **settings: str) -> dict[str, str]:
    return (
        os.environ
        | {
            "CENOMED_DATA_DIR": str(world.settings.data_dir),
            "CENOMED_DATABASE_URL": world.settings.database_url,
        }
        | {f"CENOMED_{name.upper()}": value for name, value in settings.items()}
    )


def _born(world: World, case_ids: list[str], birth_month: date) -> None:
    with world.db() as session:
        session.execute(
            update(Case)
            .where(Case.id.in_([uuid.UUID(c) for c in case_ids]))
            .values(birth_month_on=birth_month)
        )


def _population(world: World, due: int) -> list[str]:
    """POPULATION cases, of which the first ``due`` are due (their person is 26)."""
    cases = [submit(world) for _ in range(POPULATION)]
    _born(world, cases[:due], date(today().year - 26, 1, 1))
    return cases


def _purged(world: World) -> set[str]:
    with world.db() as session:
        rows = session.scalars(select(Case.id).where(Case.state == "purged"))
        return {str(case_id) for case_id in rows}


def test_as_of_today_is_accepted_and_a_day_later_refused(world: World) -> None:
    # The command's "today" is frozen on the last day of a month, the eve of the day on which
    # one person turns 25: the day after it, the purge would destroy that case.
    next_month = (today().replace(day=28) + timedelta(days=4)).replace(day=1)
    on, tomorrow = next_month - timedelta(days=1), next_month
    case_id = submit(world)
    _born(world, [case_id], next_month.replace(year=next_month.year - 25))
    env = _env(world)

    accepted = cenomed(env, "purge", "--as-of", on.isoformat(), today=on)
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["purged"] == 0
    default = cenomed(env, "purge", "--dry-run", today=on)
    assert default.returncode == 0, default.stderr
    assert json.loads(default.stdout)["as_of"] == on.isoformat()

    before = head(world)
    for args in (
        ["--as-of", tomorrow.isoformat(), "--yes"],
        ["--dry-run", "--as-of", "2099-01-01"],
    ):
        refused = cenomed(env, "purge", *args, today=on)
        one_line(refused, 1, "--as-of", "later than today", on.isoformat())
    assert _purged(world) == set()
    assert head(world) == before  # nothing done, nothing logged

    # The same command on the next day destroys it: only the date stood in the way.
    done = cenomed(env, "purge", "--as-of", tomorrow.isoformat(), "--yes", today=tomorrow)
    assert done.returncode == 0, done.stderr
    assert _purged(world) == {case_id}


@pytest.mark.parametrize(
    ("due", "max_share", "allowed"),
    [(1, None, True), (2, None, False), (2, "0.2", True), (3, "0.2", False)],
)
def test_more_than_the_share_of_the_cases_needs_yes(
    world: World, due: int, max_share: str | None, allowed: bool
) -> None:
    cases = _population(world, due)
    env = _env(world, **({"purge_max_share": max_share} if max_share else {}))

    dry = cenomed(env, "purge", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert (report["to_destroy"], report["not_purged"]) == (due, POPULATION)
    assert report["share"] == pytest.approx(due / POPULATION)
    assert report["max_share"] == float(max_share or "0.1")
    assert report["above_max_share"] is not allowed

    before = head(world)
    run = cenomed(env, "purge")
    if allowed:
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["purged"] == due
        assert _purged(world) == set(cases[:due])
        return
    one_line(run, 1, f"{due} of the {POPULATION} cases", "--yes", "CENOMED_PURGE_MAX_SHARE")
    assert _purged(world) == set()
    # The refusal is logged, with counts only.
    logged = events(world, after=before)
    assert [(e["action"], e["outcome"], e["severity"], e["detail"]) for e in logged] == [
        ("purge", "denied", "high", f"above-share:{due}/{POPULATION}")
    ]
    assert logged[0]["case_id"] is None

    confirmed = cenomed(env, "purge", "--yes")
    assert confirmed.returncode == 0, confirmed.stderr
    assert json.loads(confirmed.stdout)["purged"] == due
    assert _purged(world) == set(cases[:due])


def test_in_a_terminal_the_purge_asks_and_a_dry_run_never_does(world: World) -> None:
    cases = _population(world, 2)
    env = _env(world)

    dry = cenomed_in_a_terminal(env, "purge", "--dry-run", answer="n\n")
    assert dry.returncode == 0, dry.stderr
    assert "[y/N]" not in dry.stderr
    assert json.loads(dry.stdout)["to_destroy"] == 2

    before = head(world)
    declined = cenomed_in_a_terminal(env, "purge", answer="n\n")
    assert declined.returncode == 1
    assert declined.stdout == ""
    # The question, then (the answer's newline echoed on the terminal) the one-line refusal.
    question, asked, refusal = declined.stderr.partition(" [y/N]: ")
    assert asked
    assert "2 of the 10 cases" in question
    assert "20.0%" in question
    assert refusal.startswith("cenomed: ")
    assert refusal.count("\n") == 1
    assert "nothing was destroyed" in refusal
    assert _purged(world) == set()
    assert [(e["action"], e["outcome"]) for e in events(world, after=before)] == [
        ("purge", "denied")
    ]

    confirmed = cenomed_in_a_terminal(env, "purge", answer="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert json.loads(confirmed.stdout)["purged"] == 2
    assert _purged(world) == set(cases[:2])


@pytest.mark.parametrize("value", ["0", "1.5", "-0.1", "ten"])
def test_a_max_share_out_of_range_is_refused(tmp_path: Path, value: str) -> None:
    env = os.environ | {
        "CENOMED_DATA_DIR": str(tmp_path),
        "CENOMED_PURGE_MAX_SHARE": value,
    }
    one_line(cenomed(env, "purge", "--dry-run"), 1, "CENOMED_PURGE_MAX_SHARE")


@pytest.mark.parametrize(
    ("due", "total", "max_share", "above"),
    [
        (0, 0, 0.1, False),
        (1, 10, 0.1, False),
        (2, 10, 0.1, True),
        (1, 5, 0.1, True),  # a few cases: even one may be more than the share
        (29, 100, 0.29, False),  # exactly the share, where 0.29 * 100 < 29 in floating point
        (30, 100, 0.29, True),
        (7, 7, 1.0, False),
    ],
)
def test_the_share_decision(due: int, total: int, max_share: float, above: bool) -> None:
    assert above_share(due, total, max_share) is above
