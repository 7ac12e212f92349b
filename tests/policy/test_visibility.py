"""Who sees which block at which step (R10-R14), on the pure visibility function."""

from __future__ import annotations

import uuid

import pytest

from app.policy.visibility import Block, CaseFacts, case_view
from app.principal import Principal
from app.vocabulary import Organisation, Role
from app.workflow.states import CaseState as S

CELL = 7
CASE_ID = uuid.UUID(int=42)
B = Block
OPEN_STATES = [s for s in S if s not in (S.PURGED, S.CLOSED)]


def who(
    role: Role,
    user_id: int = 1,
    cells: frozenset[int] = frozenset({CELL}),
    *,
    charter: bool = True,
    archive: frozenset[uuid.UUID] = frozenset(),
) -> Principal:
    organisation = {
        Role.COORDINATOR: Organisation.DPP,
        Role.PARQUET: Organisation.PARQUET,
        Role.CST: Organisation.DASES,
    }.get(role, Organisation.POLICE)
    return Principal(user_id, f"user-{user_id}", role, organisation, cells, charter, archive)


def case(
    state: S,
    *,
    submitted_by: int = 99,
    social: bool = False,
    transmitted: bool = False,
    authors: frozenset[int] = frozenset(),
) -> CaseFacts:
    on_agenda = state in {S.CELL_REVIEW, S.ORIENTED, S.FEEDBACK, S.CLOSED}
    return CaseFacts(
        state=state,
        cell_id=CELL,
        submitted_by=submitted_by,
        on_agenda=on_agenda,
        destinations=frozenset({"social_services"} if social else set()),
        social_services_transmitted=transmitted,
        research_authors=authors,
        case_id=CASE_ID,
    )


def blocks(principal: Principal, facts: CaseFacts) -> set[Block]:
    return set(case_view(principal, facts).blocks)


@pytest.mark.parametrize("state", OPEN_STATES)
def test_the_coordinator_sees_every_block(state: S) -> None:
    assert blocks(who(Role.COORDINATOR), case(state)) == set(Block)


@pytest.mark.parametrize("role", list(Role))
def test_nobody_reads_a_closed_case_without_an_archive_access(role: Role) -> None:
    assert blocks(who(role), case(S.CLOSED, social=True, transmitted=True)) == set()


def test_an_archive_access_opens_the_closed_case_it_names_only() -> None:
    granted = who(Role.COORDINATOR, archive=frozenset({CASE_ID}))
    assert blocks(granted, case(S.CLOSED)) == set(Block)
    other = who(Role.COORDINATOR, archive=frozenset({uuid.UUID(int=43)}))
    assert blocks(other, case(S.CLOSED)) == set()


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("state", list(S))
def test_without_the_charter_nothing_is_read(role: Role, state: S) -> None:
    facts = case(state, submitted_by=1, social=True, transmitted=True, authors=frozenset({1}))
    assert blocks(who(role, charter=False, archive=frozenset({CASE_ID})), facts) == set()


@pytest.mark.parametrize("role", list(Role))
def test_a_purged_case_shows_nothing(role: Role) -> None:
    assert blocks(who(role, archive=frozenset({CASE_ID})), case(S.PURGED)) == set()


@pytest.mark.parametrize("role", list(Role))
def test_a_withdrawn_case_is_the_coordinators_and_its_authors_workflow(role: Role) -> None:
    """R4 (issue 16): no longer the cell's business; the coordinator reads it until the
    purge, its author follows its fate (the workflow block), nobody else sees anything."""
    mine = case(S.WITHDRAWN, submitted_by=1, social=True, authors=frozenset({1}))
    theirs = case(S.WITHDRAWN, submitted_by=2, social=True, authors=frozenset({1}))
    if role is Role.COORDINATOR:
        assert blocks(who(role), mine) == set(Block)
        assert blocks(who(role), theirs) == set(Block)
    elif role is Role.MEMBER:
        assert blocks(who(role), mine) == {Block.WORKFLOW}
        assert blocks(who(role), theirs) == set()
    else:
        assert blocks(who(role), theirs) == set()


@pytest.mark.parametrize("role", list(Role))
def test_nobody_outside_the_cell_sees_anything(role: Role) -> None:
    outsider = who(role, cells=frozenset({CELL + 1}))
    assert blocks(outsider, case(S.CELL_REVIEW, social=True)) == set()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR, Role.STEERING])
def test_separated_duties_never_read_content(role: Role) -> None:
    assert blocks(who(role), case(S.CELL_REVIEW)) == set()


def test_the_parquet_sees_identity_and_facts_from_step_2_and_notes_from_step_3() -> None:
    parquet = who(Role.PARQUET)
    assert blocks(parquet, case(S.SUBMITTED)) == set()
    assert blocks(parquet, case(S.PARQUET_REVIEW)) == {B.WORKFLOW, B.IDENTITY, B.FACTS}
    assert blocks(parquet, case(S.RESEARCH)) == {B.WORKFLOW, B.IDENTITY, B.FACTS, B.RESEARCH}
    assert B.CONTACT not in blocks(parquet, case(S.ORIENTED))


def test_a_member_sees_their_own_submission_and_retained_cases_during_research() -> None:
    member = who(Role.MEMBER, user_id=5)
    assert blocks(member, case(S.SUBMITTED, submitted_by=5)) == {B.WORKFLOW}
    assert blocks(member, case(S.SUBMITTED)) == set()
    assert blocks(member, case(S.NOT_RETAINED)) == set()
    research = case_view(member, case(S.RESEARCH))
    assert set(research.blocks) == {B.WORKFLOW, B.IDENTITY, B.FACTS, B.RESEARCH}
    assert research.own_research_only
    review = case_view(member, case(S.CELL_REVIEW))
    assert not review.own_research_only
    assert blocks(member, case(S.ORIENTED)) == set()
    assert blocks(member, case(S.ORIENTED, submitted_by=5)) == {B.WORKFLOW}


def test_the_cst_never_sees_facts_or_research() -> None:
    cst = who(Role.CST, archive=frozenset({CASE_ID}))
    for state in S:
        seen = blocks(cst, case(state, social=True, transmitted=True, authors=frozenset({1})))
        assert B.FACTS not in seen
        assert B.RESEARCH not in seen
    assert blocks(cst, case(S.RESEARCH)) == set()
    assert blocks(cst, case(S.CELL_REVIEW)) == {B.WORKFLOW, B.IDENTITY}
    assert blocks(cst, case(S.ORIENTED, social=False)) == set()
    oriented = case_view(cst, case(S.ORIENTED, social=True))
    assert set(oriented.blocks) == {B.WORKFLOW, B.IDENTITY, B.ORIENTATION, B.FEEDBACK}
    assert oriented.only_destination == "social_services"


def test_the_cst_gets_contact_details_for_the_transmission_only() -> None:
    cst = who(Role.CST)
    assert B.CONTACT not in blocks(cst, case(S.ORIENTED, social=True, transmitted=False))
    assert B.CONTACT in blocks(cst, case(S.ORIENTED, social=True, transmitted=True))
    assert B.CONTACT in blocks(cst, case(S.FEEDBACK, social=True, transmitted=True))
    assert B.CONTACT not in blocks(cst, case(S.CELL_REVIEW, social=True, transmitted=True))


def test_a_member_keeps_their_own_notes_always() -> None:
    author = who(Role.MEMBER, user_id=5)
    for state in (S.ORIENTED, S.FEEDBACK, S.NOT_RETAINED):
        view = case_view(author, case(state, authors=frozenset({5})))
        assert set(view.blocks) == {B.RESEARCH}
        assert view.own_research_only
        assert blocks(who(Role.MEMBER, user_id=6), case(state, authors=frozenset({5}))) == set()


@pytest.mark.parametrize("role", [Role.PARQUET, Role.MEMBER, Role.AUDITOR, Role.STEERING])
def test_contact_details_only_for_the_coordinator_and_the_cst(role: Role) -> None:
    for state in S:
        facts = case(state, submitted_by=1, social=True, transmitted=True)
        assert B.CONTACT not in blocks(who(role, archive=frozenset({CASE_ID})), facts)


def test_withheld_names_the_missing_blocks() -> None:
    view = case_view(who(Role.CST), case(S.CELL_REVIEW))
    assert [b.value for b in view.withheld] == [
        "contact",
        "facts",
        "research",
        "orientation",
        "feedback",
    ]


# --- transfers between cells (issue 16) ---------------------------------------------------------

OTHER_CELL = 8


def _moved(state: S, *, submitted_by: int = 99) -> CaseFacts:
    """A case that left CELL for OTHER_CELL."""
    return CaseFacts(
        state=state,
        cell_id=OTHER_CELL,
        submitted_by=submitted_by,
        case_id=CASE_ID,
        transferred_from=frozenset({CELL}),
    )


def _waiting(state: S) -> CaseFacts:
    """A case of OTHER_CELL that its coordinator proposes to transfer to CELL."""
    return CaseFacts(
        state=state, cell_id=OTHER_CELL, submitted_by=99, case_id=CASE_ID, transfer_cell=CELL
    )


@pytest.mark.parametrize("state", OPEN_STATES)
@pytest.mark.parametrize("role", list(Role))
def test_the_cell_a_case_left_sees_nothing_of_it(role: Role, state: S) -> None:
    assert blocks(who(role), _moved(state)) == set()


@pytest.mark.parametrize("state", OPEN_STATES)
@pytest.mark.parametrize("role", [Role.MEMBER, Role.COORDINATOR])
def test_the_author_of_a_transferred_signalement_keeps_its_workflow(role: Role, state: S) -> None:
    assert blocks(who(role, user_id=5), _moved(state, submitted_by=5)) == {B.WORKFLOW}


def test_the_author_who_left_the_cell_loses_it_too() -> None:
    assert blocks(who(Role.MEMBER, 5, frozenset({3})), _moved(S.RESEARCH, submitted_by=5)) == set()


@pytest.mark.parametrize("state", OPEN_STATES)
@pytest.mark.parametrize("role", list(Role))
def test_a_waiting_transfer_shows_no_block_to_the_receiving_cell(role: Role, state: S) -> None:
    assert blocks(who(role), _waiting(state)) == set()


@pytest.mark.parametrize("role", list(Role))
def test_only_the_receiving_coordinator_sees_and_answers_a_waiting_transfer(role: Role) -> None:
    from app.policy.decisions import may_step
    from app.workflow.states import Step

    principal = who(role)
    for step in (Step.SEE_PENDING_TRANSFER, Step.ACCEPT_TRANSFER, Step.DECLINE_TRANSFER):
        assert may_step(principal, step, _waiting(S.RESEARCH)) is (role is Role.COORDINATOR)
        # Nor anyone of a third cell.
        assert not may_step(who(role, cells=frozenset({3})), step, _waiting(S.RESEARCH))
    # The proposing side does not answer its own proposal.
    proposing = who(role, cells=frozenset({OTHER_CELL}))
    assert not may_step(proposing, Step.ACCEPT_TRANSFER, _waiting(S.RESEARCH))
