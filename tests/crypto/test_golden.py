"""The committed golden ciphertexts still decrypt: the format can never change silently."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from app.crypto.blind_index import identity_digest
from app.crypto.keyring import SecretKeyringProvider
from app.crypto.models import CaseKey
from app.crypto.vault import Vault

CORPUS: dict[str, Any] = json.loads(Path(__file__).with_name("golden.json").read_text())
FIELDS = [(case, field) for case in CORPUS["cases"] for field in case["fields"]]


def _vault() -> Vault:
    return Vault(SecretKeyringProvider(inline=json.dumps(CORPUS["keyring"])))


@pytest.mark.parametrize(("case", "field"), FIELDS, ids=[f["column"] for _, f in FIELDS])
def test_golden_ciphertexts_decrypt(case: dict[str, Any], field: dict[str, str]) -> None:
    case_id = uuid.UUID(case["case_id"])
    key = CaseKey(
        case_id=case_id,
        kek_id=case["kek_id"],
        key_version=case["key_version"],
        wrapped_key=base64.b64decode(case["wrapped_key"]),
    )
    cipher = _vault().cipher_for(case_id, key)
    ciphertext = base64.b64decode(field["ciphertext"])
    assert (
        cipher.open_text(field["table"], field["column"], field["row"], ciphertext)
        == field["plaintext"]
    )


def test_golden_blind_index_is_stable() -> None:
    ring = _vault().provider
    for case in CORPUS["cases"]:
        digest = identity_digest(
            ring.index_key(), "Zyxwavel-Doré", "Quentinette", date(2012, 5, 17)
        )
        assert base64.b64encode(digest).decode() == case["identity_digest"]
