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

from app.text import strip_invisible

# Anything but letters and digits, in any script, separates words.
_SEPARATORS = re.compile(r"[\W_]+")


def normalise_name(name: str) -> str:
    """Invisible characters removed, NFKC, case-folded, accents removed, hyphens and spacing
    folded: "Zoé-Lou" = "zoe lou", "ZYX\u200bWAVEL" = "zyxwavel" (the characters
    ``app.text.strip_invisible`` removes, which names are also stored without, vanish: they
    separate nothing), but "Zyx Wavel" = "zyx wavel", two words.

    Letters of every script are kept ("Иванов" stays "иванов"); no transliteration is tried.
    """
    composed = unicodedata.normalize("NFKC", strip_invisible(name)).casefold()
    decomposed = unicodedata.normalize("NFKD", composed)
    without_marks = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub(" ", without_marks).strip()


def identity_digest(
    index_key: bytes, last_name: str, first_name: str, birth_date: date
) -> bytes | None:
    """The blind index of an identity, or None when a name normalises to nothing (no letter):
    such names would all look alike, so they are not indexed."""
    last, first = normalise_name(last_name), normalise_name(first_name)
    if not last or not first:
        return None
    material = "\x1f".join([last, first, birth_date.isoformat()])
    return hmac.new(index_key, material.encode(), hashlib.sha256).digest()
