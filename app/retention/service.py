"""The purge (R18, R19): destroys each case the retention rules name, keeps its statistics.

Destroying a case means, in one transaction of its own: its data key is destroyed (nothing it
encrypted can be read again, whoever holds the key-encryption key), its ciphertexts, guardians,
research notes, archive accesses and blind-index entry are deleted, and the case is marked
``purged`` with the rule that destroyed it; one audit event records it. What stays is the
statistical skeleton the indicators read: cell, origin, motifs, sex, age bracket, dates,
decisions, destinations, outcomes.

One case per transaction makes the purge idempotent and resumable (a crash leaves each case
either destroyed or untouched; the next run takes the rest) and safe beside the service: a case
changed by a step while the purge looked at it loses the purge's version check and is left for
the next run.

A run that would destroy more than ``max_share`` of the cases not yet purged (a wrong date or
clock names them all) goes ahead only if ``confirm`` says so; otherwise nothing is destroyed,
one high-severity ``purge`` refusal is logged with the counts, and :class:`PurgeRefused` is
raised.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.audit import trail
from app.audit.trail import Action
from app.cases import personal
from app.cases.models import (
    ArchiveAccess,
    Case,
    CasePersonal,
    CaseRevision,
    Guardian,
    ResearchNote,
)
from app.crypto.vault import DataDestroyed, KeyIntegrityError, Vault
from app.db import unit_of_work, utcnow
from app.errors import IntegrityFailure
from app.meetings.models import Meeting
from app.retention.policy import RetentionFacts, birth_month, get_retention_policy
from app.workflow.states import CaseState

# A broad first cut in SQL (the policy decides): the states the rules name, or anyone who may
# be 25 by now. Candidates are read in keyset batches of this size.
STATES_WITH_A_PERIOD = (
    CaseState.NOT_RETAINED.value,
    CaseState.CLOSED.value,
    CaseState.WITHDRAWN.value,
)
OLDEST_YOUNG_AGE = 24
BATCH = 500


@dataclass
class PurgeReport:
    as_of: date
    dry_run: bool
    by_rule: dict[str, list[str]] = field(default_factory=dict)
    purged: int = 0
    # Changed by a step while the purge looked at them: left for the next run.
    busy: list[str] = field(default_factory=list)
    birth_months_filled: int = 0
    # The cases the rules name, against those not yet purged when they were listed.
    to_destroy: int = 0
    not_purged: int = 0
    share: float = 0.0
    max_share: float | None = None
    above_max_share: bool = False


class PurgeRefused(Exception):
    """More than the share of the cases, not confirmed: nothing was destroyed."""

    def __init__(self, report: PurgeReport) -> None:
        super().__init__(f"{report.to_destroy} of {report.not_purged} cases, not confirmed")
        self.report = report


def above_share(to_destroy: int, not_purged: int, max_share: float) -> bool:
    """Whether destroying ``to_destroy`` of ``not_purged`` cases is more than ``max_share``
    of them (exactly: 29 of 100 is not more than 0.29, whatever floating point says)."""
    return Fraction(to_destroy) > Fraction(str(max_share)) * not_purged


def purge(
    sessions: sessionmaker[Session],
    vault: Vault,
    *,
    as_of: date,
    dry_run: bool = False,
    max_share: float | None = None,
    confirm: Callable[[PurgeReport], bool] = lambda report: False,
    on_case: Callable[[int, int], None] = lambda done, total: None,
) -> PurgeReport:
    """Destroys (or, dry, lists) every case the rules name on ``as_of``; more than
    ``max_share`` of the cases not yet purged (if given) only if ``confirm`` (given the
    report's counts) says yes, else raises PurgeRefused having destroyed nothing."""
    report = PurgeReport(as_of=as_of, dry_run=dry_run, max_share=max_share)
    if not dry_run:
        report.birth_months_filled = _fill_birth_months(sessions, vault)
    due = list(_due(sessions, as_of))
    report.to_destroy, report.not_purged = len(due), _not_purged(sessions)
    report.share = round(len(due) / report.not_purged, 4) if report.not_purged else 0.0
    if max_share is not None:
        report.above_max_share = above_share(len(due), report.not_purged, max_share)
    if report.above_max_share and not dry_run and not confirm(report):
        _record_refusal(sessions, report)
        raise PurgeRefused(report)
    for rules, _ in due:
        report.by_rule.setdefault(rules[0], [])
    for done, (rules, case_id) in enumerate(due, start=1):
        report.by_rule[rules[0]].append(str(case_id))
        if not dry_run:
            if _destroy(sessions, vault, case_id, as_of):
                report.purged += 1
            else:
                report.busy.append(str(case_id))
        on_case(done, len(due))
    return report


def _not_purged(sessions: sessionmaker[Session]) -> int:
    with unit_of_work(sessions) as session:
        query = select(func.count()).select_from(Case).where(Case.state != CaseState.PURGED.value)
        return int(session.scalar(query) or 0)


def _record_refusal(sessions: sessionmaker[Session], report: PurgeReport) -> None:
    """The refused run, in the log: how many cases of how many, never which."""
    with unit_of_work(sessions) as session:
        trail.record(
            session,
            trail.OPERATOR,
            Action.PURGE,
            severity=trail.HIGH,
            outcome=trail.DENIED,
            detail=f"above-share:{report.to_destroy}/{report.not_purged}",
        )


def _due(sessions: sessionmaker[Session], as_of: date) -> Iterator[tuple[list[str], uuid.UUID]]:
    """(rules, case id) of every case to destroy, read in keyset batches."""
    young_limit = date(as_of.year - OLDEST_YOUNG_AGE, as_of.month, 1)
    last: uuid.UUID | None = None
    while True:
        with unit_of_work(sessions) as session:
            query = (
                _facts_query()
                .where(
                    Case.state != CaseState.PURGED.value,
                    or_(
                        Case.state.in_(STATES_WITH_A_PERIOD),
                        Case.birth_month_on <= young_limit,
                    ),
                )
                .order_by(Case.id)
                .limit(BATCH)
            )
            if last is not None:
                query = query.where(Case.id > last)
            rows = session.execute(query).all()
        if not rows:
            return
        for row in rows:
            rules = _rules(row, as_of)
            if rules:
                yield rules, row[0]
        last = rows[-1][0]


def _facts_query() -> Any:  # a Select of the facts the rules read
    return select(
        Case.id,
        Case.state,
        Case.birth_month_on,
        Case.parquet_decided_at,
        Case.closed_at,
        Meeting.held_on,
    ).outerjoin(Meeting, Meeting.id == Case.presentation_meeting_id)


def _rules(row: Any, as_of: date) -> list[str]:
    _, state, born, decided_at, closed_at, presented_on = row
    facts = RetentionFacts(
        state=state,
        presented=presented_on is not None and presented_on <= as_of,
        birth_month_on=born,
        parquet_decided_at=decided_at,
        closed_at=closed_at,
    )
    return get_retention_policy().rules_destroying(facts, as_of)


def _destroy(
    sessions: sessionmaker[Session], vault: Vault, case_id: uuid.UUID, as_of: date
) -> bool:
    """One case, in its own transaction, if a rule still names it: its facts are read again
    with the row locked (a step may have moved it since the candidates were listed). False if
    a step changed it meanwhile."""
    try:
        with unit_of_work(sessions) as session:
            row = session.execute(
                _facts_query().where(Case.id == case_id).with_for_update(of=Case)
            ).one_or_none()
            rules = _rules(row, as_of) if row is not None else []
            if not rules:
                return True  # purged by another run, or no longer due: nothing to do
            case = session.get(Case, case_id)
            assert case is not None
            for table in (CasePersonal, Guardian, CaseRevision, ResearchNote, ArchiveAccess):
                session.execute(delete(table).where(table.case_id == case_id))
            vault.shred(session, case_id)
            case.state = CaseState.PURGED.value
            case.purged_at = utcnow()
            case.purge_rule = rules[0]
            case.birth_month_on = None
            session.flush()  # the version check: a concurrent step makes this fail
            trail.record(
                session,
                trail.OPERATOR,
                Action.PURGE_CASE,
                case_id=case_id,
                severity=trail.HIGH,
                detail=rules[0],
            )
    except StaleDataError:
        return False
    return True


def _fill_birth_months(sessions: sessionmaker[Session], vault: Vault) -> int:
    """Cases submitted before the retention migration: their birth month, once, from the
    encrypted birth date (the 25-year rule needs it in clear). A case whose key is destroyed
    or damaged is left as it is."""
    filled, skipped = 0, set[uuid.UUID]()
    while True:
        with unit_of_work(sessions) as session:
            query = (
                select(Case)
                .where(Case.birth_month_on.is_(None), Case.state != CaseState.PURGED.value)
                .options(selectinload(Case.key), selectinload(Case.personal))
                .limit(BATCH)
            )
            if skipped:
                query = query.where(Case.id.not_in(skipped))
            cases = session.scalars(query).all()
            for case in cases:
                try:
                    cipher = vault.cipher_for(case.id, case.key)
                    if case.personal is None:
                        raise DataDestroyed(str(case.id))
                    born = personal.open_identity(cipher, case.personal).birth_date
                except (DataDestroyed, KeyIntegrityError, IntegrityFailure):
                    skipped.add(case.id)
                    continue
                case.birth_month_on = birth_month(born)
                filled += 1
        if not cases:
            return filled
