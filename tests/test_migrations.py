"""The migrations are the only way the schema is made: they go up, come down, and match the
models."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app import migrate
from app.db import Base, make_engine


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_then_downgrade_to_empty(new_database: Any) -> None:
    url = new_database()
    migrate.upgrade(url)
    assert {t.name for t in Base.metadata.sorted_tables} <= _tables(url)
    migrate.downgrade(url, "base")
    assert _tables(url) <= {"alembic_version"}
    migrate.upgrade(url)
    assert {t.name for t in Base.metadata.sorted_tables} <= _tables(url)


def test_the_migrated_schema_matches_the_models(migrated_template: str) -> None:
    engine = make_engine(migrated_template)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []
