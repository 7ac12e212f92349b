"""Key-encryption keys (KEKs) and the blind-index key, behind a :class:`KeyProvider`.

Callers never see a KEK: they ask the provider to wrap or unwrap a data key. An HSM (PKCS#11)
or a Vault transit engine implements the same four methods without touching callers.

Two providers ship:

* :class:`LocalKeyringProvider`, the embedded default: a JSON keyring file in the data dir,
  created by ``cenomed init``, readable by its owner only, rewritten atomically on rotation.
* :class:`SecretKeyringProvider`: the same JSON from an environment variable
  (``CENOMED_KEYRING``) or a mounted secret file (``CENOMED_KEYRING_FILE``), read-only: the
  operator adds a key and marks it active in the secret, then ``cenomed keys rotate``
  re-wraps every data key with it.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.keyfiles import check_private_file, write_private_file

KEY_BYTES = 32
KEYRING_FORMAT = 1
KEYRING_FILE = "keyring.json"
_WRAP_NONCE = 12


class KeyUnavailable(Exception):
    """The KEK a data key was wrapped with is not in the keyring (answered as a 500 problem)."""


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


class ManagedKeyProvider(KeyProvider, Protocol):
    """A provider that can also create and retire KEKs (the local keyring)."""

    def create_key(self) -> str: ...

    def retire(self, kek_id: str) -> None: ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


@dataclass
class Keyring:
    """The parsed keyring: KEKs by id, the active id, the blind-index key."""

    active: str
    keks: dict[str, bytes]
    index_key: bytes
    created: dict[str, str] = field(default_factory=dict)

    @classmethod
    def new(cls) -> Keyring:
        ring = cls(active="", keks={}, index_key=secrets.token_bytes(KEY_BYTES))
        ring.add_key()
        return ring

    def add_key(self) -> str:
        stamp = datetime.now(UTC)
        kek_id = f"kek-{stamp:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
        self.keks[kek_id] = secrets.token_bytes(KEY_BYTES)
        self.created[kek_id] = stamp.isoformat()
        self.active = kek_id
        return kek_id

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": KEYRING_FORMAT,
                "active": self.active,
                "index_key": _b64(self.index_key),
                "keys": {
                    kid: {"key": _b64(key), "created_at": self.created.get(kid, "")}
                    for kid, key in self.keks.items()
                },
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            data: dict[str, Any] = json.loads(text)
            if data.get("format") != KEYRING_FORMAT:
                raise ValueError(f"unknown keyring format {data.get('format')!r}")
            keks = {kid: _unb64(entry["key"]) for kid, entry in data["keys"].items()}
            created = {kid: str(entry.get("created_at", "")) for kid, entry in data["keys"].items()}
            ring = cls(data["active"], keks, _unb64(data["index_key"]), created)
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"the keyring is malformed: {error}") from None
        if ring.active not in ring.keks:
            raise ValueError("the keyring's active key is not among its keys")
        if any(len(k) != KEY_BYTES for k in [*ring.keks.values(), ring.index_key]):
            raise ValueError("every key of the keyring must be 32 bytes")
        return ring


def _wrap(kek: bytes, data_key: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_WRAP_NONCE)
    return nonce + AESGCM(kek).encrypt(nonce, data_key, aad)


def _unwrap(kek: bytes, wrapped: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(kek).decrypt(wrapped[:_WRAP_NONCE], wrapped[_WRAP_NONCE:], aad)
    except (InvalidTag, ValueError) as error:
        raise WrapIntegrityError("a wrapped data key failed authentication") from error


def _wrap_aad(kek_id: str, context: bytes) -> bytes:
    return b"cenomed-dek/1\x00" + kek_id.encode() + b"\x00" + context


class _KeyringProvider:
    """Wrapping with AES-256-GCM under the keyring's KEKs; the AAD binds KEK id and case."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ring = self._load()

    def _load(self) -> Keyring:
        raise NotImplementedError

    def _current(self) -> Keyring:
        return self._ring

    def active_key_id(self) -> str:
        return self._current().active

    def key_ids(self) -> list[str]:
        return sorted(self._current().keks)

    def index_key(self) -> bytes:
        return self._current().index_key

    def wrap(self, data_key: bytes, *, context: bytes) -> tuple[str, bytes]:
        ring = self._current()
        return ring.active, _wrap(ring.keks[ring.active], data_key, _wrap_aad(ring.active, context))

    def unwrap(self, kek_id: str, wrapped: bytes, *, context: bytes) -> bytes:
        ring = self._current()
        if kek_id not in ring.keks:
            ring = self._reload()
        kek = ring.keks.get(kek_id)
        if kek is None:
            raise KeyUnavailable(f"the key-encryption key {kek_id} is not in the keyring")
        return _unwrap(kek, wrapped, _wrap_aad(kek_id, context))

    def _reload(self) -> Keyring:
        with self._lock:
            self._ring = self._load()
            return self._ring


class LocalKeyringProvider(_KeyringProvider):
    """The keyring file in the data dir; reloaded when another process (rotation) rewrote it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = 0
        super().__init__()

    @classmethod
    def create(cls, path: Path) -> LocalKeyringProvider:
        """Creates the keyring file once (``cenomed init``); an existing one is kept."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            write_private_file(path, Keyring.new().to_json().encode())
        return cls(path)

    def _load(self) -> Keyring:
        if not self.path.exists():
            raise FileNotFoundError(
                f"No keyring at {self.path}: run 'cenomed init' (or set CENOMED_KEYRING_FILE)."
            )
        check_private_file(self.path)
        self._mtime = self.path.stat().st_mtime_ns
        return Keyring.from_json(self.path.read_text())

    def _current(self) -> Keyring:
        # A rotation run by 'cenomed keys rotate' rewrites the file: follow it, so that new data
        # keys are wrapped with the new KEK without restarting the service.
        if self.path.stat().st_mtime_ns != self._mtime:
            return self._reload()
        return self._ring

    def create_key(self) -> str:
        with self._lock:
            ring = self._load()
            kek_id = ring.add_key()
            write_private_file(self.path, ring.to_json().encode())
            self._ring, self._mtime = ring, self.path.stat().st_mtime_ns
            return kek_id

    def retire(self, kek_id: str) -> None:
        with self._lock:
            ring = self._load()
            if kek_id == ring.active:
                raise ValueError("the active key-encryption key cannot be retired")
            ring.keks.pop(kek_id, None)
            ring.created.pop(kek_id, None)
            write_private_file(self.path, ring.to_json().encode())
            self._ring, self._mtime = ring, self.path.stat().st_mtime_ns


class SecretKeyringProvider(_KeyringProvider):
    """The keyring from an environment variable or a mounted secret file (read-only)."""

    def __init__(self, *, inline: str | None = None, path: Path | None = None) -> None:
        self._inline, self._path = inline, path
        super().__init__()

    def _load(self) -> Keyring:
        if self._inline is not None:
            return Keyring.from_json(self._inline)
        assert self._path is not None
        return Keyring.from_json(self._path.read_text())


def key_provider(*, inline: str | None, secret_file: Path | None, local_path: Path) -> KeyProvider:
    """The configured provider: a secret (inline or mounted) if given, else the local keyring."""
    if inline:
        return SecretKeyringProvider(inline=inline)
    if secret_file is not None:
        return SecretKeyringProvider(path=secret_file)
    return LocalKeyringProvider(local_path)
