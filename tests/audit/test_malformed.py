"""Malformed rows, as an attacker with the database could write them: the verifier never crashes
and never blames the database; it says where and what ("invalid at seq N: <what>"), the same
from ``chain.verify``, from ``cenomed audit verify`` (JSON on stdout, exit 1) and from
``GET /audit/verification``. The readers of the log answer too, showing an event they cannot
read as a placeholder at its place, and only the events up to the head.

SQLite's columns are dynamically typed, so there the attacker can also store text, integers or
bytes that are not UTF-8 where the schema says bytes or text; PostgreSQL's column types refuse
those (its cases are skipped there, with the reason), but not a short hash, a body that is not
JSON or an instant that is not a date.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.audit.chain import verify
from app.audit.checkpoint import load_signer, verify_log
from tests.audit.log import head
from tests.conftest import World
from tests.scenario import FIRST_NAME, LAST_NAME, submit
from tests.web.browser import signed_in

# Changes the row at a seq, on an engine ("sqlite" or "postgresql").
Mutation = Callable[[Session, int, str], None]
SQLITE_ONLY = "PostgreSQL's column types refuse this value"


def _unprotect(session: Session, engine_name: str) -> None:
    """What a superuser could do before editing the log."""
    if engine_name == "postgresql":
        session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
    else:
        session.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))


def _protect(session: Session, engine_name: str) -> None:
    if engine_name == "postgresql":
        session.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))


def _set(assignment: str) -> Mutation:
    """An UPDATE of the row at the target seq, in SQL (``:seq`` is the target)."""

    def run(session: Session, seq: int, _engine_name: str) -> None:
        session.execute(text(f"UPDATE audit_event SET {assignment} WHERE seq = :seq"), {"seq": seq})

    return run


def _stored(session: Session, column: str, seq: int) -> bytes:
    query = text(f"SELECT {column} FROM audit_event WHERE seq = :seq")
    return bytes(session.scalar(query, {"seq": seq}))


def _set_bytes(column: str, change: Callable[[bytes], bytes]) -> Mutation:
    def run(session: Session, seq: int, _engine_name: str) -> None:
        value = _stored(session, column, seq)
        session.execute(
            text(f"UPDATE audit_event SET {column} = :value WHERE seq = :seq"),
            {"value": change(value), "seq": seq},
        )

    return run


def _rewrite_body(change: Callable[[dict[str, Any]], bytes]) -> Mutation:
    """A careful attacker: the body is replaced and its hash recomputed."""

    def run(session: Session, seq: int, _engine_name: str) -> None:
        forged = change(json.loads(_stored(session, "body", seq)))
        session.execute(
            text("UPDATE audit_event SET body = :body, hash = :hash WHERE seq = :seq"),
            {"body": forged, "hash": hashlib.sha256(forged).digest(), "seq": seq},
        )

    return run


def _with(**changes: Any) -> Callable[[dict[str, Any]], bytes]:
    def change(document: dict[str, Any]) -> bytes:
        return json.dumps(document | changes, sort_keys=True, separators=(",", ":")).encode()

    return change


def _without(key: str) -> Callable[[dict[str, Any]], bytes]:
    def change(document: dict[str, Any]) -> bytes:
        document.pop(key)
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()

    return change


def _by_engine(sqlite: Mutation, postgresql: Mutation) -> Mutation:
    def run(session: Session, seq: int, engine_name: str) -> None:
        (postgresql if engine_name == "postgresql" else sqlite)(session, seq, engine_name)

    return run


@dataclass(frozen=True)
class Malformation:
    mutate: Mutation
    words: tuple[str, ...]  # what the problem must say
    unreadable: bool  # whether the readers show a placeholder for it
    sqlite_only: bool = False
    listed: bool = True  # whether the row stays listed at its seq


NAME = LAST_NAME.encode()  # junk that names someone: it must never be echoed
MALFORMATIONS = {
    # The body, with its hash recomputed (so the hash matches and the body itself is read).
    "body-not-json": Malformation(_rewrite_body(lambda _: b"\xff" + NAME), ("body", "JSON"), True),
    "body-not-an-object": Malformation(_rewrite_body(lambda _: b"[1,2]"), ("body", "object"), True),
    "body-lacks-a-key": Malformation(_rewrite_body(_without("blocks")), ("body", "blocks"), True),
    "body-seq-as-text": Malformation(_rewrite_body(_with(seq="3")), ("body", "seq"), True),
    "body-actor-not-an-object": Malformation(
        _rewrite_body(_with(actor=LAST_NAME)), ("body", "actor"), True
    ),
    "body-at-unparsable": Malformation(_rewrite_body(_with(at=LAST_NAME)), ("body", "at"), True),
    "body-stored-as-text": Malformation(
        _set("body = CAST(body AS TEXT)"), ("body", "text", "not bytes"), True, sqlite_only=True
    ),
    "body-an-integer": Malformation(
        _set("body = 12"), ("body", "integer", "not bytes"), True, sqlite_only=True
    ),
    # The hashes.
    "hash-of-31-bytes": Malformation(_set_bytes("hash", lambda h: h[:31]), ("hash", "31"), True),
    "hash-stored-as-text": Malformation(
        _set("hash = hex(hash)"), ("hash", "text", "not bytes"), True, sqlite_only=True
    ),
    "prev_hash-of-31-bytes": Malformation(
        _set_bytes("prev_hash", lambda h: h[:31]), ("prev_hash", "31"), False
    ),
    "prev_hash-text-not-utf8": Malformation(
        _set("prev_hash = CAST(x'ff00' AS TEXT)"),
        ("prev_hash", "text", "not bytes"),
        False,
        sqlite_only=True,
    ),
    "prev_hash-an-integer": Malformation(
        _set("prev_hash = 7"), ("prev_hash", "integer"), False, sqlite_only=True
    ),
    # The columns that repeat the body.
    "seq-not-an-integer": Malformation(
        _set("seq = seq - 0.5"), ("seq", "integer"), False, sqlite_only=True, listed=False
    ),
    "at-not-an-instant": Malformation(
        _by_engine(_set(f"at = '{LAST_NAME}'"), _set("at = 'infinity'")),
        ("columns", "at"),
        False,
    ),
    "action-not-utf8": Malformation(
        _set("action = CAST(x'ff' AS TEXT)"), ("columns", "action"), False, sqlite_only=True
    ),
    "case_id-junk": Malformation(
        _set(f"case_id = '{LAST_NAME}'"), ("columns", "case_id"), False, sqlite_only=True
    ),
    "case_id-null": Malformation(_set("case_id = NULL"), ("columns", "case_id"), False),
    "actor_id-null": Malformation(_set("actor_id = NULL"), ("columns", "actor_id"), False),
}


def _cenomed(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "CENOMED_DATA_DIR": str(world.settings.data_dir),
        "CENOMED_DATABASE_URL": world.settings.database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _all_events(world: World) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = world.as_("auditor").get(
            "/audit/events", params={"limit": 100} | ({"cursor": cursor} if cursor else {})
        )
        assert response.status_code == 200, response.text
        assert LAST_NAME not in response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def _a_case_event(world: World) -> tuple[str, int]:
    """A case and the seq of its submission's event (an actor, a case: every column set)."""
    case_id = submit(world)
    with world.db() as session:
        seq = session.scalar(text("SELECT max(seq) FROM audit_event WHERE action = 'submit_case'"))
    return case_id, int(seq)


def _no_name(*texts: str | None) -> None:
    for value in texts:
        assert LAST_NAME not in (value or "")
        assert FIRST_NAME not in (value or "")


def _the_verdict_everywhere(world: World, first_bad: int, words: tuple[str, ...]) -> None:
    """The same verdict from the function, the command and the API."""
    with world.db() as session:
        verdict = verify_log(session, load_signer(world.settings).verifier)
    assert (verdict.valid, verdict.first_bad_seq) == (False, first_bad), verdict
    assert all(word in (verdict.problem or "") for word in words), verdict.problem
    _no_name(verdict.problem)

    command = _cenomed(world, "audit", "verify")
    assert command.returncode == 1, command.stderr
    said = json.loads(command.stdout)
    assert (said["valid"], said["first_bad_seq"], said["problem"]) == (
        False,
        first_bad,
        verdict.problem,
    )
    assert f"at event {first_bad}: " in command.stderr
    assert "Traceback" not in command.stderr
    assert "database" not in command.stderr
    _no_name(command.stdout, command.stderr)

    response = world.as_("auditor").get("/audit/verification")
    assert response.status_code == 200, response.text
    answered = response.json()
    assert (answered["valid"], answered["first_bad_seq"], answered["problem"]) == (
        False,
        first_bad,
        verdict.problem,
    )
    _no_name(response.text)


@pytest.mark.parametrize("name", list(MALFORMATIONS))
def test_a_malformed_row_is_a_verdict_never_a_crash(
    world: World, engine_name: str, name: str
) -> None:
    malformation = MALFORMATIONS[name]
    if malformation.sqlite_only and engine_name == "postgresql":
        pytest.skip(SQLITE_ONLY)
    _, target = _a_case_event(world)
    with world.db() as session:
        _unprotect(session, engine_name)
        malformation.mutate(session, target, engine_name)
        _protect(session, engine_name)
    with world.db() as session:
        assert verify(session).first_bad_seq == target

    _the_verdict_everywhere(world, target, malformation.words)

    last = head(world)
    listed = {item["seq"]: item for item in _all_events(world)}
    assert last in listed  # the reads go on (and are logged)
    if not malformation.listed:
        assert target not in listed
    elif malformation.unreadable:
        assert listed[target]["unreadable"]
        assert listed[target]["hash"] is None
    else:
        assert listed[target]["unreadable"] is None
        assert listed[target]["action"] == "submit_case"


def test_a_junk_row_beyond_the_head_is_a_verdict_and_is_not_listed(
    world: World, engine_name: str
) -> None:
    case_id, _ = _a_case_event(world)
    junk = head(world) + 50  # far enough for the appends of this test to stay below it
    with world.db() as session:
        session.execute(
            text(
                "INSERT INTO audit_event (seq, at, actor_id, action, case_id, outcome, severity,"
                " body, prev_hash, hash) VALUES (:seq, :at, NULL, 'read_case', NULL, 'allowed',"
                " 'info', :body, :zero, :zero)"
            ),
            {"seq": junk, "at": "2026-11-26 09:30:00", "body": NAME, "zero": bytes(32)},
        )

    _the_verdict_everywhere(world, junk, ("outside the chain", f"seq {junk}"))

    last = head(world)
    listed = [item["seq"] for item in _all_events(world)]
    assert junk not in listed
    assert listed[-1] == last  # the events up to the head, and not beyond
    access = world.as_("coordinator").get(f"/cases/{case_id}/access-log")
    assert access.status_code == 200, access.text


def _restore_head(world: World) -> None:
    """A head row again (PostgreSQL's test database is emptied and reused, not re-created)."""
    with world.db() as session:
        session.execute(text("DELETE FROM audit_head"))
        session.execute(
            text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :zero)"), {"zero": bytes(32)}
        )


@pytest.mark.parametrize(
    ("change", "words", "sqlite_only"),
    [
        ("DELETE FROM audit_head", ("head", "missing"), False),
        ("UPDATE audit_head SET hash = substr(hash, 1, 31)", ("head", "hash"), False),
        ("UPDATE audit_head SET hash = 'abc'", ("head", "hash"), True),
        ("UPDATE audit_head SET seq = 'abc'", ("head", "seq"), True),
    ],
)
def test_a_malformed_head_is_a_verdict(
    world: World,
    engine_name: str,
    request: pytest.FixtureRequest,
    change: str,
    words: tuple[str, ...],
    sqlite_only: bool,
) -> None:
    """The command only: the service cannot append (so cannot log a read) without its head."""
    if sqlite_only and engine_name == "postgresql":
        pytest.skip(SQLITE_ONLY)
    events = head(world)
    with world.db() as session:
        session.execute(text(change))
    request.addfinalizer(lambda: _restore_head(world))
    with world.db() as session:
        verdict = verify_log(session, load_signer(world.settings).verifier)
    assert (verdict.valid, verdict.events, verdict.first_bad_seq) == (False, events, events + 1)
    assert all(word in (verdict.problem or "") for word in words), verdict.problem

    command = _cenomed(world, "audit", "verify")
    assert command.returncode == 1, command.stderr
    assert json.loads(command.stdout)["problem"] == verdict.problem
    assert "Traceback" not in command.stderr
    assert "database" not in command.stderr


def test_a_malformed_stored_checkpoint_is_a_verdict(world: World, engine_name: str) -> None:
    """A row inserted in audit_checkpoint (its triggers refuse changes, not inserts)."""
    insert = "INSERT INTO audit_checkpoint (size, hash, signed_at, note) VALUES "
    with world.db() as session:
        if engine_name == "postgresql":
            session.execute(
                text(insert + "(2, :hash, 'infinity', :note)"),
                {"hash": bytes(31), "note": LAST_NAME},
            )
        else:
            session.execute(text(insert + f"(2, 'abc', '{LAST_NAME}', CAST(x'ff' AS TEXT))"))
    with world.db() as session:
        verdict = verify_log(session, load_signer(world.settings).verifier)
    assert verdict.valid is False
    assert "stored checkpoint of 2 events" in (verdict.problem or "")
    _no_name(verdict.problem)

    command = _cenomed(world, "audit", "verify")
    assert command.returncode == 1, command.stderr
    assert json.loads(command.stdout)["problem"] == verdict.problem
    assert "Traceback" not in command.stderr
    response = world.as_("auditor").get("/audit/verification")
    assert response.status_code == 200, response.text
    assert response.json()["problem"] == verdict.problem


@pytest.mark.parametrize("name", ["body-not-json", "hash-of-31-bytes", "body-stored-as-text"])
def test_every_reader_shows_an_unreadable_event_at_its_place(
    world: World, engine_name: str, name: str
) -> None:
    malformation = MALFORMATIONS[name]
    if malformation.sqlite_only and engine_name == "postgresql":
        pytest.skip(SQLITE_ONLY)
    case_id, target = _a_case_event(world)
    with world.db() as session:
        _unprotect(session, engine_name)
        malformation.mutate(session, target, engine_name)
        if engine_name == "sqlite" and name == "body-stored-as-text":
            # Text whose bytes are not UTF-8: SQLite's driver refuses to decode it.
            session.execute(
                text("UPDATE audit_event SET body = CAST(x'ff' || body AS TEXT) WHERE seq = :s"),
                {"s": target},
            )
        _protect(session, engine_name)

    def placeholder(items: list[dict[str, Any]]) -> dict[str, Any]:
        [item] = [i for i in items if i["seq"] == target]
        assert item["unreadable"]
        assert (item["action"], item["case_id"], item["hash"]) == (None, None, None)
        return item

    placeholder(_all_events(world))
    access = world.as_("coordinator").get(f"/cases/{case_id}/access-log")
    assert access.status_code == 200, access.text
    placeholder(access.json()["items"])
    as_csv = world.as_("auditor").get("/audit/events", params={"format": "csv", "limit": 100})
    assert as_csv.status_code == 200, as_csv.text
    export = world.as_("coordinator").get(f"/cases/{case_id}/subject-access-export")
    assert export.status_code == 200, export.text
    # The export lists the case's events by its case_id column, which the placeholder's row
    # still holds; the placeholder itself names no case.
    placeholder(export.json()["access_log"])

    auditor = signed_in(world, "auditor")
    for url in ("/audit", f"/audit/dossiers/{case_id}", "/audit/verification"):
        page = auditor.get(url)
        assert page.status_code == 200, (url, page.text)
        _no_name(page.text)
    assert "illisible" in auditor.get("/audit").text
