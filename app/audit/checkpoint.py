"""Signed checkpoints of the audit log, for partners to keep outside our database.

A checkpoint says "the log had N events and its head hash was H at time T", signed with an
Ed25519 key kept apart from the database. Its text follows the C2SP tlog-checkpoint and
signed-note formats (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note), the
"root hash" line carrying our chain's head hash rather than a Merkle root::

    <origin>
    <size>
    <base64 head hash>
    time <RFC 3339 UTC>
    <blank line>
    — <origin> <base64(key id (4 bytes) || Ed25519 signature of the text above the blank line)>

The public key is exported as a signed-note verifier key, ``<origin>+<key id hex>+<base64(0x01
|| public key)>``: one line a partner can store and give back to ``cenomed audit verify``.
Whoever holds a checkpoint and the public key can prove that our log still contains the history
it vouched for: a superuser who drops the triggers and rewrites or truncates the log cannot
produce a matching signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.chain import AFTER_APPEND, Anchor, Verdict, verify
from app.audit.models import AuditCheckpoint, AuditEvent
from app.audit.stored import as_stored, kind, raw
from app.config import Settings
from app.db import utcnow
from app.inputs import KEY_FILE_MAX_BYTES, read_bounded
from app.keyfiles import check_private_file, write_private_file

log = logging.getLogger(__name__)
ED25519_ALGORITHM = b"\x01"  # the signed-note signature type of Ed25519
SIGNATURE_MARK = "\u2014 "  # an em dash and a space open each signature line


class BadCheckpoint(ValueError):
    """A checkpoint that is malformed or whose signature does not verify."""


class NotACheckpoint(BadCheckpoint):
    """Text that does not even have a signed checkpoint's form: a wrong file, not a forgery."""


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        raw = self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(self.name.encode() + b"\n" + ED25519_ALGORITHM + raw).digest()[:4]

    def encode(self) -> str:
        raw = self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        encoded = base64.b64encode(ED25519_ALGORITHM + raw).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def decode(cls, text: str) -> VerifierKey:
        try:
            name, key_id, encoded = text.strip().split("+", 2)
            raw = base64.b64decode(encoded, validate=True)
            if raw[:1] != ED25519_ALGORITHM or len(raw) != 33:
                raise ValueError("not an Ed25519 key")
            verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
        except (ValueError, binascii.Error) as error:
            raise BadCheckpoint(
                "not a verifier key as 'cenomed audit export-key' prints it"
            ) from error
        if verifier.key_id.hex() != key_id:
            raise BadCheckpoint("its key id does not match its key")
        return verifier


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    hash: bytes
    at: datetime

    def text(self) -> str:
        stamp = self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        head = base64.b64encode(self.hash).decode()
        return f"{self.origin}\n{self.size}\n{head}\ntime {stamp}\n"


class Signer:
    """The log's Ed25519 signing key; its file lives with the other keys, never in the database."""

    def __init__(self, key: Ed25519PrivateKey, origin: str) -> None:
        self._key = key
        self.origin = origin

    @classmethod
    def load(cls, path: Path, origin: str) -> Signer:
        check_private_file(path)
        pem = read_bounded(path, limit=KEY_FILE_MAX_BYTES, what="the audit signing key")
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise BadCheckpoint(f"{path.name} is not an Ed25519 private key")
        return cls(key, origin)

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey(self.origin, self._key.public_key())

    def sign(self, checkpoint: Checkpoint) -> str:
        return self.sign_text(checkpoint.text())

    def sign_text(self, text: str) -> str:
        """A signed note: the text, a blank line, and our signature line."""
        signature = self._key.sign(text.encode())
        line = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{text}\n{SIGNATURE_MARK}{self.origin} {line}\n"


def load_signer(settings: Settings) -> Signer:
    path = settings.audit_signing_key_path
    if not path.exists():
        raise RuntimeError(
            f"No audit signing key at {path}: run 'cenomed init' first "
            "(or set CENOMED_AUDIT_SIGNING_KEY_FILE)."
        )
    return Signer.load(path, settings.audit_origin)


def ensure_signing_key(path: Path) -> None:
    """Creates the log's signing key once (readable by its owner only)."""
    if path.exists():
        check_private_file(path)
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private_file(path, pem)


def check_form(note: str) -> None:
    """Raises NotACheckpoint unless ``note`` has a signed checkpoint's form: its text (the
    log's name, a size, the base64 of a 32-byte hash), a blank line, then signature lines.
    Whose signature it is, and whether it verifies, is :func:`open_note`'s to say."""
    text, separator, signatures = note.rpartition("\n\n")
    lines = text.splitlines()
    if not separator or len(lines) < 3:
        raise NotACheckpoint("no checkpoint text and blank line before the signatures")
    try:
        int(lines[1])
        head = base64.b64decode(lines[2], validate=True)
    except (ValueError, binascii.Error):
        head = b""
    if not lines[0] or len(head) != 32:
        raise NotACheckpoint("its first lines are not a log's name, a size and a hash")
    marked = [line for line in signatures.splitlines() if line]
    if not marked or not all(line.startswith(SIGNATURE_MARK) for line in marked):
        raise NotACheckpoint("no signature line after the blank line")


def verified_text(note: str, verifier: VerifierKey) -> str:
    """The text of a signed note that ``verifier`` signed; raises BadCheckpoint otherwise."""
    text, separator, signatures = note.rpartition("\n\n")
    if not separator or not text:
        raise BadCheckpoint("not a signed checkpoint (no blank line before the signatures)")
    text += "\n"
    if not _signed_by(text, signatures, verifier):
        raise BadCheckpoint("its signature does not verify with the log's public key")
    return text


def open_note(note: str, verifier: VerifierKey) -> Checkpoint:
    """The checkpoint a signed note vouches for; raises BadCheckpoint unless it verifies."""
    lines = verified_text(note, verifier).splitlines()
    try:
        origin, size, head = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
        stamps = [line.removeprefix("time ") for line in lines[3:] if line.startswith("time ")]
        at = datetime.fromisoformat(stamps[0]) if stamps else datetime.min.replace(tzinfo=UTC)
    except (IndexError, ValueError, binascii.Error) as error:
        raise BadCheckpoint("its text is not a checkpoint (origin, size, hash)") from error
    if origin != verifier.name or size < 1 or len(head) != 32:
        raise BadCheckpoint("it is a checkpoint of another log, or of no event")
    return Checkpoint(origin, size, head, at)


def _signed_by(text: str, signatures: str, verifier: VerifierKey) -> bool:
    for line in signatures.splitlines():
        if not line.startswith(SIGNATURE_MARK):
            continue
        name, _, encoded = line.removeprefix(SIGNATURE_MARK).partition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error):
            continue
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue
        try:
            verifier.key.verify(raw[4:], text.encode())
        except InvalidSignature:
            return False
        return True
    return False


# --- stored checkpoints ------------------------------------------------------------------------


def checkpoint_now(session: Session, signer: Signer) -> str:
    """Signs and stores a checkpoint of the log as it stands (the same one if nothing changed).

    The whole log is verified first: a key that signs whatever the head says would vouch for
    a forgery as readily as for the real log."""
    verdict = verify_log(session, signer.verifier)
    if not verdict.valid:
        raise BadCheckpoint(
            f"the log fails verification (event {verdict.first_bad_seq}: {verdict.problem}); "
            "no checkpoint is signed over it"
        )
    if verdict.events == 0:
        raise BadCheckpoint("the log is empty: there is nothing to checkpoint yet")
    return _store(session, signer, verdict.events, bytes.fromhex(verdict.head_hash))


def _store(session: Session, signer: Signer, size: int, head: bytes) -> str:
    existing = session.get(AuditCheckpoint, size)
    if existing is not None:
        return existing.note
    now = utcnow()
    note = signer.sign(Checkpoint(signer.origin, size, head, now))
    session.add(AuditCheckpoint(size=size, hash=head, signed_at=now, note=note))
    session.flush()
    return note


def sign_every(signer: Signer, every: int) -> Callable[[Session, int, Sequence[Any]], None]:
    """The after-append hook that signs a checkpoint whenever the log crosses a multiple of
    ``every`` events, in the appending transaction."""

    def hook(session: Session, first_seq: int, rows: Sequence[Any]) -> None:
        for offset, row in enumerate(rows):
            size = first_seq + offset
            if size % every == 0 and _continues_last_checkpoint(session, size):
                _store(session, signer, size, row["hash"])

    return hook


def _continues_last_checkpoint(session: Session, size: int) -> bool:
    """Whether the log still holds the last stored checkpoint's prefix (a cheap look, not a
    verification): a rewritten log gets no fresh signature from the running service."""
    last = session.execute(
        select(AuditCheckpoint.size, AuditCheckpoint.hash)
        .where(AuditCheckpoint.size < size)
        .order_by(AuditCheckpoint.size.desc())
        .limit(1)
    ).one_or_none()
    if last is None:
        return True
    held = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == last[0]))
    if held is not None and bytes(held) == bytes(last[1]):
        return True
    log.error("the audit log no longer holds its checkpoint of %s events: not signing", last[0])
    return False


def session_info(signer: Signer, every: int) -> dict[str, Any]:
    """What a sessionmaker's ``info`` needs for its sessions to sign checkpoints as they append."""
    return {AFTER_APPEND: sign_every(signer, every)}


_STORED = select(
    raw(AuditCheckpoint.size), raw(AuditCheckpoint.hash), raw(AuditCheckpoint.note)
).order_by(AuditCheckpoint.size)


def stored_anchors(session: Session, verifier: VerifierKey) -> tuple[list[Anchor], list[str]]:
    """The stored checkpoints that verify, and a problem for each that does not (its rows read
    as stored, like the events: see ``app.audit.stored``)."""
    anchors, problems = [], []
    with as_stored(session) as connection:
        rows = connection.execute(_STORED).all()
    for size, digest, note in rows:
        if type(size) is not int:
            problems.append(f"a stored checkpoint's size is {kind(size)}, not an integer")
            continue
        place = f"stored checkpoint of {size} events"
        if type(note) is not str or not _is_utf8(note):
            what = "not UTF-8" if type(note) is str else f"{kind(note)}, not text"
            problems.append(f"{place}: its note is {what}")
            continue
        try:
            checkpoint = open_note(note, verifier)
        except BadCheckpoint as error:
            problems.append(f"{place}: {error}")
            continue
        if (checkpoint.size, checkpoint.hash) != (size, digest):
            problems.append(f"{place}: its columns were edited")
            continue
        anchors.append(Anchor(checkpoint.size, checkpoint.hash, "stored"))
    return anchors, problems


def _is_utf8(text: str) -> bool:
    """Whether a stored text was UTF-8 (SQLite's undecodable bytes come as lone surrogates)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def verify_log(
    session: Session, verifier: VerifierKey, notes: Sequence[tuple[str, str]] = ()
) -> Verdict:
    """The whole verdict: the chain, every stored checkpoint, and the ``(source, note)``
    checkpoints a partner kept (each must verify and still be contained in the log)."""
    anchors, problems = stored_anchors(session, verifier)
    for source, note in notes:
        try:
            checkpoint = open_note(note, verifier)
        except BadCheckpoint as error:
            problems.append(f"{source}: {error}")
            continue
        anchors.append(Anchor(checkpoint.size, checkpoint.hash, source))
    verdict = verify(session, anchors=anchors)
    if problems and verdict.valid:
        return replace(verdict, valid=False, problem="; ".join(problems))
    return verdict
