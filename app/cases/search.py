"""Finding a case by the minor's identity (issue 16): never a fishing tool.

A search names a whole identity (last name, first name, birth date); it is answered through
the blind index (``app.crypto.blind_index``): the terms are folded exactly as the signalements'
names were when indexed (case, accents, spacing, hyphens, invisible characters), keyed with the
index key, and the digest is looked up. No case is decrypted to compare names, and no partial
name can match: a digest matches a whole identity or nothing. Only the cases returned are
opened, and only for the blocks shown.

What is returned is what the charter lets the caller see of each case of their cells:

* a case whose identity block the caller may read now is shown as the list shows it (the
  blocks of their view, ``withheld`` naming the others) and its reading is logged;
* a closed case (R17) whose archive the caller may ask to open (coordinator, parquet) is an
  entry of the archive's index, as ``GET /cases?state=closed`` lists it: its reference, state,
  dates and closure reason, nothing nominative (its key is not opened), read through
  ``POST /cases/{id}/archive-access``;
* any other case is left out: the match itself would tell the caller that this minor is the
  subject of a case whose identity the charter hides from them.

Each search is one audit event with the number of results, never the terms (R23), besides
one event per case shown (its blocks, or ``archive_index`` for an index entry). An account
makes at most ``searches_per_hour`` searches in any hour: counted from its own search events in
the audit log, so the limit holds across workers and restarts and is the server's fact alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit import trail
from app.audit.models import AuditEvent
from app.audit.trail import Action
from app.cases import repository, service
from app.cases.search_schemas import CaseSearch
from app.cases.service import VisibleCase
from app.crypto.blind_index import identity_digest
from app.crypto.vault import Vault
from app.directory.models import User
from app.errors import Forbidden, TooManySearches
from app.policy import decisions
from app.policy.visibility import Block, case_view
from app.principal import Principal
from app.workflow.states import CaseState, Step

SEARCH = "search_cases"  # the charter's action (policies/charter.cedar), per cell
WINDOW = timedelta(hours=1)
# The most cases one search returns: one minor's cases in the caller's cells (a handful).
MAX_RESULTS = 50
RESULTS = "results:"  # the detail of a search's own event: "results:<n>"


@dataclass(frozen=True, slots=True)
class Found:
    """What a search shows, newest first, each case as the list shows it."""

    cases: list[VisibleCase]

    @property
    def count(self) -> int:
        return len(self.cases)


def searchable_cells(principal: Principal) -> frozenset[int]:
    """The caller's cells in which the charter lets them search (403 if none)."""
    if not principal.charter_accepted:
        raise decisions.charter_refusal()
    if not decisions.may_as_member(principal, SEARCH):
        raise Forbidden(
            f"The charter does not let your role ({principal.role.value}) search for cases.",
            slug="role-not-allowed",
        )
    cells = frozenset(c for c in principal.cell_ids if decisions.may_in_cell(principal, SEARCH, c))
    if not cells:
        raise Forbidden(
            "You belong to no cell, so there is no case for you to find (R1).",
            slug="not-a-cell-member",
        )
    return cells


def may_search(principal: Principal) -> bool:
    """Whether the charter lets the caller search in one of their cells (the pages' offer)."""
    try:
        searchable_cells(principal)
    except Forbidden:
        return False
    return True


def searches_in_last_hour(session: Session, *, user_id: int, now: datetime) -> int:
    """The account's searches answered in the hour up to ``now`` (from the audit log)."""
    query = select(func.count()).where(
        AuditEvent.actor_id == user_id,
        AuditEvent.action == Action.SEARCH_CASES.value,
        AuditEvent.outcome == trail.ALLOWED,
        AuditEvent.case_id.is_(None),  # the search's own event, not the cases it showed
        AuditEvent.at > now - WINDOW,
        AuditEvent.at <= now,
    )
    return int(session.scalar(query) or 0)


def _check_rate(session: Session, principal: Principal, now: datetime, per_hour: int) -> None:
    # Concurrent searches by one account queue on its row (PostgreSQL) until the first one's
    # event is committed, so that two of them cannot both take the last search of the hour.
    session.execute(select(User.id).where(User.id == principal.user_id).with_for_update())
    if searches_in_last_hour(session, user_id=principal.user_id, now=now) >= per_hour:
        raise TooManySearches(
            f"You made {per_hour} searches in the last hour, the most the service allows "
            "(CENOMED_SEARCHES_PER_HOUR): wait before searching again, or find the case in "
            "your list.",
            slug="too-many-searches",
        )


def search_cases(
    session: Session,
    *,
    principal: Principal,
    vault: Vault,
    data: CaseSearch,
    now: datetime,
    per_hour: int,
) -> Found:
    """The caller's cells' cases of this minor, each as the charter lets the caller see it."""
    cells = searchable_cells(principal)
    _check_rate(session, principal, now, per_hour)
    digest = identity_digest(
        vault.provider.index_key(), data.last_name, data.first_name, data.birth_date
    )
    candidates = (
        repository.cases_with_identity(session, digest=digest, cell_ids=cells, limit=MAX_RESULTS)
        if digest is not None
        else []
    )
    shown: list[VisibleCase] = []
    for case in candidates:
        facts = service.facts_of(case)
        if Block.IDENTITY in case_view(principal, facts).blocks:
            shown.append(
                service.shown_in_list(session, principal=principal, vault=vault, case=case)
            )
        elif case.state == CaseState.CLOSED and decisions.may_step(
            principal, Step.REQUEST_ARCHIVE_ACCESS, facts
        ):
            shown.append(service.archive_index_entry(case))
    found = Found(shown)
    # One read event per case whose blocks are shown; an index entry shows none, but its
    # showing is an access too (R17, R23), logged as the list logs it.
    trail.record_reads(session, principal, Action.SEARCH_CASES, [service.read_of(v) for v in shown])
    for entry in (v for v in shown if v.archive_entry):
        trail.record(
            session, principal, Action.SEARCH_CASES, case_id=entry.case.id, detail="archive_index"
        )
    trail.record(session, principal, Action.SEARCH_CASES, detail=f"{RESULTS}{found.count}")
    return found
