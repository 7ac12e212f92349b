"""Cost of our field encryption against raw AES-256-GCM on the same bytes, in the same run.

    .venv/bin/python -m bench.crypto_bench      (or: make bench-crypto)

Writes bench/results/crypto.json and bench/results/crypto.md. "Raw" is what any correct use of
AES-GCM pays: a fresh random nonce and one encrypt (or decrypt) call. "Ours" adds the header,
the associated data (table, column, row, key version) and the format checks.
Target (issue 3): ours within 2x of raw per field.
"""

from __future__ import annotations

import os
import statistics
import timeit
import uuid

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.crypto.envelope import FieldCipher, field_aad, new_data_key
from app.crypto.keyring import Keyring, SecretKeyringProvider
from bench.results_file import provenance, publish

FIELDS = {
    "name (12 B)": "Zyxwavel-Doé",
    "address (40 B)": "12 rue Imaginaire, 75018 Paris, bât. B",
    "facts (2,000 B)": ("Absences répétées signalées. " * 70)[:2000],
}
NUMBER, REPEAT = 20_000, 15


def per_call_us(statement: object) -> float:
    """Best of REPEAT runs (the least disturbed by the machine), in microseconds per call."""
    runs = timeit.repeat(statement, number=NUMBER, repeat=REPEAT)  # type: ignore[arg-type]
    return min(runs) / NUMBER * 1e6


def measure_field(
    ours: FieldCipher, raw: AESGCM, row: str, label: str, text: str
) -> dict[str, object]:
    data = text.encode()
    sealed = ours.seal("case_personal", "facts_enc", row, data)
    nonce = os.urandom(12)
    raw_sealed = raw.encrypt(nonce, data, None)
    aad = field_aad("case_personal", "facts_enc", row, 1)
    raw_bound = raw.encrypt(nonce, data, aad)
    enc_ours = per_call_us(lambda: ours.seal("case_personal", "facts_enc", row, data))
    enc_raw = per_call_us(lambda: raw.encrypt(os.urandom(12), data, None))
    dec_ours = per_call_us(lambda: ours.open("case_personal", "facts_enc", row, sealed))
    dec_raw = per_call_us(lambda: raw.decrypt(nonce, raw_sealed, None))
    dec_raw_aad = per_call_us(lambda: raw.decrypt(nonce, raw_bound, aad))
    # For information: the same with the str <-> UTF-8 conversion the service also does.
    enc_text = per_call_us(lambda: ours.seal_text("case_personal", "facts_enc", row, text))
    dec_text = per_call_us(lambda: ours.open_text("case_personal", "facts_enc", row, sealed))
    return {
        "field": label,
        "encrypt_ours_us": round(enc_ours, 3),
        "encrypt_raw_us": round(enc_raw, 3),
        "encrypt_ratio": round(enc_ours / enc_raw, 2),
        "decrypt_ours_us": round(dec_ours, 3),
        "decrypt_raw_us": round(dec_raw, 3),
        "decrypt_ratio": round(dec_ours / dec_raw, 2),
        "decrypt_raw_same_aad_us": round(dec_raw_aad, 3),
        "decrypt_ratio_same_aad": round(dec_ours / dec_raw_aad, 2),
        "encrypt_text_us": round(enc_text, 3),
        "decrypt_text_us": round(dec_text, 3),
    }


def measure() -> dict[str, object]:
    key = new_data_key()
    ours = FieldCipher(key, 1)
    raw = AESGCM(key)
    row = str(uuid.uuid4())
    rows = [measure_field(ours, raw, row, label, text) for label, text in FIELDS.items()]
    provider = SecretKeyringProvider(inline=Keyring.new().to_json())
    context = uuid.uuid4().bytes
    kek_id, wrapped = provider.wrap(key, context=context)
    unwrap_us = per_call_us(lambda: provider.unwrap(kek_id, wrapped, context=context))
    return {
        **provenance(
            "python -m bench.crypto_bench", f"best of {REPEAT} runs of {NUMBER} calls each"
        ),
        "fields": rows,
        "unwrap_data_key_us": round(unwrap_us, 3),
        "worst_ratio": max(
            max(r["encrypt_ratio"], r["decrypt_ratio"])  # type: ignore[type-var]
            for r in rows
        ),
        "median_ratio": statistics.median(
            [r["encrypt_ratio"] for r in rows] + [r["decrypt_ratio"] for r in rows]
        ),
    }


def markdown(result: dict[str, object]) -> str:
    lines = [
        "# Field encryption: our layer against raw AES-256-GCM",
        "",
        f"- date: {result['date']}",
        f"- command: `{result['command']}`",
        f"- machine: {result['machine']}, Python {result['python']}",
        f"- method: {result['method']}",
        "",
        "| field | encrypt ours (µs) | raw (µs) | ratio | decrypt ours (µs) | raw (µs) | ratio "
        "| with str conversion: encrypt / decrypt (µs) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["fields"]:  # type: ignore[attr-defined]
        lines.append(
            f"| {r['field']} | {r['encrypt_ours_us']} | {r['encrypt_raw_us']} | "
            f"{r['encrypt_ratio']} | {r['decrypt_ours_us']} | {r['decrypt_raw_us']} | "
            f"{r['decrypt_ratio']} | {r['encrypt_text_us']} / {r['decrypt_text_us']} |"
        )
    lines += [
        "",
        f"Unwrapping a case's data key (cache miss): {result['unwrap_data_key_us']} µs.",
        f"Worst ratio: {result['worst_ratio']}x (target: at most 2x).",
        "",
        "Ours and raw take and give the same bytes. The service also converts str to UTF-8 and",
        "back (last column): for a 2,000-character account with accents that conversion costs",
        "about as much as AES-GCM itself, and any implementation storing text pays it.",
        "Decrypting with the same associated data but none of our checks takes "
        f"{result['fields'][0]['decrypt_raw_same_aad_us']} µs for a name: the binding to "  # type: ignore[index]
        "table, column, row and key version is part of the cost.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    publish("crypto", measure(), markdown)


if __name__ == "__main__":
    main()
