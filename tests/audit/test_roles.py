"""The documented PostgreSQL role set-up (docs/postgresql-roles.sql): the application's role
appends to the audit log and cannot change it, even with the triggers out of the way."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from app.audit.chain import Event, append, verify
from app.db import make_engine, make_sessionmaker, unit_of_work

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "postgresql-roles.sql"


@pytest.fixture
def app_role(database_url: str, engine_name: str) -> Iterator[str]:
    if engine_name != "postgresql":
        pytest.skip("SQLite has no roles; its triggers are what refuse change")
    role = f"cenomed_app_{uuid.uuid4().hex[:8]}"
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE ROLE {role} NOLOGIN"))
        connection.execute(text(SCRIPT.read_text().replace("cenomed_app", role)))
    yield role
    with engine.begin() as connection:
        connection.execute(text(f"DROP OWNED BY {role}"))
        connection.execute(text(f"DROP ROLE {role}"))
    engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET action = 'nothing'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
        "DELETE FROM audit_checkpoint",
        "DELETE FROM audit_head",
        "ALTER TABLE audit_event DISABLE TRIGGER USER",
        "DROP TRIGGER audit_event_no_update_or_delete ON audit_event",
    ],
)
def test_the_application_role_appends_and_cannot_change_the_log(
    database_url: str, app_role: str, statement: str
) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with unit_of_work(sessions) as session:
        session.execute(text(f"SET LOCAL ROLE {app_role}"))
        append(session, Event(action="read_case", outcome="allowed", actor_id=1))
    with engine.connect() as connection:
        connection.execute(text(f"SET LOCAL ROLE {app_role}"))
        with pytest.raises(ProgrammingError, match="permission denied|must be owner"):
            connection.execute(text(statement))
        connection.rollback()
    with unit_of_work(sessions) as session:
        assert verify(session).events == 1
    engine.dispose()
