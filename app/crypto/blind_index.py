"""Duplicate detection on encrypted identities: an HMAC-SHA256 blind index.

The index reveals equality only: two cases with the same normalised names and birth date share
a digest, which is exactly what duplicate detection needs; without the index key, a digest
cannot be reversed or tested against a guessed identity.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date

_SEPARATORS = re.compile(r"[^0-9a-z]+")


def normalise_name(name: str) -> str:
    """NFKC, case-folded, accents removed, hyphens and spacing folded: "Zoé-Lou" = "zoe lou"."""
    composed = unicodedata.normalize("NFKC", name).casefold()
    decomposed = unicodedata.normalize("NFKD", composed)
    without_marks = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub(" ", without_marks).strip()


def identity_digest(index_key: bytes, last_name: str, first_name: str, birth_date: date) -> bytes:
    material = "\x1f".join(
        [normalise_name(last_name), normalise_name(first_name), birth_date.isoformat()]
    )
    return hmac.new(index_key, material.encode(), hashlib.sha256).digest()
