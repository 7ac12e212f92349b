"""Writes tests/crypto/golden.json: ciphertexts made by the current code with a test keyring.

Run once when a new ciphertext format is introduced (add to the corpus, never rewrite it):
    .venv/bin/python -m tests.crypto.make_golden
The test keyring is for this corpus only; it protects nothing.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date
from pathlib import Path

from app.cases import personal
from app.crypto.blind_index import identity_digest
from app.crypto.envelope import FieldCipher, new_data_key
from app.crypto.keyring import Keyring, SecretKeyringProvider

GOLDEN = Path(__file__).with_name("golden.json")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def main() -> None:
    ring = Keyring.new()
    provider = SecretKeyringProvider(inline=ring.to_json())
    case_id = uuid.UUID("5b0a4c1e-6f1d-4e8a-9a51-2d4f7c3b9e10")
    data_key = new_data_key()
    kek_id, wrapped = provider.wrap(data_key, context=case_id.bytes)
    cipher = FieldCipher(data_key, 1)
    sealed = personal.seal_personal(
        cipher,
        case_id,
        last_name="Zyxwavel-Doré",
        first_name="Quentinette",
        birth_date=date(2012, 5, 17),
        address="12 rue Imaginaire, 75018 Paris",
        school="Collège Fictif",
        facts="Absences répétées (exemple fictif) — « guillemets », émoji 🙂.",
    )
    row = str(case_id)
    fields = [
        ("case_personal", column, row, value, getattr(sealed, column))
        for column, value in [
            ("last_name_enc", "Zyxwavel-Doré"),
            ("first_name_enc", "Quentinette"),
            ("birth_date_enc", "2012-05-17"),
            ("address_enc", "12 rue Imaginaire, 75018 Paris"),
            ("school_enc", "Collège Fictif"),
            ("facts_enc", "Absences répétées (exemple fictif) — « guillemets », émoji 🙂."),
        ]
    ]
    corpus = {
        "about": "Golden ciphertexts of format 1, made by tests/crypto/make_golden.py with a "
        "test keyring. They must decrypt forever: the format cannot change silently.",
        "keyring": json.loads(ring.to_json()),
        "cases": [
            {
                "case_id": row,
                "kek_id": kek_id,
                "key_version": 1,
                "wrapped_key": b64(wrapped),
                "fields": [
                    {"table": t, "column": c, "row": r, "plaintext": p, "ciphertext": b64(ct)}
                    for t, c, r, p, ct in fields
                ],
                "identity_digest": b64(
                    identity_digest(
                        ring.index_key, "Zyxwavel-Doré", "Quentinette", date(2012, 5, 17)
                    )
                ),
            }
        ],
    }
    GOLDEN.write_text(json.dumps(corpus, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
