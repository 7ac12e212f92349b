"""Test fixtures: a real database built by the migrations, on SQLite or PostgreSQL.

Set ``CENOMED_TEST_DATABASE_URL`` to a PostgreSQL server's database URL to run the suite there:
a fresh database is created next to it for the session and dropped afterwards. Without it, the
suite runs on SQLite files. Each test starts from an empty, migrated schema.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from json import dumps as json_dumps
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from app import migrate
from app.audit.checkpoint import ensure_signing_key
from app.auth import ensure_local_keys, issue_local_token
from app.config import Settings
from app.crypto.keyring import LocalKeyringProvider
from app.crypto.vault import Vault
from app.db import Base, make_engine, make_sessionmaker, unit_of_work
from app.directory import service as directory
from app.main import create_app
from app.principal import Principal
from app.vocabulary import CellKind, Organisation, Role

POSTGRES_URL = os.environ.get("CENOMED_TEST_DATABASE_URL", "")
APPEND_ONLY = ("audit_event", "audit_checkpoint")


def _admin_url(url: URL) -> URL:
    return url.set(database="postgres")


@pytest.fixture(scope="session")
def engine_name() -> str:
    return "postgresql" if POSTGRES_URL else "sqlite"


@pytest.fixture(scope="session")
def new_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A factory of empty databases (URLs) on the engine under test, all dropped at the end."""
    created: list[URL] = []

    def make() -> str:
        if not POSTGRES_URL:
            path = tmp_path_factory.mktemp("db") / "cenomed.db"
            return f"sqlite:///{path}"
        url = make_url(POSTGRES_URL).set(database=f"cenomed_test_{uuid.uuid4().hex[:12]}")
        admin = create_engine(_admin_url(url), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
        created.append(url)
        return url.render_as_string(hide_password=False)

    yield make
    for url in created:
        admin = create_engine(_admin_url(url), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_template(new_database: Any) -> str:
    """One database migrated to head with Alembic, as every test's starting point."""
    url: str = new_database()
    migrate.upgrade(url)
    return url


def copy_sqlite_template(migrated_template: str, directory: Path) -> str:
    """A copy of the migrated SQLite template in ``directory``: an empty database of one's own."""
    source = Path(make_url(migrated_template).database or "")
    target = directory / "cenomed.db"
    shutil.copyfile(source, target)
    return f"sqlite:///{target}"


def empty_postgres_database(url: str) -> None:
    """Empties a migrated PostgreSQL database (every table, the audit chain's head reset)."""
    engine = make_engine(url)
    with engine.begin() as connection:
        # The audit log refuses TRUNCATE (as it should); the test harness, as superuser,
        # switches its triggers off for the reset, then resets the chain's head.
        names = [t.name for t in Base.metadata.sorted_tables if t.name != "audit_head"]
        tables = ", ".join(f'"{name}"' for name in names)
        for table in APPEND_ONLY:
            connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        for table in APPEND_ONLY:
            connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        connection.execute(text("UPDATE audit_head SET seq = 0, hash = :zero"), {"zero": bytes(32)})
    engine.dispose()


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> Iterator[str]:
    if not POSTGRES_URL:
        yield copy_sqlite_template(migrated_template, tmp_path)
        return
    yield migrated_template
    empty_postgres_database(migrated_template)


def make_settings(directory: Path, database_url: str) -> Settings:
    """Settings on ``database_url`` with a fresh data dir (keys, keyring) in ``directory``."""
    data_dir = directory / "data"
    data_dir.mkdir(mode=0o700)
    settings = Settings(data_dir=data_dir, database_url=database_url)
    ensure_local_keys(settings.keys_dir)
    ensure_signing_key(settings.audit_signing_key_path)
    LocalKeyringProvider.create(settings.local_keyring_path)
    return settings


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def db(settings: Settings) -> Iterator[Any]:
    """Opens a committed unit of work on the test database: ``with db() as session: ...``."""
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)
    yield lambda: unit_of_work(factory)
    engine.dispose()


@dataclass
class Cell:
    id: int
    kind: CellKind


@dataclass
class World:
    """Two cells and one account per role; ``as_(username)`` gives an authenticated client."""

    client: TestClient
    settings: Settings
    db: Any
    cell: Cell
    other_cell: Cell
    users: dict[str, int] = field(default_factory=dict)

    @property
    def vault(self) -> Vault:
        vault: Vault = self.client.app.state.vault  # type: ignore[attr-defined]
        return vault

    def token(self, username: str, ttl: int | None = None) -> str:
        return issue_local_token(self.settings, username, ttl)

    def as_(self, username: str) -> Actor:
        return Actor(self.client, {"Authorization": f"Bearer {self.token(username)}"})

    def add_user(
        self,
        username: str,
        role: Role,
        organisation: Organisation | None = None,
        cells: list[int] | None = None,
        *,
        accept_charter: bool = True,
    ) -> int:
        with self.db() as session:
            user = directory.create_user(
                session,
                username=username,
                role=role,
                organisation=organisation,
                cell_ids=cells if cells is not None else [self.cell.id],
            )
            self.users[username] = user.id
        if accept_charter:
            self.accept_charter(username)
        return self.users[username]

    def principal(self, username: str) -> Principal:
        with self.db() as session:
            principal = directory.load_principal(
                session, username, charter_version=self.settings.charter_version
            )
        assert principal is not None
        return principal

    def accept_charter(self, username: str) -> None:
        version = self.settings.charter_version
        with self.db() as session:
            directory.accept_charter(
                session,
                principal=self.principal(username),
                version=version,
                current_version=version,
            )


@dataclass
class Actor:
    client: TestClient
    headers: dict[str, str]

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get("/api/v1" + url, headers=self.headers, **kwargs)

    def post(self, url: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.post("/api/v1" + url, json=json, headers=self.headers, **kwargs)

    def put(self, url: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.put("/api/v1" + url, json=json, headers=self.headers, **kwargs)

    def patch(self, url: str, body: Any) -> Any:
        """A JSON Merge Patch (RFC 7396), with its media type."""
        headers = {**self.headers, "Content-Type": "application/merge-patch+json"}
        return self.client.patch("/api/v1" + url, content=json_dumps(body), headers=headers)


def _cell(session: Session, name: str, kind: CellKind, arrondissement: int) -> Cell:
    cell = directory.create_cell(session, name=name, kind=kind, arrondissement=arrondissement)
    return Cell(cell.id, kind)


def make_world(client: TestClient, settings: Settings, db: Any) -> World:
    """The two cells and the accounts of the ``world`` fixture, on an empty database."""
    with db() as session:
        cell = _cell(session, "CENOMED 18e", CellKind.CENOMED, 18)
        other = _cell(session, "CENOMED 19e", CellKind.CENOMED, 19)
    w = World(client, settings, db, cell, other)
    w.add_user("coordinator", Role.COORDINATOR)
    w.add_user("parquet", Role.PARQUET)
    w.add_user("police", Role.MEMBER, Organisation.POLICE)
    w.add_user("teacher", Role.MEMBER, Organisation.EDUCATION)
    w.add_user("cst", Role.CST)
    w.add_user("coordinator-19", Role.COORDINATOR, cells=[other.id])
    w.add_user("parquet-19", Role.PARQUET, cells=[other.id])
    w.add_user("auditor", Role.AUDITOR, cells=[])
    w.add_user("admin", Role.ADMIN, cells=[])
    return w


@pytest.fixture
def world(app_client: TestClient, settings: Settings, db: Any) -> World:
    return make_world(app_client, settings, db)
