"""Migration 0015 (issue 19): an archive access's purpose column comes and goes; the accesses
stay, and those granted while it was away have no purpose (never asked), not a guessed one."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, select

from app import migrate
from app.cases.models import ArchiveAccess
from tests.conftest import World
from tests.scenario import ok, through_the_six_steps

REASON = {"reason": "Relire la situation avant la réunion de la cellule.", "purpose": "complaint"}


def _columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {column["name"] for column in inspect(engine).get_columns("archive_access")}
    finally:
        engine.dispose()


def test_the_purpose_column_comes_and_goes_and_the_accesses_stay(world: World) -> None:
    url = world.settings.database_url
    case_id = through_the_six_steps(world)  # one access, purpose "other"
    ok(world.as_("coordinator").post(f"/cases/{case_id}/archive-access", REASON))
    with world.db() as session:
        before = sorted(session.scalars(select(ArchiveAccess.purpose)))
    assert before == ["complaint", "other"]

    migrate.downgrade(url, "0014")
    assert "purpose" not in _columns(url)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            count = connection.exec_driver_sql("SELECT count(*) FROM archive_access").scalar()
    finally:
        engine.dispose()
    assert count == 2

    migrate.upgrade(url)
    assert "purpose" in _columns(url)
    with world.db() as session:
        assert list(session.scalars(select(ArchiveAccess.purpose))) == [None, None]
