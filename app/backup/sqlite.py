"""SQLite: the online backup API, both ways.

``Connection.backup`` copies the database page by page inside one read transaction: in WAL
mode the service keeps writing meanwhile, and the copy is the database as of that transaction.
The copy is switched to the rollback journal, so the backup is one self-contained file (no
``-wal`` beside it) whose SHA-256 stays what the manifest says.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from app.backup import BackupRefused
from app.backup.files import create_private_file
from app.backup.manifest import Facts, read_facts


def database_path(url: str) -> Path:
    """The file a ``sqlite:///`` URL names; an in-memory database cannot be backed up."""
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupRefused("backup and restore need a SQLite database file (sqlite:///path)")
    return Path(name)


def check_dump(url: str) -> None:
    path = database_path(url)
    if not path.is_file():
        raise BackupRefused(f"no database at {path}: run 'cenomed init' first")


def check_load(url: str) -> None:
    database_path(url)


def _query(connection: sqlite3.Connection) -> Any:
    def run(sql: str) -> Sequence[Sequence[Any]]:
        return connection.execute(sql).fetchall()

    return run


def _read_only(path: Path) -> sqlite3.Connection:
    """The backup's copy opened read-only: restoring never changes the backup."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def dump(url: str, target: Path) -> Facts:
    """Copies the live database into ``target`` (a new file, mode 0600); the copy's facts."""
    check_dump(url)
    source_path = database_path(url)
    create_private_file(target).close()
    # Opened without the service's pragmas: the live file's journal mode is left as it is.
    with (
        closing(sqlite3.connect(source_path, timeout=30)) as source,
        closing(sqlite3.connect(target)) as copy,
    ):
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
        return read_facts(_query(copy))


def table_names(url: str) -> set[str]:
    """The tables of the target database; none if its file does not exist yet (a read never
    creates it)."""
    path = database_path(url)
    if not path.exists():
        return set()
    try:
        with closing(sqlite3.connect(path, timeout=30)) as connection:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return {str(row[0]) for row in rows}
    except sqlite3.DatabaseError as error:
        raise BackupRefused(
            f"{path} exists and is not a readable SQLite database ({type(error).__name__}); "
            "restore into a new file"
        ) from None


def load(source: Path, url: str) -> None:
    """Copies the backup's file into the target database file (created 0600, its directory
    0700), through the same backup API."""
    target = database_path(url)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not target.exists():
        create_private_file(target).close()
    with closing(_read_only(source)) as backup, closing(sqlite3.connect(target)) as database:
        backup.backup(database)
