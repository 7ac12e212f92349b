"""The witness's add-checkpoint rules without HTTP: torchwood's litewitness sequence replayed
with C2SP's status codes, then a log of our own growing, rolled back, forged; a refusal never
changes what the witness remembers."""

from __future__ import annotations

import base64
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.audit import merkle
from app.audit.note import (
    COSIGNATURE_V1,
    NoteSigner,
    VerifierKey,
    open_note,
    parse_checkpoint,
    parse_note,
    verify_cosignature,
)
from app.witness import core
from app.witness.core import SIZE_CONTENT_TYPE, Witness, WitnessKeyError
from tests.tlog.log import TestLog, request
from tests.tlog.vectors import SIGNED_NOTE

SCENARIO = SIGNED_NOTE["witness_add_checkpoint"]
NOW = 1_765_000_000


def _witness(tmp_path: Path, log_key: VerifierKey, name: str = "witness.test/w1") -> Witness:
    core.init(tmp_path, name)
    return Witness(tmp_path, log_key, clock=lambda: NOW)


def _cosigned(witness: Witness, body: bytes) -> int:
    """The time of the cosignature the witness returns for ``body`` (asserting a 200 whose
    line verifies with the witness's published key over the checkpoint's text)."""
    answer = witness.add_checkpoint(body)
    assert (answer.status, answer.body) == (200, answer.body), answer.body
    text = parse_note(body.decode().partition("\n\n")[2]).text
    return verify_cosignature(text, answer.body, witness.cosigner.verifier)


def _state(witness: Witness) -> bytes | None:
    path = witness.state / core.STATE_FILE
    return path.read_bytes() if path.exists() else None


# --- the published sequence --------------------------------------------------------------------


def test_the_litewitness_sequence_gets_c2sp_statuses(tmp_path: Path) -> None:
    log_key = VerifierKey.parse(SCENARIO["log_vkey"])
    witness = _witness(tmp_path, log_key, SCENARIO["witness_name"])
    for step in SCENARIO["requests_in_order"]:
        answer = witness.add_checkpoint(step["request_body"].encode())
        assert answer.status == step["expected_status_per_c2sp_HEAD"], step
        if answer.status == 200:
            assert answer.body.startswith(f"— {SCENARIO['witness_name']} ")
            text = parse_note(step["request_body"].partition("\n\n")[2]).text
            assert verify_cosignature(text, answer.body, witness.cosigner.verifier) == NOW
            assert witness.latest().size == step["checkpoint_size"]
            root = SCENARIO["roots_hex"][str(step["checkpoint_size"])]
            assert witness.latest().root_hash.hex() == root
        if answer.status == 409:
            assert answer.body == step["response_body_if_409"]
            assert answer.content_type == SIZE_CONTENT_TYPE
    assert witness.latest().size == 5


def test_the_sequence_differs_from_litewitness_only_on_the_unknown_origin() -> None:
    """Pinned to C2SP HEAD: the one request whose status differs is the unknown log (404)."""
    differing = [
        step["checkpoint_origin"][-4:]
        for step in SCENARIO["requests_in_order"]
        if step["expected_status_in_source"] != step["expected_status_per_c2sp_HEAD"]
    ]
    assert differing == ["e563"]


# --- the key -----------------------------------------------------------------------------------


def test_init_writes_an_owner_only_key_and_returns_its_cosignature_key(tmp_path: Path) -> None:
    key = core.init(tmp_path / "w", "witness.test/w1")
    path = tmp_path / "w" / core.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (key.name, key.key_type) == ("witness.test/w1", COSIGNATURE_V1)
    assert VerifierKey.parse(key.encode()) == key
    assert core.load_cosigner(tmp_path / "w").verifier == key


def test_init_never_replaces_a_key(tmp_path: Path) -> None:
    first = core.init(tmp_path, "witness.test/w1")
    before = (tmp_path / core.KEY_FILE).read_bytes()
    with pytest.raises(WitnessKeyError, match="already exists"):
        core.init(tmp_path, "witness.test/w1")
    assert (tmp_path / core.KEY_FILE).read_bytes() == before
    assert core.load_cosigner(tmp_path).verifier == first


@pytest.mark.parametrize("name", ["", "two words", "a+b"])
def test_init_refuses_a_name_a_verifier_key_cannot_carry(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="key name"):
        core.init(tmp_path, name)
    assert not (tmp_path / core.KEY_FILE).exists()


def test_a_readable_or_altered_key_file_is_refused(tmp_path: Path) -> None:
    core.init(tmp_path, "witness.test/w1")
    path = tmp_path / core.KEY_FILE
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError):
        core.load_cosigner(tmp_path)
    os.chmod(path, 0o600)
    path.write_text(path.read_text().replace("witness.test/w1", "witness.test/w2"))
    with pytest.raises(WitnessKeyError, match="key id"):
        core.load_cosigner(tmp_path)
    with pytest.raises(WitnessKeyError, match="witness init"):
        core.load_cosigner(tmp_path / "elsewhere")


def test_a_cosignature_key_is_not_taken_for_the_logs(tmp_path: Path) -> None:
    key = core.init(tmp_path, "witness.test/w1")
    with pytest.raises(WitnessKeyError):
        Witness(tmp_path, key)


# --- our own log -------------------------------------------------------------------------------


def test_a_growing_log_is_cosigned_at_every_step_and_remembered(tmp_path: Path) -> None:
    log = TestLog(leaves=3)
    witness = _witness(tmp_path, log.signer.verifier)
    assert _cosigned(witness, request(0, [], log.checkpoint(3))) == NOW
    for old, new in [(3, 7), (7, 8), (8, 8), (8, 21)]:
        log.add(new - log.tree.size)
        _cosigned(witness, request(old, log.proof(old, new), log.checkpoint(new)))
        assert witness.latest().size == new
    again = Witness(tmp_path, log.signer.verifier)  # a restart reads the persisted state
    assert again.latest().size == 21
    assert again.latest().root_hash == log.tree.root(21)
    assert parse_checkpoint(parse_note(again.latest().checkpoint).text).size == 21
    assert stat.S_IMODE((tmp_path / core.STATE_FILE).stat().st_mode) == 0o600


def test_the_empty_tree_is_cosigned_with_its_empty_root_only(tmp_path: Path) -> None:
    log = TestLog()
    witness = _witness(tmp_path, log.signer.verifier)
    answer = witness.add_checkpoint(request(0, [], log.checkpoint(0, root=bytes(32))))
    assert answer.status == 422
    assert _state(witness) is None
    _cosigned(witness, request(0, [], log.checkpoint(0)))
    assert witness.latest().root_hash == merkle.EMPTY_ROOT


def _refused(witness: Witness, body: bytes, status: int) -> core.Answer:
    """Asserts the status and that the witness's state file did not change."""
    before = _state(witness)
    answer = witness.add_checkpoint(body)
    assert answer.status == status, answer.body
    assert _state(witness) == before
    return answer


@pytest.fixture
def at_seven(tmp_path: Path) -> tuple[TestLog, Witness]:
    log = TestLog(leaves=7)
    witness = _witness(tmp_path, log.signer.verifier)
    _cosigned(witness, request(0, [], log.checkpoint(7)))
    return log, witness


def test_a_rolled_back_log_is_refused(at_seven: tuple[TestLog, Witness]) -> None:
    log, witness = at_seven
    # The log forgot two events and presents its checkpoint of 5 as a fresh start.
    answer = _refused(witness, request(5, [], log.checkpoint(5)), 409)
    assert (answer.body, answer.content_type) == ("7\n", SIZE_CONTENT_TYPE)
    _refused(witness, request(0, [], log.checkpoint(5)), 409)
    # Or it claims the old size and offers a smaller tree.
    _refused(witness, request(7, [], log.checkpoint(5)), 400)


def test_a_forged_event_is_refused_with_any_proof(
    at_seven: tuple[TestLog, Witness], caplog: pytest.LogCaptureFixture
) -> None:
    log, witness = at_seven
    log.add(3)
    forged = TestLog(leaves=0)
    forged.tree.extend([b"event 0", b"event 1", b"forged", *(b"x%d" % i for i in range(7))])
    # Signed by the real log key (the operator holds it), consistent only with itself.
    checkpoint = log.checkpoint(10, root=forged.tree.root(10))
    with caplog.at_level("WARNING", logger="cenomed.witness"):
        _refused(witness, request(7, forged.proof(7, 10), checkpoint), 422)
    # The signed forgery is kept in the witness's log: evidence against the log's operator.
    assert checkpoint in caplog.text
    _refused(witness, request(7, log.proof(7, 10), checkpoint), 422)
    _refused(witness, request(7, [], log.checkpoint(7, root=forged.tree.root(7))), 422)
    _cosigned(witness, request(7, log.proof(7, 10), log.checkpoint(10)))


def test_a_proof_from_the_empty_tree_is_refused(tmp_path: Path) -> None:
    log = TestLog(leaves=4)
    witness = _witness(tmp_path, log.signer.verifier)
    _refused(witness, request(0, log.proof(2, 4), log.checkpoint(4)), 422)


def test_signatures_other_than_the_logs_are_refused(at_seven: tuple[TestLog, Witness]) -> None:
    log, witness = at_seven
    log.add(1)
    proof = log.proof(7, 8)
    impostor = NoteSigner(log.origin, Ed25519PrivateKey.generate())  # same name, another key
    answer = _refused(witness, request(7, proof, impostor.sign(log.body(8))), 403)
    assert answer.body.startswith("invalid signature")
    good = log.checkpoint(8)
    line = good.splitlines()[-1]
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[-1] ^= 1
    corrupted = good.replace(line, f"— {log.origin} {base64.b64encode(raw).decode()}")
    _refused(witness, request(7, proof, corrupted), 403)
    # A valid log signature next to a bad one of the same key: the note is refused whole.
    _refused(witness, request(7, proof, good + corrupted.splitlines()[-1] + "\n"), 403)
    other = TestLog(origin="elsewhere.test/log", leaves=8)
    _refused(witness, request(7, other.proof(7, 8), other.checkpoint(8)), 404)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 7\n",  # no checkpoint
        b"old 07\n\n",
        b"old -1\n\n",
        b"new 7\n\n",
        b"old 7\nnot base64!\n\n",
        b"old 7\nAAAA\n\n",  # not 32 bytes
        b"old 7\n" + b"A" * 43 + b"=\n" * 64 + b"\n",
        b"old 7\n\nno checkpoint here\n",
        b"\xff\xfe",
    ],
    ids=lambda b: repr(b[:16]),
)
def test_malformed_requests_get_400(at_seven: tuple[TestLog, Witness], body: bytes) -> None:
    log, witness = at_seven
    if body.endswith(b"\n\n"):
        body += log.checkpoint(7).encode()
    _refused(witness, body, 400)


def test_a_malformed_checkpoint_gets_400(at_seven: tuple[TestLog, Witness]) -> None:
    log, witness = at_seven
    signed = log.signer.sign(f"{log.origin}\n07\n{base64.b64encode(log.tree.root(7)).decode()}\n")
    _refused(witness, request(7, [], signed), 400)


def test_a_request_too_large_gets_413(at_seven: tuple[TestLog, Witness]) -> None:
    log, witness = at_seven
    _refused(witness, request(7, [], log.checkpoint(7)) + b"x" * core.MAX_REQUEST_BYTES, 413)


def test_concurrent_extensions_of_one_size_get_one_cosignature(
    at_seven: tuple[TestLog, Witness],
) -> None:
    """Checking the old size and persisting are one step: of two requests from 7, one wins and
    the other learns the new size (no rollback as in the spec's race)."""
    log, witness = at_seven
    log.add(6)
    bodies = [request(7, log.proof(7, new), log.checkpoint(new)) for new in (9, 13)]
    answers: list[Any] = [None, None]
    start = threading.Barrier(2)

    def submit(which: int) -> None:
        start.wait()
        answers[which] = witness.add_checkpoint(bodies[which])

    threads = [threading.Thread(target=submit, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [200, 409]
    winner = 9 if answers[0].status == 200 else 13
    assert witness.latest().size == winner
    loser = answers[1] if winner == 9 else answers[0]
    assert loser.body == f"{winner}\n"


def test_the_cosignature_opens_with_the_checkpoint_as_a_client_does(
    at_seven: tuple[TestLog, Witness],
) -> None:
    """C2SP: a client may append the answer to the checkpoint and open it with both keys."""
    log, witness = at_seven
    log.add(2)
    checkpoint = log.checkpoint(9)
    answer = witness.add_checkpoint(request(7, log.proof(7, 9), checkpoint))
    opened = open_note(checkpoint + answer.body, [log.signer.verifier, witness.cosigner.verifier])
    assert [s.name for s in opened.verified] == [log.origin, "witness.test/w1"]
