"""Data keys and the field ciphertext format.

A field ciphertext (format 1) is::

    0x01 | DEK version (4 bytes, big-endian) | nonce (12 bytes) | AES-256-GCM ciphertext + tag

and its associated data binds it to where it belongs::

    b"cenomed/1" 0x00 table 0x00 column 0x00 row id 0x00 DEK version (4 bytes)

so a ciphertext altered by one bit, moved to another row or column, or read with another
version of the key fails to decrypt (:class:`FieldIntegrityError`). Nonces are random: a data
key encrypts a few dozen fields of one case in its life, far below the 2^32 messages that random
96-bit nonces allow per key.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_V1 = 1
NONCE_BYTES = 12
_HEADER = struct.Struct(">BI")
HEADER_BYTES = _HEADER.size + NONCE_BYTES
DATA_KEY_BYTES = 32


class FieldIntegrityError(Exception):
    """A field failed to decrypt: altered, moved, or from an unknown format or key version.

    The message names the place (table, column), never the value.
    """


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def field_aad(table: str, column: str, row_id: str, key_version: int) -> bytes:
    """The associated data of a field (see the module docstring)."""
    return _aad(table, column, row_id, _version_suffix(key_version))


def _version_suffix(key_version: int) -> bytes:
    return b"\x00" + struct.pack(">I", key_version)


def _aad(table: str, column: str, row_id: str, version_suffix: bytes) -> bytes:
    # NUL separates the parts, so no part may contain one: the encoding stays unambiguous.
    joined = f"cenomed/1\x00{table}\x00{column}\x00{row_id}"
    if joined.count("\x00") != 3:
        raise ValueError("table, column and row id must not contain NUL")
    return joined.encode() + version_suffix


class FieldCipher:
    """Seals and opens the fields of one case with its data key.

    The hot path avoids needless copies: the header is built once per cipher, and the
    ciphertext is sliced through a memoryview.
    """

    __slots__ = ("_aead", "_header", "_version_suffix", "key_version")

    def __init__(self, data_key: bytes, key_version: int) -> None:
        self._aead = AESGCM(data_key)
        self.key_version = key_version
        self._header = _HEADER.pack(FORMAT_V1, key_version)
        self._version_suffix = _version_suffix(key_version)

    def _aad(self, table: str, column: str, row_id: str) -> bytes:
        return _aad(table, column, row_id, self._version_suffix)

    def seal(self, table: str, column: str, row_id: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, self._aad(table, column, row_id))
        return b"".join((self._header, nonce, sealed))

    def open(self, table: str, column: str, row_id: str, ciphertext: bytes) -> bytes:
        if len(ciphertext) < HEADER_BYTES + 16:
            raise FieldIntegrityError(f"{table}.{column}: ciphertext too short")
        if ciphertext[0] != FORMAT_V1:
            raise FieldIntegrityError(
                f"{table}.{column}: unknown ciphertext format {ciphertext[0]}"
            )
        if ciphertext[: _HEADER.size] != self._header:
            raise FieldIntegrityError(f"{table}.{column}: sealed with another data key version")
        view = memoryview(ciphertext)
        try:
            return self._aead.decrypt(
                view[_HEADER.size : HEADER_BYTES],
                view[HEADER_BYTES:],
                self._aad(table, column, row_id),
            )
        except InvalidTag as error:
            raise FieldIntegrityError(f"{table}.{column}: failed authentication") from error

    def seal_text(self, table: str, column: str, row_id: str, text: str) -> bytes:
        return self.seal(table, column, row_id, text.encode())

    def open_text(self, table: str, column: str, row_id: str, ciphertext: bytes) -> str:
        try:
            return self.open(table, column, row_id, ciphertext).decode()
        except UnicodeDecodeError as error:  # authenticated, so only a writer's bug gets here
            raise FieldIntegrityError(f"{table}.{column}: not UTF-8 text") from error
