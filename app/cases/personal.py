"""Sealing and opening a case's nominative fields with its data key.

Every field is bound to its table, column and row (see ``app.crypto.envelope``). A field that
fails to open is logged by place, never by value, and answered as an integrity problem.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.cases.models import ArchiveAccess, CasePersonal, CaseRevision, Guardian, ResearchNote
from app.crypto.envelope import FieldCipher, FieldIntegrityError
from app.errors import IntegrityFailure
from app.operations import metrics

log = logging.getLogger(__name__)

PERSONAL = "case_personal"
GUARDIAN = "guardian"
NOTE = "research_note"
ARCHIVE_ACCESS = "archive_access"
REVISION = "case_revision"


def _seal(cipher: FieldCipher, table: str, column: str, row: uuid.UUID, value: str) -> bytes:
    return cipher.seal_text(table, column, str(row), value)


def _seal_optional(
    cipher: FieldCipher, table: str, column: str, row: uuid.UUID, value: str | None
) -> bytes | None:
    return None if value is None else _seal(cipher, table, column, row, value)


def _open(cipher: FieldCipher, table: str, column: str, row: uuid.UUID, blob: bytes) -> str:
    try:
        return cipher.open_text(table, column, str(row), blob)
    except FieldIntegrityError as error:
        log.error("integrity failure on %s.%s row %s: %s", table, column, row, error)
        metrics.count_decryption_failure("field")
        raise IntegrityFailure(
            "A stored value of this case failed its integrity check and cannot be shown; the "
            "incident is logged. Report it to the service's administrators.",
        ) from error


def _open_optional(
    cipher: FieldCipher, table: str, column: str, row: uuid.UUID, blob: bytes | None
) -> str | None:
    return None if blob is None else _open(cipher, table, column, row, blob)


@dataclass(frozen=True, slots=True)
class Identity:
    last_name: str
    first_name: str
    birth_date: date
    school: str | None


def seal_personal(
    cipher: FieldCipher,
    case_id: uuid.UUID,
    *,
    last_name: str,
    first_name: str,
    birth_date: date,
    address: str | None,
    school: str | None,
    facts: str | None,
) -> CasePersonal:
    def seal(column: str, value: str | None) -> bytes | None:
        return _seal_optional(cipher, PERSONAL, column, case_id, value)

    return CasePersonal(
        case_id=case_id,
        last_name_enc=_seal(cipher, PERSONAL, "last_name_enc", case_id, last_name),
        first_name_enc=_seal(cipher, PERSONAL, "first_name_enc", case_id, first_name),
        birth_date_enc=_seal(cipher, PERSONAL, "birth_date_enc", case_id, birth_date.isoformat()),
        address_enc=seal("address_enc", address),
        school_enc=seal("school_enc", school),
        facts_enc=seal("facts_enc", facts),
    )


def seal_field(cipher: FieldCipher, case_id: uuid.UUID, column: str, value: str) -> bytes:
    """One field of ``case_personal`` sealed again (an amendment)."""
    return _seal(cipher, PERSONAL, column, case_id, value)


def open_identity(cipher: FieldCipher, personal: CasePersonal) -> Identity:
    row = personal.case_id
    return Identity(
        last_name=_open(cipher, PERSONAL, "last_name_enc", row, personal.last_name_enc),
        first_name=_open(cipher, PERSONAL, "first_name_enc", row, personal.first_name_enc),
        birth_date=date.fromisoformat(
            _open(cipher, PERSONAL, "birth_date_enc", row, personal.birth_date_enc)
        ),
        school=_open_optional(cipher, PERSONAL, "school_enc", row, personal.school_enc),
    )


def open_address(cipher: FieldCipher, personal: CasePersonal) -> str | None:
    return _open_optional(cipher, PERSONAL, "address_enc", personal.case_id, personal.address_enc)


def open_facts(cipher: FieldCipher, personal: CasePersonal) -> str | None:
    return _open_optional(cipher, PERSONAL, "facts_enc", personal.case_id, personal.facts_enc)


def seal_guardian(
    cipher: FieldCipher,
    case_id: uuid.UUID,
    *,
    position: int,
    name: str,
    relationship: str,
    phone: str | None,
) -> Guardian:
    guardian_id = uuid.uuid4()
    return Guardian(
        id=guardian_id,
        case_id=case_id,
        position=position,
        relationship=relationship,
        name_enc=_seal(cipher, GUARDIAN, "name_enc", guardian_id, name),
        phone_enc=_seal_optional(cipher, GUARDIAN, "phone_enc", guardian_id, phone),
    )


def open_guardian(cipher: FieldCipher, guardian: Guardian) -> tuple[str, str | None]:
    name = _open(cipher, GUARDIAN, "name_enc", guardian.id, guardian.name_enc)
    phone = _open_optional(cipher, GUARDIAN, "phone_enc", guardian.id, guardian.phone_enc)
    return name, phone


def seal_note(cipher: FieldCipher, note_id: uuid.UUID, content: str) -> bytes:
    return _seal(cipher, NOTE, "content_enc", note_id, content)


def open_note(cipher: FieldCipher, note: ResearchNote) -> str:
    return _open(cipher, NOTE, "content_enc", note.id, note.content_enc)


def seal_archive_reason(cipher: FieldCipher, access_id: uuid.UUID, reason: str) -> bytes:
    return _seal(cipher, ARCHIVE_ACCESS, "reason_enc", access_id, reason)


def open_archive_reason(cipher: FieldCipher, access: ArchiveAccess) -> str:
    return _open(cipher, ARCHIVE_ACCESS, "reason_enc", access.id, access.reason_enc)


def seal_revision(cipher: FieldCipher, revision_id: uuid.UUID, previous: dict[str, Any]) -> bytes:
    """The values an amendment replaced, as one sealed JSON document."""
    return _seal(cipher, REVISION, "previous_enc", revision_id, json.dumps(previous))


def open_revision(cipher: FieldCipher, revision: CaseRevision) -> dict[str, Any]:
    opened = _open(cipher, REVISION, "previous_enc", revision.id, revision.previous_enc)
    previous: dict[str, Any] = json.loads(opened)
    return previous
