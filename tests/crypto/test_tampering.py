"""Tampered ciphertexts and keys are refused with a problem response; shredding is final."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import update

from app.cases.models import CasePersonal
from app.crypto.models import CaseKey, IdentityIndex
from tests.audit.log import events
from tests.conftest import World
from tests.scenario import FIRST_NAME, LAST_NAME, ok, problem, submit


def _personal(world: World, case_id: str) -> CasePersonal:
    with world.db() as session:
        row = session.get(CasePersonal, uuid.UUID(case_id))
        assert row is not None
        session.expunge(row)
        return row


def _set(world: World, case_id: str, **values: bytes) -> None:
    with world.db() as session:
        session.execute(
            update(CasePersonal).where(CasePersonal.case_id == uuid.UUID(case_id)).values(**values)
        )


def _integrity_problem(world: World, case_id: str) -> None:
    body = problem(world.as_("coordinator").get(f"/cases/{case_id}"), 500)
    assert body["type"].endswith("integrity-failure")


def test_a_flipped_bit_is_an_integrity_problem_and_the_service_keeps_serving(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    damaged, intact = submit(world), submit(world)
    blob = bytearray(_personal(world, damaged).last_name_enc)
    blob[-3] ^= 0x10
    _set(world, damaged, last_name_enc=bytes(blob))
    with caplog.at_level(logging.ERROR):
        _integrity_problem(world, damaged)
    assert "case_personal.last_name_enc" in caplog.text
    assert LAST_NAME not in caplog.text
    # The incident is in the audit log, against the case, as a high-severity refusal.
    [incident] = [e for e in events(world) if e["outcome"] == "denied"]
    assert (incident["case_id"], incident["severity"], incident["detail"]) == (
        damaged,
        "high",
        "integrity-failure",
    )
    assert ok(world.as_("coordinator").get(f"/cases/{intact}"))["minor"]["last_name"] == LAST_NAME


def test_ciphertexts_swapped_between_two_cases_fail(world: World) -> None:
    one, other = submit(world), submit(world)
    first, second = _personal(world, one), _personal(world, other)
    _set(world, one, last_name_enc=second.last_name_enc)
    _set(world, other, last_name_enc=first.last_name_enc)
    _integrity_problem(world, one)
    _integrity_problem(world, other)


def test_a_ciphertext_moved_to_another_column_fails(world: World) -> None:
    case_id = submit(world)
    row = _personal(world, case_id)
    _set(world, case_id, first_name_enc=row.last_name_enc, last_name_enc=row.first_name_enc)
    _integrity_problem(world, case_id)


def test_a_tampered_wrapped_key_fails(world: World) -> None:
    case_id = submit(world)
    with world.db() as session:
        key = session.get(CaseKey, uuid.UUID(case_id))
        assert key is not None
        key.wrapped_key = bytes([key.wrapped_key[0] ^ 1]) + key.wrapped_key[1:]
    world.vault.forget(uuid.UUID(case_id))
    _integrity_problem(world, case_id)


def test_blocks_without_nominative_fields_still_read_when_ciphertexts_are_damaged(
    world: World,
) -> None:
    case_id = submit(world, by="police")
    _set(world, case_id, last_name_enc=b"\x01garbage-garbage-garbage-garbage-garbage")
    # The submitting member sees the workflow block only: nothing to decrypt, nothing fails.
    assert ok(world.as_("police").get(f"/cases/{case_id}"))["state"] == "submitted"


def test_shredding_makes_a_case_unreadable_while_others_still_read(world: World) -> None:
    shredded, kept = submit(world), submit(world)
    with world.db() as session:
        assert world.vault.shred(session, uuid.UUID(shredded))
    body = problem(world.as_("coordinator").get(f"/cases/{shredded}"), 410)
    assert body["type"].endswith("data-destroyed")
    kept_case = ok(world.as_("coordinator").get(f"/cases/{kept}"))
    assert kept_case["minor"]["first_name"] == FIRST_NAME
    # Its blind-index entry is gone too: it is nobody's duplicate any more.
    assert kept_case["possible_duplicates"] == []
    with world.db() as session:
        assert session.get(IdentityIndex, uuid.UUID(shredded)) is None
        assert session.get(CaseKey, uuid.UUID(shredded)) is None
        assert not world.vault.shred(session, uuid.UUID(shredded))


def test_a_damaged_or_shredded_case_does_not_take_the_list_down(world: World) -> None:
    damaged, shredded, intact = submit(world), submit(world), submit(world)
    blob = bytearray(_personal(world, damaged).facts_enc or b"")
    blob[-1] ^= 0x01
    _set(world, damaged, facts_enc=bytes(blob))
    with world.db() as session:
        world.vault.shred(session, uuid.UUID(shredded))
    items = {i["id"]: i for i in ok(world.as_("coordinator").get("/cases"))["items"]}
    assert items[intact]["facts"].startswith("Absences")
    assert "facts" in items[damaged]["withheld"]
    assert items[damaged]["minor"]["last_name"] == LAST_NAME
    assert {"identity", "contact", "facts", "research"} <= set(items[shredded]["withheld"])
    assert "minor" not in items[shredded]
    assert items[shredded]["state"] == "submitted"
