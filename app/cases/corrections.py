"""Corrections of a case: the signalement amended, withdrawn or sent back to its author, a
research note amended, and the revisions these leave.

Each is a step of the procedure (the machine says when, the charter who), an audit event and
a line of the history that names the fields changed, never their values. The values an
amendment replaced are kept sealed with the case's key and read by the coordinator alone
(R10). The order of the checks is the steps' own: the case in the caller's cells (404), the
charter (403), the procedure (409), then the values (422); a refused request changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.audit import trail
from app.audit.trail import Action
from app.cases import personal, repository, service
from app.cases.age import age_bracket
from app.cases.models import Case, CaseMotif, CaseRevision, ResearchNote
from app.cases.schemas import CasePatch, GuardianIn
from app.crypto.envelope import FieldCipher
from app.crypto.vault import Vault
from app.db import utcnow
from app.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from app.notifications import service as notifications
from app.policy import decisions
from app.policy.visibility import Block, case_view
from app.principal import Principal
from app.retention.policy import birth_month
from app.vocabulary import CellKind, NotificationKind, ReturnReason, WithdrawalReason
from app.workflow import guards
from app.workflow.guards import StepFacts
from app.workflow.machine import ALLOWED_FROM
from app.workflow.states import CaseState, Step

# The signalement's fields, by their names in the case as read (flat: each name is unique).
IDENTITY_FIELDS = ("last_name", "first_name", "birth_date", "sex", "school")
CONTACT_FIELDS = ("address", "guardians")
FACTS_FIELDS = ("motifs", "facts")
SIGNALEMENT_FIELDS = IDENTITY_FIELDS + CONTACT_FIELDS + FACTS_FIELDS
# A signalement always names the minor, their birth date and at least one motif.
REQUIRED_FIELDS = frozenset({"last_name", "first_name", "birth_date", "motifs"})
_BLOCK_OF = {
    **dict.fromkeys(IDENTITY_FIELDS, Block.IDENTITY),
    **dict.fromkeys(CONTACT_FIELDS, Block.CONTACT),
    **dict.fromkeys(FACTS_FIELDS, Block.FACTS),
}


def amendment_step(state: CaseState) -> Step:
    """Before the parquet's decision the signalement itself is amended; afterwards, while the
    case is open, only its identity and contact are corrected (by the coordinator)."""
    return Step.CORRECT_IDENTITY if state in ALLOWED_FROM[Step.CORRECT_IDENTITY] else Step.AMEND


def amendable_fields(step: Step) -> tuple[str, ...]:
    if step is Step.CORRECT_IDENTITY:
        return IDENTITY_FIELDS + CONTACT_FIELDS
    return SIGNALEMENT_FIELDS


def may_amend(principal: Principal, case: Case) -> Step | None:
    """The amendment step this user may take on this case now, if any (for the pages)."""
    step = amendment_step(CaseState(case.state))
    if not decisions.may_step(principal, step, service.facts_of(case)):
        return None
    if not service.allows(step, case, StepFacts(today=date.min)):
        return None
    return step


@dataclass(frozen=True, slots=True)
class Signalement:
    """The amendable values of a case, opened: what an amendment compares and replaces."""

    values: dict[str, Any]

    @classmethod
    def of(cls, case: Case, cipher: FieldCipher) -> Signalement:
        values: dict[str, Any] = {"sex": case.sex, "motifs": sorted(m.motif for m in case.motifs)}
        if case.personal is not None:
            identity = personal.open_identity(cipher, case.personal)
            values.update(
                last_name=identity.last_name,
                first_name=identity.first_name,
                birth_date=identity.birth_date.isoformat(),
                school=identity.school,
                address=personal.open_address(cipher, case.personal),
                facts=personal.open_facts(cipher, case.personal),
            )
        guardians = []
        for guardian in case.guardians:
            name, phone = personal.open_guardian(cipher, guardian)
            guardians.append({"name": name, "relationship": guardian.relationship, "phone": phone})
        values["guardians"] = guardians
        return cls(values)


def _comparable(name: str, value: Any) -> Any:
    """A patch's value in the shape ``Signalement`` keeps (plain JSON values)."""
    if value is None:
        return None
    if name == "birth_date":
        return value.isoformat()
    if name == "sex":
        return str(value)
    if name == "motifs":
        return sorted({str(m) for m in value})
    if name == "guardians":
        return [
            {"name": g.name, "relationship": str(g.relationship), "phone": g.phone} for g in value
        ]
    return value


def _refuse_fields(names: list[str], slug: str, detail: str, status: type[Any]) -> Any:
    return status(
        detail,
        slug=slug,
        errors=[
            {"loc": ["body", *_path(name)], "msg": detail, "type": slug.replace("-", "_")}
            for name in names
        ],
    )


def _path(name: str) -> list[str]:
    if name in IDENTITY_FIELDS:
        return ["minor", name]
    if name in CONTACT_FIELDS:
        return ["contact", name]
    return [name]


def amend_case(
    session: Session,
    *,
    principal: Principal,
    vault: Vault,
    case_id: uuid.UUID,
    patch: CasePatch,
    today: date,
) -> Case:
    """Amends the signalement (R4) or corrects its identity and contact (R10); keeps the
    values replaced as a revision; the blind index follows the identity (so a possible
    duplicate is evaluated again on the next read); clears a return to the author."""
    case = service.case_of(session, principal=principal, case_id=case_id)
    step = amendment_step(CaseState(case.state))
    service.require_step_on(principal, step, case)
    service.check_step(step, case, StepFacts(today=today))
    if patch.version is not None and patch.version != case.version:
        raise Conflict(
            "This case changed since you read it (its version is no longer the one you "
            "amended): read it again and redo your amendment.",
            slug="concurrent-change",
            case_id=case.id,
        )
    changes = patch.changes()
    if not changes:
        raise InvalidInput(
            "The amendment names no field: send the fields to change (minor, contact, motifs, "
            "facts).",
            slug="empty-amendment",
        )
    if "minor" in changes or "contact" in changes:
        raise _refuse_fields(
            [name for name in ("minor", "contact") if name in changes],
            "required-field-removed",
            "A signalement always names the minor: a block cannot be removed, only its "
            "optional fields.",
            InvalidInput,
        )
    allowed = amendable_fields(step)
    refused = sorted(name for name in changes if name not in allowed)
    if refused:
        raise _refuse_fields(
            refused,
            "amendment-field-not-allowed",
            "After the parquet's decision only the identity and contact are corrected: leave "
            "the other fields out.",
            Forbidden,
        )
    removed = sorted(
        name for name, value in changes.items() if value is None and name in REQUIRED_FIELDS
    )
    if removed:
        raise _refuse_fields(
            removed,
            "required-field-removed",
            "A signalement always names the minor, their birth date and at least one motif: "
            "these cannot be removed.",
            InvalidInput,
        )
    kind = CellKind(service.cell_of(session, case).kind)
    born = patch.minor.birth_date if patch.minor is not None else None
    if born is not None:
        with service.invalid_input_of_guards():
            guards.check_public(kind, born, case.received_on)

    cipher = service.cipher_of(vault, case)
    current = Signalement.of(case, cipher).values
    readable = case_view(principal, service.facts_of(case)).blocks
    # A value the caller may not read counts as changed: saying it is unchanged would tell them.
    changed = sorted(
        name
        for name, value in changes.items()
        if _BLOCK_OF[name] not in readable or _comparable(name, value) != current.get(name)
    )
    if not changed:
        trail.record(session, principal, Action.AMEND_CASE, case_id=case.id, detail="unchanged")
        return case
    revision_id = uuid.uuid4()
    session.add(
        CaseRevision(
            id=revision_id,
            case_id=case.id,
            at=utcnow(),
            actor_id=principal.user_id,
            actor_role=principal.role.value,
            fields=",".join(changed),
            previous_enc=personal.seal_revision(
                cipher, revision_id, {name: current.get(name) for name in changed}
            ),
        )
    )
    _apply(session, vault, cipher, case, {name: changes[name] for name in changed})
    case.returned_reason = None
    case.returned_at = None
    service.advance(
        session, case, step, StepFacts(today=today), principal, detail=",".join(changed)
    )
    service.save(session)
    return case


def _apply(
    session: Session, vault: Vault, cipher: FieldCipher, case: Case, changes: dict[str, Any]
) -> None:
    record = case.personal
    assert record is not None  # a case not purged has its personal row
    sealed_text = {"last_name", "first_name", "school", "address", "facts"}
    for name in sealed_text & changes.keys():
        value = changes[name]
        column = f"{name}_enc"
        sealed = None if value is None else personal.seal_field(cipher, case.id, column, value)
        setattr(record, column, sealed)
    if "birth_date" in changes:
        born: date = changes["birth_date"]
        record.birth_date_enc = personal.seal_field(
            cipher, case.id, "birth_date_enc", born.isoformat()
        )
        case.age_bracket = age_bracket(born, case.received_on)
        case.birth_month_on = birth_month(born)
    if "sex" in changes:
        case.sex = changes["sex"].value if changes["sex"] is not None else None
    if "motifs" in changes:
        case.motifs.clear()
        session.flush()  # the old motifs go before the new ones (same primary keys)
        case.motifs.extend(CaseMotif(motif=m.value) for m in sorted(set(changes["motifs"])))
    if "guardians" in changes:
        case.guardians.clear()
        given: list[GuardianIn] = changes["guardians"] or []
        case.guardians.extend(
            personal.seal_guardian(
                cipher,
                case.id,
                position=i,
                name=g.name,
                relationship=g.relationship.value,
                phone=g.phone,
            )
            for i, g in enumerate(given)
        )
    if changes.keys() & {"last_name", "first_name", "birth_date"}:
        identity = personal.open_identity(cipher, record)
        vault.reindex_identity(
            session, case.id, identity.last_name, identity.first_name, identity.birth_date
        )


def withdraw(
    session: Session,
    *,
    principal: Principal,
    case_id: uuid.UUID,
    reason: WithdrawalReason,
    today: date,
) -> Case:
    """R4: the author or the coordinator takes back a signalement the parquet has not seen;
    it is terminal, counted, and destroyed by the next purge (R18)."""
    case = service.case_for_step(session, principal, case_id, Step.WITHDRAW)
    service.advance(
        session, case, Step.WITHDRAW, StepFacts(today=today), principal, detail=reason.value
    )
    case.withdrawal_reason = reason.value
    case.withdrawn_at = utcnow()
    case.returned_reason = None
    case.returned_at = None
    service.save(session)
    return case


def return_to_author(
    session: Session,
    *,
    principal: Principal,
    case_id: uuid.UUID,
    reason: ReturnReason,
    today: date,
) -> Case:
    """The coordinator sends an incomplete signalement back: it waits for its author's
    amendment before going to the parquet."""
    case = service.case_for_step(session, principal, case_id, Step.RETURN_TO_AUTHOR)
    facts = service.receipt_facts(case, today)
    service.advance(session, case, Step.RETURN_TO_AUTHOR, facts, principal, detail=reason.value)
    case.returned_reason = reason.value
    case.returned_at = utcnow()
    service.save(session)
    notifications.to_account(
        session,
        kind=NotificationKind.CASE_RETURNED,
        cell_id=case.cell_id,
        user_id=case.submitted_by,
        actor_id=principal.user_id,
    )
    return case


def amend_research_note(
    session: Session,
    *,
    principal: Principal,
    vault: Vault,
    case_id: uuid.UUID,
    note_id: uuid.UUID,
    content: str,
    today: date,
) -> ResearchNote:
    """R6: a note's author amends it during the research; the earlier text is a revision."""
    case = service.case_for_step(session, principal, case_id, Step.AMEND_RESEARCH_NOTE)
    note = next((n for n in case.research_notes if n.id == note_id), None)
    if note is None:
        raise NotFound(
            "This case has no research note with this id.",
            slug="research-note-not-found",
            case_id=case.id,
        )
    if note.author_id != principal.user_id:
        raise Forbidden(
            "Only its author amends a research note.", slug="not-note-author", case_id=case.id
        )
    service.check_step(Step.AMEND_RESEARCH_NOTE, case, StepFacts(today=today))
    cipher = service.cipher_of(vault, case)
    previous = personal.open_note(cipher, note)
    if previous == content:
        trail.record(
            session, principal, Action.AMEND_RESEARCH_NOTE, case_id=case.id, detail="unchanged"
        )
        return note
    revision_id = uuid.uuid4()
    session.add(
        CaseRevision(
            id=revision_id,
            case_id=case.id,
            note_id=note.id,
            at=utcnow(),
            actor_id=principal.user_id,
            actor_role=principal.role.value,
            fields="content",
            previous_enc=personal.seal_revision(cipher, revision_id, {"content": previous}),
        )
    )
    note.content_enc = personal.seal_note(cipher, note.id, content)
    note.amended_at = utcnow()
    service.advance(
        session,
        case,
        Step.AMEND_RESEARCH_NOTE,
        StepFacts(today=today),
        principal,
        detail=f"note:{note.id}",
    )
    service.save(session)
    return note


@dataclass(frozen=True, slots=True)
class Revision:
    id: uuid.UUID
    at: datetime
    actor_id: int
    actor_role: str
    note_id: uuid.UUID | None
    fields: list[str]
    previous: dict[str, Any]


def revisions(
    session: Session, *, principal: Principal, vault: Vault, case_id: uuid.UUID
) -> list[Revision]:
    """R10: the values amendments replaced, oldest first: the coordinator's, logged as a
    high-severity read (a closed case needs a running archive access, R17)."""
    case = service.case_for_step(session, principal, case_id, Step.READ_REVISIONS)
    if case.state == CaseState.PURGED:
        raise Gone(
            "The nominative data of this case was destroyed under the retention rules (R18).",
            case_id=case.id,
        )
    if case.state == CaseState.CLOSED and case.id not in principal.archive_case_ids:
        raise Forbidden(
            "This case is closed and archived: request a motivated archive access first (R17).",
            slug="archive-access-required",
            case_id=case.id,
        )
    cipher = service.cipher_of(vault, case)
    found = [
        Revision(
            id=r.id,
            at=r.at,
            actor_id=r.actor_id,
            actor_role=r.actor_role,
            note_id=r.note_id,
            fields=r.fields.split(","),
            previous=personal.open_revision(cipher, r),
        )
        for r in repository.revisions_of(session, case_id=case.id)
    ]
    trail.record(
        session,
        principal,
        Action.READ_REVISIONS,
        case_id=case.id,
        severity=trail.HIGH,
        detail=f"revisions:{len(found)}",
    )
    return found
