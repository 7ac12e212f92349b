"""Every query on cases. Relationships are ``lazy="raise"``: callers say what they load."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased, joinedload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from app.cases.models import (
    ArchiveAccess,
    Case,
    CaseReferenceCounter,
    CaseRevision,
    CaseTransfer,
    DuplicateDismissal,
    Orientation,
)
from app.crypto.models import IdentityIndex


def _everything() -> list[LoaderOption]:
    """The one-to-one rows come joined (no extra round trip); each collection in one query."""
    return [
        selectinload(Case.motifs),
        joinedload(Case.personal),
        selectinload(Case.guardians),
        selectinload(Case.research_notes),
        selectinload(Case.orientations).joinedload(Orientation.service),
        selectinload(Case.steps),
        joinedload(Case.key),
        selectinload(Case.transfers),
        selectinload(Case.additional_signalements),
        selectinload(Case.agenda_participants),
    ]


def _policy_facts() -> list[LoaderOption]:
    """What the policies look at beyond the case's own row (``service.facts_of``)."""
    return [
        selectinload(Case.orientations),
        selectinload(Case.research_notes),
        selectinload(Case.transfers),
        selectinload(Case.agenda_participants),
    ]


def _identity_and_policy_facts() -> list[LoaderOption]:
    """What a meeting's lists need: the identity to show, the facts the policies look at."""
    return [selectinload(Case.personal), *_policy_facts(), selectinload(Case.key)]


_CASE = select(Case).where(Case.id == bindparam("case_id")).options(*_everything())


def _transferred_away(cell_ids: object) -> ColumnElement[bool]:
    """Issue 16: the case left one of these cells by an accepted transfer (its author there
    keeps its workflow view: the charter decides, this only finds it)."""
    return Case.id.in_(
        select(CaseTransfer.case_id).where(
            CaseTransfer.from_cell_id.in_(cell_ids),  # type: ignore[arg-type]
            CaseTransfer.outcome == "accepted",
        )
    )


_CASE_IN_CELLS = (
    select(Case)
    .where(
        Case.id == bindparam("case_id"),
        or_(
            Case.cell_id.in_(bindparam("cell_ids", expanding=True)),
            and_(
                Case.submitted_by == bindparam("author_id"),
                _transferred_away(bindparam("cell_ids", expanding=True)),
            ),
        ),
    )
    .options(*_everything())
)


def get_case(session: Session, case_id: uuid.UUID) -> Case | None:
    return session.scalar(_CASE, {"case_id": case_id})


def get_case_in_cells(
    session: Session,
    case_id: uuid.UUID,
    cell_ids: frozenset[int],
    *,
    author_id: int | None = None,
) -> Case | None:
    """The case if one of these cells holds it (or, given ``author_id``, if that user
    submitted it in one of them before it was transferred away). A case of another cell and
    an id that exists nowhere cost the same single statement, so that the time of a refusal
    does not tell them apart."""
    return session.scalar(
        _CASE_IN_CELLS,
        {"case_id": case_id, "cell_ids": sorted(cell_ids), "author_id": author_id},
    )


def get_cases_for_policy(session: Session, case_ids: Sequence[uuid.UUID]) -> Sequence[Case]:
    """Cases with only what a charter decision needs (three queries where a full load is six)."""
    if not case_ids:
        return []
    query = select(Case).where(Case.id.in_(case_ids)).options(*_policy_facts())
    return session.scalars(query).all()


# The orders a list may take (its keyset column, newest first), by the sort's name.
SORT_COLUMNS = {"received_on": Case.received_on, "updated_at": Case.updated_at}


def cases_in_cells(
    session: Session,
    *,
    cell_ids: frozenset[int],
    state: str | None,
    reference: str | None = None,
    sort: str = "received_on",
    after: tuple[Any, uuid.UUID] | None,
    batch: int,
    author_id: int | None = None,
) -> Sequence[Case]:
    """One batch of the caller's cells' cases, newest first by ``sort``, after a keyset
    position (the sort's value and the id, which breaks ties); given ``author_id``, with the
    cases that user submitted there before they were transferred."""
    column = SORT_COLUMNS[sort]
    reach: ColumnElement[bool] = Case.cell_id.in_(cell_ids)
    if author_id is not None:
        reach = or_(reach, and_(Case.submitted_by == author_id, _transferred_away(cell_ids)))
    query: Select[Case] = select(Case).where(reach)
    if state is not None:
        query = query.where(Case.state == state)
    if reference is not None:
        query = query.where(Case.reference == reference)
    if after is not None:
        value, case_id = after
        query = query.where(or_(column < value, and_(column == value, Case.id < case_id)))
    query = query.order_by(column.desc(), Case.id.desc()).limit(batch)
    return session.scalars(query.options(*_everything())).all()


# Built once: constructing a statement over aliases costs more Python than running it (the
# load benchmark's profile showed this query's construction at a sixth of a case read).
_THIS_INDEX = aliased(IdentityIndex, name="this_index")
_THIS_CASE = aliased(Case, name="this_case")
_SAME_IDENTITY = (
    select(Case.id)
    .join(IdentityIndex, IdentityIndex.case_id == Case.id)
    .join(_THIS_INDEX, _THIS_INDEX.digest == IdentityIndex.digest)
    .join(_THIS_CASE, _THIS_CASE.id == _THIS_INDEX.case_id)
    .where(
        _THIS_INDEX.case_id == bindparam("case_id"),
        Case.id != bindparam("case_id"),
        Case.cell_id == _THIS_CASE.cell_id,
        # Issue 16: a case merged into another is no one's possible duplicate any more, and a
        # pair found to be of two different minors is never flagged again.
        Case.merged_into_id.is_(None),
        _THIS_CASE.merged_into_id.is_(None),
        # A withdrawn signalement is no longer the cell's business (R4): nobody's duplicate.
        Case.state != "withdrawn",
        _THIS_CASE.state != "withdrawn",
        ~exists().where(
            or_(
                and_(
                    DuplicateDismissal.first_case_id == Case.id,
                    DuplicateDismissal.second_case_id == _THIS_CASE.id,
                ),
                and_(
                    DuplicateDismissal.first_case_id == _THIS_CASE.id,
                    DuplicateDismissal.second_case_id == Case.id,
                ),
            )
        ),
    )
    .order_by(Case.submitted_at)
)


def same_identity_case_ids(session: Session, *, case_id: uuid.UUID) -> list[uuid.UUID]:
    """Other cases of the same cell whose blind-indexed identity equals this case's."""
    return list(session.scalars(_SAME_IDENTITY, {"case_id": case_id}))


def archive_grants(session: Session, *, user_id: int, now: datetime) -> frozenset[uuid.UUID]:
    """The cases this user holds a running archive access to (R17)."""
    query = select(ArchiveAccess.case_id).where(
        ArchiveAccess.user_id == user_id, ArchiveAccess.expires_at > now
    )
    return frozenset(session.scalars(query))


def cell_of_case(session: Session, case_id: uuid.UUID) -> int | None:
    """The cell holding a case, without loading it (None if there is no such case)."""
    return session.scalar(select(Case.cell_id).where(Case.id == case_id))


def archive_accesses(session: Session, *, case_id: uuid.UUID) -> Sequence[ArchiveAccess]:
    return session.scalars(
        select(ArchiveAccess)
        .where(ArchiveAccess.case_id == case_id)
        .order_by(ArchiveAccess.granted_at)
    ).all()


def next_reference_number(session: Session, *, cell_id: int, year: int) -> int:
    """The next sequence number of a cell's year, taken atomically (an upsert that returns the
    new value: two submissions at once never get the same number)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(CaseReferenceCounter)
        .values(cell_id=cell_id, year=year, last=1)
        .on_conflict_do_update(
            index_elements=["cell_id", "year"],
            set_={"last": CaseReferenceCounter.last + 1},
        )
        .returning(CaseReferenceCounter.last)
    )
    return int(session.execute(statement).scalar_one())


def case_id_of_reference(session: Session, *, reference: str) -> uuid.UUID | None:
    return session.scalar(select(Case.id).where(Case.reference == reference))


def references_of(session: Session, case_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The references of these cases, in one query (a page of the audit journal names the
    cases its events concern by the number people use; a reference is not nominative)."""
    wanted = {uuid.UUID(str(case_id)) for case_id in case_ids}
    if not wanted:
        return {}
    rows = session.execute(select(Case.id, Case.reference).where(Case.id.in_(wanted)))
    return {case_id: reference for case_id, reference in rows if reference}


def archive_accesses_by_id(
    session: Session, access_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ArchiveAccess]:
    """These archive accesses, in one query (the journal shows each one's window)."""
    wanted = set(access_ids)
    if not wanted:
        return {}
    rows = session.scalars(select(ArchiveAccess).where(ArchiveAccess.id.in_(wanted)))
    return {access.id: access for access in rows}


def revisions_of(session: Session, *, case_id: uuid.UUID) -> Sequence[CaseRevision]:
    return session.scalars(
        select(CaseRevision).where(CaseRevision.case_id == case_id).order_by(CaseRevision.at)
    ).all()


def cases_with_identity(
    session: Session, *, digest: bytes, cell_ids: frozenset[int], limit: int
) -> Sequence[Case]:
    """The cases of these cells whose blind-indexed identity is ``digest``, newest first:
    found through the index alone (no case is opened to compare names)."""
    query = (
        select(Case)
        .join(IdentityIndex, IdentityIndex.case_id == Case.id)
        .where(IdentityIndex.digest == digest, Case.cell_id.in_(sorted(cell_ids)))
        .order_by(Case.submitted_at.desc(), Case.id.desc())
        .limit(limit)
        .options(*_everything())
    )
    return session.scalars(query).unique().all()


# --- transfers (issue 16) ---------------------------------------------------------------------

_CASE_FOR_TRANSFER_DECISION = (
    select(Case)
    .where(
        Case.id == bindparam("case_id"),
        or_(
            Case.cell_id.in_(bindparam("cell_ids", expanding=True)),
            Case.id.in_(
                select(CaseTransfer.case_id).where(
                    CaseTransfer.to_cell_id.in_(bindparam("cell_ids", expanding=True)),
                    CaseTransfer.outcome == "pending",
                )
            ),
        ),
    )
    .options(*_everything())
)


def get_case_for_transfer_decision(
    session: Session, case_id: uuid.UUID, cell_ids: frozenset[int]
) -> Case | None:
    """The case if one of these cells holds it or is asked to receive it; one statement
    whatever the answer, like ``get_case_in_cells``."""
    return session.scalar(
        _CASE_FOR_TRANSFER_DECISION, {"case_id": case_id, "cell_ids": sorted(cell_ids)}
    )


def pending_transfers_to(session: Session, *, cell_ids: frozenset[int]) -> Sequence[Case]:
    """The cases waiting for one of these cells' answer to a transfer, oldest proposal first,
    with what the charter's decisions need (never their nominative blocks)."""
    query = (
        select(Case)
        .join(CaseTransfer, CaseTransfer.case_id == Case.id)
        .where(CaseTransfer.to_cell_id.in_(cell_ids), CaseTransfer.outcome == "pending")
        .order_by(CaseTransfer.proposed_at, Case.id)
        .options(*_policy_facts())
    )
    return session.scalars(query).all()
