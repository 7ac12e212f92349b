"""R18, R19: each retention rule destroys exactly what it names, on time; nothing under way is
touched; what is destroyed cannot be read again; the statistics and the audit log survive."""

from __future__ import annotations

import json
import os
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from app.audit.chain import verify
from app.cases.models import (
    ArchiveAccess,
    Case,
    CaseMotif,
    CasePersonal,
    Guardian,
    ResearchNote,
)
from app.clock import today
from app.crypto.models import CaseKey, IdentityIndex
from app.crypto.vault import DataDestroyed
from app.db import make_engine, make_sessionmaker
from app.retention.service import PurgeReport, purge
from app.vocabulary import Role
from tests.audit.log import events
from tests.cli import cenomed
from tests.conftest import World
from tests.scenario import case_body, meeting, ok, problem, submit, to_cell_review, to_research

REASON = {"reason": "Demande du juge des enfants sur la suite donnée au signalement."}


def _not_retained(world: World, *, coordinator: str, parquet: str, cell_id: int) -> str:
    created = world.as_(coordinator).post("/cases", case_body(cell_id, received_via="phone"))
    case_id = str(ok(created)["id"])
    ok(world.as_(coordinator).post(f"/cases/{case_id}/parquet-referral"))
    ok(world.as_(parquet).post(f"/cases/{case_id}/parquet-decision", {"retained": False}))
    return case_id


def _population(world: World) -> dict[str, str]:
    """One case per rule, and cases under way that no rule may touch."""
    on = today()
    presented = _not_retained(
        world, coordinator="coordinator", parquet="parquet", cell_id=world.cell.id
    )
    meeting(world, held_on=on + timedelta(days=10))  # it will present it (R7)
    unpresented = _not_retained(
        world, coordinator="coordinator-19", parquet="parquet-19", cell_id=world.other_cell.id
    )
    closed = to_cell_review(world)
    ok(world.as_("coordinator").post(f"/cases/{closed}/research-notes", {"content": "Connu."}))
    ok(world.as_("coordinator").post(f"/cases/{closed}/review-decision", {"decision": "no_action"}))
    ok(world.as_("coordinator").post(f"/cases/{closed}/archive-access", REASON))
    under_way = to_research(world)
    return {
        "presented": presented,
        "unpresented": unpresented,
        "closed": closed,
        "under_way": under_way,
        "fresh": submit(world),
    }


def _run(world: World, as_of: date, *, dry_run: bool = False, **kwargs: Any) -> PurgeReport:
    engine = make_engine(world.settings.database_url)
    try:
        return purge(make_sessionmaker(engine), world.vault, as_of=as_of, dry_run=dry_run, **kwargs)
    finally:
        engine.dispose()


def _states(world: World, cases: dict[str, str]) -> dict[str, tuple[str, str | None]]:
    with world.db() as session:
        rows = session.execute(select(Case.id, Case.state, Case.purge_rule)).all()
    by_id = {str(r[0]): (r[1], r[2]) for r in rows}
    return {name: by_id[case_id] for name, case_id in cases.items()}


@pytest.mark.parametrize(
    ("days", "destroyed"),
    [
        (0, {}),
        (9, {}),
        (10, {"presented": "R18-non-retenue-presentee"}),
        (88, {"presented": "R18-non-retenue-presentee"}),
        (
            90,
            {"presented": "R18-non-retenue-presentee", "unpresented": "R18-non-retenue-trois-mois"},
        ),
        (
            1094,
            {"presented": "R18-non-retenue-presentee", "unpresented": "R18-non-retenue-trois-mois"},
        ),
        (
            1096,
            {
                "presented": "R18-non-retenue-presentee",
                "unpresented": "R18-non-retenue-trois-mois",
                "closed": "R18-archive-trois-ans",
            },
        ),
    ],
)
def test_each_rule_destroys_what_it_names_on_time_and_nothing_under_way(
    world: World, days: int, destroyed: dict[str, str]
) -> None:
    cases = _population(world)
    report = _run(world, today() + timedelta(days=days))
    states = _states(world, cases)
    assert {n: rule for n, (state, rule) in states.items() if state == "purged"} == destroyed
    assert report.purged == len(destroyed)
    assert {rule: sorted(ids) for rule, ids in report.by_rule.items()} == {
        rule: sorted(cases[n] for n, r in destroyed.items() if r == rule)
        for rule in set(destroyed.values())
    }
    for name in set(cases) - set(destroyed):
        assert states[name][0] != "purged"


def test_the_25th_birthday_destroys_even_a_case_under_way(world: World) -> None:
    case_id = to_research(world)
    on = today()
    # As if the person were born 20 years ago (a CENOMED cell takes minors only, R21).
    born_in = date(on.year - 20, 5, 1)
    with world.db() as session:
        session.execute(
            update(Case).where(Case.id == uuid.UUID(case_id)).values(birth_month_on=born_in)
        )
    turns_25 = date(born_in.year + 25, born_in.month, 1)
    assert _run(world, turns_25 - timedelta(days=1)).purged == 0
    report = _run(world, turns_25)
    assert report.by_rule == {"R18-vingt-cinq-ans": [case_id]}
    assert _states(world, {"it": case_id})["it"] == ("purged", "R18-vingt-cinq-ans")


def _skeleton(session: Any, case_id: uuid.UUID) -> tuple[Any, ...]:
    """What R19 keeps of a case: its non-nominative columns, and how many motifs it has."""
    row = session.execute(
        select(
            Case.cell_id,
            Case.origin,
            Case.sex,
            Case.age_bracket,
            Case.received_on,
            Case.retained,
            Case.review_decision,
            Case.closed_at,
            Case.meeting_id,
        ).where(Case.id == case_id)
    ).one()
    motifs = session.scalar(
        select(func.count()).select_from(CaseMotif).where(CaseMotif.case_id == case_id)
    )
    return (*row, motifs)


def test_a_purged_case_is_gone_for_good_and_its_statistics_stay(world: World) -> None:
    cases = _population(world)
    closed = uuid.UUID(cases["closed"])
    world.add_user("steering", Role.STEERING, cells=[])
    year = {"from": (today() - timedelta(days=365)).isoformat(), "to": today().isoformat()}
    figures_before = ok(world.as_("steering").get("/indicators", params=year))
    with world.db() as session:
        skeleton_before = _skeleton(session, closed)
    _run(world, today() + timedelta(days=1096))

    with world.db() as session:
        for table in (CasePersonal, Guardian, ResearchNote, ArchiveAccess, CaseKey, IdentityIndex):
            left = session.scalar(
                select(func.count()).select_from(table).where(table.case_id == closed)
            )
            assert left == 0, table.__tablename__
        assert _skeleton(session, closed) == skeleton_before
        assert session.scalar(select(Case.birth_month_on).where(Case.id == closed)) is None
        # Even with the key-encryption key, there is no data key left to unwrap.
        with pytest.raises(DataDestroyed):
            world.vault.cipher_for(closed, session.get(CaseKey, closed))

    # R19: the statistics survive the destruction.
    assert ok(world.as_("steering").get("/indicators", params=year)) == figures_before
    assert figures_before["signalements"] == len(cases)

    # 410 to those of its cell, 404 to others; each refusal in the log.
    assert problem(world.as_("coordinator").get(f"/cases/{closed}"), 410)["type"].endswith(
        "data-destroyed"
    )
    problem(world.as_("coordinator-19").get(f"/cases/{closed}"), 404)
    listed = ok(world.as_("coordinator").get("/cases"))["items"]
    assert str(closed) not in {item["id"] for item in listed}
    purges = [e for e in events(world) if e["action"] == "purge_case"]
    assert {e["case_id"] for e in purges} == {
        cases["presented"],
        cases["unpresented"],
        cases["closed"],
    }
    assert all(e["severity"] == "high" and e["outcome"] == "allowed" for e in purges)
    with world.db() as session:
        assert verify(session).valid


def test_a_dry_run_lists_by_rule_and_changes_nothing(world: World) -> None:
    cases = _population(world)
    before = _states(world, cases)
    with world.db() as session:
        head_before = session.scalar(text("SELECT seq FROM audit_head"))
    report = _run(world, today() + timedelta(days=1096), dry_run=True)
    assert report.purged == 0
    assert set(report.by_rule) == {
        "R18-non-retenue-presentee",
        "R18-non-retenue-trois-mois",
        "R18-archive-trois-ans",
    }
    assert _states(world, cases) == before
    with world.db() as session:
        assert session.scalar(text("SELECT seq FROM audit_head")) == head_before


def test_a_purge_killed_half_way_completes_when_run_again(world: World) -> None:
    cases = _population(world)
    as_of = today() + timedelta(days=1096)

    def crash(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        _run(world, as_of, on_case=crash)
    assert sum(state == "purged" for state, _ in _states(world, cases).values()) == 2
    again = _run(world, as_of)
    assert again.purged == 1
    assert sum(state == "purged" for state, _ in _states(world, cases).values()) == 3
    assert _run(world, as_of).by_rule == {}
    purges = [e for e in events(world) if e["action"] == "purge_case"]
    assert len(purges) == 3
    with world.db() as session:
        assert verify(session).valid


def test_the_command_line(world: World) -> None:
    _population(world)
    env = os.environ | {
        "CENOMED_DATA_DIR": str(world.settings.data_dir),
        "CENOMED_DATABASE_URL": world.settings.database_url,
    }
    # The command run three years from now (its clock frozen then): --as-of is never later
    # than its today, and 3 of the 5 cases is more than the share, hence --yes.
    later = today() + timedelta(days=1096)
    dry = cenomed(env, "purge", "--dry-run", "--as-of", later.isoformat(), today=later)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["dry_run"] is True
    done = cenomed(env, "purge", "--yes", today=later)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["purged"] == 3
    bad = cenomed(env, "purge", "--as-of", "tomorrow")
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1


def test_the_birth_month_is_kept_in_clear_and_filled_in_for_older_cases(world: World) -> None:
    case_id = uuid.UUID(submit(world))
    born = date.fromisoformat(case_body(world.cell.id)["minor"]["birth_date"])
    with world.db() as session:
        assert session.scalar(
            select(Case.birth_month_on).where(Case.id == case_id)
        ) == born.replace(day=1)
        # A case submitted before the retention migration has none.
        session.execute(update(Case).where(Case.id == case_id).values(birth_month_on=None))
    report = _run(world, today())
    assert report.birth_months_filled == 1
    with world.db() as session:
        assert session.scalar(
            select(Case.birth_month_on).where(Case.id == case_id)
        ) == born.replace(day=1)


def test_a_closure_reason_stays_with_the_statistics_after_the_purge(world: World) -> None:
    """Issue 15: the reason a case was closed is a statistic (R19), not nominative data."""
    case_id = to_research(world)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/closure", {"reason": "moved_away"}))
    report = _run(world, today() + timedelta(days=1096))
    assert report.purged == 1
    with world.db() as session:
        row = session.get(Case, uuid.UUID(case_id))
        assert row is not None
        assert (row.state, row.closure_reason) == ("purged", "moved_away")
    figures = ok(world.as_("coordinator").get("/indicators", params={"cell_id": world.cell.id}))
    assert (figures["closed"], figures["by_closure_reason"]["moved_away"]) == (1, 1)
