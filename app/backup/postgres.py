"""PostgreSQL: ``pg_dump`` and ``pg_restore``, the server's own tools, found on PATH.

The dump runs in a snapshot exported by the transaction that reads the manifest's facts
(``pg_dump --snapshot``), so the manifest describes exactly what the dump holds while the
service keeps writing. The restore is one transaction: a failure leaves the target empty.
Ownership and grants are not carried (``--no-owner --no-privileges``): the target's roles are
set up again (docs/postgresql-roles.sql). The password never appears on a command line: it
goes to the tools in ``PGPASSWORD``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from psycopg.conninfo import make_conninfo
from sqlalchemy import Connection, inspect, make_url
from sqlalchemy.exc import OperationalError

from app.backup import BackupRefused
from app.backup.files import create_private_file
from app.backup.manifest import Facts, read_facts
from app.db import make_engine


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupRefused(
            f"{name} is not on PATH: install the PostgreSQL client tools "
            "(the server's major version or newer)"
        )
    return path


def check_dump(url: str) -> None:
    _tool("pg_dump")


def check_load(url: str) -> None:
    _tool("pg_restore")


def _connection(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment that carries it."""
    parsed = make_url(url)
    params = {k: v for k, v in parsed.query.items() if isinstance(v, str)}
    password = params.pop("password", None) or parsed.password
    for name, value in (
        ("host", parsed.host),
        ("port", parsed.port),
        ("user", parsed.username),
        ("dbname", parsed.database),
    ):
        if value is not None:
            params[name] = str(value)
    environment = dict(os.environ)
    if password:
        environment["PGPASSWORD"] = str(password)
    return make_conninfo(**params), environment


def _run(command: list[str], environment: dict[str, str], **kwargs: Any) -> None:
    """Runs a PostgreSQL tool; its first error line (object names, never row values) becomes
    ours."""
    result = subprocess.run(  # noqa: S603 (a fixed tool found on PATH, no shell)
        command, env=environment, stderr=subprocess.PIPE, text=True, check=False, **kwargs
    )
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
        reason = (errors or result.stderr.splitlines() or ["no message"])[0]
        raise BackupRefused(f"{Path(command[0]).name} failed: {reason.strip()}")


def _query(connection: Connection) -> Any:
    def run(sql: str) -> Sequence[Sequence[Any]]:
        return connection.exec_driver_sql(sql).all()

    return run


def _unreachable(url: str) -> BackupRefused:
    return BackupRefused(
        f"cannot connect to the database {make_url(url).database!r}: check the URL and that the "
        "database exists (a restore needs it created, empty)"
    )


def dump(url: str, target: Path) -> Facts:
    """``pg_dump --format=custom`` into ``target`` (a new file, mode 0600); the dump's facts."""
    pg_dump = _tool("pg_dump")
    conninfo, environment = _connection(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            snapshot_reader = connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            with snapshot_reader.begin():
                snapshot = snapshot_reader.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
                facts = read_facts(_query(snapshot_reader))
                # The snapshot lives as long as this transaction: pg_dump runs inside it.
                with create_private_file(target) as output:
                    _run(
                        [
                            pg_dump,
                            "--format=custom",
                            "--no-owner",
                            "--no-privileges",
                            f"--snapshot={snapshot}",
                            f"--dbname={conninfo}",
                        ],
                        environment,
                        stdout=output,
                    )
        return facts
    except OperationalError:
        raise _unreachable(url) from None
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    """The tables of the target database's default schema."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    except OperationalError:
        raise _unreachable(url) from None
    finally:
        engine.dispose()


def load(source: Path, url: str) -> None:
    """``pg_restore`` into the existing, empty target database, in one transaction."""
    pg_restore = _tool("pg_restore")
    conninfo, environment = _connection(url)
    _run(
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={conninfo}",
            str(source),
        ],
        environment,
        stdout=subprocess.DEVNULL,
    )
