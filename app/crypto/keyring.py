"""Key-encryption keys (KEKs) and the blind-index key, behind a :class:`KeyProvider`.

Callers never see a KEK: they ask the provider to wrap or unwrap a data key. An HSM (PKCS#11)
or a Vault transit engine implements the same methods without touching callers.

Two providers ship:

* :class:`LocalKeyringProvider`, the embedded default: a JSON keyring file in the data dir,
  created by ``cenomed init``, readable by its owner only. Every change is a read-modify-write
  under an exclusive file lock, written to a fresh temporary file and renamed over the old one.
* :class:`SecretKeyringProvider`: the same JSON from an environment variable
  (``CENOMED_KEYRING``) or a mounted secret file (``CENOMED_KEYRING_FILE``), read-only: the
  operator adds a key and marks it active in the secret, then ``cenomed keys rotate``
  re-wraps every data key with it.

A KEK's life: active (wraps new data keys) -> retired (unwraps only, so that a request that
wrapped with it just before a rotation still reads) -> destroyed, at a later rotation, once no
data key refers to it.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.inputs import KEY_FILE_MAX_BYTES, read_bounded_text
from app.keyfiles import check_private_file, write_private_file

if TYPE_CHECKING:
    from app.config import Settings

KEY_BYTES = 32
KEYRING_FORMAT = 1
_WRAP_NONCE = 12


class KeyUnavailable(Exception):
    """The KEK a data key was wrapped with is not in the keyring."""


class WrapIntegrityError(Exception):
    """A wrapped data key failed authentication: altered, or moved to another case."""


class KeyProvider(Protocol):
    def active_key_id(self) -> str:
        """The KEK that wraps new data keys."""
        ...

    def wrap(self, data_key: bytes, *, context: bytes) -> tuple[str, bytes]:
        """Wraps a data key with the active KEK; returns (kek id, wrapped bytes)."""
        ...

    def unwrap(self, kek_id: str, wrapped: bytes, *, context: bytes) -> bytes:
        """Unwraps a data key wrapped by ``kek_id``; ``context`` must match the wrapping one."""
        ...

    def index_key(self) -> bytes:
        """The HMAC key of the blind index (its own key, never a KEK)."""
        ...

    def key_ids(self) -> list[str]:
        """Every KEK the provider can unwrap with, the active one included."""
        ...

    def retired_key_ids(self) -> list[str]:
        """The KEKs kept to unwrap only, waiting to be destroyed."""
        ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


@dataclass
class Keyring:
    """The parsed keyring: KEKs by id, the active id, the blind-index key, key dates."""

    active: str
    keks: dict[str, bytes] = field(repr=False)
    index_key: bytes = field(repr=False)
    created: dict[str, str] = field(default_factory=dict)
    retired: dict[str, str] = field(default_factory=dict)
    # Set while a rotation re-wraps data keys: a rotation that finds it set resumes that one.
    rotation_started_at: str | None = None

    @classmethod
    def new(cls) -> Keyring:
        ring = cls(active="", keks={}, index_key=secrets.token_bytes(KEY_BYTES))
        ring.add_key()
        return ring

    def add_key(self) -> str:
        """A new KEK becomes active; the previous ones are retired (they still unwrap)."""
        stamp = datetime.now(UTC)
        kek_id = f"kek-{stamp:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
        for previous in self.keks:
            self.retired.setdefault(previous, stamp.isoformat())
        self.keks[kek_id] = secrets.token_bytes(KEY_BYTES)
        self.created[kek_id] = stamp.isoformat()
        self.active = kek_id
        return kek_id

    def destroy(self, kek_id: str) -> None:
        if kek_id == self.active:
            raise ValueError("the active key-encryption key cannot be destroyed")
        self.keks.pop(kek_id, None)
        self.created.pop(kek_id, None)
        self.retired.pop(kek_id, None)

    def to_json(self) -> str:
        keys: dict[str, dict[str, str]] = {}
        for kid, key in self.keks.items():
            keys[kid] = {"key": _b64(key), "created_at": self.created.get(kid, "")}
            if kid in self.retired:
                keys[kid]["retired_at"] = self.retired[kid]
        document: dict[str, Any] = {
            "format": KEYRING_FORMAT,
            "active": self.active,
            "index_key": _b64(self.index_key),
            "keys": keys,
        }
        if self.rotation_started_at:
            document["rotation_started_at"] = self.rotation_started_at
        return json.dumps(document, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            data: dict[str, Any] = json.loads(text)
            if data.get("format") != KEYRING_FORMAT:
                raise ValueError(f"unknown keyring format {data.get('format')!r}")
            entries: dict[str, dict[str, str]] = data["keys"]
            ring = cls(
                active=data["active"],
                keks={kid: _unb64(entry["key"]) for kid, entry in entries.items()},
                index_key=_unb64(data["index_key"]),
                created={kid: str(entry.get("created_at", "")) for kid, entry in entries.items()},
                retired={
                    kid: str(entry["retired_at"])
                    for kid, entry in entries.items()
                    if entry.get("retired_at")
                },
                rotation_started_at=data.get("rotation_started_at"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"the keyring is malformed: {type(error).__name__}") from None
        if ring.active not in ring.keks or ring.active in ring.retired:
            raise ValueError("the keyring's active key is missing or retired")
        if any(len(k) != KEY_BYTES for k in [*ring.keks.values(), ring.index_key]):
            raise ValueError("every key of the keyring must be 32 bytes")
        return ring


def _wrap_aad(kek_id: str, context: bytes) -> bytes:
    return b"cenomed-dek/1\x00" + kek_id.encode() + b"\x00" + context


class _KeyringProvider:
    """Wrapping with AES-256-GCM under the keyring's KEKs; the AAD binds KEK id and case.

    A file-backed keyring is followed: when the file changes (another process rotated it),
    the next call reads it again, so new data keys are wrapped with the new active KEK.
    """

    def __init__(self, path: Path | None, inline: str | None = None) -> None:
        self.path = path
        self._inline = inline
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._ring = self._read()

    def _file_stamp(self) -> tuple[int, int, int]:
        assert self.path is not None
        stat = self.path.stat()
        return (stat.st_mtime_ns, stat.st_ino, stat.st_size)

    def _read(self) -> Keyring:
        if self.path is None:
            assert self._inline is not None
            return Keyring.from_json(self._inline)
        if not self.path.exists():
            raise FileNotFoundError(
                f"No keyring at {self.path}: run 'cenomed init' (or set CENOMED_KEYRING_FILE)."
            )
        check_private_file(self.path)
        self._stamp = self._file_stamp()
        return Keyring.from_json(_read_keyring(self.path))

    def _current(self) -> Keyring:
        if self.path is not None and self._file_stamp() != self._stamp:
            with self._lock:
                self._ring = self._read()
        return self._ring

    def active_key_id(self) -> str:
        return self._current().active

    def key_ids(self) -> list[str]:
        return sorted(self._current().keks)

    def retired_key_ids(self) -> list[str]:
        return sorted(self._current().retired)

    def index_key(self) -> bytes:
        return self._current().index_key

    def wrap(self, data_key: bytes, *, context: bytes) -> tuple[str, bytes]:
        ring = self._current()
        nonce = os.urandom(_WRAP_NONCE)
        aad = _wrap_aad(ring.active, context)
        return ring.active, nonce + AESGCM(ring.keks[ring.active]).encrypt(nonce, data_key, aad)

    def unwrap(self, kek_id: str, wrapped: bytes, *, context: bytes) -> bytes:
        kek = self._current().keks.get(kek_id)
        if kek is None:
            raise KeyUnavailable(f"the key-encryption key {kek_id} is not in the keyring")
        try:
            return AESGCM(kek).decrypt(
                wrapped[:_WRAP_NONCE], wrapped[_WRAP_NONCE:], _wrap_aad(kek_id, context)
            )
        except (InvalidTag, ValueError) as error:
            raise WrapIntegrityError("a wrapped data key failed authentication") from error


class LocalKeyringProvider(_KeyringProvider):
    """The keyring file in the data dir; the only provider that creates and destroys KEKs."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)

    @classmethod
    def create(cls, path: Path) -> LocalKeyringProvider:
        """Creates the keyring file once (``cenomed init``); an existing one is kept."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _exclusive(path):
            if not path.exists():
                write_private_file(path, Keyring.new().to_json().encode())
        return cls(path)

    @contextmanager
    def editing(self) -> Iterator[Keyring]:
        """Read-modify-write of the keyring under an exclusive lock shared by all processes."""
        assert self.path is not None
        with _exclusive(self.path):
            ring = Keyring.from_json(_read_keyring(self.path))
            yield ring
            write_private_file(self.path, ring.to_json().encode())
        self._current()

    @contextmanager
    def rotation_lock(self) -> Iterator[None]:
        """Held for a whole rotation: two rotations never interleave."""
        assert self.path is not None
        with _exclusive(self.path, suffix=".rotation.lock"):
            yield

    def rotation_under_way(self) -> bool:
        return bool(self._current().rotation_started_at)

    def begin_rotation(self) -> str:
        """A new active KEK (the others retired), marked as a rotation under way."""
        with self.editing() as ring:
            kek_id = ring.add_key()
            ring.rotation_started_at = ring.created[kek_id]
            return kek_id

    def end_rotation(self) -> None:
        with self.editing() as ring:
            ring.rotation_started_at = None

    def destroy(self, kek_ids: list[str]) -> None:
        with self.editing() as ring:
            for kek_id in kek_ids:
                ring.destroy(kek_id)


class SecretKeyringProvider(_KeyringProvider):
    """The keyring from an environment variable or a mounted secret file (read-only)."""

    def __init__(self, *, inline: str | None = None, path: Path | None = None) -> None:
        if (inline is None) == (path is None):
            raise ValueError("give the keyring inline or as a file, not both")
        super().__init__(path, inline)


def _read_keyring(path: Path) -> str:
    return read_bounded_text(path, limit=KEY_FILE_MAX_BYTES, what="the keyring")


@contextmanager
def _exclusive(path: Path, suffix: str = ".lock") -> Iterator[None]:
    lock_path = path.with_name(path.name + suffix)
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def key_provider(*, inline: str | None, secret_file: Path | None, local_path: Path) -> KeyProvider:
    """The configured provider: a secret (inline or mounted) if given, else the local keyring."""
    if inline:
        return SecretKeyringProvider(inline=inline)
    if secret_file is not None:
        return SecretKeyringProvider(path=secret_file)
    return LocalKeyringProvider(local_path)


def configured_provider(settings: Settings) -> KeyProvider:
    """The provider the settings name: CENOMED_KEYRING, CENOMED_KEYRING_FILE, or the keyring
    file of CENOMED_DATA_DIR."""
    return key_provider(
        inline=settings.keyring,
        secret_file=settings.keyring_file,
        local_path=settings.local_keyring_path,
    )
