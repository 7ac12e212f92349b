"""Reading the audit log's rows as they are stored, whatever was written there.

The verifier and the readers of the log must answer about any row, including one an attacker
with the database wrote: a malformed row is a verdict, or a placeholder, never a crash, and
never taken for a failing database. Two things stand in the way, both in the drivers:

- SQLite's columns are dynamically typed (a hash column may hold text, an integer, a real),
  and its driver decodes every TEXT value as UTF-8, raising OperationalError on bytes that are
  not: the same error as a database it cannot open.
- PostgreSQL's columns hold their declared types, but a timestamp may be 'infinity' or outside
  years 1-9999, which psycopg cannot load (DataError): the verifier reads it as text
  (``app.audit.chain``), the readers not at all (they show the hashed body).

So the log's rows are read with :func:`raw` columns (no SQLAlchemy type processing) inside
:func:`as_stored`, and the caller checks each value's type: what the service writes has one
type, anything else is reported, never converted. Messages name a value's type
(:func:`kind`), never the value: a stored value may be anything, even a name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, type_coerce
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType


def _keep_undecodable(data: bytes) -> str:
    """TEXT as str, bytes that are not UTF-8 kept as lone surrogates: the value equals nothing
    the service wrote, and nothing a JSON body decodes to."""
    return data.decode("utf-8", "surrogateescape")


@contextmanager
def as_stored(session: Session) -> Iterator[Connection]:
    """The session's connection, on which SQLite's TEXT values are read even when their bytes
    are not UTF-8 (see :func:`_keep_undecodable`), until the block ends."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield connection
        return
    driver: Any = connection.connection.dbapi_connection
    previous = driver.text_factory
    driver.text_factory = _keep_undecodable
    try:
        yield connection
    finally:
        driver.text_factory = previous


def raw(column: InstrumentedAttribute[Any]) -> ColumnElement[Any]:
    """A column as the driver gives it (no SQLAlchemy result processing)."""
    return type_coerce(column, NullType()).label(column.key)


_KINDS = {str: "text", int: "an integer", float: "a real number", bytes: "bytes"}


def kind(value: object) -> str:
    """A stored value's type in words."""
    if value is None:
        return "NULL"
    return _KINDS.get(type(value), "of another type")
