"""How the indicators are computed: from the statistical skeleton only (a purged case still
counts, no nominative table is read, counts come back, not cases), and instants on their UTC
day whatever the database session's time zone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import delete, event, text, update

from app.cases.models import Case, CasePersonal, Guardian, Orientation, ResearchNote
from app.clock import today
from app.indicators import repository
from app.indicators.repository import Period
from app.vocabulary import Role
from tests.conftest import World
from tests.indicators.population import day
from tests.scenario import ok, to_oriented, to_research

NOMINATIVE = ("case_personal", "guardian", "research_note", "_enc", "case_key")


@contextmanager
def statements(world: World) -> Iterator[list[str]]:
    """The SQL the service sends while the block runs."""
    engine = world.client.app.state.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.lower())

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def test_the_queries_read_only_the_skeleton_and_return_counts(world: World) -> None:
    world.add_user("steering", Role.STEERING, cells=[])
    to_oriented(world, "social_services", "crip")
    to_research(world)
    for who, params in (("steering", {}), ("coordinator", {"cell_id": world.cell.id})):
        with statements(world) as seen:
            ok(world.as_(who).get("/indicators", params=params))
        statistical = [s for s in seen if any(t in s for t in ("case_file", "orientation"))]
        assert len(statistical) >= 6
        for statement in seen:
            assert not any(table in statement for table in NOMINATIVE), statement
        # Every query of the cases aggregates: no row per case comes back to Python.
        for statement in statistical:
            assert "count(" in statement, statement


def test_a_purged_case_is_still_counted(world: World) -> None:
    """R19: purge keeps the skeleton and destroys the rest; the figures do not move."""
    # The coordinator of the cell reads exact counts (the others' are protected, and these
    # are too few to be shown to them).
    exact = {"cell_id": world.cell.id}
    oriented, _ = to_oriented(world, "crip")
    retained = to_research(world)
    before = ok(world.as_("coordinator").get("/indicators", params=exact))
    ids = [uuid.UUID(oriented), uuid.UUID(retained)]
    with world.db() as session:
        for table in (CasePersonal, Guardian, ResearchNote):
            session.execute(delete(table).where(table.case_id.in_(ids)))
        session.execute(update(Case).where(Case.id.in_(ids)).values(state="purged"))
    after = ok(world.as_("coordinator").get("/indicators", params=exact))
    assert after == before
    assert after["signalements"] == 2
    assert after["retained"] == 2
    assert after["examined"] == 1
    assert after["by_destination"]["crip"] == 1


def test_an_instant_counts_on_its_utc_day(world: World) -> None:
    """23:30 UTC is already the next day in Paris: it is counted on the UTC day, and a step at
    midnight UTC on the next one."""
    case_id, orientations = to_oriented(world, "crip")
    decided = datetime.combine(day(20), time(23, 30), UTC)
    oriented = datetime.combine(day(9), time(), UTC)
    with world.db() as session:
        session.execute(
            update(Case).where(Case.id == uuid.UUID(case_id)).values(parquet_decided_at=decided)
        )
        session.execute(
            update(Orientation)
            .where(Orientation.id == uuid.UUID(orientations["crip"]))
            .values(decided_at=oriented)
        )

    def read(on: int) -> dict[str, Any]:
        params = {"from": day(on).isoformat(), "to": day(on).isoformat(), "cell_id": world.cell.id}
        body: dict[str, Any] = ok(world.as_("coordinator").get("/indicators", params=params))
        return body

    assert read(20)["retained"] == 1
    # received 40 days ago (tests.scenario), decided 20 days ago: 20 whole days.
    assert read(20)["median_days"]["received_to_parquet_decision"] == 20
    assert read(19)["retained"] == 0
    assert read(9)["orientations"] == 1
    assert read(10)["orientations"] == 0
    # Examined at today's meeting (tests.scenario), oriented nine days ago: -9 days, as stored.
    assert read(9)["median_days"]["examination_to_orientation"] == -9


def test_the_session_time_zone_changes_nothing(world: World, engine_name: str) -> None:
    """PostgreSQL turns a timestamptz into the session's local time: the day must be UTC's."""
    case_id = to_research(world)
    decided = datetime.combine(day(20), time(12), UTC)
    with world.db() as session:
        session.execute(
            update(Case).where(Case.id == uuid.UUID(case_id)).values(parquet_decided_at=decided)
        )
    period = Period(day(20), day(20), today())
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):  # UTC+14, UTC-11
        with world.db() as session:
            if engine_name == "postgresql":
                session.execute(text(f"SET TIME ZONE '{zone}'"))
            counts = repository.count(session, cell_id=None, period=period)
        assert counts.parquet_decisions == {True: 1}, zone
        assert counts.medians["received_to_parquet_decision"].days == 20, zone
        assert counts.medians["received_to_parquet_decision"].over == 1


def test_medians_of_odd_and_even_counts(world: World) -> None:
    """The median is the middle delay, or the mean of the two middle ones."""
    ids = [to_research(world, received_days_ago=40) for _ in range(4)]
    for delay, case_id in zip((1, 2, 10, 30), ids, strict=True):
        at = datetime.combine(day(40 - delay), time(8), UTC)
        with world.db() as session:
            session.execute(
                update(Case).where(Case.id == uuid.UUID(case_id)).values(parquet_decided_at=at)
            )
    period = Period(day(60), today(), today())
    with world.db() as session:
        even = repository.count(session, cell_id=None, period=period)
        odd = repository.count(session, cell_id=None, period=Period(day(38), day(10), today()))
        empty = repository.count(session, cell_id=None, period=Period(day(99), day(98), today()))
    assert even.medians["received_to_parquet_decision"] == repository.Median(6.0, 4)
    assert odd.medians["received_to_parquet_decision"] == repository.Median(10.0, 3)
    assert empty.medians["received_to_parquet_decision"] == repository.Median(None, 0)
