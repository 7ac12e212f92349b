"""``cenomed backup`` and ``cenomed restore``, run as the operator runs them, on real databases.

One world of cases at every step is backed up once (module fixture); each test restores it
into a fresh data dir and a fresh database, or damages a copy of it, and checks what the
service then reads, what the audit log says, and that a refusal changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, make_url, select

from app import migrate
from app.audit.checkpoint import checkpoint_now, ensure_signing_key, load_signer
from app.audit.models import AuditEvent, AuditHead
from app.auth import issue_local_token
from app.cases.models import Case
from app.clock import today
from app.config import Settings
from app.crypto.keyring import Keyring
from app.crypto.models import CaseKey
from app.db import make_engine, make_sessionmaker, unit_of_work
from app.main import create_app
from app.retention.service import purge
from tests.conftest import POSTGRES_URL, World, copy_sqlite_template, make_settings, make_world
from tests.scenario import (
    FIRST_NAME,
    LAST_NAME,
    case_body,
    meeting,
    ok,
    submit,
    to_cell_review,
    to_oriented,
    to_research,
)

NOTE = "Connue du service de prévention (note fictive)."
# Who reads every case before the backup and after the restore: the roles that see most.
READERS = ("coordinator", "parquet", "police", "cst", "coordinator-19")
KEY_FILES = ["audit-signing-key.pem", "keyring.json", "token-signing-key.pem"]


def cenomed(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cli_env(data_dir: Path, url: str) -> dict[str, str]:
    return os.environ | {"CENOMED_DATA_DIR": str(data_dir), "CENOMED_DATABASE_URL": url}


def refused(result: subprocess.CompletedProcess[str], reason: str) -> None:
    """Exit 1, nothing on stdout, one line on stderr that says ``reason``."""
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert reason in result.stderr
    assert "Traceback" not in result.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@dataclass
class Saved:
    """The backed-up world: where it lives, what its backup is, what was read before."""

    settings: Settings
    env: dict[str, str]
    backup: Path
    keys: Path
    summary: dict[str, Any]
    stdout: str
    reads: dict[str, Any]
    case_ids: list[str]
    meeting_ids: list[str]
    readable_cases: int
    cell_id: int


def _seed(world: World, sessions: Any) -> tuple[list[str], list[str]]:
    """Cases at every step of the procedure, one destroyed, one in another cell; meetings."""
    coordinator = world.as_("coordinator")
    destroyed = submit(world)
    ok(coordinator.post(f"/cases/{destroyed}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{destroyed}/parquet-decision", {"retained": False}))
    assert purge(sessions, world.vault, as_of=today() + timedelta(days=100)).purged == 1
    submitted = submit(world)
    in_review = submit(world)
    ok(coordinator.post(f"/cases/{in_review}/parquet-referral"))
    not_retained = submit(world, by="teacher")
    ok(coordinator.post(f"/cases/{not_retained}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{not_retained}/parquet-decision", {"retained": False}))
    research = to_research(world)
    ok(world.as_("police").post(f"/cases/{research}/research-notes", {"content": NOTE}))
    cell_review = to_cell_review(world)
    with_feedback, oriented_to = to_oriented(world, "social_services", "crip")
    informed = {"informed_on": today().isoformat(), "means": "letter", "outcome": "informed"}
    ok(coordinator.post(f"/cases/{with_feedback}/family-information", informed))
    social = oriented_to["social_services"]
    ok(coordinator.post(f"/cases/{with_feedback}/orientations/{social}/transmission"))
    ok(
        world.as_("cst").post(
            f"/cases/{with_feedback}/orientations/{social}/feedback",
            {"outcome": "support_in_place"},
        )
    )
    closed = to_cell_review(world)
    ok(coordinator.post(f"/cases/{closed}/review-decision", {"decision": "no_action"}))
    ok(
        coordinator.post(
            f"/cases/{closed}/archive-access",
            {"reason": "Relire le dossier avant la cellule (fictif)."},
        )
    )
    elsewhere = ok(
        world.as_("coordinator-19").post(
            "/cases", case_body(world.other_cell.id, received_via="email")
        )
    )
    cases = [
        destroyed,
        submitted,
        in_review,
        not_retained,
        research,
        cell_review,
        with_feedback,
        closed,
        str(elsewhere["id"]),
    ]
    return cases, [meeting(world)]


def _read_everything(
    client: TestClient, settings: Settings, case_ids: list[str], meeting_ids: list[str]
) -> dict[str, Any]:
    """Every case, the lists and the meetings as each reader gets them (status and body)."""
    reads: dict[str, Any] = {}
    for username in READERS:
        headers = {"Authorization": f"Bearer {issue_local_token(settings, username)}"}
        urls = [
            *(f"/cases/{case_id}" for case_id in case_ids),
            *(f"/meetings/{meeting_id}" for meeting_id in meeting_ids),
            "/cases?limit=100",
        ]
        for url in urls:
            response = client.get("/api/v1" + url, headers=headers)
            reads[f"{username} {url}"] = (response.status_code, response.json())
    return reads


@pytest.fixture(scope="module")
def saved(
    new_database: Any, migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Saved]:
    directory = tmp_path_factory.mktemp("backup-source")
    if POSTGRES_URL:
        url: str = new_database()
        migrate.upgrade(url)
    else:
        url = copy_sqlite_template(migrated_template, directory)
    settings = make_settings(directory, url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            world = make_world(client, settings, lambda: unit_of_work(sessions))
            case_ids, meeting_ids = _seed(world, sessions)
            with world.db() as session:  # a signed checkpoint, for the restore to verify
                checkpoint_now(session, load_signer(settings))
            reads = _read_everything(client, settings, case_ids, meeting_ids)
        statuses = {status for status, _ in reads.values()}
        assert {200, 403, 404, 410} <= statuses  # the readers meet every kind of answer
        env = cli_env(settings.data_dir, url)
        media = tmp_path_factory.mktemp("media")
        result = cenomed(env, "backup", str(media / "backup"), "--keys-to", str(media / "keys"))
        assert result.returncode == 0, result.stderr
        yield Saved(
            settings=settings,
            env=env,
            backup=media / "backup",
            keys=media / "keys",
            summary=json.loads(result.stdout),
            stdout=result.stdout,
            reads=reads,
            case_ids=case_ids,
            meeting_ids=meeting_ids,
            readable_cases=len(case_ids) - 1,
            cell_id=world.cell.id,
        )
    finally:
        engine.dispose()


def _target(new_database: Any, tmp_path: Path) -> tuple[Settings, dict[str, str]]:
    """A fresh data dir (not created yet) and a fresh, empty database."""
    url: str = new_database()
    data_dir = tmp_path / "restored"
    return Settings(data_dir=data_dir, database_url=url), cli_env(data_dir, url)


def _tables(url: str) -> set[str]:
    if not POSTGRES_URL:
        path = Path(make_url(url).database or "")
        if not path.exists():  # never created by looking
            return set()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _events(url: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            bodies = connection.scalars(select(AuditEvent.body).order_by(AuditEvent.seq)).all()
    finally:
        engine.dispose()
    return [json.loads(body) for body in bodies]


def _state(url: str) -> tuple[int, bytes, int]:
    """The audit head and the number of cases: what any change would move."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            head = connection.execute(select(AuditHead.seq, AuditHead.hash)).one()
            cases = connection.scalar(select(func.count()).select_from(Case))
    finally:
        engine.dispose()
    return int(head[0]), bytes(head[1]), int(cases or 0)


def _backup_texts(backup: Path) -> list[bytes]:
    """Every file of the backup as bytes; a PostgreSQL dump (compressed) also as its SQL."""
    texts = [path.read_bytes() for path in backup.iterdir()]
    dump = backup / "database.dump"
    if dump.exists():
        pg_restore = shutil.which("pg_restore")
        assert pg_restore is not None
        texts.append(
            subprocess.run(
                [pg_restore, "--file=-", str(dump)], capture_output=True, check=True
            ).stdout
        )
    return texts


# --- the backup --------------------------------------------------------------------------------


def test_the_backup_holds_the_database_and_its_manifest(saved: Saved) -> None:
    kind = "postgresql" if POSTGRES_URL else "sqlite"
    database_file = {"sqlite": "database.sqlite", "postgresql": "database.dump"}[kind]
    assert sorted(p.name for p in saved.backup.iterdir()) == [database_file, "manifest.json"]
    assert mode(saved.backup) == 0o700
    assert all(mode(path) == 0o600 for path in saved.backup.iterdir())
    manifest = json.loads((saved.backup / "manifest.json").read_text())
    url = saved.settings.database_url
    head = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
    assert manifest["format_version"] == 1
    assert manifest["created_at"].endswith("Z")
    assert manifest["database_kind"] == kind
    assert manifest["database_file"] == database_file
    assert manifest["alembic_revision"] == head
    assert manifest["cases"] == len(saved.case_ids)
    digest = hashlib.sha256((saved.backup / database_file).read_bytes()).hexdigest()
    assert manifest["sha256"] == digest
    # The manifest's head is an event of the live log, and the backup's own event is in it.
    events = _events(url)
    seq = manifest["audit_head"]["seq"]
    engine = make_engine(url)
    with engine.connect() as connection:
        held = connection.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))
    engine.dispose()
    assert held is not None
    assert bytes(held).hex() == manifest["audit_head"]["hash"]
    made = [e for e in events if e["action"] == "backup" and e["seq"] <= seq]
    assert [(e["actor"]["role"], e["severity"], e["detail"]) for e in made] == [
        ("operator", "high", "database+keys")
    ]
    # The summary says the same, one line of JSON.
    assert saved.stdout.count("\n") == 1
    for name in ("sha256", "alembic_revision", "audit_head", "cases", "database_kind"):
        assert saved.summary[name] == manifest[name]
    assert saved.summary["keys_copied"] == sorted(path.name for path in saved.keys.iterdir())


def test_the_keys_go_apart_and_the_backup_holds_no_secret(saved: Saved) -> None:
    settings = saved.settings
    assert mode(saved.keys) == 0o700
    copied = {path.name: path for path in saved.keys.iterdir()}
    assert set(KEY_FILES) <= set(copied)
    for name, path in copied.items():
        assert mode(path) == 0o600
        original = (
            settings.audit_signing_key_path
            if name == "audit-signing-key.pem"
            else settings.keys_dir / name
        )
        assert path.read_bytes() == original.read_bytes()
    ring = Keyring.from_json(settings.local_keyring_path.read_text())
    secrets = [*ring.keks.values(), ring.index_key]
    secrets += [base64.b64encode(secret) for secret in list(secrets)]
    for name in ("audit-signing-key.pem", "token-signing-key.pem"):
        pem = (settings.keys_dir / name).read_text()
        secrets.append("".join(pem.splitlines()[1:-1]).encode())  # the key's base64 body
    invented = [LAST_NAME, FIRST_NAME, NOTE, "rue Imaginaire", "Collège Fictif", "0100000000"]
    texts = _backup_texts(saved.backup) + [saved.stdout.encode()]
    assert len(texts) >= 2
    for text in texts:
        assert not any(secret in text for secret in secrets), "key material in the backup"
        for value in invented:
            assert value.encode() not in text, "a nominative value in clear in the backup"
            assert json.dumps(value)[1:-1].encode() not in text


def test_backup_refuses_a_directory_that_holds_something(saved: Saved, tmp_path: Path) -> None:
    dest = tmp_path / "used"
    dest.mkdir()
    (dest / "old.txt").write_text("x")
    before = _state(saved.settings.database_url)
    refused(cenomed(saved.env, "backup", str(dest)), "is not empty")
    assert [p.name for p in dest.iterdir()] == ["old.txt"]
    assert _state(saved.settings.database_url) == before


@pytest.mark.parametrize("where", ["dest", "inside", "around"])
def test_backup_refuses_keys_in_or_around_the_backup(
    saved: Saved, tmp_path: Path, where: str
) -> None:
    dest = tmp_path / "media" / "backup"
    keys = {"dest": dest, "inside": dest / "keys", "around": tmp_path / "media"}[where]
    before = _state(saved.settings.database_url)
    result = cenomed(saved.env, "backup", str(dest), "--keys-to", str(keys))
    refused(result, "different medium")
    assert not dest.exists()
    assert not (dest / "keys").exists()
    assert _state(saved.settings.database_url) == before  # not even the backup's event


# --- the restore -------------------------------------------------------------------------------


def test_a_restore_reads_every_case_as_before_and_the_log_verifies(
    saved: Saved, new_database: Any, tmp_path: Path
) -> None:
    target, env = _target(new_database, tmp_path)
    result = cenomed(env, "restore", str(saved.backup), "--keys-from", str(saved.keys))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    manifest = json.loads((saved.backup / "manifest.json").read_text())
    assert report["cases"] == len(saved.case_ids)
    assert report["data_keys_checked"] == saved.readable_cases
    assert report["audit_events_verified"] == manifest["audit_head"]["seq"]
    assert report["migrated_from"] is None
    assert report["checkpoints_verified"] == 1
    assert set(KEY_FILES) <= set(report["keys_copied"])
    assert mode(target.data_dir) == 0o700
    assert mode(target.keys_dir) == 0o700
    assert all(mode(path) == 0o600 for path in target.keys_dir.iterdir())
    if not POSTGRES_URL:
        assert mode(Path(make_url(target.database_url).database or "")) == 0o600

    with TestClient(create_app(target), raise_server_exceptions=False) as client:
        reads = _read_everything(client, target, saved.case_ids, saved.meeting_ids)
    assert reads.keys() == saved.reads.keys()
    for key, read in saved.reads.items():
        assert reads[key] == read, key

    verified = cenomed(env, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["valid"] is True
    events = _events(target.database_url)
    restored = [e for e in events if e["action"] == "restore"]
    assert len(restored) == 1
    assert restored[0]["seq"] == manifest["audit_head"]["seq"] + 1
    assert restored[0]["detail"] == f"backup-head:{manifest['audit_head']['seq']}"
    assert (restored[0]["actor"]["role"], restored[0]["severity"]) == ("operator", "high")


def _flip_a_byte(backup: Path) -> None:
    database = next(p for p in backup.iterdir() if p.name.startswith("database."))
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0x01
    database.write_bytes(bytes(data))


def _edit_manifest(backup: Path, **changes: Any) -> None:
    path = backup / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | changes))


DAMAGES = {
    "altered dump": (_flip_a_byte, "SHA-256"),
    "no manifest": (lambda b: (b / "manifest.json").unlink(), "manifest.json is missing"),
    "unreadable manifest": (
        lambda b: (b / "manifest.json").write_text("{not json"),
        "manifest.json is unreadable",
    ),
    "oversized manifest": (
        lambda b: (b / "manifest.json").write_text(
            (b / "manifest.json").read_text() + " " * 70_000
        ),
        "larger than 65536 bytes",
    ),
    "manifest is a pipe": (
        lambda b: ((b / "manifest.json").unlink(), os.mkfifo(b / "manifest.json")),
        "not a regular file",
    ),
    "other database kind": (
        lambda b: _edit_manifest(
            b,
            database_kind="sqlite" if POSTGRES_URL else "postgresql",
            database_file="database.sqlite" if POSTGRES_URL else "database.dump",
        ),
        "restore it into a",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_backup_is_refused_and_nothing_changes(
    saved: Saved, new_database: Any, tmp_path: Path, damage: str
) -> None:
    backup = tmp_path / "copy"
    shutil.copytree(saved.backup, backup)
    alter, reason = DAMAGES[damage]
    alter(backup)
    target, env = _target(new_database, tmp_path)
    refused(cenomed(env, "restore", str(backup), "--keys-from", str(saved.keys)), reason)
    assert not target.data_dir.exists()
    assert _tables(target.database_url) == set()


def test_an_oversized_key_file_is_refused_before_anything_is_restored(
    saved: Saved, new_database: Any, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    shutil.copytree(saved.keys, keys)
    with (keys / "keyring.json").open("r+b") as keyring:
        keyring.truncate(2 << 20)  # two MiB (NULs after the JSON): no keyring is that large
    target, env = _target(new_database, tmp_path)
    result = cenomed(env, "restore", str(saved.backup), "--keys-from", str(keys))
    refused(result, "larger than")
    assert "--keys-from" in result.stderr
    assert not target.data_dir.exists()
    assert _tables(target.database_url) == set()


def _cenomed_in(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_relative_paths_are_taken_from_the_working_directory(
    saved: Saved, new_database: Any, tmp_path: Path
) -> None:
    """DEST, SRC, --keys-to and --keys-from may be relative, even with '..' beyond the root
    (where it stays at '/', as the kernel does and SQLite alone does not)."""
    work = tmp_path / "work"
    work.mkdir()
    beyond_the_root = "../" * (len(work.parts) + 2)
    dest = beyond_the_root + str((tmp_path / "media" / "backup").relative_to("/"))
    made = _cenomed_in(work, saved.env, "backup", dest, "--keys-to", "../keys")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["backup"] == str(tmp_path / "media" / "backup")
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == sorted(
        p.name for p in saved.keys.iterdir()
    )
    target, env = _target(new_database, tmp_path)
    restored = _cenomed_in(tmp_path / "media", env, "restore", "backup", "--keys-from", "../keys")
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["cases"] == json.loads(made.stdout)["cases"]


def test_a_restore_never_overwrites_a_database(saved: Saved) -> None:
    url = saved.settings.database_url
    before = _state(url)
    keys_before = {p.name: p.read_bytes() for p in saved.settings.keys_dir.iterdir()}
    result = cenomed(saved.env, "restore", str(saved.backup), "--keys-from", str(saved.keys))
    refused(result, "already holds")
    assert _state(url) == before
    assert {p.name: p.read_bytes() for p in saved.settings.keys_dir.iterdir()} == keys_before


def test_a_restore_never_replaces_a_different_key(
    saved: Saved, new_database: Any, tmp_path: Path
) -> None:
    url: str = new_database()
    target = make_settings(tmp_path, url)  # a data dir with keys of its own
    keyring = target.local_keyring_path.read_bytes()
    env = cli_env(target.data_dir, url)
    refused(cenomed(env, "restore", str(saved.backup), "--keys-from", str(saved.keys)), "differs")
    assert target.local_keyring_path.read_bytes() == keyring
    assert _tables(url) == set()


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        ("none", "no keyring at"),
        ("others", "data keys cannot be unwrapped with the configured keyring"),
        ("another audit key", "its signature does not verify"),
    ],
)
def test_a_restore_without_its_keys_fails_the_key_check(
    saved: Saved, new_database: Any, tmp_path: Path, keys: str, reason: str
) -> None:
    args = ["restore", str(saved.backup)]
    if keys == "others":  # a data dir with keys of its own
        target = make_settings(tmp_path, new_database())
        env = cli_env(target.data_dir, target.database_url)
    else:
        target, env = _target(new_database, tmp_path)
    if keys == "another audit key":  # the right keyring, another deployment's signing key
        copy = tmp_path / "keys"
        shutil.copytree(saved.keys, copy)
        (copy / "audit-signing-key.pem").unlink()
        ensure_signing_key(copy / "audit-signing-key.pem")
        args += ["--keys-from", str(copy)]
    result = cenomed(env, *args)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "the key check failed" in result.stderr
    assert reason in result.stderr
    assert "--keys-from" in result.stderr
    assert "left in place for investigation" in result.stderr
    assert json.loads(result.stdout)["audit_events_verified"] > 0  # what was checked
    # The data stays restored, as the message says, and no restore is logged.
    assert _state(target.database_url)[2] == len(saved.case_ids)
    assert not [e for e in _events(target.database_url) if e["action"] == "restore"]
    if keys == "others":
        engine = make_engine(target.database_url)
        with engine.connect() as connection:
            total = connection.scalar(select(func.count()).select_from(CaseKey))
        engine.dispose()
        assert total == saved.readable_cases
        assert f"{total} of {total} data keys" in result.stderr


def test_an_older_backup_is_migrated_to_the_current_schema(
    new_database: Any, tmp_path: Path
) -> None:
    url: str = new_database()
    scripts = ScriptDirectory.from_config(migrate.alembic_config(url))
    head = scripts.get_current_head()
    assert head is not None
    older = scripts.get_revision(head).down_revision
    assert isinstance(older, str)
    migrate.upgrade(url, older)
    (tmp_path / "source").mkdir()
    source = make_settings(tmp_path / "source", url)
    media = tmp_path / "media"
    saved = cenomed(
        cli_env(source.data_dir, url),
        "backup",
        str(media / "backup"),
        "--keys-to",
        str(media / "keys"),
    )
    assert saved.returncode == 0, saved.stderr
    assert json.loads(saved.stdout)["alembic_revision"] == older
    target, env = _target(new_database, tmp_path)
    result = cenomed(env, "restore", str(media / "backup"), "--keys-from", str(media / "keys"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["migrated_from"], report["alembic_revision"]) == (older, head)
    assert cenomed(env, "audit", "verify").returncode == 0


@pytest.mark.skipif(not POSTGRES_URL, reason="pg_dump is PostgreSQL's")
def test_without_pg_dump_on_path_the_backup_says_so(saved: Saved, tmp_path: Path) -> None:
    before = _state(saved.settings.database_url)
    result = cenomed(saved.env | {"PATH": str(tmp_path)}, "backup", str(tmp_path / "backup"))
    refused(result, "pg_dump is not on PATH")
    assert not (tmp_path / "backup").exists()
    assert _state(saved.settings.database_url) == before


def test_a_backup_taken_while_the_service_writes_is_whole(
    saved: Saved, new_database: Any, tmp_path: Path
) -> None:
    """Cases are submitted all along the backup: what is restored is one consistent moment
    (the manifest's count of cases, a chain that verifies up to the manifest's head)."""
    written, stop = [], threading.Event()
    headers = {"Authorization": f"Bearer {issue_local_token(saved.settings, 'police')}"}
    with TestClient(create_app(saved.settings), raise_server_exceptions=False) as client:

        def submit_cases() -> None:
            while not stop.is_set():
                response = client.post(
                    "/api/v1/cases", json=case_body(saved.cell_id), headers=headers
                )
                written.append(response.status_code)

        writer = threading.Thread(target=submit_cases)
        writer.start()
        try:
            result = cenomed(saved.env, "backup", str(tmp_path / "backup"))
        finally:
            stop.set()
            writer.join()
    assert result.returncode == 0, result.stderr
    assert written
    assert set(written) == {201}
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["cases"] > len(saved.case_ids)
    target, env = _target(new_database, tmp_path)
    restored = cenomed(env, "restore", str(tmp_path / "backup"), "--keys-from", str(saved.keys))
    assert restored.returncode == 0, restored.stderr
    report = json.loads(restored.stdout)
    assert report["cases"] == manifest["cases"]
    assert report["data_keys_checked"] == manifest["cases"] - 1  # the one destroyed
    assert report["audit_events_verified"] == manifest["audit_head"]["seq"]
