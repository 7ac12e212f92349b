"""The audit chain: appends link up, the database refuses change, and the verifier catches
every edit that gets past it (once the triggers are dropped, as a superuser could)."""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from app.audit.chain import GENESIS, append, verify
from app.audit.models import AuditEvent
from app.db import make_engine, make_sessionmaker, unit_of_work
from bench.audit_bench import sample_event


@pytest.fixture
def log(database_url: str) -> Any:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with unit_of_work(sessions) as session:
        for n in range(1, 6):
            append(session, sample_event(n))
    yield lambda: unit_of_work(sessions)
    engine.dispose()


def _verdict(log: Callable[[], Any]) -> Any:
    with log() as session:
        return verify(session)


def test_events_link_into_a_chain_that_verifies(log: Any) -> None:
    verdict = _verdict(log)
    assert (verdict.valid, verdict.events) == (True, 5)
    with log() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
        assert rows[0].prev_hash == GENESIS
        assert all(b.prev_hash == a.hash for a, b in pairwise(rows))
        assert verdict.head_hash == rows[-1].hash.hex()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET action = 'nothing' WHERE seq = 2",
        "DELETE FROM audit_event WHERE seq = 5",
    ],
)
def test_the_database_refuses_to_change_ansample_event(log: Any, statement: str) -> None:
    with pytest.raises(DatabaseError, match="append-only"), log() as session:
        session.execute(text(statement))
    assert _verdict(log).valid


def test_postgresql_refuses_truncate(log: Any, engine_name: str) -> None:
    if engine_name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; its DELETE trigger covers it")
    with pytest.raises(DatabaseError, match="append-only"), log() as session:
        session.execute(text("TRUNCATE audit_event"))
    assert _verdict(log).events == 5


def _drop_triggers(session: Any, engine_name: str) -> None:
    """What a superuser could do before editing the log."""
    if engine_name == "postgresql":
        session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
    else:
        session.execute(text("DROP TRIGGER audit_event_no_update"))
        session.execute(text("DROP TRIGGER audit_event_no_delete"))


def _edit_bytes(session: Any) -> None:
    body = session.scalar(text("SELECT body FROM audit_event WHERE seq = 3"))
    edited = bytes(body).replace(b"req-3", b"req-9")
    session.execute(text("UPDATE audit_event SET body = :b WHERE seq = 3"), {"b": edited})


def _edit_and_rehash(session: Any) -> None:
    """A careful forger: the edited event's hash is recomputed (its successor still names the
    old one)."""
    body = bytes(session.scalar(text("SELECT body FROM audit_event WHERE seq = 3")))
    edited = body.replace(b"req-3", b"req-9")
    session.execute(
        text("UPDATE audit_event SET body = :b, hash = :h WHERE seq = 3"),
        {"b": edited, "h": hashlib.sha256(edited).digest()},
    )


def _sql(*statements: str) -> Callable[[Any], None]:
    def run(session: Any) -> None:
        for statement in statements:
            session.execute(text(statement))

    return run


EDITS = {
    "edited-bytes": (_edit_bytes, 3, "edited"),
    "edited-column": (_sql("UPDATE audit_event SET action = 'other' WHERE seq = 4"), 4, "columns"),
    "deleted-row": (_sql("DELETE FROM audit_event WHERE seq = 2"), 2, "missing"),
    "truncated-tail": (_sql("DELETE FROM audit_event WHERE seq = 5"), 5, "truncated"),
    "swapped-rows": (
        _sql(
            "UPDATE audit_event SET seq = 100 WHERE seq = 2",
            "UPDATE audit_event SET seq = 2 WHERE seq = 3",
            "UPDATE audit_event SET seq = 3 WHERE seq = 100",
        ),
        2,
        "another position",
    ),
    "edited-and-rehashed": (_edit_and_rehash, 3, "recomputed"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_the_verifier_catches_each_edit_at_its_place(log: Any, engine_name: str, edit: str) -> None:
    mutate, bad_seq, problem = EDITS[edit]
    with log() as session:
        _drop_triggers(session, engine_name)
        mutate(session)
    verdict = _verdict(log)
    assert not verdict.valid
    assert verdict.first_bad_seq == bad_seq
    assert problem in verdict.problem


def _append_many(url: str, count: int) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    for n in range(count):
        with unit_of_work(sessions) as session:
            append(session, sample_event(n + 1))
    engine.dispose()


def test_eight_processes_appending_at_once_leave_a_valid_gap_free_chain(
    log: Any, database_url: str
) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(database_url, 20)) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    verdict = _verdict(log)
    assert (verdict.valid, verdict.events) == (True, 5 + 8 * 20)


def test_a_log_verified_while_others_append_is_never_taken_for_a_broken_one(
    log: Any, database_url: str
) -> None:
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_append_many, args=(database_url, 60)) for _ in range(3)]
    for writer in writers:
        writer.start()
    verdicts = []
    while any(writer.is_alive() for writer in writers):
        verdicts.append(_verdict(log))
    for writer in writers:
        writer.join(timeout=120)
        assert writer.exitcode == 0
    verdicts.append(_verdict(log))
    assert len(verdicts) > 1
    assert [v.problem for v in verdicts if not v.valid] == []
    assert verdicts[-1].events == 5 + 3 * 60
