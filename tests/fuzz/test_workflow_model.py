"""Model-based workflow tests (issue 7, item 1): random sequences of steps against the real API.

A Hypothesis state machine drives the real application (``TestClient``) on a real database (a
copy of the migrated SQLite template, or the PostgreSQL test database emptied after each
sequence) with random steps of the procedure, each by a user drawn at random: mostly one who
may take it, sometimes anyone (wrong role, wrong cell, no cell at all), on a case drawn at
random (mostly one where the step applies, sometimes any, sometimes one that does not exist),
with payloads that are mostly valid and sometimes refused. A model of the procedure, written
from the README's tables and the charter (not from ``app.workflow``, whose two date helpers
aside), predicts every answer: its status and problem type. After every request and step:

(a) each case's state, history, meeting, orientations, notes and archive accesses in the
    database are what the model says, the model moving only on a 2xx;
(b) a refused request (4xx) answered ``application/problem+json`` with no invented value in
    it, changed no row of any case or meeting, and (when the service logs such a refusal) was
    recorded as a denied event; a success changed no other case;
(c) every case a response shows holds exactly the blocks that the policy layer (``case_view``
    over ``facts_of`` of the case read from the database) allows that user now, and none that
    the charter's prohibitions forbid (a table written here from charter-rules.md, independent
    of the policies); meeting pages show identities only where allowed; reads are logged with
    the blocks shown;
(d) the audit chain verifies (every few steps and at the end of each sequence), and no event
    holds an invented value;
(e) no request answers a 5xx.

Bounded for CI (about 30 s on SQLite, 40 s on PostgreSQL, on two cores); marked ``slow`` so
that a developer can deselect it (``-m "not slow"``). ``CENOMED_FUZZ_EXAMPLES`` and
``CENOMED_FUZZ_STEPS`` change the bounds; with ``CENOMED_FUZZ_REPORT`` set, the counts of the
run are written to ``bench/results/fuzz-workflow.json`` (one entry per database engine).
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from app.audit.chain import verify
from app.cases import repository as case_repository
from app.cases.models import (
    AdditionalSignalement,
    ArchiveAccess,
    Case,
    CaseStep,
    CaseTransfer,
    Guardian,
    Orientation,
    ResearchNote,
)
from app.cases.service import facts_of
from app.clock import today
from app.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from app.main import create_app
from app.meetings.models import Meeting
from app.policy import decisions
from app.policy.visibility import Block, CaseView, case_view
from app.principal import Principal
from app.vocabulary import Motif, Role
from app.workflow.guards import add_calendar_months, age_on
from tests.audit.log import events, head
from tests.conftest import (
    POSTGRES_URL,
    World,
    copy_sqlite_template,
    empty_postgres_database,
    make_settings,
    make_world,
)
from tests.scenario import FIRST_NAME, LAST_NAME, case_body, meeting_body, ok, on_day, problem

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("CENOMED_FUZZ_EXAMPLES", "30"))
STEPS = int(os.environ.get("CENOMED_FUZZ_STEPS", "25"))
VERIFY_EVERY = 8  # steps between two verifications of the audit chain (and at each sequence's end)
MAX_CASES = 5
MAX_MEETINGS = 3
REPORT = Path(__file__).resolve().parents[2] / "bench" / "results" / "fuzz-workflow.json"

# A coordinator of both cells, so that a case can meet a meeting of the other cell.
BOTH = "coordinator-18-19"
USERNAMES = (
    "coordinator",
    "parquet",
    "police",
    "teacher",
    "cst",
    "coordinator-19",
    "parquet-19",
    "auditor",
    "admin",
    BOTH,
)
GHOST = uuid.UUID("0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f")  # no case, meeting or orientation
NOWHERE = 10_000  # no cell

# Invented values only; none may reach an error, or any audit event.
OTHER_NAMES = ("Brumelot", "Ysaline")
NAMES = ((LAST_NAME, FIRST_NAME), OTHER_NAMES)
NOTE_MARK = "Vrillondel"
REASON_MARK = "Orvanelle"
INVENTED = (
    LAST_NAME,
    FIRST_NAME,
    *OTHER_NAMES,
    NOTE_MARK,
    REASON_MARK,
    "Imaginaire",
    "Collège Fictif",
    "Absences répétées",
    "0100000000",
)

ALL_BLOCKS = frozenset(block.value for block in Block)
BLOCK_KEYS: dict[str, tuple[str, ...]] = {
    "workflow": (
        "origin",
        "received_on",
        "received_on_declared",
        "received_via",
        "submitted_at",
        "parquet",
        "meeting_id",
        "review_decision",
        "closed_at",
        "closure_reason",
        "withdrawal",
        "returned",
        "history",
        # issue 16
        "merged_into",
        "additional_signalements",
        "transfers",
        "transferred_to",
        "transferred_at",
    ),
    "identity": ("minor",),
    "contact": ("contact",),
    "facts": ("motifs", "facts"),
    "research": ("research_notes",),
    "orientation": ("family_information", "orientations"),
    "feedback": ("feedback",),
}
assert set(BLOCK_KEYS) == ALL_BLOCKS
ALWAYS_KEYS = frozenset({"id", "reference", "state", "cell_id", "version", "withheld"})

# The procedure, as the README's table says it: the states from which each step may be taken.
OPEN = frozenset({"oriented", "feedback"})
LEGAL: dict[str, frozenset[str]] = {
    "refer_to_parquet": frozenset({"submitted"}),
    "parquet_decision": frozenset({"parquet_review"}),
    "add_research_note": frozenset({"research", "cell_review"}),
    "examine_at_meeting": frozenset({"research"}),
    "review_decision": frozenset({"cell_review"}),
    "record_family_information": OPEN,
    "transmit": OPEN,
    "record_feedback": OPEN,
    # A closure says why (issue 15): moving away or a judicial measure can come at any step
    # after the parquet retained the case.
    "close": frozenset({"research", "cell_review", "oriented", "feedback"}),
    "request_archive_access": frozenset({"closed"}),
    # Corrections (issue 16): withdrawn or sent back before the parquet sees it; amended until
    # the parquet's decision, then its identity corrected while the case is open.
    "withdraw": frozenset({"submitted"}),
    "return_to_author": frozenset({"submitted"}),
    "amend": frozenset(
        {"submitted", "parquet_review", "research", "cell_review", "oriented", "feedback"}
    ),
}
# After the parquet's decision an amendment is a correction of the identity (the coordinator's).
CORRECTED = frozenset({"research", "cell_review", "oriented", "feedback"})
# Issue 16: the states a case may be transferred from, and those of a case still followed (a
# duplicate is decided, and merged, only between those).
TRANSFERABLE = frozenset({"submitted", "parquet_review", "research"})
FOLLOWED = frozenset({"submitted", "parquet_review", "research", "cell_review", *OPEN})
# Who takes each step (the README's table; the feedback: the CST or the coordinator).
TAKEN_BY: dict[str, tuple[str, ...]] = {
    "refer_to_parquet": ("coordinator",),
    "parquet_decision": ("parquet",),
    "add_research_note": ("member", "parquet", "coordinator"),
    "examine_at_meeting": ("coordinator",),
    "review_decision": ("coordinator",),
    "record_family_information": ("coordinator",),
    "transmit": ("coordinator",),
    "record_feedback": ("cst", "coordinator"),
    "close": ("coordinator",),
    "request_archive_access": ("coordinator", "parquet"),
    "withdraw": ("member", "coordinator"),
    "return_to_author": ("coordinator",),
    "amend": ("member", "coordinator"),
}
assert set(TAKEN_BY) == set(LEGAL)
# How far along the procedure a state is (a not-retained case goes no further).
DEPTH = {
    "not_retained": -1,
    "submitted": 0,
    "parquet_review": 1,
    "research": 2,
    "cell_review": 3,
    "oriented": 4,
    "feedback": 5,
    "closed": 6,
    "withdrawn": -1,
}
READ_MEETING_ROLES = frozenset({"coordinator", "parquet", "member", "cst"})
CENOMED_DESTINATIONS = (
    "social_services",
    "crip",
    "prevention_association",
    "school_head",
    "reussite_educative",
    "other",
)
RECIDIVISM_ONLY = ("mission_locale", "insertion", "pjj", "spip", "health", "housing")
STATES = (
    "submitted",
    "parquet_review",
    "not_retained",
    "research",
    "cell_review",
    "oriented",
    "feedback",
    "closed",
    "withdrawn",
)
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

Expect = tuple[int, str | None]
CREATED: Expect = (201, None)
DONE: Expect = (200, None)


# --- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserModel:
    name: str
    id: int
    role: str
    organisation: str
    cells: frozenset[int]


@dataclass(repr=False)
class OrientationModel:
    id: uuid.UUID
    alias: str
    destination: str
    transmitted: bool = False
    outcome: str | None = None

    def __repr__(self) -> str:
        return self.alias

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:
        printer.text(self.alias)  # how Hypothesis prints a draw


@dataclass(repr=False)
class CaseModel:
    id: uuid.UUID
    alias: str
    cell_id: int
    received_on: date
    submitter: str
    identity: tuple[str, str, date]
    state: str = "submitted"
    retained: bool | None = None
    meeting: uuid.UUID | None = None
    presentation: uuid.UUID | None = None
    family_informed: bool = False
    family_outcome: str | None = None
    received_declared: bool = False
    closure_reason: str | None = None
    # Issue 16: sent back to its author (until amended), withdrawn (why), amendments made.
    returned: bool = False
    withdrawal: str | None = None
    amendments: int = 0
    orientations: list[OrientationModel] = field(default_factory=list)
    note_authors: list[str] = field(default_factory=list)
    archive_holders: list[str] = field(default_factory=list)
    # (step, from_state, to_state) of every step that succeeded, in order.
    history: list[tuple[str, str | None, str]] = field(default_factory=list)
    # Issue 16: the order of submission (the server's timestamps follow it), merges, the pairs
    # found to be two minors, the cell a pending transfer goes to, the cells the case left.
    order: int = 0
    merged_into: uuid.UUID | None = None
    additional: int = 0
    dismissed: set[uuid.UUID] = field(default_factory=set)
    transfer_to: int | None = None
    left_cells: set[int] = field(default_factory=set)

    def __repr__(self) -> str:
        return self.alias

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:
        printer.text(self.alias)  # how Hypothesis prints a draw

    def orientation(self, orientation_id: uuid.UUID) -> OrientationModel | None:
        return next((o for o in self.orientations if o.id == orientation_id), None)


@dataclass(repr=False)
class MeetingModel:
    id: uuid.UUID
    alias: str
    cell_id: int
    held_on: date

    def __repr__(self) -> str:
        return self.alias

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:
        printer.text(self.alias)  # how Hypothesis prints a draw


@dataclass
class Stats:
    """What a run did, for the README's figures."""

    sequences: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    succeeded: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    cases: int = 0
    reached: Counter[str] = field(default_factory=Counter)
    case_checks: int = 0
    chain_verifications: int = 0


@dataclass
class Harness:
    """What the pytest test gives the machine: the migrated template, a directory, counters."""

    template: str
    root: Path
    stats: Stats

    def new_directory(self) -> Path:
        directory = self.root / f"sequence-{self.stats.sequences:04d}"
        directory.mkdir()
        return directory


# --- the machine --------------------------------------------------------------------------------


class WorkflowMachine(RuleBasedStateMachine):
    harness: ClassVar[Harness]

    def __init__(self) -> None:
        super().__init__()
        self.stats = self.harness.stats
        self.stats.sequences += 1
        self.stack = ExitStack()
        directory = self.harness.new_directory()
        if POSTGRES_URL:
            url = self.harness.template
            self.stack.callback(empty_postgres_database, url)
        else:
            url = copy_sqlite_template(self.harness.template, directory)
        settings = make_settings(directory, url)
        engine = make_engine(url)
        self.stack.callback(engine.dispose)
        factory = make_sessionmaker(engine)
        self.client = self.stack.enter_context(
            TestClient(create_app(settings), raise_server_exceptions=False)
        )
        self.world: World = make_world(self.client, settings, lambda: unit_of_work(factory))
        self.world.add_user(
            BOTH, Role.COORDINATOR, cells=[self.world.cell.id, self.world.other_cell.id]
        )
        self.users: dict[str, UserModel] = {}
        for name in USERNAMES:
            principal = self.world.principal(name)
            self.users[name] = UserModel(
                name,
                principal.user_id,
                principal.role.value,
                principal.organisation.value,
                frozenset(principal.cell_ids),
            )
        self.cells = (self.world.cell.id, self.world.other_cell.id)
        self.cases: dict[uuid.UUID, CaseModel] = {}
        self.meetings: dict[uuid.UUID, MeetingModel] = {}
        self.aliases: dict[str, str] = {str(GHOST): "ghost"}
        self.log: list[str] = []
        self.last_events: list[dict[str, Any]] = []
        self.steps_here = 0

    def teardown(self) -> None:
        try:
            self._verify_chain()
        finally:
            self.stats.cases += len(self.cases)
            for case in self.cases.values():
                self.stats.reached.update({to for _, _, to in case.history})
            self.stack.close()

    # --- drawing ------------------------------------------------------------------------------

    def _user(self, data: st.DataObject, right: Iterable[str]) -> str:
        """Mostly a user who may take the step; sometimes anyone (shrinks to the former)."""
        right = sorted(right)
        if right and data.draw(st.integers(0, 4), label="anyone?") < 4:
            return data.draw(st.sampled_from(right), label="user")
        return data.draw(st.sampled_from(USERNAMES), label="any user")

    def _case(
        self,
        data: st.DataObject,
        states: Iterable[str],
        fits: Callable[[CaseModel], bool] = lambda _: True,
    ) -> CaseModel | None:
        """Mostly a case where the step applies; sometimes any; rarely one that does not exist."""
        roll = data.draw(st.integers(0, 19), label="which case")
        if roll == 19:
            return None
        states = frozenset(states)
        fitting = [c for c in self.cases.values() if c.state in states and fits(c)]
        pool = fitting if fitting and roll < 15 else list(self.cases.values())
        return data.draw(st.sampled_from(pool), label="case")

    def _mostly(self, data: st.DataObject, common: list[Any], rare: list[Any], label: str) -> Any:
        if data.draw(st.integers(0, 9), label=f"rare {label}?") < 9:
            return data.draw(st.sampled_from(common), label=label)
        return data.draw(st.sampled_from(rare), label=f"rare {label}")

    def _cell(self, data: st.DataObject, user: UserModel) -> int:
        own = sorted(user.cells)
        if own and data.draw(st.integers(0, 4), label="other cell?") < 4:
            return int(data.draw(st.sampled_from(own), label="cell"))
        return int(data.draw(st.sampled_from([*self.cells, NOWHERE]), label="any cell"))

    def _with_role(self, cell_id: int | None, *roles: str) -> list[str]:
        return [
            u.name
            for u in self.users.values()
            if u.role in roles and (cell_id is None or cell_id in u.cells)
        ]

    # --- expectations shared by the steps -----------------------------------------------------

    def _gate(self, who: str, case: CaseModel | None, roles: Iterable[str]) -> Expect | None:
        """The case must be in the caller's cells (404), the role allowed the step (403)."""
        user = self.users[who]
        reach = self._reach(who, case)
        if reach is None:
            return (404, "case-not-found")
        if user.role not in roles or reach == "author":
            # Issue 16: the author of a transferred signalement keeps its workflow, no step.
            return (403, "role-not-allowed")
        return None

    def _reach(self, who: str, case: CaseModel | None) -> str | None:
        """How the service finds the case for this user: in their cells ("cell"), as the
        author of a signalement transferred out of one of them ("author"), or not at all."""
        user = self.users[who]
        if case is None:
            return None
        if case.cell_id in user.cells:
            return "cell"
        if case.submitter == who and case.left_cells & user.cells:
            return "author"
        return None

    @staticmethod
    def _legal(case: CaseModel, step: str) -> Expect | None:
        if case.state not in LEGAL[step]:
            return (409, "step-not-allowed-in-state")
        return None

    def _some(self, states: Iterable[str]) -> bool:
        """Whether a case is where a step applies (the rule is enabled only then: the
        ``step_out_of_turn`` rule tries the steps elsewhere)."""
        return any(c.state in states for c in self.cases.values())

    def _has_cst(self, cell_id: int) -> bool:
        return bool(self._with_role(cell_id, "cst"))

    # --- the requests -------------------------------------------------------------------------

    def _alias(self, text: str) -> str:
        return UUID_PATTERN.sub(lambda m: self.aliases.get(m.group(0), "uuid?"), text)

    def _context(self, response: Any = None) -> str:
        lines = "\n".join(f"  {line}" for line in self.log)
        answer = f"\nlast answer: {self._alias(response.text)}" if response is not None else ""
        return f"\nrequests of this sequence:\n{lines}{answer}"

    def _call(
        self,
        who: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        expect: Expect,
        content: bytes | None = None,
        writes: uuid.UUID | frozenset[uuid.UUID] | None = None,
        ghost: bool = False,
    ) -> Any:
        """One request, checked: its status and problem type are the model's; a refusal changed
        nothing and was logged; a success changed no case but ``writes`` (the step's case)."""
        before = self._snapshot()
        seq = head(self.world)
        headers = {"Authorization": f"Bearer {self.world.token(who)}"}
        url = "/api/v1" + path
        if method == "GET":
            response = self.client.get(url, headers=headers)
        elif method == "PATCH":
            headers["Content-Type"] = "application/merge-patch+json"
            response = self.client.patch(url, content=json.dumps(body), headers=headers)
        elif content is not None:
            headers["Content-Type"] = "application/json"
            response = self.client.post(url, content=content, headers=headers)
        else:
            response = self.client.post(url, json=body, headers=headers)
        status = response.status_code
        self.stats.requests += 1
        self.stats.statuses[status] += 1
        sent = ""
        if body is not None:
            sent = " " + json.dumps(body, ensure_ascii=False, default=str)
        elif content is not None:
            sent = " " + content.decode()
        self.log.append(f"{who}: {method} {self._alias(path)}{self._alias(sent)} -> {status}")
        # (e) never a 5xx
        assert status < 500, "a 5xx" + self._context(response)
        slug = None
        if status >= 400:
            slug = str(response.json().get("type", "")).removeprefix("urn:cenomed:problem:")
        assert (status, slug) == expect, f"expected {expect}" + self._context(response)
        fresh = events(self.world, after=seq)
        self.last_events = fresh
        for event in fresh:
            text = json.dumps(event, ensure_ascii=False)
            assert not [v for v in INVENTED if v in text], "invented value logged" + self._context()
        after = self._snapshot()
        if status >= 400:
            # (b) problem+json, nothing echoed, nothing changed, the refusal logged
            assert slug is not None
            self.stats.refused[slug] += 1
            problem(response, status)
            assert not [v for v in INVENTED if v in response.text], self._context(response)
            assert after == before, "a refused request changed something" + self._context()
            # Every refusal of a known user is logged, a probe of an id that exists nowhere
            # included (no existence oracle); a meeting the request named is in the detail.
            user_id = self.users[who].id
            assert any(
                e["outcome"] == "denied"
                and e["detail"].split(" meeting:")[0] == slug
                and e["actor_id"] == user_id
                for e in fresh
            ), "a refusal not in the audit log" + self._context(response)
            return response
        if method == "GET":
            assert after == before, "a read changed something" + self._context()
        else:
            _only_changed(before, after, writes, self._context())
        return response

    def _snapshot(self) -> dict[str, Any]:
        """Every row of every case and meeting (audit log aside), to compare before and after."""
        with self.world.db() as session:
            cases: dict[uuid.UUID, dict[str, Any]] = {}
            for row in session.execute(
                select(
                    Case.id,
                    Case.state,
                    Case.version,
                    Case.updated_at,
                    Case.meeting_id,
                    Case.retained,
                    Case.parquet_decided_at,
                    Case.review_decision,
                    Case.family_informed_on,
                    Case.family_information_means,
                    Case.closed_at,
                    Case.returned_reason,
                    Case.withdrawal_reason,
                    Case.cell_id,
                    Case.merged_into_id,
                    Case.closure_reason,
                )
            ):
                cases[row[0]] = {"row": tuple(row[1:])}
            for case_id, presentation in session.execute(
                select(Case.id, Case.presentation_meeting_id)
            ):
                cases[case_id]["presentation"] = presentation
            for name, column in (
                ("notes", ResearchNote.case_id),
                ("steps", CaseStep.case_id),
                ("guardians", Guardian.case_id),
                ("archive", ArchiveAccess.case_id),
                ("transfers", CaseTransfer.case_id),
                ("additional", AdditionalSignalement.case_id),
            ):
                for case_id, count in session.execute(
                    select(column, func.count()).group_by(column)
                ):
                    cases[case_id][name] = count
            for row in session.execute(
                select(
                    Orientation.case_id,
                    Orientation.id,
                    Orientation.destination,
                    Orientation.transmitted_at,
                    Orientation.feedback_outcome,
                    Orientation.reoriented_to,
                ).order_by(Orientation.id)
            ):
                cases[row[0]].setdefault("orientations", []).append(tuple(row[1:]))
            meetings = {
                row[0]: tuple(row[1:])
                for row in session.execute(select(Meeting.id, Meeting.cell_id, Meeting.held_on))
            }
        return {"cases": cases, "meetings": meetings}

    def _step(
        self,
        who: str,
        path: str,
        body: Any,
        expect: Expect,
        case: CaseModel | None,
        step: str,
        to_state: str | None,
        *,
        content: bytes | None = None,
    ) -> Any:
        """A step on a case; on success the model moves and the answer is checked."""
        response = self._call(
            who,
            "POST",
            path,
            body,
            expect=expect,
            content=content,
            writes=case.id if case else None,
            ghost=case is None,
        )
        if response.status_code >= 400:
            return None
        assert case is not None
        before = case.state
        case.state = to_state or before
        case.history.append((step, before, case.state))
        self.stats.succeeded[step] += 1
        self._step_logged(case.id, step)
        return ok(response)

    def _step_logged(self, case_id: uuid.UUID, detail: str) -> None:
        """R23: the step is an allowed event of the request that took it."""
        assert any(
            e["outcome"] == "allowed" and e["detail"] == detail and e["case_id"] == str(case_id)
            for e in self.last_events
        ), f"step {detail} not in the audit log" + self._context()

    # --- (c) what a response may show ---------------------------------------------------------

    def _principal(self, who: str) -> Principal:
        principal = self.world.principal(who)
        with self.world.db() as session:
            grants = case_repository.archive_grants(
                session, user_id=principal.user_id, now=utcnow()
            )
        return replace(principal, archive_case_ids=grants)

    def _view(self, principal: Principal, case_id: uuid.UUID) -> CaseView:
        """What the policy layer lets this user see of the case, as the database holds it now."""
        with self.world.db() as session:
            case = case_repository.get_case(session, case_id)
            assert case is not None
            return case_view(principal, facts_of(case))

    def _forbidden(self, who: str, case: CaseModel) -> frozenset[str]:
        """The blocks the charter forbids this user at the case's state, written from
        charter-rules.md (R1, R2, R10-R14, R17), not from the policies."""
        user = self.users[who]
        if user.role in ("admin", "auditor", "steering"):
            return ALL_BLOCKS  # R2
        if case.cell_id not in user.cells:
            if self._reach(who, case) == "author" and case.state != "closed":
                return ALL_BLOCKS - {"workflow"}  # R12, issue 16: the author's workflow
            return ALL_BLOCKS  # R1
        if case.state == "closed" and who not in case.archive_holders:
            return ALL_BLOCKS  # R17
        if case.state == "withdrawn" and user.role != "coordinator":
            # R4: the coordinator reads it until the purge; its author follows its fate.
            return ALL_BLOCKS - ({"workflow"} if case.submitter == who else set())
        if user.role == "coordinator":
            return frozenset()  # R10
        if user.role == "parquet":  # R11, R14
            if case.state == "submitted":
                return ALL_BLOCKS
            forbidden = {"contact", "orientation", "feedback"}
            if case.state in ("parquet_review", "not_retained"):
                forbidden.add("research")
            return frozenset(forbidden)
        if user.role == "cst":  # R13, R14
            if case.state == "cell_review":
                return ALL_BLOCKS - {"workflow", "identity"}
            social = [o for o in case.orientations if o.destination == "social_services"]
            if case.state in ("oriented", "feedback", "closed") and social:
                forbidden = {"facts", "research"}
                if not any(o.transmitted for o in social):
                    forbidden.add("contact")
                return frozenset(forbidden)
            return ALL_BLOCKS
        # R12: a member
        forbidden = {"contact", "orientation", "feedback"}
        if case.state not in ("research", "cell_review"):
            forbidden |= {"identity", "facts"}
            if case.submitter != who:
                forbidden.add("workflow")
            if who not in case.note_authors:
                forbidden.add("research")
        return frozenset(forbidden)

    def _check_case(self, who: str, shown: dict[str, Any], *, in_list: bool = False) -> None:
        self.stats.case_checks += 1
        context = f" ({who} reads {self._alias(shown['id'])})" + self._context()
        case = self.cases[uuid.UUID(shown["id"])]
        user = self.users[who]
        principal = self._principal(who)
        view = self._view(principal, case.id)
        visible = frozenset(b.value for b in view.blocks)
        assert shown["state"] == case.state, context
        assert shown["cell_id"] == case.cell_id, context
        assert shown["withheld"] == [b.value for b in Block if b.value not in visible], context
        keys = set(ALWAYS_KEYS).union(*(BLOCK_KEYS[b] for b in visible))
        if "identity" in visible and not in_list:
            keys.add("possible_duplicates")
        if in_list and not visible:
            # R17: the archive's index, for who may ask for an access: dates and reason only.
            assert case.state == "closed", context
            assert user.role in ("coordinator", "parquet"), context
            keys |= {"received_on", "submitted_at", "closed_at", "closure_reason"}
            assert shown["received_on"] == case.received_on.isoformat(), context
        assert set(shown) == keys, context
        assert not visible & self._forbidden(who, case), "a forbidden block shown" + context
        if "identity" in visible:
            minor = shown["minor"]
            identity = (
                minor["last_name"],
                minor["first_name"],
                date.fromisoformat(minor["birth_date"]),
            )
            assert identity == case.identity, "another case's identity" + context
        if "workflow" in visible:
            # Dates and decisions as the model recorded them (issue 15).
            assert shown["received_on"] == case.received_on.isoformat(), context
            assert shown["received_on_declared"] == case.received_declared, context
            expected_reason = case.closure_reason or (
                "no_action" if case.state == "closed" and not case.orientations else None
            )
            assert shown["closure_reason"] == expected_reason, context
            # Issue 16: merges and transfers as the model made them.
            merged = shown["merged_into"]
            assert merged == (str(case.merged_into) if case.merged_into else None), context
            assert len(shown["additional_signalements"]) == case.additional, context
            pending = [t for t in shown["transfers"] if t["outcome"] == "pending"]
            assert [t["to_cell_id"] for t in pending] == (
                [case.transfer_to] if case.transfer_to else []
            ), context
            assert (shown["transferred_to"] is not None) == bool(case.left_cells), context
        if "research" in visible:
            authors = [note["author_id"] for note in shown["research_notes"]]
            if view.own_research_only or (user.role == "member" and case.meeting is None):
                # R12: before the meeting, a member reads their own notes only.
                assert set(authors) <= {user.id}, context
                assert len(authors) == case.note_authors.count(who), context
            else:
                assert len(authors) == len(case.note_authors), context
        if "orientation" in visible:
            expected = [
                str(o.id)
                for o in case.orientations
                if user.role != "cst" or o.destination == "social_services"  # R13
            ]
            assert [o["id"] for o in shown["orientations"]] == expected, context
            assert (shown["family_information"] is not None) == case.family_informed, context
        if "feedback" in visible:
            expected = [
                str(o.id)
                for o in case.orientations
                if o.outcome is not None
                and (user.role != "cst" or o.destination == "social_services")
            ]
            assert [f["orientation_id"] for f in shown["feedback"]] == expected, context
        if "possible_duplicates" in keys:
            same = [
                other.id
                for other in self.cases.values()
                if other.id != case.id
                and other.cell_id == case.cell_id
                and other.identity == case.identity
                and self._flagged(case, other)
                and Block.IDENTITY in self._view(principal, other.id).blocks
            ]
            assert sorted(shown["possible_duplicates"]) == sorted(str(i) for i in same), context

    @staticmethod
    def _flagged(case: CaseModel, other: CaseModel) -> bool:
        """Issue 16: two cases of the same identity and cell stay flagged until merged or
        found to be two minors; a withdrawn signalement is nobody's duplicate."""
        return (
            case.merged_into is None
            and other.merged_into is None
            and other.id not in case.dismissed
            and "withdrawn" not in (case.state, other.state)
        )

    def _check_meeting(self, who: str, shown: dict[str, Any], meeting: MeetingModel) -> None:
        context = f" ({who} reads {meeting.alias})" + self._context()
        user = self.users[who]
        principal = self._principal(who)
        assert shown["id"] == str(meeting.id), context
        assert shown["cell_id"] == meeting.cell_id, context
        assert shown["held_on"] == meeting.held_on.isoformat(), context
        # Each line shows what a direct read would: the cases the reader sees nothing of now
        # are not listed (R12, R13: no state of a case a direct read refuses).
        # Issue 17: a case closed (or destroyed) since stays, for the record, as its reference
        # and state, whoever reads the meeting.
        agenda = {
            str(c.id): c
            for c in self.cases.values()
            if c.meeting == meeting.id
            and (self._view(principal, c.id).blocks or c.state in ("closed", "purged"))
        }
        assert sorted(item["case_id"] for item in shown["agenda"]) == sorted(agenda), context
        line_blocks = [Block.WORKFLOW, Block.IDENTITY, Block.ORIENTATION, Block.FEEDBACK]
        for item in shown["agenda"]:
            case = agenda[item["case_id"]]
            assert item["state"] == case.state, context
            view = self._view(principal, case.id).blocks
            allowed = Block.IDENTITY in view
            assert (item["minor"] is not None) == allowed, "agenda identity" + context
            assert item["minor"] is None or "identity" not in self._forbidden(who, case), context
            # R16: what a line could show and the charter withholds (all of it for a record).
            withheld = [b.value for b in line_blocks if b not in view]
            assert item["withheld"] == withheld, context
        # R7, R12, R13: on the meeting's day, the parquet presents them to the cell (not the CST).
        presenting = meeting.held_on == today() and user.role in (
            "coordinator",
            "parquet",
            "member",
        )
        assert presenting == (
            meeting.held_on == today()
            and decisions.may_in_cell(principal, "see_presented_identities", meeting.cell_id)
        ), context
        presented = {
            str(c.id): c
            for c in self.cases.values()
            if c.presentation == meeting.id
            and c.state == "not_retained"
            and (presenting or self._view(principal, c.id).blocks)
        }
        assert sorted(i["case_id"] for i in shown["not_retained"]) == sorted(presented), context
        for item in shown["not_retained"]:
            case = presented[item["case_id"]]
            allowed = presenting or Block.IDENTITY in self._view(principal, case.id).blocks
            assert (item["minor"] is not None) == allowed, "presented identity" + context
            if user.role == "cst":
                assert item["minor"] is None, "R13: the CST saw a not-retained identity" + context
            if item["minor"] is not None:
                assert item["minor"]["last_name"] == case.identity[0], context

    # --- (a), (d) after every step ------------------------------------------------------------

    @invariant()
    def the_database_is_what_the_model_says(self) -> None:
        with self.world.db() as session:
            ids = set(session.scalars(select(Case.id)))
            assert ids == set(self.cases), "cases appeared or vanished" + self._context()
            rows = {i: case_repository.get_case(session, i) for i in ids}
            archive = Counter(session.scalars(select(ArchiveAccess.case_id)))
        for case in self.cases.values():
            row = rows[case.id]
            assert row is not None
            context = f" ({case.alias})" + self._context()
            assert row.state == case.state, "state differs from the model" + context
            history = [(s.step, s.from_state, s.to_state) for s in row.steps]
            assert history == case.history, "history differs from the model" + context
            assert row.retained == case.retained, context
            assert row.meeting_id == case.meeting, context
            assert row.presentation_meeting_id == case.presentation, context
            assert (row.family_informed_on is not None) == case.family_informed, context
            assert len(row.research_notes) == len(case.note_authors), context
            assert archive[case.id] == len(case.archive_holders), context
            orientations = [
                (o.id, o.destination, o.transmitted_at is not None, o.feedback_outcome)
                for o in row.orientations
            ]
            modelled = [(o.id, o.destination, o.transmitted, o.outcome) for o in case.orientations]
            assert orientations == modelled, context
            assert (row.closed_at is not None) == (case.state == "closed"), context
            assert row.withdrawal_reason == case.withdrawal, context
            assert (row.returned_reason is not None) == case.returned, context
            assert (row.withdrawn_at is not None) == (case.state == "withdrawn"), context
            # Issue 16
            assert row.cell_id == case.cell_id, "the case is in another cell" + context
            assert row.merged_into_id == case.merged_into, context
            pending = [t.to_cell_id for t in row.transfers if t.outcome == "pending"]
            assert pending == ([case.transfer_to] if case.transfer_to else []), context
            assert len(row.additional_signalements) == case.additional, context
            if row.merged_into_id is not None:
                # A merged case is closed as a duplicate of a case of the cell it was in,
                # which was still followed then (open now, or closed since).
                kept = rows[row.merged_into_id]
                assert kept is not None, context
                assert (row.state, row.closure_reason) == ("closed", "duplicate"), context
                assert kept.merged_into_id != row.id, context
                assert kept.closed_at is None or _(row.closed_at) <= kept.closed_at, context

    @invariant()
    def nobody_outside_the_cell_reads_a_case(self) -> None:
        """Issue 16: whoever is not a member of a case's current cell sees nothing of it, but
        the author of a signalement transferred out of their cell, its workflow (R1, R12)."""
        with self.world.db() as session:
            rows = [_(case_repository.get_case(session, i)) for i in self.cases]
        for who in USERNAMES:
            principal = self.world.principal(who)
            for row in rows:
                if principal.is_member_of(row.cell_id):
                    continue
                view = case_view(principal, facts_of(row))
                case = self.cases[row.id]
                allowed = (
                    {Block.WORKFLOW}
                    if self._reach(who, case) == "author" and case.state != "closed"
                    else set()
                )
                assert set(view.blocks) <= allowed, f"{who} reads {case.alias}" + self._context()

    @invariant()
    def the_audit_chain_verifies(self) -> None:
        self.steps_here += 1
        if self.steps_here % VERIFY_EVERY == 0:
            self._verify_chain()

    def _verify_chain(self) -> None:
        self.stats.chain_verifications += 1
        with self.world.db() as session:
            verdict = verify(session)
        assert verdict.valid, f"audit chain broken: {verdict}" + self._context()

    # --- step 1 -------------------------------------------------------------------------------

    @initialize(data=st.data())
    def first_cases(self, data: st.DataObject) -> None:
        """Every sequence starts with one or two situations, submitted by the right users."""
        for _turn in range(data.draw(st.integers(1, 2), label="first cases")):
            who = data.draw(st.sampled_from(self._with_role(None, "member", "coordinator")))
            self._submit(data, who, hostile=False)

    @precondition(lambda self: len(self.cases) < MAX_CASES)
    @rule(data=st.data())
    def submit(self, data: st.DataObject) -> None:
        self.stats.rules["submit"] += 1
        who = self._user(data, self._with_role(None, "member", "coordinator"))
        self._submit(data, who, hostile=True)

    @precondition(lambda self: self.cases and len(self.cases) < MAX_CASES)
    @rule(data=st.data())
    def signal_again(self, data: st.DataObject) -> None:
        """Issue 16: the same minor signalled again in the same cell (a possible duplicate)."""
        self.stats.rules["signal_again"] += 1
        same = data.draw(st.sampled_from(list(self.cases.values())), label="same minor as")
        who = data.draw(
            st.sampled_from(self._with_role(same.cell_id, "member", "coordinator")), label="by"
        )
        self._submit(data, who, hostile=False, same_as=same)

    def _submit(
        self, data: st.DataObject, who: str, *, hostile: bool, same_as: CaseModel | None = None
    ) -> None:
        user = self.users[who]
        cell_id = self._cell(data, user) if hostile else min(user.cells)
        if same_as is not None:
            cell_id = same_as.cell_id
        # A member's signalement is received the day it is sent (the server's clock, pinned
        # back to that day); the coordinator declares the day (92 back at most) and the way.
        days_ago = self._mostly(
            data, [40, 45, 10, 0, 92], [-1, 93] if hostile else [40], "received"
        )
        declares = user.role == "coordinator"
        via = self._mostly(data, ["letter", "phone"], [None] if hostile else ["letter"], "via")
        member_declares = (
            hostile and not declares and data.draw(st.integers(0, 9), label="member declares?") == 9
        )
        age = self._mostly(data, [14, 16, 11], [19] if hostile else [14], "age")
        rare_origins = ["education", "mairie"] if hostile else [None]
        origin = self._mostly(data, [None, user.organisation], rare_origins, "origin")
        last, first = data.draw(st.sampled_from(NAMES), label="names")
        motifs = data.draw(
            st.lists(
                st.sampled_from(sorted(m.value for m in Motif)), min_size=1, max_size=3, unique=True
            ),
            label="motifs",
        )
        on = today()
        received = on - timedelta(days=days_ago)
        if not declares and received > on:
            received = on  # a member's signalement is received today, whatever they wish
        birth = date(on.year - age, 5, 17)
        if same_as is not None:
            last, first, birth = same_as.identity
        body = case_body(cell_id, motifs=motifs)
        if declares:
            body["received_on"] = received.isoformat()
            if via is not None:
                body["received_via"] = via
        elif member_declares:
            body["received_on"] = received.isoformat()
        body["minor"].update(last_name=last, first_name=first, birth_date=birth.isoformat())
        if origin is not None:
            body["origin"] = origin
        if data.draw(st.booleans(), label="lean body?"):
            for key in ("facts", "guardians"):
                body.pop(key)
            for key in ("sex", "address", "school"):
                body["minor"].pop(key)

        expect: Expect
        if cell_id not in user.cells:
            expect = (403, "not-a-cell-member")
        elif user.role == "member" and origin not in (None, user.organisation):
            expect = (403, "origin-reserved")  # R4
        elif user.role not in ("member", "coordinator"):
            expect = (403, "role-not-allowed")
        elif member_declares:
            expect = (403, "received-on-not-allowed")  # the server's day, not the caller's
        elif declares and via is None:
            expect = (422, "received-via-required")
        elif declares and received > on:
            expect = (422, "received-on-in-future")
        elif declares and (on - received).days > 92:
            expect = (422, "received-on-too-old")
        elif age_on(birth, received) > 17:
            expect = (422, "invalid-input")  # R21
        else:
            expect = CREATED
        if declares or received > on:
            response = self._call(who, "POST", "/cases", body, expect=expect)
        else:
            with on_day(self.world, received):
                response = self._call(who, "POST", "/cases", body, expect=expect)
        if expect != CREATED:
            return
        shown = ok(response)
        case_id = uuid.UUID(shown["id"])
        case = CaseModel(
            case_id,
            f"case{len(self.cases) + 1}",
            cell_id,
            received,
            who,
            (last, first, birth),
        )
        case.received_declared = declares
        case.order = len(self.cases)
        case.history.append(("submit", None, "submitted"))
        self.cases[case_id] = case
        self.aliases[str(case_id)] = case.alias
        self.stats.succeeded["submit"] += 1
        self._step_logged(case_id, "submit")
        self._check_case(who, shown)

    # --- step 2 -------------------------------------------------------------------------------

    @precondition(lambda self: self._some(LEGAL["refer_to_parquet"]))
    @rule(data=st.data())
    def refer_to_parquet(self, data: st.DataObject) -> None:
        self.stats.rules["refer_to_parquet"] += 1
        case = self._case(data, LEGAL["refer_to_parquet"])
        who = self._user(data, self._with_role(_cell_of(case), "coordinator"))
        self._refer(who, case)

    def _refer(self, who: str, case: CaseModel | None) -> None:
        expect = self._gate(who, case, {"coordinator"}) or self._legal(_(case), "refer_to_parquet")
        if expect is None and _(case).returned:
            expect = (409, "returned-to-author")  # waits for its author's amendment
        path = f"/cases/{_id(case)}/parquet-referral"
        shown = self._step(
            who, path, None, expect or DONE, case, "refer_to_parquet", "parquet_review"
        )
        if shown is not None:
            self._check_case(who, shown)

    @precondition(lambda self: self._some(LEGAL["parquet_decision"]))
    @rule(data=st.data())
    def parquet_decision(self, data: st.DataObject) -> None:
        self.stats.rules["parquet_decision"] += 1
        case = self._case(data, LEGAL["parquet_decision"])
        who = self._user(data, self._with_role(_cell_of(case), "parquet"))
        self._decide(data, who, case)

    def _decide(self, data: st.DataObject, who: str, case: CaseModel | None) -> None:
        retained = data.draw(st.integers(0, 3), label="retained?") < 3
        expect = self._gate(who, case, {"parquet"}) or self._legal(_(case), "parquet_decision")
        step = "retain" if retained else "not_retain"
        to_state = "research" if retained else "not_retained"
        path = f"/cases/{_id(case)}/parquet-decision"
        shown = self._step(who, path, {"retained": retained}, expect or DONE, case, step, to_state)
        if shown is None:
            return
        case = _(case)
        case.retained = retained
        if not retained:
            # R7: presented at the cell's next meeting (today or later), if one is scheduled.
            upcoming = [
                m
                for m in self.meetings.values()
                if m.cell_id == case.cell_id and m.held_on >= today()
            ]
            case.presentation = min(upcoming, key=lambda m: m.held_on).id if upcoming else None
        self._check_case(who, shown)

    # --- step 3 -------------------------------------------------------------------------------

    @precondition(lambda self: self._some(LEGAL["add_research_note"]))
    @rule(data=st.data())
    def research_note(self, data: st.DataObject) -> None:
        self.stats.rules["research_note"] += 1
        case = self._case(data, LEGAL["add_research_note"])
        cell = _cell_of(case)
        who = self._user(data, self._with_role(cell, "member", "parquet", "coordinator"))
        self._note(data, who, case, hostile=True)

    def _note(
        self, data: st.DataObject, who: str, case: CaseModel | None, *, hostile: bool
    ) -> None:
        content = f"Note fictive {NOTE_MARK} : {FIRST_NAME} {LAST_NAME} est connue du service."
        invalid = hostile and data.draw(st.integers(0, 9), label="control character?") == 9
        if invalid:
            content += "\x07"
        expect = (
            (422, "validation-error")
            if invalid
            else self._gate(who, case, {"member", "parquet", "coordinator"})
            or self._legal(_(case), "add_research_note")
            or CREATED
        )
        path = f"/cases/{_id(case)}/research-notes"
        created = self._step(
            who, path, {"content": content}, expect, case, "add_research_note", None
        )
        if created is None:
            return
        assert set(created) == {"id", "case_id", "created_at"}, self._context()
        _(case).note_authors.append(who)

    # --- step 4 -------------------------------------------------------------------------------

    @precondition(lambda self: len(self.meetings) < MAX_MEETINGS)
    @rule(data=st.data())
    def create_meeting(self, data: st.DataObject) -> None:
        self.stats.rules["create_meeting"] += 1
        who = self._user(data, self._with_role(None, "coordinator"))
        user = self.users[who]
        cell_id = self._cell(data, user)
        offset = self._mostly(data, [0, 0, -5, 35, -14], [400, -15], "held in days")
        self._meeting(who, cell_id, offset)

    def _meeting(self, who: str, cell_id: int, offset: int) -> MeetingModel | None:
        user = self.users[who]
        held_on = today() + timedelta(days=offset)
        expect: Expect
        if cell_id not in user.cells:
            expect = (403, "not-a-cell-member")
        elif user.role != "coordinator":
            expect = (403, "role-not-allowed")
        elif offset < -14:
            expect = (422, "meeting-recorded-too-late")  # CENOMED_MEETING_RECORD_DAYS
        elif offset > 366:
            expect = (422, "meeting-too-far")  # issue 17: a refusal of its own type
        else:
            expect = CREATED
        body = meeting_body(cell_id, held_on)
        response = self._call(who, "POST", "/meetings", body, expect=expect)
        if expect != CREATED:
            return None
        shown = ok(response)
        meeting = MeetingModel(
            uuid.UUID(shown["id"]), f"meeting{len(self.meetings) + 1}", cell_id, held_on
        )
        self.meetings[meeting.id] = meeting
        self.aliases[str(meeting.id)] = meeting.alias
        self.stats.succeeded["create_meeting"] += 1
        if held_on >= today():
            # R7: it takes the cell's not-retained situations still waiting to be presented.
            for case in self.cases.values():
                if (
                    case.cell_id == cell_id
                    and case.state == "not_retained"
                    and case.presentation is None
                ):
                    case.presentation = meeting.id
        self._check_meeting(who, shown, meeting)
        return meeting

    def _pick_meeting(self, data: st.DataObject, case: CaseModel | None) -> MeetingModel | None:
        roll = data.draw(st.integers(0, 19), label="which meeting")
        if roll == 19:
            return None
        fitting = [
            m
            for m in self.meetings.values()
            if case is not None
            and m.cell_id == case.cell_id
            and m.held_on >= add_calendar_months(case.received_on, 1)
        ]
        pool = fitting if fitting and roll < 15 else list(self.meetings.values())
        return data.draw(st.sampled_from(pool), label="meeting")

    @precondition(lambda self: self.meetings and self._some(LEGAL["examine_at_meeting"]))
    @rule(data=st.data())
    def put_on_agenda(self, data: st.DataObject) -> None:
        self.stats.rules["put_on_agenda"] += 1
        case = self._case(data, LEGAL["examine_at_meeting"])
        meeting = self._pick_meeting(data, case)
        who = self._user(data, self._with_role(_cell_of(case), "coordinator"))
        self._agenda(who, case, meeting)

    def _agenda(self, who: str, case: CaseModel | None, meeting: MeetingModel | None) -> None:
        user = self.users[who]
        expect: Expect | None
        if meeting is None or meeting.cell_id not in user.cells:
            expect = (404, "meeting-not-found")
        elif user.role not in READ_MEETING_ROLES:
            expect = (403, "role-not-allowed")
        else:
            expect = self._gate(who, case, {"coordinator"})
            if expect is None and _(case).meeting == meeting.id:
                expect = (409, "already-on-agenda")  # issue 17: before the state's verdict
            expect = expect or self._legal(_(case), "examine_at_meeting")
            if expect is None and meeting.cell_id != _(case).cell_id:
                expect = (409, "meeting-of-another-cell")
            if expect is None and (today() - meeting.held_on).days > 14:
                expect = (409, "meeting-recorded-too-late")
            if expect is None and meeting.held_on < add_calendar_months(_(case).received_on, 1):
                expect = (409, "one-month-rule")  # R7
        path = f"/meetings/{meeting.id if meeting else GHOST}/cases"
        body = {"case_id": str(_id(case))}
        shown = self._step(
            who, path, body, expect or DONE, case, "examine_at_meeting", "cell_review"
        )
        if shown is None:
            return
        _(case).meeting = _(meeting).id
        self._check_meeting(who, shown, _(meeting))

    # --- step 5 -------------------------------------------------------------------------------

    @precondition(lambda self: self._some(LEGAL["review_decision"]))
    @rule(data=st.data())
    def review_decision(self, data: st.DataObject) -> None:
        self.stats.rules["review_decision"] += 1
        case = self._case(data, LEGAL["review_decision"])
        who = self._user(data, self._with_role(_cell_of(case), "coordinator"))
        self._review(data, who, case, hostile=True)

    def _review(
        self, data: st.DataObject, who: str, case: CaseModel | None, *, hostile: bool
    ) -> None:
        orient = data.draw(st.integers(0, 4), label="no action?") < 4
        destinations = data.draw(
            st.lists(st.sampled_from(CENOMED_DESTINATIONS), min_size=1, max_size=3, unique=True),
            label="destinations",
        )
        if not orient:
            destinations = []
        variant = self._mostly(
            data,
            ["valid"],
            ["none", "twice", "recidivism", "extra"] if hostile else ["valid"],
            "decision",
        )
        if variant == "none":
            destinations = []
        elif variant == "twice":
            destinations = [*destinations, *destinations[:1]] if orient else ["crip"]
        elif variant == "recidivism":
            destinations = [*destinations, data.draw(st.sampled_from(RECIDIVISM_ONLY))]
        elif variant == "extra" and not orient:
            destinations = ["crip"]
        body: dict[str, Any] = {"decision": "orient" if orient else "no_action"}
        if destinations or orient:
            body["orientations"] = [{"destination": d} for d in destinations]
        invalid = (
            (orient and (not destinations or len(set(destinations)) != len(destinations)))
            or any(d in RECIDIVISM_ONLY for d in destinations)
            or (not orient and bool(destinations))
        )
        expect = self._gate(who, case, {"coordinator"})
        if expect is None and invalid:
            expect = (422, "invalid-input")
        expect = expect or self._legal(_(case), "review_decision")
        if expect is None:
            meeting = self.meetings[_(_(case).meeting)]
            if meeting.held_on > today():
                expect = (409, "meeting-not-held-yet")
        step = "orient" if orient else "close_without_action"
        to_state = "oriented" if orient else "closed"
        path = f"/cases/{_id(case)}/review-decision"
        shown = self._step(who, path, body, expect or DONE, case, step, to_state)
        if shown is None:
            return
        case = _(case)
        for item in shown["orientations"] if orient else []:
            orientation_id = uuid.UUID(item["id"])
            alias = f"{case.alias}-{item['destination']}"
            case.orientations.append(OrientationModel(orientation_id, alias, item["destination"]))
            self.aliases[str(orientation_id)] = alias
        assert [o.destination for o in case.orientations] == destinations, self._context()
        self._check_case(who, shown)

    @precondition(lambda self: self._some(OPEN))
    @rule(data=st.data())
    def family_information(self, data: st.DataObject) -> None:
        self.stats.rules["family_information"] += 1
        case = self._case(data, OPEN, lambda c: not c.family_informed)
        who = self._user(data, self._with_role(_cell_of(case), "coordinator"))
        self._family(data, who, case, hostile=True)

    def _family(
        self, data: st.DataObject, who: str, case: CaseModel | None, *, hostile: bool
    ) -> None:
        # The decision was taken today (the model does not move time): the family is
        # informed today, neither before the decision nor in the future.
        offset = self._mostly(data, [0], [1, -1, -100] if hostile else [0], "informed days ago")
        means = data.draw(st.sampled_from(["letter", "meeting", "phone", "email"]), label="means")
        outcome = self._mostly(
            data, ["informed", "informed", "objects"], ["unreachable"], "family's answer"
        )
        informed_on = today() + timedelta(days=offset)
        expect = self._gate(who, case, {"coordinator"})
        expect = expect or self._legal(_(case), "record_family_information")
        if expect is None and _(case).family_informed:
            expect = (409, "family-already-informed")
        if expect is None and informed_on > today():
            expect = (422, "informed-on-in-future")
        if expect is None and informed_on < today():
            expect = (422, "informed-before-decision")
        body = {"informed_on": informed_on.isoformat(), "means": means, "outcome": outcome}
        path = f"/cases/{_id(case)}/family-information"
        shown = self._step(who, path, body, expect or DONE, case, "record_family_information", None)
        if shown is None:
            return
        _(case).family_informed = True
        _(case).family_outcome = outcome
        assert shown["family_information"]["outcome"] == outcome, self._context()
        self._check_case(who, shown)

    def _pick_orientation(
        self, data: st.DataObject, case: CaseModel | None, fits: Callable[[OrientationModel], bool]
    ) -> OrientationModel | None:
        roll = data.draw(st.integers(0, 19), label="which orientation")
        own = [o for o in (case.orientations if case else []) if fits(o)] or (
            case.orientations if case else []
        )
        everywhere = [o for c in self.cases.values() for o in c.orientations]
        if roll == 19 or not everywhere:
            return None
        pool = own if own and roll < 15 else everywhere
        return data.draw(st.sampled_from(pool), label="orientation")

    @precondition(lambda self: self._some(OPEN))
    @rule(data=st.data())
    def transmission(self, data: st.DataObject) -> None:
        self.stats.rules["transmission"] += 1
        case = self._case(data, OPEN, lambda c: any(not o.transmitted for o in c.orientations))
        orientation = self._pick_orientation(data, case, lambda o: not o.transmitted)
        who = self._user(data, self._with_role(_cell_of(case), "coordinator"))
        self._transmit(data, who, case, orientation, hostile=True)

    def _transmit(
        self,
        data: st.DataObject,
        who: str,
        case: CaseModel | None,
        orientation: OrientationModel | None,
        *,
        hostile: bool,
    ) -> None:
        with_body = hostile and data.draw(st.integers(0, 9), label="body?") == 9
        content = None
        if with_body:
            # R15: the content sent is never recorded: a body is refused.
            content = json.dumps({"sent": f"dossier de {FIRST_NAME} {LAST_NAME}"}).encode()
        expect: Expect | None
        if with_body:
            expect = (422, "transmission-takes-no-content")
        else:
            expect = self._gate(who, case, {"coordinator"})
            if expect is None and (
                orientation is None or _(case).orientation(orientation.id) is None
            ):
                expect = (404, "orientation-not-found")
            expect = expect or self._legal(_(case), "transmit")
            o = orientation
            if expect is None and _(o).transmitted:
                expect = (409, "already-transmitted")
            social = o is not None and o.destination == "social_services"
            if expect is None and social and not _(case).family_informed:
                expect = (409, "family-not-informed")  # R8
            if expect is None and social and _(case).family_outcome == "unreachable":
                expect = (409, "family-unreachable")  # R8: no transmission without the family
            if expect is None and social and not self._has_cst(_(case).cell_id):
                expect = (409, "no-social-coordinator")  # R8: through the cell's CST
        oid = orientation.id if orientation else GHOST
        path = f"/cases/{_id(case)}/orientations/{oid}/transmission"
        shown = self._step(who, path, None, expect or DONE, case, "transmit", None, content=content)
        if shown is None:
            return
        _(orientation).transmitted = True
        self._check_case(who, shown)

    # --- step 6 and closure -------------------------------------------------------------------

    @precondition(lambda self: self._some(OPEN))
    @rule(data=st.data())
    def feedback(self, data: st.DataObject) -> None:
        self.stats.rules["feedback"] += 1

        def waiting(o: OrientationModel) -> bool:
            return o.transmitted and o.outcome is None

        case = self._case(data, OPEN, lambda c: any(waiting(o) for o in c.orientations))
        orientation = self._pick_orientation(data, case, waiting)
        social = orientation is not None and orientation.destination == "social_services"
        right = self._with_role(_cell_of(case), "cst" if social else "coordinator")
        who = self._user(data, right)
        self._feedback(data, who, case, orientation, hostile=True)

    def _feedback(
        self,
        data: st.DataObject,
        who: str,
        case: CaseModel | None,
        orientation: OrientationModel | None,
        *,
        hostile: bool,
    ) -> None:
        user = self.users[who]
        outcome = data.draw(
            st.sampled_from(["support_in_place", "support_not_possible", "reoriented"]),
            label="outcome",
        )
        body: dict[str, Any] = {"outcome": outcome}
        if outcome == "reoriented":
            body["reoriented_to"] = data.draw(st.sampled_from(["social", "medico_social"]))
        variant = self._mostly(
            data, ["valid"], ["mismatch", "extra"] if hostile else ["valid"], "form"
        )
        if variant == "mismatch":
            if outcome == "reoriented":
                body.pop("reoriented_to")
            else:
                body["reoriented_to"] = "social"
        elif variant == "extra":
            body["comment"] = f"{FIRST_NAME} va mieux"  # R9: no free text, no extra field
        expect: Expect | None
        if variant == "extra":
            expect = (422, "validation-error")
        elif gate := self._gate(who, case, {"coordinator", "cst"}):
            expect = gate
        elif orientation is None or case.orientation(orientation.id) is None:
            expect = (404, "orientation-not-found")
        elif (orientation.destination == "social_services") != (user.role == "cst"):
            expect = (403, "role-not-allowed")  # R9: social services report through the CST
        elif variant == "mismatch":
            expect = (422, "invalid-feedback")
        else:
            expect = self._legal(case, "record_feedback")
            if expect is None and not orientation.transmitted:
                expect = (409, "not-transmitted")
            if expect is None and orientation.outcome is not None:
                expect = (409, "feedback-already-recorded")
        oid = orientation.id if orientation else GHOST
        path = f"/cases/{_id(case)}/orientations/{oid}/feedback"
        shown = self._step(who, path, body, expect or DONE, case, "record_feedback", "feedback")
        if shown is None:
            return
        _(orientation).outcome = outcome
        self._check_case(who, shown)

    @precondition(lambda self: self._some(OPEN))
    @rule(data=st.data())
    def closure(self, data: st.DataObject) -> None:
        self.stats.rules["closure"] += 1
        case = self._case(data, LEGAL["close"])
        who = self._user(data, self._with_role(_cell_of(case), "coordinator"))
        self._close(data, who, case)

    def _close(self, data: st.DataObject, who: str, case: CaseModel | None) -> None:
        reason = self._mostly(
            data,
            ["feedback_received", "moved_away", "judicial_follow_up", "family_unreachable"],
            [None, "no_action", "aged_out"],
            "closure reason",
        )
        expect = self._gate(who, case, {"coordinator"}) or self._legal(_(case), "close")
        if expect is None and reason is None:
            expect = (422, "closure-reason-required")
        if expect is None and not self._closure_applies(_(case), reason):
            expect = (409, "closure-reason-not-applicable")
        path = f"/cases/{_id(case)}/closure"
        body = {"reason": reason} if reason else None
        shown = self._step(who, path, body, expect or DONE, case, "close", "closed")
        if shown is None:
            return
        _(case).closure_reason = reason
        self._check_case(who, shown)

    @staticmethod
    def _closure_applies(case: CaseModel, reason: str | None) -> bool:
        """The reasons the record bears out: every orientation answered, the family
        unreachable; no_action is the review decision's; the model's minors never age out."""
        if reason == "feedback_received":
            return bool(case.orientations) and all(o.outcome for o in case.orientations)
        if reason == "family_unreachable":
            return case.family_outcome == "unreachable"
        return reason in ("moved_away", "judicial_follow_up")

    @precondition(lambda self: self._some(LEGAL["request_archive_access"]))
    @rule(data=st.data())
    def archive_access(self, data: st.DataObject) -> None:
        self.stats.rules["archive_access"] += 1
        case = self._case(data, LEGAL["request_archive_access"])
        who = self._user(data, self._with_role(_cell_of(case), "coordinator", "parquet"))
        self._archive(data, who, case, hostile=True)

    def _archive(
        self, data: st.DataObject, who: str, case: CaseModel | None, *, hostile: bool
    ) -> None:
        short = hostile and data.draw(st.integers(0, 9), label="short reason?") == 9
        reason = (
            f"Voir {LAST_NAME}"
            if short
            else f"Demande du juge des enfants sur {FIRST_NAME} {LAST_NAME} ({REASON_MARK})."
        )
        expect: Expect | None
        if short:
            expect = (422, "validation-error")  # R17: a motivated access, a sentence at least
        else:
            expect = self._gate(who, case, {"coordinator", "parquet"})
            if expect is None and _(case).state != "closed":
                expect = (409, "not-archived")
        path = f"/cases/{_id(case)}/archive-access"
        response = self._call(
            who,
            "POST",
            path,
            {"reason": reason},
            expect=expect or CREATED,
            writes=case.id if case else None,
            ghost=case is None,
        )
        if response.status_code >= 400:
            return
        granted = ok(response)
        assert set(granted) == {"case_id", "granted_at", "expires_at", "purpose"}, self._context()
        # No purpose sent (an older client): "other", and the event records it (R23's why).
        assert granted["purpose"] == "other", self._context()
        _(case).archive_holders.append(who)
        self.stats.succeeded["request_archive_access"] += 1
        assert any(
            e["detail"].startswith("archive_access:")
            and e["detail"].endswith(" purpose:other")
            and e["severity"] == "high"
            for e in self.last_events
        ), "R17: an archive access not logged as high, with its purpose" + self._context()

    # --- reads --------------------------------------------------------------------------------

    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        """A case or a meeting, read by anyone."""
        self.stats.rules["read"] += 1
        who = data.draw(st.sampled_from(USERNAMES), label="reader")
        if self.meetings and data.draw(st.integers(0, 3), label="a meeting?") == 3:
            self._read_meeting(who, self._pick_meeting(data, None))
        else:
            self._read(who, self._case(data, STATES))

    @rule(data=st.data())
    def list_cases(self, data: st.DataObject) -> None:
        """The list of cases (with filters, page by page), read by anyone."""
        self.stats.rules["list_cases"] += 1
        self._list(data, data.draw(st.sampled_from(USERNAMES), label="reader"))

    def _read(self, who: str, case: CaseModel | None) -> None:
        user = self.users[who]
        expect: Expect
        view: CaseView | None = None
        reach = self._reach(who, case)
        if case is None or reach is None:
            expect = (404, "case-not-found")
        else:
            principal = self._principal(who)
            view = self._view(principal, case.id)
            if view.blocks:
                expect = DONE
            elif (
                case.state == "closed"
                and user.role in ("coordinator", "parquet")
                and reach == "cell"
            ):
                expect = (403, "archive-access-required")  # R17
            else:
                expect = (403, "charter-withholds-case")
        seq = head(self.world)
        response = self._call(who, "GET", f"/cases/{_id(case)}", expect=expect, ghost=case is None)
        if response.status_code >= 400:
            return
        shown = ok(response)
        self._check_case(who, shown)
        # R23: the read is logged with the blocks shown.
        reads = [e for e in events(self.world, after=seq) if e["action"] == "read_case"]
        assert [(e["case_id"], sorted(e["blocks"])) for e in reads] == [
            (str(_(case).id), sorted(b.value for b in _(view).blocks))
        ], self._context()

    def _list(self, data: st.DataObject, who: str) -> None:
        user = self.users[who]
        cell_id = data.draw(st.sampled_from([None, None, None, *self.cells]), label="cell filter")
        state = data.draw(st.sampled_from([None, None, None, *STATES]), label="state filter")
        limit = data.draw(st.sampled_from([100, 2]), label="limit")
        expect: Expect = DONE
        if not user.cells or (cell_id is not None and cell_id not in user.cells):
            expect = (403, "not-a-cell-member")
        query = (
            f"limit={limit}"
            + (f"&cell_id={cell_id}" if cell_id else "")
            + (f"&state={state}" if state else "")
        )
        cursor: str | None = None
        listed: list[str] = []
        while True:
            seq = head(self.world)
            page_query = query + (f"&cursor={cursor}" if cursor else "")
            response = self._call(who, "GET", f"/cases?{page_query}", expect=expect)
            if response.status_code >= 400:
                return
            page = ok(response)
            assert len(page["items"]) <= limit, self._context()
            for item in page["items"]:
                self._check_case(who, item, in_list=True)
            fresh = events(self.world, after=seq)
            reads = [e for e in fresh if e["action"] == "list_cases" and e["blocks"]]
            assert [(e["case_id"], sorted(e["blocks"])) for e in reads] == [
                (item["id"], sorted(ALL_BLOCKS - set(item["withheld"])))
                for item in page["items"]
                if set(item["withheld"]) != ALL_BLOCKS
            ], self._context()
            # The archive's index entries (R17) are logged too, as such.
            indexed = [e["case_id"] for e in fresh if e["detail"] == "archive_index"]
            assert indexed == [
                item["id"] for item in page["items"] if set(item["withheld"]) == ALL_BLOCKS
            ], self._context()
            listed += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        principal = self._principal(who)
        cells = user.cells if cell_id is None else {cell_id}
        with self.world.db() as session:
            rows = session.execute(select(Case.id, Case.received_on)).all()
        # Newest received first (issue 16), the id breaking ties.
        order = {case_id: (received_on, case_id) for case_id, received_on in rows}
        indexes = state == "closed" and user.role in ("coordinator", "parquet")
        expected = sorted(
            (
                c.id
                for c in self.cases.values()
                if (c.cell_id in cells or (c.submitter == who and c.left_cells & cells))
                and (state is None or c.state == state)
                and (self._view(principal, c.id).blocks or indexes)
            ),
            key=lambda i: order[i],
            reverse=True,
        )
        assert listed == [str(i) for i in expected], "the list differs" + self._context()

    def _read_meeting(self, who: str, meeting: MeetingModel | None) -> None:
        user = self.users[who]
        expect: Expect = DONE
        if meeting is None or meeting.cell_id not in user.cells:
            expect = (404, "meeting-not-found")
        elif user.role not in READ_MEETING_ROLES:
            expect = (403, "role-not-allowed")
        mid = meeting.id if meeting else GHOST
        response = self._call(who, "GET", f"/meetings/{mid}", expect=expect)
        if response.status_code < 400:
            self._check_meeting(who, ok(response), _(meeting))

    # --- corrections (issue 16) ----------------------------------------------------------------

    @precondition(lambda self: self._some(LEGAL["withdraw"]))
    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        self.stats.rules["withdraw"] += 1
        case = self._case(data, LEGAL["withdraw"])
        self._withdraw(data, self._user(data, self._authors(case)), case)

    def _authors(self, case: CaseModel | None) -> list[str]:
        """Who may amend or withdraw a signalement: its author, or the coordinator."""
        coordinators = self._with_role(_cell_of(case), "coordinator")
        return coordinators + ([case.submitter] if case is not None else [])

    def _withdraw(self, data: st.DataObject, who: str, case: CaseModel | None) -> None:
        reason = self._mostly(data, ["sent_by_mistake", "wrong_cell", "other"], ["oops"], "why")
        user = self.users[who]
        expect = self._gate(who, case, {"member", "coordinator"})
        if expect is None and user.role == "member" and _(case).submitter != who:
            expect = (403, "role-not-allowed")  # R4: their own signalement only
        if reason == "oops":
            expect = (422, "validation-error")  # the body is refused before anything
        expect = expect or self._legal(_(case), "withdraw")
        path = f"/cases/{_id(case)}/withdrawal"
        shown = self._step(
            who, path, {"reason": reason}, expect or DONE, case, "withdraw", "withdrawn"
        )
        if shown is None:
            return
        case = _(case)
        case.withdrawal, case.returned = reason, False
        self._check_case(who, shown)

    @precondition(lambda self: self._some(LEGAL["return_to_author"]))
    @rule(data=st.data())
    def return_to_author(self, data: st.DataObject) -> None:
        self.stats.rules["return_to_author"] += 1
        case = self._case(data, LEGAL["return_to_author"])
        self._return(data, self._user(data, self._with_role(_cell_of(case), "coordinator")), case)

    def _return(self, data: st.DataObject, who: str, case: CaseModel | None) -> None:
        reason = data.draw(st.sampled_from(["incomplete_identity", "facts_missing"]))
        expect = self._gate(who, case, {"coordinator"}) or self._legal(_(case), "return_to_author")
        if expect is None and _(case).returned:
            expect = (409, "already-returned")
        path = f"/cases/{_id(case)}/return"
        shown = self._step(
            who, path, {"reason": reason}, expect or DONE, case, "return_to_author", None
        )
        if shown is not None:
            _(case).returned = True
            self._check_case(who, shown)

    @precondition(lambda self: self._some(LEGAL["amend"]))
    @rule(data=st.data())
    def amend(self, data: st.DataObject) -> None:
        self.stats.rules["amend"] += 1
        case = self._case(data, LEGAL["amend"])
        self._amend(self._user(data, self._authors(case)), case)

    def _amend(self, who: str, case: CaseModel | None) -> None:
        """A new value each time (an amendment that changes nothing leaves no step): the facts
        before the parquet's decision, the school (identity) afterwards."""
        user = self.users[who]
        correcting = case is not None and case.state in CORRECTED
        step = "correct_identity" if correcting else "amend"
        expect = self._gate(who, case, {"member", "coordinator"})
        if expect is None and user.role == "member" and (correcting or _(case).submitter != who):
            expect = (403, "role-not-allowed")  # R4, R10
        expect = expect or self._legal(_(case), "amend")
        number = sum(c.amendments for c in self.cases.values()) + 1
        body: dict[str, Any] = (
            {"minor": {"school": f"Collège fictif n° {number}"}}
            if correcting
            else {"facts": f"Faits précisés, version {number} (fictif)."}
        )
        response = self._call(
            who,
            "PATCH",
            f"/cases/{_id(case)}",
            body,
            expect=expect or DONE,
            writes=case.id if case else None,
            ghost=case is None,
        )
        if response.status_code >= 400:
            return
        case = _(case)
        case.history.append((step, case.state, case.state))
        case.returned = False
        case.amendments += 1
        self.stats.succeeded[step] += 1
        self._step_logged(case.id, step)
        self._check_case(who, ok(response))

    # --- any step, anywhere, by anyone -------------------------------------------------------

    @precondition(lambda self: self.cases)
    @rule(data=st.data())
    def step_out_of_turn(self, data: st.DataObject) -> None:
        """Mostly a step the procedure does not allow in the case's state, by a user whose role
        would take it (sometimes anyone), on any case (rarely one that does not exist): refused,
        and a refusal must change nothing."""
        self.stats.rules["step_out_of_turn"] += 1
        roll = data.draw(st.integers(0, 9), label="no case?")
        case = None if roll == 9 else data.draw(st.sampled_from(list(self.cases.values())))
        out_of_turn = sorted(s for s, states in LEGAL.items() if case and case.state not in states)
        if out_of_turn and data.draw(st.integers(0, 4), label="any step?") < 4:
            step = data.draw(st.sampled_from(out_of_turn), label="step out of turn")
        else:
            step = data.draw(st.sampled_from(sorted(LEGAL)), label="step")
        who = self._user(data, self._with_role(_cell_of(case), *TAKEN_BY[step]))
        if step == "refer_to_parquet":
            self._refer(who, case)
        elif step == "parquet_decision":
            self._decide(data, who, case)
        elif step == "add_research_note":
            self._note(data, who, case, hostile=True)
        elif step == "examine_at_meeting":
            meeting = self._pick_meeting(data, case) if self.meetings else None
            self._agenda(who, case, meeting)
        elif step == "review_decision":
            self._review(data, who, case, hostile=True)
        elif step == "record_family_information":
            self._family(data, who, case, hostile=True)
        elif step == "transmit":
            orientation = self._pick_orientation(data, case, lambda _o: True)
            self._transmit(data, who, case, orientation, hostile=True)
        elif step == "record_feedback":
            orientation = self._pick_orientation(data, case, lambda _o: True)
            self._feedback(data, who, case, orientation, hostile=True)
        elif step == "close":
            self._close(data, who, case)
        elif step == "withdraw":
            self._withdraw(data, who, case)
        elif step == "return_to_author":
            self._return(data, who, case)
        elif step == "amend":
            self._amend(who, case)
        else:
            self._archive(data, who, case, hostile=True)

    # --- issue 16: duplicates and transfers ---------------------------------------------------

    def _pairs(self) -> list[tuple[CaseModel, CaseModel]]:
        """The pairs the service flags as possible duplicates (either order)."""
        return [
            (a, b)
            for a in self.cases.values()
            for b in self.cases.values()
            if a.id != b.id
            and a.cell_id == b.cell_id
            and a.identity == b.identity
            and self._flagged(a, b)
        ]

    @precondition(lambda self: self._pairs())
    @rule(data=st.data())
    def duplicate_decision(self, data: st.DataObject) -> None:
        """The coordinator decides a flagged pair (sometimes someone else, sometimes a pair
        that is not flagged, of another cell, or the case itself)."""
        self.stats.rules["duplicate_decision"] += 1
        pairs = self._pairs()
        case, other = data.draw(st.sampled_from(pairs), label="pair")
        roll = data.draw(st.integers(0, 9), label="which other")
        target: CaseModel | None = other
        if roll == 9:
            target = None
        elif roll == 8:
            target = data.draw(st.sampled_from(list(self.cases.values())), label="any other")
        who = self._user(data, self._with_role(case.cell_id, "coordinator"))
        decision = data.draw(st.sampled_from(["same_minor", "different_minor"]), label="decision")
        other_id = _id(target)
        expect = self._gate(who, case, {"coordinator"})
        if expect is None and target is not None and target.id == case.id:
            expect = (422, "duplicate-of-itself")
        if expect is None and (
            target is None
            or target.cell_id != case.cell_id
            or case.cell_id not in self.users[who].cells
        ):
            expect = (404, "case-not-found")
        if expect is None and not (
            _(target).identity == case.identity and self._flagged(case, _(target))
        ):
            expect = (409, "not-a-possible-duplicate")
        kept, closed = sorted((case, _(target) if target else case), key=_seniority)
        if expect is None and decision == "different_minor":
            if case.state not in FOLLOWED or _(target).state not in FOLLOWED:
                expect = (409, "step-not-allowed-in-state")
        elif expect is None and (kept.state not in FOLLOWED or closed.state not in FOLLOWED):
            expect = (409, "duplicate-not-open")
        path = f"/cases/{case.id}/duplicate-decision"
        written = frozenset({case.id, other_id})
        response = self._call(
            who,
            "POST",
            path,
            {"other_case_id": str(other_id), "decision": decision},
            expect=expect or DONE,
            writes=written,
        )
        if response.status_code >= 400:
            return
        answer = ok(response)
        assert (answer["case_id"], answer["other_case_id"]) == (str(case.id), str(other_id))
        other = _(target)
        if decision == "different_minor":
            for each in (case, other):
                each.history.append(("decide_duplicate", each.state, each.state))
                self._step_logged(each.id, "decide_duplicate")
            case.dismissed.add(other.id)
            other.dismissed.add(case.id)
        else:
            assert (answer["kept_case_id"], answer["closed_case_id"]) == (
                str(kept.id),
                str(closed.id),
            ), self._context()
            kept.history.append(("decide_duplicate", kept.state, kept.state))
            closed.history.append(("close_as_duplicate", closed.state, "closed"))
            closed.state = "closed"
            closed.closure_reason = "duplicate"
            closed.merged_into = kept.id
            kept.additional += 1
            self._step_logged(kept.id, "decide_duplicate")
            self._step_logged(closed.id, "close_as_duplicate")
        self.stats.succeeded[f"duplicate:{decision}"] += 1

    @precondition(lambda self: self.cases)
    @rule(data=st.data())
    def propose_transfer(self, data: st.DataObject) -> None:
        self.stats.rules["propose_transfer"] += 1
        case = self._case(data, TRANSFERABLE, lambda c: c.transfer_to is None)
        who = self._user(data, self._with_role(_cell_of(case), "coordinator"))
        here = _cell_of(case)
        elsewhere = [c for c in self.cells if c != here]
        target = self._mostly(data, elsewhere, [here or NOWHERE, NOWHERE], "target cell")
        expect = self._gate(who, case, {"coordinator"})
        if expect is None:
            if target == NOWHERE:
                expect = (422, "transfer-cell-unknown")
            elif target == here:
                expect = (422, "transfer-to-same-cell")
            elif _(case).state not in TRANSFERABLE:
                expect = (409, "step-not-allowed-in-state")
            elif _(case).transfer_to is not None:
                expect = (409, "transfer-already-pending")
        path = f"/cases/{_id(case)}/transfer"
        shown = self._step(
            who, path, {"cell_id": target}, expect or DONE, case, "propose_transfer", None
        )
        if shown is None:
            return
        _(case).transfer_to = target
        self._check_case(who, shown)

    @precondition(lambda self: any(c.transfer_to for c in self.cases.values()))
    @rule(data=st.data())
    def answer_transfer(self, data: st.DataObject) -> None:
        self.stats.rules["answer_transfer"] += 1
        waiting = [c for c in self.cases.values() if c.transfer_to is not None]
        case = data.draw(st.sampled_from(waiting), label="waiting")
        if data.draw(st.integers(0, 9), label="any case?") == 9:
            case = data.draw(st.sampled_from(list(self.cases.values())), label="any case")
        receiving = self._with_role(case.transfer_to, "coordinator") if case.transfer_to else []
        who = self._user(data, receiving)
        user = self.users[who]
        accept = data.draw(st.booleans(), label="accept?")
        expect: Expect | None = None
        found = case.cell_id in user.cells or (case.transfer_to in user.cells)
        if not found:
            expect = (404, "case-not-found")
        elif case.transfer_to is None:
            expect = (409, "no-pending-transfer")
        elif user.role != "coordinator" or case.transfer_to not in user.cells:
            expect = (403, "role-not-allowed")
        elif accept and case.state not in TRANSFERABLE:
            expect = (409, "step-not-allowed-in-state")
        step = "accept_transfer" if accept else "decline_transfer"
        response = self._call(
            who,
            "POST",
            f"/cases/{case.id}/transfer/decision",
            {"decision": "accept" if accept else "decline"},
            expect=expect or DONE,
            writes=case.id,
        )
        if response.status_code >= 400:
            return
        answer = ok(response)
        assert answer["outcome"] == ("accepted" if accept else "declined"), self._context()
        case.history.append((step, case.state, case.state))
        if accept:
            case.left_cells.add(case.cell_id)
            case.cell_id = _(case.transfer_to)
        case.transfer_to = None
        self.stats.succeeded[step] += 1
        self._step_logged(case.id, step)

    # --- the procedure's next step, by the right user ----------------------------------------

    # Two rules (Hypothesis draws the enabled rules evenly): so that sequences of a few dozen
    # steps also reach the late steps (orientation, feedback, archive) while the other rules
    # keep their hostile mix.

    @precondition(lambda self: self._advanceable())
    @rule(data=st.data())
    def advance_the_furthest_case(self, data: st.DataObject) -> None:
        """Takes the case furthest along one to four steps further, as the right users would."""
        self.stats.rules["advance_the_furthest_case"] += 1
        self._advance(data, max(self._advanceable(), key=lambda c: DEPTH[c.state]))

    @precondition(lambda self: self._advanceable())
    @rule(data=st.data())
    def advance_a_case(self, data: st.DataObject) -> None:
        """Takes any case one to four steps further, as the right users would."""
        self.stats.rules["advance_a_case"] += 1
        self._advance(data, data.draw(st.sampled_from(self._advanceable()), label="case"))

    def _advanceable(self) -> list[CaseModel]:
        """The cases the right users can still take further now."""
        return [c for c in self.cases.values() if not self._stuck(c)]

    def _stuck(self, case: CaseModel) -> bool:
        if case.state in ("not_retained", "withdrawn"):
            return True  # nothing more happens to it (a not-retained one is presented)
        if case.state == "closed":
            return bool(case.archive_holders)
        if case.state == "cell_review":
            return self.meetings[_(case.meeting)].held_on > today()  # decided at the meeting
        if case.state == "research":
            earliest = add_calendar_months(case.received_on, 1)
            fitting = [m for m in self.meetings.values() if m.cell_id == case.cell_id]
            full = len(self.meetings) >= MAX_MEETINGS
            return full and not any(m.held_on >= earliest for m in fitting)
        return False

    def _advance(self, data: st.DataObject, case: CaseModel) -> None:
        for _turn in range(data.draw(st.integers(1, 4), label="how far")):
            if not self._advance_once(data, case):
                return

    def _advance_once(self, data: st.DataObject, case: CaseModel) -> bool:
        cell = case.cell_id

        def by(*roles: str) -> str:
            return str(data.draw(st.sampled_from(self._with_role(cell, *roles)), label="by"))

        if case.state == "submitted" and case.returned:
            self._amend(case.submitter, case)  # completed by its author, then it goes on
        elif case.state == "submitted":
            self._refer(by("coordinator"), case)
        elif case.state == "parquet_review":
            self._decide(data, by("parquet"), case)
        elif case.state == "research":
            if data.draw(st.booleans(), label="note first?"):
                self._note(data, by("member", "parquet", "coordinator"), case, hostile=False)
                return True
            fitting = [
                m
                for m in self.meetings.values()
                if m.cell_id == cell and add_calendar_months(case.received_on, 1) <= m.held_on
            ]
            fitting.sort(key=lambda m: (m.held_on > today(), m.held_on))
            meeting = fitting[0] if fitting else None
            if meeting is None:
                earliest = add_calendar_months(case.received_on, 1)
                offset = max(0, (earliest - today()).days)
                if len(self.meetings) >= MAX_MEETINGS:
                    return False
                meeting = self._meeting(by("coordinator"), cell, offset)
            self._agenda(by("coordinator"), case, meeting)
        elif case.state == "cell_review":
            self._review(data, by("coordinator"), case, hostile=False)
        elif case.state in OPEN:
            return self._advance_open(data, case, by)
        elif case.state == "closed":
            self._archive(data, by("coordinator", "parquet"), case, hostile=False)
        else:  # not_retained: presented at a meeting, then nothing more happens to it
            if case.presentation is None:
                return False
            self._read_meeting(
                by("member", "parquet", "coordinator"), self.meetings[case.presentation]
            )
            return False
        return True

    def _advance_open(self, data: st.DataObject, case: CaseModel, by: Callable[..., str]) -> bool:
        pending = [o for o in case.orientations if not o.transmitted]
        waiting = [o for o in case.orientations if o.transmitted and o.outcome is None]
        social_pending = any(o.destination == "social_services" for o in pending)
        choice = data.draw(st.integers(0, 9), label="what next")
        if social_pending and case.family_outcome == "unreachable" and choice < 6:
            self._close(data, by("coordinator"), case)  # no transmission: closed for it
        elif social_pending and not case.family_informed and choice < 8:
            self._family(data, by("coordinator"), case, hostile=False)
        elif pending and choice < 6:
            orientation = data.draw(st.sampled_from(pending), label="to transmit")
            self._transmit(data, by("coordinator"), case, orientation, hostile=False)
        elif waiting and choice < 8:
            orientation = data.draw(st.sampled_from(waiting), label="feedback on")
            social = orientation.destination == "social_services"
            if social and not self._has_cst(case.cell_id):
                return False
            who = by("cst") if social else by("coordinator")
            self._feedback(data, who, case, orientation, hostile=False)
        else:
            self._close(data, by("coordinator"), case)
        return True


# --- helpers ----------------------------------------------------------------------------------


def _(value: Any) -> Any:
    """The value, asserted present (the model's expectations have checked it)."""
    assert value is not None
    return value


def _without_version(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row[:1] + row[2:]  # (state, version, ...): see _snapshot


def _seniority(case: CaseModel) -> tuple[date, int]:
    """The older case first (received first, then submitted first), as the service keeps it."""
    return (case.received_on, case.order)


def _cell_of(case: CaseModel | None) -> int | None:
    return case.cell_id if case is not None else None


def _id(case: CaseModel | None) -> uuid.UUID:
    return case.id if case is not None else GHOST


def _only_changed(
    before: dict[str, Any],
    after: dict[str, Any],
    case_id: uuid.UUID | frozenset[uuid.UUID] | None,
    context: str,
) -> None:
    """A successful write changed no case but its own (a new meeting may take the cell's
    not-retained situations for presentation; a submission adds one case)."""
    new_meeting = set(after["meetings"]) - set(before["meetings"])
    written = case_id if isinstance(case_id, frozenset) else frozenset({case_id})
    for other, rows in before["cases"].items():
        if other in written:
            continue
        now = dict(after["cases"][other])
        was = dict(rows)
        if was["presentation"] is None and now["presentation"] in new_meeting:
            # R7: taken for presentation at the new meeting (a change of that row: a version).
            now.pop("presentation"), was.pop("presentation")
            now["row"], was["row"] = _without_version(now["row"]), _without_version(was["row"])
        assert now == was, f"a step changed another case ({other})" + context
    assert set(before["meetings"]) <= set(after["meetings"]), context


# --- the test -----------------------------------------------------------------------------------


def test_random_sequences_of_steps_keep_the_invariants(
    migrated_template: str, tmp_path: Path
) -> None:
    stats = Stats()

    class Run(WorkflowMachine):
        harness = Harness(migrated_template, tmp_path, stats)

    started = time.perf_counter()
    run_state_machine_as_test(
        Run,
        settings=hypothesis_settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            print_blob=True,
        ),
    )
    seconds = time.perf_counter() - started
    assert stats.sequences >= 1
    if os.environ.get("CENOMED_FUZZ_REPORT"):
        _report(stats, seconds)


def _report(stats: Stats, seconds: float) -> None:
    engine = "postgresql" if POSTGRES_URL else "sqlite"
    existing: dict[str, Any] = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    existing[engine] = {
        "sequences": stats.sequences,
        "steps": stats.rules.total(),
        "steps_by_rule": dict(sorted(stats.rules.items())),
        "requests": stats.requests,
        "cases": stats.cases,
        "cases_reaching_state": dict(sorted(stats.reached.items())),
        "steps_succeeded": dict(sorted(stats.succeeded.items())),
        "refusals_by_type": dict(sorted(stats.refused.items())),
        "responses_by_status": {str(k): v for k, v in sorted(stats.statuses.items())},
        "responses_5xx": sum(v for k, v in stats.statuses.items() if k >= 500),
        "case_views_checked": stats.case_checks,
        "audit_chain_verifications": stats.chain_verifications,
        "invariant_breaks": 0,  # written only when the run passed
        "seconds": round(seconds, 1),
        "max_examples": EXAMPLES,
        "stateful_step_count": STEPS,
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
