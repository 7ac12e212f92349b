"""The field ciphertext format: round trips, and every kind of tampering refused."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.cases import personal
from app.crypto.envelope import FieldCipher, FieldIntegrityError, new_data_key
from app.errors import IntegrityFailure

CIPHER = FieldCipher(new_data_key(), 1)
ROW = str(uuid.UUID(int=7))
any_text = st.text(min_size=0, max_size=500)


@given(any_text)
def test_any_text_round_trips(value: str) -> None:
    sealed = CIPHER.seal_text("case_personal", "facts_enc", ROW, value)
    assert CIPHER.open_text("case_personal", "facts_enc", ROW, sealed) == value


@given(
    last=st.text(min_size=1, max_size=100),
    first=st.text(min_size=1, max_size=100),
    born=st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 1, 1)),
    address=st.none() | any_text,
    school=st.none() | any_text,
    facts=st.none() | any_text,
)
def test_every_personal_field_round_trips(
    last: str, first: str, born: date, address: str | None, school: str | None, facts: str | None
) -> None:
    case_id = uuid.uuid4()
    sealed = personal.seal_personal(
        CIPHER,
        case_id,
        last_name=last,
        first_name=first,
        birth_date=born,
        address=address,
        school=school,
        facts=facts,
    )
    identity = personal.open_identity(CIPHER, sealed)
    assert (identity.last_name, identity.first_name, identity.birth_date) == (last, first, born)
    assert identity.school == school
    assert personal.open_address(CIPHER, sealed) == address
    assert personal.open_facts(CIPHER, sealed) == facts


@given(name=st.text(min_size=1, max_size=100), phone=st.none() | st.text(max_size=25))
def test_guardians_round_trip(name: str, phone: str | None) -> None:
    guardian = personal.seal_guardian(
        CIPHER, uuid.uuid4(), position=0, name=name, relationship="parent", phone=phone
    )
    assert personal.open_guardian(CIPHER, guardian) == (name, phone)


@given(st.text(min_size=1, max_size=4000))
def test_research_notes_round_trip(content: str) -> None:
    from app.cases.models import ResearchNote

    note_id = uuid.uuid4()
    note = ResearchNote(id=note_id, content_enc=personal.seal_note(CIPHER, note_id, content))
    assert personal.open_note(CIPHER, note) == content


def test_the_same_value_never_gives_the_same_ciphertext() -> None:
    first = CIPHER.seal_text("t", "c", ROW, "Zyxwavel")
    assert first != CIPHER.seal_text("t", "c", ROW, "Zyxwavel")


@pytest.mark.parametrize("position", [0, 1, 4, 5, 16, 17, -1])
def test_a_flipped_bit_anywhere_fails(position: int) -> None:
    sealed = bytearray(CIPHER.seal_text("case_personal", "last_name_enc", ROW, "Zyxwavel"))
    sealed[position] ^= 0x01
    with pytest.raises(FieldIntegrityError):
        CIPHER.open_text("case_personal", "last_name_enc", ROW, bytes(sealed))


def test_a_ciphertext_moved_to_another_row_fails() -> None:
    sealed = CIPHER.seal_text("case_personal", "last_name_enc", ROW, "Zyxwavel")
    with pytest.raises(FieldIntegrityError):
        CIPHER.open_text("case_personal", "last_name_enc", str(uuid.UUID(int=8)), sealed)


def test_a_ciphertext_moved_to_another_column_or_table_fails() -> None:
    sealed = CIPHER.seal_text("case_personal", "last_name_enc", ROW, "Zyxwavel")
    with pytest.raises(FieldIntegrityError):
        CIPHER.open_text("case_personal", "first_name_enc", ROW, sealed)
    with pytest.raises(FieldIntegrityError):
        CIPHER.open_text("guardian", "last_name_enc", ROW, sealed)


def test_another_case_key_or_key_version_fails() -> None:
    sealed = CIPHER.seal_text("t", "c", ROW, "Zyxwavel")
    with pytest.raises(FieldIntegrityError):
        FieldCipher(new_data_key(), 1).open_text("t", "c", ROW, sealed)
    with pytest.raises(FieldIntegrityError, match="version"):
        FieldCipher(new_data_key(), 2).open_text("t", "c", ROW, sealed)


def test_truncated_or_unknown_format_fails() -> None:
    sealed = CIPHER.seal_text("t", "c", ROW, "Zyxwavel")
    with pytest.raises(FieldIntegrityError, match="short"):
        CIPHER.open_text("t", "c", ROW, sealed[:20])
    with pytest.raises(FieldIntegrityError, match="format"):
        CIPHER.open_text("t", "c", ROW, b"\x02" + sealed[1:])


def test_an_integrity_error_names_the_place_never_the_value() -> None:
    sealed = bytearray(CIPHER.seal_text("case_personal", "last_name_enc", ROW, "Zyxwavel"))
    sealed[-1] ^= 0x80
    with pytest.raises(FieldIntegrityError) as caught:
        CIPHER.open_text("case_personal", "last_name_enc", ROW, bytes(sealed))
    assert "case_personal.last_name_enc" in str(caught.value)
    assert "Zyxwavel" not in str(caught.value)


def test_the_service_layer_turns_it_into_an_integrity_problem() -> None:
    case_id = uuid.uuid4()
    sealed = personal.seal_personal(
        CIPHER,
        case_id,
        last_name="Zyxwavel",
        first_name="Quentinette",
        birth_date=date(2012, 5, 17),
        address=None,
        school=None,
        facts=None,
    )
    sealed.first_name_enc, sealed.last_name_enc = sealed.last_name_enc, sealed.first_name_enc
    with pytest.raises(IntegrityFailure) as caught:
        personal.open_identity(CIPHER, sealed)
    assert caught.value.status == 500
    assert "Zyxwavel" not in caught.value.detail
