"""One-line texts and people's names as the service keeps them: without invisible characters.

A right-to-left override (U+202E) makes "Zyxwavel" display as something else; a zero-width
space makes "ZYX\u200bWAVEL" look like "ZYXWAVEL" while being another string, so that two
cases of one minor escape duplicate detection; a name made only of such characters looks
empty. Every one-line text (names, address, school) is therefore stored without them, and the
blind index (``app.crypto.blind_index``) drops the same characters before folding a name.

What is removed (:func:`strip_invisible`): every format character (Unicode category Cf: the
zero-width space, joiners and no-break space U+200B-U+200D, U+2060, U+FEFF, the bidirectional
marks, embeddings, overrides and isolates U+200E, U+200F, U+202A-U+202E, U+2066-U+2069, U+061C,
the soft hyphen U+00AD, tag characters...) and the other default-ignorable code points, which
render as nothing either (the combining grapheme joiner, variation selectors, Hangul fillers).
The zero-width joiner and non-joiner carry meaning in some scripts (Persian, Indic): for the
names and addresses of a Paris service, losing that rendering nuance is accepted; the letters
stay. Removed characters are not turned into separators: "DU\u200bPONT" is "DUPONT", while
"DU PONT" stays two words.

Free texts (the signaler's account, research notes, reasons) keep their characters: an emoji
sequence needs its joiners, and they are not matched against anything.
"""

from __future__ import annotations

import re
import unicodedata

# The default-ignorable code points (Unicode's DerivedCoreProperties) that are not format
# characters (Cf) themselves; the Cf ones among these ranges are caught by their category.
_IGNORABLE_RANGES = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors and vowel separator
    (0x2065, 0x2065),  # reserved among the invisible operators
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # half-width Hangul filler
    (0xFFF0, 0xFFF8),  # reserved
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical formatting
    (0xE0000, 0xE0FFF),  # tags and variation selectors supplement
)
_SPACES = re.compile(r"\s+")


def is_invisible(char: str) -> bool:
    """A character that renders as nothing: a format character or a default-ignorable one."""
    if unicodedata.category(char) == "Cf":
        return True
    code = ord(char)
    return any(low <= code <= high for low, high in _IGNORABLE_RANGES)


def strip_invisible(value: str) -> str:
    """``value`` without its invisible characters (removed, not replaced by a space)."""
    return "".join(c for c in value if not is_invisible(c))


def normalise_line(value: str) -> str:
    """A one-line text as stored: invisible characters removed, every run of spaces (the
    no-break and other Unicode spaces, line and paragraph separators) made one space, no
    space at either end, then NFC. Refuses nothing: see ``app.schemas`` for the refusals."""
    spaced = _SPACES.sub(" ", strip_invisible(value)).strip()
    return unicodedata.normalize("NFC", spaced)


def has_letter(value: str) -> bool:
    """Whether ``value`` holds a letter of any script (Unicode category L*)."""
    return any(unicodedata.category(c).startswith("L") for c in value)
