from __future__ import annotations

import secrets
from datetime import date

import pytest

from app.crypto.blind_index import identity_digest, normalise_name

KEY = secrets.token_bytes(32)
BORN = date(2012, 5, 17)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Zoé-Lou", "zoe lou"),
        ("  ÉLODIE  ", "elodie"),
        ("Ｚｙｘ", "zyx"),  # full-width letters (NFKC)
        ("d'Artagnan", "D ARTAGNAN"),
        ("Müller", "MULLER"),
    ],
)
def test_names_equal_after_normalisation(one: str, other: str) -> None:
    assert normalise_name(one) == normalise_name(other)
    assert identity_digest(KEY, one, "A", BORN) == identity_digest(KEY, other, "a", BORN)


def test_different_people_have_different_digests() -> None:
    digest = identity_digest(KEY, "Zyxwavel", "Quentinette", BORN)
    assert digest != identity_digest(KEY, "Zyxwavel", "Quentinette", date(2012, 5, 18))
    assert digest != identity_digest(KEY, "Zyxwavel", "Quentin", BORN)
    # Name boundaries count: "ab"+"c" is not "a"+"bc".
    assert identity_digest(KEY, "ab", "c", BORN) != identity_digest(KEY, "a", "bc", BORN)


def test_the_digest_depends_on_the_index_key() -> None:
    other_key = secrets.token_bytes(32)
    assert identity_digest(KEY, "Zyxwavel", "Q", BORN) != identity_digest(
        other_key, "Zyxwavel", "Q", BORN
    )
    assert len(identity_digest(KEY, "Zyxwavel", "Q", BORN)) == 32


def test_names_in_other_scripts_are_kept_apart() -> None:
    assert identity_digest(KEY, "Иванов", "Мария", BORN) != identity_digest(
        KEY, "Петров", "Анна", BORN
    )
    assert identity_digest(KEY, "ИВАНОВ", "мария", BORN) == identity_digest(
        KEY, "Иванов", "Мария", BORN
    )
    assert normalise_name("王 小明") == "王 小明"
    assert normalise_name("Łukasz-Øyvind") == "łukasz øyvind"


def test_a_name_without_any_letter_is_not_indexed() -> None:
    assert identity_digest(KEY, "--", "Zoé", BORN) is None
    assert identity_digest(KEY, "Zyx", "  ", BORN) is None


INVISIBLE = [
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\u2060",  # word joiner
    "\ufeff",  # zero-width no-break space (BOM)
    "\u00ad",  # soft hyphen
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202a",  # left-to-right embedding
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u2069",  # pop directional isolate
    "\u034f",  # combining grapheme joiner
    "\ufe0f",  # variation selector 16
    "\U000e0041",  # tag latin capital letter A
]


@pytest.mark.parametrize("invisible", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_invisible_characters_vanish_from_the_index(invisible: str) -> None:
    """Removed, not turned into a separator: "ZYX<ZWSP>WAVEL" is the same person as "Zyxwavel"."""
    assert normalise_name(f"ZYX{invisible}WAVEL") == "zyxwavel"
    assert identity_digest(
        KEY, f"Zyx{invisible}wavel", f"{invisible}Quentinette{invisible}", BORN
    ) == identity_digest(KEY, "Zyxwavel", "Quentinette", BORN)


def test_spaces_and_hyphens_still_separate_words() -> None:
    assert normalise_name("Zyx Wavel") == normalise_name("Zyx-Wavel") == "zyx wavel"
    assert normalise_name("Zyx\u00a0\u2003Wavel") == "zyx wavel"
    assert normalise_name("Zyx Wavel") != normalise_name("Zyxwavel")


def test_a_name_of_invisible_characters_only_is_not_indexed() -> None:
    assert identity_digest(KEY, "\u200b\u202e", "Zoé", BORN) is None
