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
    return b"\x00".join(
        [
            b"cenomed/1",
            table.encode(),
            column.encode(),
            row_id.encode(),
            struct.pack(">I", key_version),
        ]
    )


class FieldCipher:
    """Seals and opens the fields of one case with its data key."""

    __slots__ = ("_aead", "key_version")

    def __init__(self, data_key: bytes, key_version: int) -> None:
        self._aead = AESGCM(data_key)
        self.key_version = key_version

    def seal(self, table: str, column: str, row_id: str, plaintext: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        aad = field_aad(table, column, row_id, self.key_version)
        header = _HEADER.pack(FORMAT_V1, self.key_version)
        return header + nonce + self._aead.encrypt(nonce, plaintext.encode(), aad)

    def open(self, table: str, column: str, row_id: str, ciphertext: bytes) -> str:
        if len(ciphertext) < HEADER_BYTES + 16:
            raise FieldIntegrityError(f"{table}.{column}: ciphertext too short")
        version, key_version = _HEADER.unpack_from(ciphertext)
        if version != FORMAT_V1:
            raise FieldIntegrityError(f"{table}.{column}: unknown ciphertext format {version}")
        if key_version != self.key_version:
            raise FieldIntegrityError(f"{table}.{column}: sealed with another data key version")
        nonce = ciphertext[_HEADER.size : HEADER_BYTES]
        aad = field_aad(table, column, row_id, key_version)
        try:
            return self._aead.decrypt(nonce, ciphertext[HEADER_BYTES:], aad).decode()
        except (InvalidTag, UnicodeDecodeError) as error:
            raise FieldIntegrityError(f"{table}.{column}: failed authentication") from error
