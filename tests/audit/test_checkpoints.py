"""Signed checkpoints: what a partner keeps outside our database catches what the database
alone cannot (a superuser who drops the triggers and rewrites the log, head row included)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text

from app.audit.chain import Event, append
from app.audit.checkpoint import (
    BadCheckpoint,
    Checkpoint,
    Signer,
    VerifierKey,
    checkpoint_now,
    ensure_signing_key,
    open_note,
    session_info,
    verified_text,
    verify_log,
)
from app.audit.models import AuditCheckpoint
from app.db import make_engine, make_sessionmaker, unit_of_work

ORIGIN = "cenomed.test/audit"


def _event(n: int) -> Event:
    return Event(action="read_case", outcome="allowed", actor_id=n, case_id=uuid.UUID(int=n))


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate(), ORIGIN)


def test_a_note_verifies_with_its_key_and_with_no_other(signer: Signer) -> None:
    at = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    note = signer.sign(Checkpoint(ORIGIN, 42, bytes(range(32)), at))
    lines = note.splitlines()
    assert lines[:4] == [
        ORIGIN,
        "42",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "time 2026-11-26T09:30:00Z",
    ]
    assert lines[4] == ""
    assert lines[5].startswith(f"\u2014 {ORIGIN} ")
    # The exported key round-trips, and opens the note.
    verifier = VerifierKey.decode(signer.verifier.encode())
    assert open_note(note, verifier) == Checkpoint(ORIGIN, 42, bytes(range(32)), at)
    stranger = Signer(Ed25519PrivateKey.generate(), ORIGIN).verifier
    with pytest.raises(BadCheckpoint, match="signature"):
        open_note(note, stranger)
    with pytest.raises(BadCheckpoint, match="signature"):
        open_note(note.replace("\n42\n", "\n43\n"), verifier)
    with pytest.raises(BadCheckpoint, match="not a signed checkpoint"):
        open_note("garbage", verifier)
    with pytest.raises(BadCheckpoint, match="verifier key"):
        VerifierKey.decode("not+a+key")


def test_the_reference_signed_note_of_the_go_implementation() -> None:
    """golang.org/x/mod/sumdb/note's own test vector: same key id, same signature bytes."""
    vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    seed = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
    text = (
        "If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n"
    )
    note = (
        text + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2"
        "pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    )
    verifier = VerifierKey.decode(vkey)
    assert verifier.encode() == vkey
    assert verified_text(note, verifier) == text
    signer = Signer(Ed25519PrivateKey.from_private_bytes(seed), "PeterNeumann")
    assert signer.sign_text(text) == note


@pytest.fixture
def sessions(database_url: str, signer: Signer) -> Iterator[Any]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine, info=session_info(signer, every=4))
    engine.dispose()


def test_a_checkpoint_is_signed_every_n_events_in_the_appending_transaction(
    sessions: Any, signer: Signer
) -> None:
    for n in range(1, 10):
        with unit_of_work(sessions) as session:
            append(session, _event(n))

    def append_then_fail() -> None:
        with unit_of_work(sessions) as session:
            for n in range(10, 13):
                append(session, _event(n))
            raise RuntimeError("rolled back: its checkpoint (of 12 events) must go with it")

    with pytest.raises(RuntimeError):
        append_then_fail()
    with unit_of_work(sessions) as session:
        sizes = session.scalars(select(AuditCheckpoint.size).order_by(AuditCheckpoint.size)).all()
        assert sizes == [4, 8]
        assert checkpoint_now(session, signer) == checkpoint_now(session, signer)
        verdict = verify_log(session, signer.verifier)
    assert (verdict.valid, verdict.events, verdict.checkpoints) == (True, 9, 3)


def _rewrite_history(session: Any, engine_name: str, events: int) -> None:
    """What a superuser could do: drop the protections, empty the log and its stored
    checkpoints, and append another history with valid hashes."""
    for table in ("audit_event", "audit_checkpoint"):
        if engine_name == "postgresql":
            session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            session.execute(text(f"DROP TRIGGER {table}_no_delete"))
        session.execute(text(f"DELETE FROM {table}"))
    session.execute(text("UPDATE audit_head SET seq = 0, hash = :zero"), {"zero": bytes(32)})
    for n in range(events):
        append(session, replace(_event(n + 100), detail="forged"))


def _cenomed(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("rewrite", "first_bad", "problem"),
    [
        ("rewritten", 5, "rewritten"),
        ("truncated", 4, "truncated"),
    ],
)
def test_a_partners_checkpoint_catches_a_rewritten_or_truncated_log(
    database_url: str, tmp_path: Path, engine_name: str, rewrite: str, first_bad: int, problem: str
) -> None:
    env = os.environ | {"CENOMED_DATA_DIR": str(tmp_path), "CENOMED_DATABASE_URL": database_url}
    ensure_signing_key(tmp_path / "keys" / "audit-signing-key.pem")
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with unit_of_work(sessions) as session:
        for n in range(1, 6):
            append(session, _event(n))

    # A partner (the parquet) takes the checkpoint and the public key away.
    note = _cenomed(env, "audit", "checkpoint")
    key = _cenomed(env, "audit", "export-key")
    assert note.returncode == 0, note.stderr
    assert key.returncode == 0, key.stderr
    (tmp_path / "parquet.checkpoint").write_text(note.stdout)
    (tmp_path / "log.vkey").write_text(key.stdout)
    partner = ["--checkpoint", str(tmp_path / "parquet.checkpoint")]
    partner += ["--public-key", str(tmp_path / "log.vkey")]
    intact = _cenomed(env, "audit", "verify", *partner)
    assert intact.returncode == 0, intact.stderr
    # Six events now: the checkpoint command itself is logged.
    assert json.loads(intact.stdout) | {"head_hash": ""} == {
        "valid": True,
        "events": 6,
        "head_hash": "",
        "first_bad_seq": None,
        "problem": None,
        "checkpoints": 2,
    }

    with unit_of_work(sessions) as session:
        _rewrite_history(session, engine_name, 5 if rewrite == "rewritten" else 3)
        assert session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 0
    engine.dispose()

    # The database alone cannot tell: the forged chain is consistent...
    alone = _cenomed(env, "audit", "verify")
    assert alone.returncode == 0, alone.stderr
    # ...but the partner's signed checkpoint can.
    caught = _cenomed(env, "audit", "verify", *partner)
    assert caught.returncode == 1
    verdict = json.loads(caught.stdout)
    assert verdict["valid"] is False
    assert verdict["first_bad_seq"] == first_bad
    assert problem in verdict["problem"]
    assert f"event {first_bad}" in caught.stderr


def test_a_forged_checkpoint_is_refused(database_url: str, tmp_path: Path) -> None:
    env = os.environ | {"CENOMED_DATA_DIR": str(tmp_path), "CENOMED_DATABASE_URL": database_url}
    ensure_signing_key(tmp_path / "keys" / "audit-signing-key.pem")
    forger = Signer(Ed25519PrivateKey.generate(), "cenomed.local/audit")
    forged = forger.sign(Checkpoint("cenomed.local/audit", 1, bytes(32), datetime.now(UTC)))
    (tmp_path / "forged").write_text(forged)
    refused = _cenomed(env, "audit", "verify", "--checkpoint", str(tmp_path / "forged"))
    assert refused.returncode == 1
    assert "forged: its signature does not verify" in refused.stderr


def test_two_signed_checkpoints_of_one_size_that_disagree_prove_a_fork(
    sessions: Any, signer: Signer
) -> None:
    with unit_of_work(sessions) as session:
        for n in range(1, 4):
            append(session, _event(n))
        genuine = checkpoint_now(session, signer)
    other = signer.sign(Checkpoint(ORIGIN, 3, bytes(32), datetime.now(UTC)))
    with unit_of_work(sessions) as session:
        assert verify_log(session, signer.verifier, [("genuine", genuine)]).valid
        forked = verify_log(session, signer.verifier, [("other", other), ("genuine", genuine)])
    assert not forked.valid
    assert forked.first_bad_seq == 3
    assert "other" in (forked.problem or "")


def test_no_checkpoint_is_signed_over_a_broken_log(
    sessions: Any, signer: Signer, engine_name: str
) -> None:
    with unit_of_work(sessions) as session:
        for n in range(1, 4):
            append(session, _event(n))
    with unit_of_work(sessions) as session:
        if engine_name == "postgresql":
            session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        else:
            session.execute(text("DROP TRIGGER audit_event_no_delete"))
        session.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    with (
        pytest.raises(BadCheckpoint, match="fails verification"),
        unit_of_work(sessions) as session,
    ):
        checkpoint_now(session, signer)
