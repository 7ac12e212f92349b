"""French dates and typographic spacing, shared by the web pages and the printed documents.

Typography (:func:`french_typography`): French puts a no-break space (U+00A0) before ":" and
inside guillemets, and a narrow no-break space (U+202F) before ";", "!" and "?", so that a line
never starts with the mark or ends with the opening guillemet. Only prose is touched: a mark is
spaced when it ends a phrase (followed by a space, the end of the text or closing punctuation),
so "14:30", "https://...", "urn:x" or "a?b=1" keep their characters. A run of spaces already
before the mark becomes the one right space; a mark right after another (the "!" of "?!") gets
none; nothing is added at the start of a line.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from markupsafe import Markup

from app.clock import PARIS

_MONTHS = (
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
).split()

NBSP = "\u00a0"
NNBSP = "\u202f"

# Horizontal spaces a writer may have put around a mark (never a line break).
_SPACE = "[ \t\u00a0\u202f\u2009]"
_MARKS = ";:!?"
# A mark ends a phrase when what follows is a space, the end, or closing punctuation.
_ENDS_PHRASE = r"(?=\s|\Z|[;:!?»)\]}.,…\"'’”])"
# Spaced only after a character that is neither a space nor another mark ("?!" keeps one space).
_AFTER_WORD = rf"(?<=[^\s{_MARKS}])"
_HIGH_MARK = re.compile(rf"{_AFTER_WORD}{_SPACE}*([{_MARKS}]){_ENDS_PHRASE}")
_OPENING = re.compile(rf"«{_SPACE}*(?=\S)")
_CLOSING = re.compile(rf"(?<=\S){_SPACE}*»")


def french_date(value: date | datetime | None) -> str:
    """'2 décembre 2026', '1er octobre 2026' (the first of the month is an ordinal in French),
    and the time, in Paris, for an instant."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        local = value.astimezone(PARIS)
        return f"{_day(local)} {local.year} à {local:%H:%M}"
    return f"{_day(value)} {value.year}"


def _day(value: date) -> str:
    return f"{'1er' if value.day == 1 else value.day} {_MONTHS[value.month - 1]}"


def _high_mark(match: re.Match[str]) -> str:
    mark = match.group(1)
    return (NBSP if mark == ":" else NNBSP) + mark


def french_typography(text: str) -> str:
    """The text with French spacing around ``: ; ! ? « »`` (the templates' ``french`` filter).

    Refuses escaped HTML (:class:`~markupsafe.Markup`): in "&amp; b" the ";" of the entity
    would be spaced and the entity broken, so the filter goes before any escaping."""
    if isinstance(text, Markup):
        raise TypeError("french_typography takes plain text: apply it before escaping")
    text = _HIGH_MARK.sub(_high_mark, text)
    text = _OPENING.sub("«" + NBSP, text)
    return _CLOSING.sub(NBSP + "»", text)
