"""The witness's key, its remembered checkpoint, and the add-checkpoint rules, without HTTP.

Pinned to C2SP tlog-witness @5ba5ee83 (HEAD, 2026-07): 404 for an unknown origin (v1.0.0's
litewitness test said 403), 422 for equal sizes with different roots (v1.0.0 said 409), the
explicit size-zero rules. Cosignatures are cosignature/v1 with Ed25519 (the issue asks for
Ed25519; the spec's SHOULD for ML-DSA-44 is not taken).

State directory: ``witness.key`` (mode 0600) holds ``PRIVATE+KEY+<name>+<key id>+base64(0x04
|| Ed25519 seed)``, the shape of Go's note signer keys, so the name and key cannot drift
apart; ``state.json`` holds the latest cosigned checkpoint, replaced atomically (temporary
file, fsync, rename) under one lock, taken both across threads and across processes.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.audit import merkle, note
from app.audit.note import COSIGNATURE_V1, Cosigner, VerifierKey
from app.keyfiles import check_private_file, write_private_file

KEY_FILE = "witness.key"
STATE_FILE = "state.json"
LOCK_FILE = "lock"
MAX_PROOF_LINES = 63
MAX_REQUEST_BYTES = 64 * 1024  # 63 proof lines and a checkpoint with 100 signatures fit
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_OLD = re.compile(r"old (0|[1-9][0-9]*)")
log = logging.getLogger("cenomed.witness")


class WitnessKeyError(ValueError):
    """A state directory without a usable witness key."""


def init(state: Path, name: str) -> VerifierKey:
    """Creates the witness's key in ``state`` (never over an existing one) and returns its
    cosignature verifier key, which the partner gives to the log's operator."""
    private = Ed25519PrivateKey.generate()
    key = Cosigner(name, private).verifier  # checks the name
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    seed = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    line = f"PRIVATE+KEY+{key.name}+{key.key_id.hex()}+"
    line += base64.b64encode(bytes([COSIGNATURE_V1]) + seed).decode() + "\n"
    path = state / KEY_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise WitnessKeyError(f"{path} already exists; it is not replaced") from None
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return key


def load_cosigner(state: Path) -> Cosigner:
    path = state / KEY_FILE
    if not path.exists():
        raise WitnessKeyError(f"no witness key at {path}: run 'cenomed witness init' first")
    check_private_file(path)
    text = path.read_text(encoding="ascii").strip()
    parts = text.split("+", 4)  # the base64 key may hold '+' too
    try:
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise ValueError
        raw = base64.b64decode(parts[4], validate=True)
        if len(raw) != 33 or raw[0] != COSIGNATURE_V1:
            raise ValueError
        cosigner = Cosigner(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
    except (ValueError, binascii.Error):
        raise WitnessKeyError(f"{path} is not a witness key") from None
    if cosigner.verifier.key_id.hex() != parts[3]:
        raise WitnessKeyError(f"{path}: its key id does not match its key")
    return cosigner


@dataclass(frozen=True)
class Latest:
    """The latest checkpoint the witness cosigned (size 0 and the empty root before any)."""

    size: int
    root_hash: bytes
    checkpoint: str = ""


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


def _refuse(status: int, reason: str) -> Answer:
    return Answer(status, reason + "\n")


@dataclass(frozen=True)
class Request:
    old: int
    proof: tuple[bytes, ...]
    note: str


def parse_request(body: bytes) -> Request:
    """The old size, the proof and the checkpoint note; raises ``ValueError`` (a 400)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8") from None
    head, separator, signed = text.partition("\n\n")
    if not separator:
        raise ValueError("no empty line before the checkpoint")
    lines = head.split("\n")
    match = _OLD.fullmatch(lines[0])
    if match is None:
        raise ValueError("the first line is not 'old <size>'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise ValueError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            hash = base64.b64decode(line, validate=True)
        except (ValueError, binascii.Error):
            raise ValueError("a consistency proof line is not base64") from None
        if len(hash) != merkle.HASH_SIZE:
            raise ValueError("a consistency proof line is not a 32-byte hash")
        proof.append(hash)
    return Request(int(match.group(1)), tuple(proof), signed)


class Witness:
    """One log's witness: its key, the log's key and origin, the latest cosigned checkpoint."""

    def __init__(
        self,
        state: Path,
        log_key: VerifierKey,
        origin: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if log_key.key_type == COSIGNATURE_V1:
            raise WitnessKeyError("the log's key signs checkpoints; a cosignature key does not")
        self.state = state
        self.cosigner = load_cosigner(state)
        self.log_key = log_key
        self.origin = origin or log_key.name
        self._clock = clock
        self._lock = threading.Lock()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time, in this process and in any other serving the same state."""
        with self._lock, open(self.state / LOCK_FILE, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def latest(self) -> Latest:
        path = self.state / STATE_FILE
        if not path.exists():
            return Latest(0, merkle.EMPTY_ROOT)
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored["origin"] != self.origin:
            raise WitnessKeyError(f"{path} is the state of another log ({stored['origin']})")
        return Latest(stored["size"], base64.b64decode(stored["root_hash"]), stored["checkpoint"])

    def _persist(self, checkpoint: note.Checkpoint, signed: str, at: int) -> None:
        record = {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root_hash": base64.b64encode(checkpoint.root_hash).decode(),
            "checkpoint": signed,
            "cosigned_at": at,
        }
        write_private_file(self.state / STATE_FILE, json.dumps(record, indent=1).encode())

    def add_checkpoint(self, body: bytes) -> Answer:
        """The C2SP add-checkpoint call: the checks in the spec's order, then the state is
        persisted before the cosignature is returned (a crash in between loses an answer,
        never lets a smaller checkpoint through)."""
        if len(body) > MAX_REQUEST_BYTES:
            return _refuse(413, "request too large")
        try:
            request = parse_request(body)
            parsed = note.parse_note(request.note)
            checkpoint = note.parse_checkpoint(parsed.text)
        except ValueError as error:
            return _refuse(400, f"malformed request: {error}")
        if checkpoint.origin != self.origin:
            return _refuse(404, "unknown log")
        try:
            note.open_note(request.note, [self.log_key])
        except note.NoteError as error:
            return _refuse(403, f"invalid signature: {error}")
        if request.old > checkpoint.size:
            return _refuse(400, "old size is larger than the checkpoint's")
        with self._locked():
            latest = self.latest()
            if request.old != latest.size:
                return Answer(409, f"{latest.size}\n", SIZE_CONTENT_TYPE)
            problem = _inconsistency(request, checkpoint, latest)
            if problem:
                # A signed checkpoint that does not extend the last one is evidence against the
                # log (C2SP: the witness MAY log it): its text goes to the log, whole.
                log.warning(
                    "refused a signed checkpoint of size %s from %s (cosigned: %s): %s\n%s",
                    checkpoint.size,
                    request.old,
                    latest.size,
                    problem,
                    request.note,
                )
                return _refuse(422, problem)
            at = max(1, int(self._clock()))
            self._persist(checkpoint, request.note, at)
        log.info("cosigned size %s (was %s)", checkpoint.size, latest.size)
        return Answer(200, self.cosigner.cosignature_line(parsed.text, at))


def _inconsistency(request: Request, checkpoint: note.Checkpoint, latest: Latest) -> str:
    """Why the checkpoint does not extend the latest one (empty if it does)."""
    if checkpoint.size == 0 and checkpoint.root_hash != merkle.EMPTY_ROOT:
        return "an empty tree has the empty root"
    if request.old == 0:
        return "old size 0 takes no consistency proof" if request.proof else ""
    if request.old == checkpoint.size and checkpoint.root_hash != latest.root_hash:
        return "same size, different root hash"
    try:
        merkle.verify_consistency(
            request.old, checkpoint.size, latest.root_hash, checkpoint.root_hash, request.proof
        )
    except merkle.InvalidProof as error:
        return f"consistency proof does not verify: {error}"
    return ""
