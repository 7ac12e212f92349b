"""Signed notes, checkpoints and cosignatures against every vector of signed_note.json (Go's
sumdb/note tests, the C2SP example, sigsum's and transparency-dev's tests, real checkpoints)."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.audit import note
from app.audit.note import (
    BadSignature,
    BadVerifierKey,
    Checkpoint,
    Cosigner,
    MalformedNote,
    NoteSigner,
    UnverifiedNote,
    VerifierKey,
)
from tests.tlog.vectors import SIGNED_NOTE

KEYS = {key["id"]: key for key in SIGNED_NOTE["keys"]}
NOTES = {vector["id"]: vector for vector in SIGNED_NOTE["notes"]}
COSIGNATURES = {vector["id"]: vector for vector in SIGNED_NOTE["cosignatures"]}


def _seed(hex_seed: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(hex_seed))


@pytest.mark.parametrize("vector", SIGNED_NOTE["keys"], ids=lambda v: v["id"])
def test_every_verifier_key_parses_to_its_name_id_type_and_key(vector: dict[str, Any]) -> None:
    key = VerifierKey.parse(vector["vkey"])
    assert (key.name, key.key_id.hex(), key.key_type) == (
        vector["name"],
        vector["key_id"],
        vector["alg"],
    )
    if "public_key_hex" in vector:
        assert key.public.hex() == vector["public_key_hex"]
    assert key.encode() == vector["vkey"]


@pytest.mark.parametrize(
    "vector", [k for k in SIGNED_NOTE["keys"] if k.get("seed_hex")], ids=lambda v: v["id"]
)
def test_every_seed_derives_its_verifier_key(vector: dict[str, Any]) -> None:
    public = _seed(vector["seed_hex"]).public_key()
    derived = VerifierKey.for_ed25519(vector["name"], public, vector["alg"])
    assert derived.encode() == vector["vkey"]


@pytest.mark.parametrize(
    "vector", [k for k in SIGNED_NOTE["keys"] if k.get("skey")], ids=lambda v: v["id"]
)
def test_every_private_key_string_holds_the_seed_given(vector: dict[str, Any]) -> None:
    # PRIVATE+KEY+<name>+<id>+base64(type || seed): Go's format, read here by the test only.
    *_, encoded = vector["skey"].split("+", 4)
    raw = base64.b64decode(encoded)
    assert raw[0] == 1
    assert raw[1:].hex() == vector["seed_hex"]


@pytest.mark.parametrize("vector", SIGNED_NOTE["bad_keys"], ids=lambda v: v["vkey"][:30])
def test_bad_verifier_keys_are_refused(vector: dict[str, Any]) -> None:
    with pytest.raises(BadVerifierKey):
        VerifierKey.parse(vector["vkey"])


@pytest.mark.parametrize(
    "text",
    ["", "PeterNeumann", "PeterNeumann+c74f20a3", "Peter Neumann+c74f20a3+AQ==", "x+zzzzzzzz+AQ=="],
)
def test_verifier_keys_without_their_three_fields_are_refused(text: str) -> None:
    with pytest.raises(BadVerifierKey):
        VerifierKey.parse(text)


def _note_bytes(vector: dict[str, Any]) -> str | bytes:
    return bytes.fromhex(vector["note_hex"]) if "note_hex" in vector else str(vector["note"])


@pytest.mark.parametrize("vector", SIGNED_NOTE["notes"], ids=lambda v: v["id"])
def test_every_note_opens_as_expected(vector: dict[str, Any]) -> None:
    known = [VerifierKey.parse(vkey) for vkey in vector["verifier_keys"]]
    expected = vector["expected"]
    if not expected["ok"]:
        error = expected["error"]
        kind: type[note.NoteError] = (
            MalformedNote
            if error == "malformed note"
            else BadSignature
            if error.startswith("invalid signature")
            else UnverifiedNote
        )
        with pytest.raises(kind):
            note.open_note(_note_bytes(vector), known)
        return
    opened = note.open_note(_note_bytes(vector), known)
    if "text" in expected:
        assert opened.text == expected["text"]
    if "verified" in expected:
        assert [s.label for s in opened.verified] == expected["verified"]
    if "unverified" in expected:
        assert len(opened.unverified) == len(expected["unverified"])
        assert [s.label for s in opened.unverified] == [
            u.split(" ")[0] for u in expected["unverified"]
        ]
    if "origin" in expected:
        checkpoint = note.parse_checkpoint(opened.text)
        assert (checkpoint.origin, checkpoint.size) == (expected["origin"], expected["size"])
        if "root_hash_b64" in expected:
            assert base64.b64encode(checkpoint.root_hash).decode() == expected["root_hash_b64"]
        if "root_hash_hex" in expected:
            assert checkpoint.root_hash.hex() == expected["root_hash_hex"]


def test_the_invalid_signature_error_names_the_key() -> None:
    vector = NOTES["xmod-invalid-signature-known-key"]
    known = [VerifierKey.parse(vkey) for vkey in vector["verifier_keys"]]
    with pytest.raises(BadSignature, match=re.escape(vector["expected"]["error"])):
        note.open_note(vector["note"], known)


def test_signing_peters_text_again_gives_the_published_signature_byte_for_byte() -> None:
    vector = NOTES["xmod-peter"]
    signer = NoteSigner("PeterNeumann", _seed(KEYS["peter"]["seed_hex"]))
    assert signer.verifier.encode() == KEYS["peter"]["vkey"]
    assert signer.sign(vector["expected"]["text"]) == vector["note"]


def test_enochs_all_zero_seed_gives_the_published_signature() -> None:
    both = NOTES["xmod-peter-enoch-both-known"]["note"]
    enoch_line = both.splitlines()[-1] + "\n"
    signer = NoteSigner("EnochRoot", _seed(KEYS["enoch"]["seed_hex"]))
    text = NOTES["xmod-peter"]["expected"]["text"]
    assert signer.signature_line(text) == enoch_line


def test_sixteen_signatures_are_accepted() -> None:
    """C2SP asks verifiers to accept at least 16 signature lines (our limit is Go's 100)."""
    vector = NOTES["xmod-peter"]
    line = vector["note"].splitlines()[-1]
    known = [VerifierKey.parse(KEYS["peter"]["vkey"])]
    others = "".join(
        NoteSigner(f"other{i}", Ed25519PrivateKey.generate()).signature_line(
            vector["expected"]["text"]
        )
        for i in range(15)
    )
    opened = note.open_note(f"{vector['expected']['text']}\n{line}\n{others}", known)
    assert len(opened.unverified) == 15


def test_a_key_sharing_only_the_name_or_only_the_id_is_ignored() -> None:
    vector = NOTES["xmod-peter"]
    text = vector["expected"]["text"]
    impostor = NoteSigner("PeterNeumann", Ed25519PrivateKey.generate())
    known = [VerifierKey.parse(KEYS["peter"]["vkey"])]
    with pytest.raises(UnverifiedNote):
        note.open_note(impostor.sign(text), known)
    opened = note.open_note(vector["note"] + impostor.signature_line(text), known)
    assert [s.label for s in opened.unverified] == [impostor.verifier.label]


@pytest.mark.parametrize(
    "text",
    [
        "origin\n1\n",  # two lines
        "origin\n01\n" + "A" * 43 + "=\n",  # leading zero
        "origin\n-1\n" + "A" * 43 + "=\n",
        "origin\n1\nAAAA\n",  # not 32 bytes
        "origin\n1\n" + "A" * 43 + "=\n\n",  # an empty extension line
        "\n1\n" + "A" * 43 + "=\n",  # no origin
        "origin\n1\n" + "A" * 43 + "=",  # no final newline
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(MalformedNote):
        note.parse_checkpoint(text)


def test_a_checkpoint_keeps_its_extension_lines() -> None:
    text = "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\ntime 2026\n"
    checkpoint = note.parse_checkpoint(text)
    assert checkpoint == Checkpoint(
        "example.com/log",
        0,
        bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("time 2026",),
    )
    assert checkpoint.text() == text


# --- cosignatures ------------------------------------------------------------------------------


def test_the_cosigned_message_is_built_as_published() -> None:
    vector = COSIGNATURES["sigsum-cosigned-data-format"]
    body = Checkpoint(vector["origin"], vector["tree_size"], bytes.fromhex(vector["root_hash_hex"]))
    message = note.cosigned_message(body.text(), vector["timestamp"])
    assert message == vector["expected_signed_message"].encode()
    spec = COSIGNATURES["c2sp-spec-example-structure-only"]
    message = note.cosigned_message(spec["checkpoint_body"], spec["decoded"]["timestamp"])
    assert message == spec["expected_signed_message"].encode()


def test_sigsums_cosignature_verifies_at_its_time_and_only_there() -> None:
    vector = COSIGNATURES["sigsum-cosignature-v1-ts1234"]
    key = VerifierKey.parse(vector["cosigner_vkey"])
    lines = [case["line"] for case in vector["lines"]]
    assert note.verify_cosignature(vector["checkpoint_body"], lines[1], key) == 1234
    with pytest.raises(UnverifiedNote):  # another key id
        note.verify_cosignature(vector["checkpoint_body"], lines[0], key)
    with pytest.raises(UnverifiedNote):  # another name
        note.verify_cosignature(vector["checkpoint_body"], lines[2], key)
    with pytest.raises(MalformedNote):  # a corrupted base64 tail
        note.verify_cosignature(vector["checkpoint_body"], lines[3], key)
    raw = bytearray(base64.b64decode(lines[1].split(" ")[2]))
    raw[11] += 1  # time 1235
    altered = f"— example.org/witness {base64.b64encode(raw).decode()}"
    with pytest.raises(BadSignature):
        note.verify_cosignature(vector["checkpoint_body"], altered, key)


def test_signing_sigsums_checkpoint_again_gives_its_cosignature() -> None:
    vector = COSIGNATURES["sigsum-cosignature-v1-ts1234"]
    cosigner = Cosigner("example.org/witness", _seed(vector["cosigner_seed_hex"]))
    assert cosigner.verifier.encode() == vector["cosigner_vkey"]
    line = cosigner.cosignature_line(vector["checkpoint_body"], 1234)
    assert line == vector["lines"][1]["line"] + "\n"


def test_the_cosigned_note_opens_with_both_the_log_and_the_witness_keys() -> None:
    vector = COSIGNATURES["sigsum-cosignature-v1-ts1234"]
    log_key = _seed(KEYS["sigsum-log-seed17"]["seed_hex"])
    # The sigsum test's checkpoint body, signed by a log named example.org/log for this test.
    log = NoteSigner("example.org/log", log_key)
    signed = log.sign(vector["checkpoint_body"]) + vector["lines"][1]["line"] + "\n"
    keys = [log.verifier, VerifierKey.parse(vector["cosigner_vkey"])]
    opened = note.open_note(signed, keys)
    labels = [s.label for s in opened.verified]
    assert labels == [log.verifier.label, "example.org/witness+cacf2e50"]


@pytest.mark.parametrize(
    "case", COSIGNATURES["formats-cosig-timestamp-parse"]["cases"], ids=lambda c: c["sig_b64"][:8]
)
def test_cosignature_timestamps_parse_as_published(case: dict[str, Any]) -> None:
    try:
        raw = base64.b64decode(case["sig_b64"], validate=True)
    except ValueError:
        assert case["expected"] == "error: not base64"
        return
    if "expected_timestamp" in case:
        assert raw[:4].hex() == case["expected_key_id"]
        assert note.cosignature_timestamp(raw) == case["expected_timestamp"]
    else:
        with pytest.raises(MalformedNote):
            note.cosignature_timestamp(raw)


def test_the_spec_example_cosignature_decodes_to_its_key_id_and_time() -> None:
    vector = COSIGNATURES["c2sp-spec-example-structure-only"]
    raw = base64.b64decode(vector["line"].split(" ")[2])
    assert raw[:4].hex() == vector["decoded"]["key_id"]
    assert note.cosignature_timestamp(raw) == vector["decoded"]["timestamp"]


def test_a_cosignature_needs_a_positive_time_and_a_checkpoint() -> None:
    cosigner = Cosigner("w", Ed25519PrivateKey.generate())
    body = Checkpoint("log", 0, bytes(32)).text()
    with pytest.raises(ValueError, match="positive"):
        cosigner.cosignature_line(body, 0)
    with pytest.raises(MalformedNote):
        cosigner.cosignature_line("not a checkpoint\n", 1)


def test_a_bad_line_of_a_known_key_spoils_a_good_one() -> None:
    """Go skips a known key's repeated lines; we check each (C2SP tlog-witness: 403)."""
    good = NOTES["xmod-peter"]["note"]
    bad = NOTES["xmod-invalid-signature-known-key"]["note"].splitlines()[-1]
    known = [VerifierKey.parse(KEYS["peter"]["vkey"])]
    with pytest.raises(BadSignature):
        note.open_note(f"{good}{bad}\n", known)


def test_the_services_checkpoints_of_today_open_as_c2sp_checkpoints() -> None:
    """app.audit.checkpoint's notes (the chain's head as the root line) are what this module
    reads: one verifier key format, one note format, for the migration to keep."""
    from datetime import UTC, datetime

    from app.audit import checkpoint as today

    signer = today.Signer(Ed25519PrivateKey.generate(), "cenomed.test/audit")
    at = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
    signed = signer.sign(today.Checkpoint("cenomed.test/audit", 42, bytes(range(32)), at))
    opened = note.open_note(signed, [VerifierKey.parse(signer.verifier.encode())])
    assert note.parse_checkpoint(opened.text) == Checkpoint(
        "cenomed.test/audit", 42, bytes(range(32)), ("time 2026-12-07T17:00:00Z",)
    )
