"""One-line texts as stored: no invisible character, one space between words, NFC."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from app.text import has_letter, is_invisible, normalise_line


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Zyx\u200bwavel", "Zyxwavel"),  # zero-width space: removed, not a separator
        ("\u202eZyxwavel\u202c", "Zyxwavel"),  # right-to-left override and its pop
        ("\u2066Zyx\u2069 \u200fWavel", "Zyx Wavel"),  # isolates, right-to-left mark
        ("Zyx\u00adwavel\ufeff", "Zyxwavel"),  # soft hyphen, BOM
        ("Zyx \u00a0\u2003\u202f wavel", "Zyx wavel"),  # spaces of every width: one space
        ("Zyx\u2028wavel", "Zyx wavel"),  # a line separator in a one-line text
        ("Zoe\u200b\u0301", "Zoé"),  # NFC once the zero-width space is gone
        ("Jean-Zyx  d'Wavel", "Jean-Zyx d'Wavel"),  # hyphens and apostrophes stay
        ("\u200b \u200d", ""),
    ],
)
def test_a_line_is_stored_without_invisible_characters(raw: str, stored: str) -> None:
    assert normalise_line(raw) == stored


def test_every_format_character_is_invisible() -> None:
    format_characters = [
        chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"
    ]
    assert len(format_characters) > 150
    assert all(is_invisible(c) for c in format_characters)
    assert not any(is_invisible(c) for c in "azAZ09 -'.éЖж王ژ")


def test_a_letter_of_any_script_counts() -> None:
    assert all(has_letter(name) for name in ("Zyx", "Жыл", "王", "ژیلا", "a1"))
    assert not any(has_letter(text) for text in ("", "1234", "-- ' .", "\u0301", "🙂"))
