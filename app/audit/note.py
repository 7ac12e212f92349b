"""C2SP signed notes, checkpoints and cosignatures in general (issue 20), for the log, its
witnesses and whoever checks them with no database.

Formats pinned to C2SP/C2SP @5ba5ee83: ``signed-note`` (v1.0.0 rules), ``tlog-checkpoint``
(v1.0.0) and ``tlog-cosignature`` (cosignature/v1, Ed25519, signature type 0x04). Parsing
follows golang.org/x/mod/sumdb/note's ``Open`` where C2SP leaves room (at most 100 signature
lines, identical lines counted once), because the published vectors come from there.

:mod:`app.audit.checkpoint` keeps the service's own single-key checkpoints of today's chain;
this module is what the Merkle log, the witness and offline verification share.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519: Final = 0x01
ECDSA: Final = 0x02
COSIGNATURE_V1: Final = 0x04
SIGNATURE_MARK: Final = "\u2014 "  # an em dash and a space open each signature line
MAX_SIGNATURES: Final = 100  # Go's limit; C2SP asks verifiers to accept at least 16
COSIGNATURE_HEADER: Final = "cosignature/v1\n"
MAX_TIMESTAMP: Final = 2**63 - 1
_SIZE = re.compile(r"0|[1-9][0-9]*")


class NoteError(ValueError):
    """Whatever makes a note, key or checkpoint unusable; the subclasses say which way."""


class MalformedNote(NoteError):
    """Not a signed note (or checkpoint) at all."""


class BadVerifierKey(NoteError):
    """A verifier key that does not parse, or whose key id does not match its key."""


class UnverifiedNote(NoteError):
    """No signature from a known key: a note nobody we trust vouches for."""


class BadSignature(NoteError):
    """A known key's signature line that fails to verify: a forgery or a corruption."""


def _valid_name(name: str) -> bool:
    """C2SP: non-empty, no Unicode space, no '+' (which separates a verifier key's fields)."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, key_type: int, public: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4], the signed-note rule for Ed25519 and
    cosignature keys (ECDSA keys use another one: see :class:`VerifierKey`)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public).digest()[:4]


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


@dataclass(frozen=True)
class VerifierKey:
    """``<name>+<hex key id>+<base64(type || public key)>``: one line a partner stores."""

    name: str
    key_id: bytes
    key_type: int
    public: bytes

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        name, _, rest = text.strip().partition("+")
        hex_id, _, encoded = rest.partition("+")
        hex_id = hex_id.lower()
        if not _valid_name(name) or not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise BadVerifierKey("not a verifier key (name+key id+base64 key)")
        try:
            raw = _b64(encoded)
        except (ValueError, binascii.Error) as error:
            raise BadVerifierKey("its key is not base64") from error
        if not raw:
            raise BadVerifierKey("it carries no key")
        key_type, public = raw[0], raw[1:]
        if key_type in (ED25519, COSIGNATURE_V1):
            if len(public) != 32:
                raise BadVerifierKey("an Ed25519 key is 32 bytes long")
            expected = key_id(name, key_type, public)
        elif key_type == ECDSA:
            try:
                loaded = serialization.load_der_public_key(public)
            except ValueError as error:
                raise BadVerifierKey("not a DER public key") from error
            if not isinstance(loaded, ec.EllipticCurvePublicKey):
                raise BadVerifierKey("not an ECDSA key")
            expected = hashlib.sha256(public).digest()[:4]
        else:
            raise BadVerifierKey(f"unknown signature type {key_type:#04x}")
        if expected.hex() != hex_id:
            raise BadVerifierKey("its key id does not match its key")
        return cls(name, expected, key_type, public)

    @classmethod
    def for_ed25519(cls, name: str, key: Ed25519PublicKey, key_type: int = ED25519) -> VerifierKey:
        if not _valid_name(name):
            raise BadVerifierKey("a key name is non-empty, without spaces or '+'")
        public = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(name, key_id(name, key_type, public), key_type, public)

    def encode(self) -> str:
        encoded = base64.b64encode(bytes([self.key_type]) + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @property
    def label(self) -> str:
        """``name+hex id``: how errors and reports name the key without its bytes."""
        return f"{self.name}+{self.key_id.hex()}"

    def verify(self, text: str, signature: bytes) -> bool:
        """Whether ``signature`` (after the key id) signs the note ``text`` with this key.

        A cosignature key signs the cosignature/v1 message over the text, which must then be a
        checkpoint; its 8-byte timestamp comes first."""
        try:
            if self.key_type == ED25519:
                Ed25519PublicKey.from_public_bytes(self.public).verify(signature, text.encode())
            elif self.key_type == COSIGNATURE_V1:
                if len(signature) != 72:
                    return False
                stamp = int.from_bytes(signature[:8], "big")
                if stamp > MAX_TIMESTAMP:
                    return False
                Ed25519PublicKey.from_public_bytes(self.public).verify(
                    signature[8:], cosigned_message(text, stamp)
                )
            else:
                loaded = serialization.load_der_public_key(self.public)
                assert isinstance(loaded, ec.EllipticCurvePublicKey)
                loaded.verify(signature, text.encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes  # what follows the key id
    line: str  # the whole line, without its final newline

    @property
    def label(self) -> str:
        return f"{self.name}+{self.key_id.hex()}"


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[Signature, ...]


def parse_note(data: str | bytes) -> Note:
    """Splits a signed note into its text and signature lines; raises :class:`MalformedNote`.

    The text ends at the last blank line; UTF-8 only, no control character but newlines (so
    what is verified is what a reader sees)."""
    try:
        data = data.decode("utf-8") if isinstance(data, bytes) else data
        data.encode("utf-8")  # a str may hold lone surrogates (undecodable stored bytes)
    except UnicodeError as error:
        raise MalformedNote("not UTF-8") from error
    if any(c < " " and c != "\n" for c in data):
        raise MalformedNote("a control character")
    split = data.rfind("\n\n")
    if split < 0:
        raise MalformedNote("no blank line before the signatures")
    text, block = data[: split + 1], data[split + 2 :]
    if not block or not block.endswith("\n"):
        raise MalformedNote("no signature line, or one without its newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"more than {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(SIGNATURE_MARK):
            raise MalformedNote("a line after the blank line is not a signature")
        name, _, encoded = line.removeprefix(SIGNATURE_MARK).partition(" ")
        try:
            raw = _b64(encoded)
        except (ValueError, binascii.Error) as error:
            raise MalformedNote("a signature is not base64") from error
        if not _valid_name(name) or len(raw) < 5:
            raise MalformedNote("a signature line without a key name or a signature")
        signatures.append(Signature(name, raw[:4], raw[4:], line))
    return Note(text, tuple(signatures))


@dataclass(frozen=True)
class Opened:
    """A note whose known keys' signatures all verified."""

    text: str
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]  # from keys we do not know: ignored, kept for reports


def open_note(data: str | bytes, known: list[VerifierKey] | tuple[VerifierKey, ...]) -> Opened:
    """Parses and verifies a note against the keys we trust.

    Unknown keys are ignored (even one sharing a name or an id with a known key, not both); a
    known key's signature that fails raises :class:`BadSignature`; no verified signature at
    all raises :class:`UnverifiedNote` (C2SP signed-note, "Verifying")."""
    note = parse_note(data)
    by_key = {(key.name, key.key_id): key for key in known}
    verified: dict[tuple[str, bytes], Signature] = {}
    unverified: dict[str, Signature] = {}
    for signature in note.signatures:
        key = by_key.get((signature.name, signature.key_id))
        if key is None:
            unverified.setdefault(signature.line, signature)
            continue
        # Every line of a known key is checked, a repeated one too (Go skips repeats): a bad
        # line next to a good one is still a forgery or a corruption (C2SP tlog-witness, 403).
        if not key.verify(note.text, signature.signature):
            raise BadSignature(f"invalid signature for key {key.label}")
        verified.setdefault((key.name, key.key_id), signature)
    if not verified:
        raise UnverifiedNote("no signature from a known key")
    return Opened(note.text, tuple(verified.values()), tuple(unverified.values()))


class NoteSigner:
    """An Ed25519 key that signs notes (the log's checkpoints)."""

    def __init__(self, name: str, key: Ed25519PrivateKey) -> None:
        self.verifier = VerifierKey.for_ed25519(name, key.public_key())
        self._key = key

    @property
    def name(self) -> str:
        return self.verifier.name

    def signature_line(self, text: str) -> str:
        raw = self.verifier.key_id + self._key.sign(text.encode())
        return f"{SIGNATURE_MARK}{self.name} {base64.b64encode(raw).decode()}\n"

    def sign(self, text: str) -> str:
        """The signed note: ``text`` (newline-terminated), a blank line, our signature line."""
        if not text.endswith("\n"):
            raise MalformedNote("a note's text ends with a newline")
        return f"{text}\n{self.signature_line(text)}"


# --- checkpoints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """The body of a C2SP tlog-checkpoint: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint a note's text carries; raises :class:`MalformedNote` otherwise."""
    if not text.endswith("\n"):
        raise MalformedNote("a checkpoint ends with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not all(lines):
        raise MalformedNote("a checkpoint is at least three non-empty lines")
    origin, size, root = lines[:3]
    if not _SIZE.fullmatch(size):
        raise MalformedNote("the tree size is not a decimal without leading zeroes")
    try:
        root_hash = _b64(root)
    except (ValueError, binascii.Error) as error:
        raise MalformedNote("the root hash is not base64") from error
    if len(root_hash) != 32:
        raise MalformedNote("the root hash is not 32 bytes long")
    return Checkpoint(origin, int(size), root_hash, tuple(lines[3:]))


# --- cosignatures ------------------------------------------------------------------------------


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header line, the time line, the checkpoint body."""
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{checkpoint_text}".encode()


def cosignature_timestamp(signature: bytes) -> int:
    """The timestamp of a cosignature/v1 signature (key id, 8-byte big-endian time, Ed25519)."""
    if len(signature) != 4 + 8 + 64:
        raise MalformedNote("a cosignature/v1 signature is 76 bytes long")
    return int.from_bytes(signature[4:12], "big")


class Cosigner:
    """A witness's Ed25519 cosignature/v1 key: it vouches, with a time, for a checkpoint."""

    def __init__(self, name: str, key: Ed25519PrivateKey) -> None:
        self.verifier = VerifierKey.for_ed25519(name, key.public_key(), COSIGNATURE_V1)
        self._key = key

    @property
    def name(self) -> str:
        return self.verifier.name

    def cosignature_line(self, checkpoint_text: str, timestamp: int) -> str:
        if not 0 < timestamp <= MAX_TIMESTAMP:
            raise ValueError("a cosignature's time is positive and below 2**63")
        parse_checkpoint(checkpoint_text)
        signature = self._key.sign(cosigned_message(checkpoint_text, timestamp))
        raw = self.verifier.key_id + timestamp.to_bytes(8, "big") + signature
        return f"{SIGNATURE_MARK}{self.name} {base64.b64encode(raw).decode()}\n"


def verify_cosignature(checkpoint_text: str, line: str, key: VerifierKey) -> int:
    """The time at which ``key`` cosigned the checkpoint, from its signature ``line``; raises
    :class:`NoteError` if the line is not that key's or does not verify."""
    if key.key_type != COSIGNATURE_V1:
        raise BadVerifierKey("not a cosignature/v1 key")
    note = parse_note(f"{checkpoint_text}\n{line.rstrip(chr(10))}\n")
    (signature,) = note.signatures
    if (signature.name, signature.key_id) != (key.name, key.key_id):
        raise UnverifiedNote(f"not a cosignature of {key.label}")
    cosignature_timestamp(signature.key_id + signature.signature)  # its size, or malformed
    if not key.verify(note.text, signature.signature):
        raise BadSignature(f"invalid cosignature for key {key.label}")
    return int.from_bytes(signature.signature[:8], "big")
