"""The human-readable visibility matrix, computed from the policies themselves.

For every role, state and block it asks the policies (through the same decision point as the
service) in every situation that matters at that state (own submission, own notes, oriented to
social services, transmitted, archive access), and writes what it finds: always, never, or the
conditions under which the block is shown. ``policies/MATRIX.md`` is this output; a test fails
if they differ.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from app.policy.decisions import (
    may_in_cell,
    may_manage_directory,
    may_read_all_indicators,
    may_read_audit_log,
    may_step,
)
from app.policy.visibility import Block, CaseFacts, case_view
from app.principal import Principal
from app.vocabulary import Destination, Organisation, Role
from app.workflow.states import CaseState, Step

ME, SOMEONE_ELSE, CELL = 1, 2, 7
# Issue 16: the other cell of a transfer (the user is a member of CELL only).
OTHER_CELL = 8
CASE_ID = uuid.UUID(int=1)
AFTER_ORIENTATION = {CaseState.ORIENTED, CaseState.FEEDBACK, CaseState.CLOSED}
ON_AGENDA = {CaseState.CELL_REVIEW} | AFTER_ORIENTATION
WITH_NOTES = {CaseState.RESEARCH} | ON_AGENDA
ORGANISATION = {
    Role.COORDINATOR: Organisation.DPP,
    Role.PARQUET: Organisation.PARQUET,
    Role.CST: Organisation.DASES,
    Role.MEMBER: Organisation.POLICE,
}

ROLE_NAMES = {
    Role.COORDINATOR: "coordinator (coordonnateur CPSA, DPP)",
    Role.PARQUET: "parquet",
    Role.MEMBER: "member (a partner's representative)",
    Role.CST: "cst (coordinateur social de territoire, DASES)",
    Role.AUDITOR: "auditor",
    Role.STEERING: "steering (comité de pilotage)",
    Role.ADMIN: "admin",
}


@dataclass(frozen=True)
class Situation:
    own_submission: bool
    own_notes: bool
    social_services: bool
    transmitted: bool
    archive_access: bool

    LABELS = {
        "own_submission": "own submission",
        "own_notes": "wrote notes",
        "social_services": "oriented to social services",
        "transmitted": "transmitted to social services",
        "archive_access": "archive access",
    }


def situations(role: Role, state: CaseState) -> Iterator[Situation]:
    """The situations that can exist at ``state`` for ``role``: no note before the research,
    nothing transmitted before the orientation, an archive access only on a closed case and for
    those the policies let ask for one."""
    may_ask_archive = may_step(
        _principal(role, NO_SITUATION),
        Step.REQUEST_ARCHIVE_ACCESS,
        CaseFacts(state=CaseState.CLOSED, cell_id=CELL, submitted_by=SOMEONE_ELSE),
    )
    for own, notes, social, sent, archive in itertools.product([False, True], repeat=5):
        if notes and state not in WITH_NOTES:
            continue
        if (social or sent) and state not in AFTER_ORIENTATION:
            continue
        if sent and not social:
            continue
        if archive and (state is not CaseState.CLOSED or not may_ask_archive):
            continue
        yield Situation(own, notes, social, sent, archive)


NO_SITUATION = Situation(False, False, False, False, False)


def _principal(role: Role, situation: Situation) -> Principal:
    return Principal(
        ME,
        "matrix",
        role,
        ORGANISATION.get(role, Organisation.OTHER),
        frozenset({CELL}),
        True,
        frozenset({CASE_ID}) if situation.archive_access else frozenset(),
    )


def _case(state: CaseState, situation: Situation) -> CaseFacts:
    return CaseFacts(
        state=state,
        cell_id=CELL,
        submitted_by=ME if situation.own_submission else SOMEONE_ELSE,
        on_agenda=state in ON_AGENDA,
        destinations=frozenset({"social_services"} if situation.social_services else set()),
        social_services_transmitted=situation.transmitted,
        research_authors=frozenset({ME}) if situation.own_notes else frozenset(),
        case_id=CASE_ID,
    )


def _shown(role: Role, state: CaseState, block: Block) -> dict[Situation, str]:
    """Per situation: "" (withheld), "yes", "own" (research: the caller's own notes only) or
    "social" (orientation, feedback: the orientation to social services only)."""
    answers = {}
    for situation in situations(role, state):
        view = case_view(_principal(role, situation), _case(state, situation))
        if block not in view.blocks:
            answers[situation] = ""
        elif block is Block.RESEARCH and view.own_research_only:
            answers[situation] = "own"
        elif block in (Block.ORIENTATION, Block.FEEDBACK) and view.only_destination:
            answers[situation] = "social"
        else:
            answers[situation] = "yes"
    return answers


def _describe(answers: dict[Situation, str]) -> str:
    values = set(answers.values())
    if values == {""}:
        return "·"
    shown = [s for s, v in answers.items() if v]
    kinds = {answers[s] for s in shown}
    suffix = {"own": " (own notes)", "social": " (social services only)"}.get(
        kinds.pop() if len(kinds) == 1 else "", ""
    )
    if "" not in values:
        return "✓" + suffix
    required = [name for name in Situation.LABELS if all(getattr(s, name) for s in shown)]
    exact = {s for s in answers if all(getattr(s, name) for name in required)}
    if required and exact == set(shown):
        # "transmitted" implies "oriented": name the strongest condition only.
        if "transmitted" in required:
            required.remove("social_services")
        return "if " + " and ".join(Situation.LABELS[r] for r in required) + suffix
    return "in some situations" + suffix


def render() -> str:
    lines = [
        "# Visibility matrix of the charter",
        "",
        "Generated by `cenomed policy matrix` from `policies/charter.cedar`: do not edit by "
        "hand. A test fails when this file and the policies disagree.",
        "",
        "How to read it: one table per role. A row is a state of the case, a column a block "
        "of the case file. ✓: shown; ·: withheld; *if …*: shown only in that situation "
        "(for instance only to the member who made the submission). Everything below assumes "
        "a user who is a member of the case's cell and has accepted the charter in force (R1); "
        "otherwise nothing is shown. Blocks: workflow (state, dates, origin: not nominative), "
        "identity (names, birth date, sex, school), contact (address, guardians), facts (motifs, "
        "the signaler's account), research (research notes), orientation (destinations, "
        "transmissions, family information), feedback. *(own notes)*: only the notes the user "
        "wrote; *(social services only)*: only the orientation to social services and its "
        "feedback.",
        "",
        "Not-retained situations are also presented at one meeting of the cell (R7): on that "
        "day, whoever may `see_presented_identities` (last table) sees their identity and the "
        "not-retained mark, nothing else.",
        "",
    ]
    blocks = list(Block)
    for role in Role:
        lines += [f"## {ROLE_NAMES[role]}", ""]
        lines.append("| state | " + " | ".join(b.value for b in blocks) + " |")
        lines.append("|---|" + "---|" * len(blocks))
        for state in CaseState:
            cells = [_describe(_shown(role, state, block)) for block in blocks]
            lines.append(f"| {state.value} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += _steps()
    lines += _moves()
    return "\n".join(lines).rstrip() + "\n"


def _step_cell(role: Role, step: Step) -> str:
    """✓, ·, or the situation the charter asks for (the caller's own submission, or notes)."""
    allowed = {
        (own, notes): may_step(
            _principal(role, NO_SITUATION),
            step,
            CaseFacts(
                state=CaseState.SUBMITTED,
                cell_id=CELL,
                submitted_by=ME if own else SOMEONE_ELSE,
                research_authors=frozenset({ME}) if notes else frozenset(),
                case_id=CASE_ID,
            ),
        )
        for own, notes in itertools.product([False, True], repeat=2)
    }
    if all(allowed.values()):
        return "✓"
    if not any(allowed.values()):
        return "·"
    if all(allowed[own, notes] == own for own, notes in allowed):
        return "if own submission"
    if all(allowed[own, notes] == notes for own, notes in allowed):
        return "if wrote notes"
    return "in some situations"


def _steps() -> list[str]:
    """Who may take each step, whatever the state (the procedure then says when)."""
    lines = [
        "## Steps: who may take them",
        "",
        "The policies say who; the procedure (the state machine) says when.",
        "",
        "| step | " + " | ".join(r.value for r in Role) + " |",
        "|---|" + "---|" * len(Role),
    ]
    facts = CaseFacts(state=CaseState.SUBMITTED, cell_id=CELL, submitted_by=SOMEONE_ELSE)
    for step in Step:
        row = []
        for role in Role:
            principal = _principal(role, NO_SITUATION)
            if step is Step.RECORD_FEEDBACK:
                social = may_step(principal, step, facts, Destination.SOCIAL_SERVICES)
                other = may_step(principal, step, facts, Destination.CRIP)
                row.append(
                    "✓"
                    if social and other
                    else "social services"
                    if social
                    else "other services"
                    if other
                    else "·"
                )
            else:
                row.append(_step_cell(role, step))
        lines.append(f"| {step.value} | " + " | ".join(row) + " |")
    cell_actions = (
        "schedule_meeting",
        "read_meeting",
        "see_presented_identities",
        "read_access_log",
        "read_cell_indicators",
        "manage_services",
        "search_cases",
    )
    for action in cell_actions:
        row = [
            "✓"
            if may_in_cell(
                _principal(r, Situation(False, False, False, False, False)), action, CELL
            )
            else "·"
            for r in Role
        ]
        lines.append(f"| {action} | " + " | ".join(row) + " |")
    audit_row = [
        "✓"
        if may_read_audit_log(_principal(r, Situation(False, False, False, False, False)))
        else "·"
        for r in Role
    ]
    lines.append("| read_audit_log (Paris-wide, R23) | " + " | ".join(audit_row) + " |")
    indicators_row = [
        "✓" if may_read_all_indicators(_principal(r, NO_SITUATION)) else "·" for r in Role
    ]
    lines.append(
        "| read_all_indicators (every cell and Paris-wide, R19) | "
        + " | ".join(indicators_row)
        + " |"
    )
    directory_row = [
        "✓" if may_manage_directory(_principal(r, NO_SITUATION)) else "·" for r in Role
    ]
    lines.append(
        "| manage_directory (accounts, cells, charter acceptances; Paris-wide) | "
        + " | ".join(directory_row)
        + " |"
    )
    lines.append("")
    return lines


def _moves() -> list[str]:
    """Issue 16: transfers between cells, seen from the receiving cell while one waits and
    from the cell the case left (a case in research: transfers happen before the agenda)."""
    waiting = CaseFacts(
        state=CaseState.RESEARCH,
        cell_id=OTHER_CELL,
        submitted_by=SOMEONE_ELSE,
        case_id=CASE_ID,
        transfer_cell=CELL,
    )

    def left(submitter: int) -> CaseFacts:
        return CaseFacts(
            state=CaseState.RESEARCH,
            cell_id=OTHER_CELL,
            submitted_by=submitter,
            case_id=CASE_ID,
            transferred_from=frozenset({CELL}),
        )

    def blocks(facts: CaseFacts) -> list[str]:
        return [_shown_blocks(_principal(role, NO_SITUATION), facts) for role in Role]

    def may(step: Step) -> list[str]:
        return [
            "✓" if may_step(_principal(role, NO_SITUATION), step, waiting) else "·" for role in Role
        ]

    return [
        "## Transfers between cells",
        "",
        "A case moves to another cell of the same kind (the minor moved): the coordinator of its "
        "cell proposes, the receiving cell's coordinator sees the waiting transfer (the case's "
        "state, dates and origin, no block) and accepts or declines it. Once accepted, the case "
        "belongs to the receiving cell (the tables above); the cell it left sees nothing of it, "
        "except the author of the signalement, who keeps its workflow (R12). Below, the user "
        "is a member of the receiving cell (first rows) or of the cell the case left (last "
        "rows), not of both.",
        "",
        "| situation | " + " | ".join(r.value for r in Role) + " |",
        "|---|" + "---|" * len(Role),
        "| receiving cell, a transfer waiting: see_pending_transfer | "
        + " | ".join(may(Step.SEE_PENDING_TRANSFER))
        + " |",
        "| receiving cell, a transfer waiting: accept_transfer, decline_transfer | "
        + " | ".join(
            a if a == b else "?"
            for a, b in zip(may(Step.ACCEPT_TRANSFER), may(Step.DECLINE_TRANSFER), strict=True)
        )
        + " |",
        "| receiving cell, a transfer waiting: blocks shown | "
        + " | ".join(blocks(waiting))
        + " |",
        "| the cell it left: blocks shown | " + " | ".join(blocks(left(SOMEONE_ELSE))) + " |",
        "| the cell it left, own submission: blocks shown | " + " | ".join(blocks(left(ME))) + " |",
        "",
    ]


def _shown_blocks(principal: Principal, facts: CaseFacts) -> str:
    shown = case_view(principal, facts).blocks
    return ", ".join(b.value for b in Block if b in shown) or "·"
