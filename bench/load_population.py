"""A realistic population for the load benchmark, written fast and consistently.

Ten CENOMED cells, one account per role and cell (coordinator, parquet, a police and an
education member, the CST) plus an auditor, created through the directory service, every one
of them having accepted the charter in force. Then N cases over the last four years, in every
state of the procedure: submitted, parquet_review, not_retained (waiting to be presented),
research (with research notes), cell_review (on a past meeting's agenda), oriented (family
informed, some orientations transmitted), feedback, closed (without action, after
orientation, after feedback; a few with an expired archive access) and purged (data key and
ciphertexts destroyed, skeleton kept), with a share of possible duplicates (the same minor
twice in a cell).

Method. Submitting through the service runs at about 118 cases/s here (purge_bench), so 100,000
cases would take a quarter of an hour before walking any of them through the procedure. Each
case is instead built in memory the way the service builds it, with the service's own
functions wherever a value is cryptographic or derived:

* its data key from ``Vault.new_case_key`` (a fresh AES-256 key wrapped by the keyring's active
  KEK, bound to the case), the blind index from ``Vault.index_identity``, both handed a small
  collector in place of a session;
* the ciphertexts from ``app.cases.personal`` (``seal_personal``, ``seal_guardian``,
  ``seal_note``, ``seal_archive_reason``): the same AES-256-GCM fields bound to table, column
  and row that a request writes and a read opens;
* the age bracket and birth month from ``app.cases.age`` and ``app.retention.policy``;
* the history: one ``case_step`` row per step fired (who, from which state to which), the
  version bumped once per step, the dates in the procedure's order and within its rules (the
  one-month rule, a meeting held before the decision, the family informed before a
  transmission to social services, a transmission before its feedback, a not-retained case
  waiting for the cell's next meeting, a purged case three years after closure or once
  presented);
* one audit event per step (and per meeting created, archive access, purge), appended with
  ``app.audit.chain.append_all`` in chronological order, signing a checkpoint every 1,000
  events as the service does: the log of the population verifies.

The rows are written with COPY in batches, then ``VACUUM ANALYZE``. A read of any case through
the API opens its ciphertexts with its own key, and every state is one the procedure reaches.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from typing import Any, cast

from sqlalchemy import Engine, Table, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.audit import checkpoint
from app.audit.chain import Event, append_all
from app.audit.trail import OPERATOR, Action
from app.cases import personal
from app.cases.age import age_bracket
from app.cases.models import (
    ArchiveAccess,
    Case,
    CaseMotif,
    CasePersonal,
    CaseReferenceCounter,
    CaseStep,
    Guardian,
    Orientation,
    ResearchNote,
)
from app.cases.references import format_reference
from app.cases.service import STEP_ACTIONS
from app.clock import today
from app.config import Settings
from app.crypto.models import CaseKey, IdentityIndex
from app.crypto.vault import Vault
from app.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from app.directory import service as directory
from app.directory.models import Cell
from app.main import make_vault
from app.meetings.models import Meeting
from app.retention.policy import birth_month
from app.vocabulary import (
    CENOMED_DESTINATIONS,
    CellKind,
    Destination,
    FeedbackOutcome,
    InformationMeans,
    Motif,
    Organisation,
    ReorientedTo,
    Role,
)
from app.workflow.guards import add_calendar_months
from app.workflow.states import CaseState, Step

CELLS = 10
# Shares of the states (they add up to 1): most cases are old, so closed or purged.
STATE_SHARES: dict[CaseState, float] = {
    CaseState.SUBMITTED: 0.05,
    CaseState.PARQUET_REVIEW: 0.05,
    CaseState.NOT_RETAINED: 0.04,
    CaseState.RESEARCH: 0.14,
    CaseState.CELL_REVIEW: 0.06,
    CaseState.ORIENTED: 0.16,
    CaseState.FEEDBACK: 0.14,
    CaseState.CLOSED: 0.26,
    CaseState.PURGED: 0.10,
}
DUPLICATE_SHARE = 0.03
BATCH = 5_000  # cases per COPY transaction
EVENT_CHUNK = 5_000  # events per append_all() call
EVENT_TRANSACTION = 50_000  # events per transaction
CLIENT = "bench:population"
ROLES_PER_CELL: tuple[tuple[str, Role, Organisation | None], ...] = (
    ("coordinator", Role.COORDINATOR, None),
    ("parquet", Role.PARQUET, None),
    ("police", Role.MEMBER, Organisation.POLICE),
    ("education", Role.MEMBER, Organisation.EDUCATION),
    ("cst", Role.CST, None),
)
DESTINATIONS = sorted(CENOMED_DESTINATIONS)
SYLLABLES = ("ba", "ko", "ri", "lu", "ma", "zen", "to", "vi", "la", "quo", "ny", "sar", "del")


@dataclass(frozen=True)
class Account:
    username: str
    user_id: int
    role: Role
    organisation: Organisation
    cell_id: int | None


@dataclass
class Built:
    """What was written, and how fast."""

    cases: int
    by_state: dict[str, int]
    rows: dict[str, int]
    events: int
    seconds: dict[str, float]

    @property
    def total_seconds(self) -> float:
        return round(sum(self.seconds.values()), 1)


# --- the accounts ----------------------------------------------------------------------------


def username(role: str, cell: int) -> str:
    return f"{role}-{cell}"


def create_accounts(sessions: sessionmaker[Session], settings: Settings) -> dict[str, Account]:
    """The cells and accounts, through the directory service; every account accepts the charter."""
    accounts: dict[str, Account] = {}
    version = settings.charter_version
    with unit_of_work(sessions) as session:
        for n in range(1, CELLS + 1):
            cell = directory.create_cell(
                session, name=f"CENOMED bench {n}", kind=CellKind.CENOMED, arrondissement=n
            )
            for role_name, role, organisation in ROLES_PER_CELL:
                name = username(role_name, cell.id)
                user = directory.create_user(
                    session, username=name, role=role, organisation=organisation, cell_ids=[cell.id]
                )
                accounts[name] = Account(
                    name, user.id, role, Organisation(user.organisation), cell.id
                )
        auditor = directory.create_user(
            session, username="auditor", role=Role.AUDITOR, organisation=None, cell_ids=[]
        )
        accounts["auditor"] = Account("auditor", auditor.id, Role.AUDITOR, Organisation.OTHER, None)
    for name in accounts:
        with unit_of_work(sessions) as session:
            principal = directory.load_principal(session, name, charter_version=version)
            assert principal is not None
            directory.accept_charter(
                session, principal=principal, version=version, current_version=version
            )
    return accounts


# --- one case --------------------------------------------------------------------------------


class _Collector:
    """Stands in for a session where the vault only ``add``s a row (data key, blind index)."""

    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, instance: Any) -> None:
        self.added.append(instance)


def _orm_row(instance: Any) -> tuple[Any, ...]:
    table: Table = type(instance).__table__
    return tuple(getattr(instance, column.key) for column in table.columns)


def _columns(model: Any, skip: Sequence[str] = ()) -> list[str]:
    return [c.name for c in model.__table__.columns if c.name not in skip]


TABLES: dict[str, list[str]] = {
    "meeting": _columns(Meeting),
    "case_file": _columns(Case),
    "case_motif": _columns(CaseMotif),
    "case_personal": _columns(CasePersonal),
    "guardian": _columns(Guardian),
    "case_key": _columns(CaseKey),
    "identity_index": _columns(IdentityIndex),
    "research_note": _columns(ResearchNote),
    "orientation": _columns(Orientation),
    "case_step": _columns(CaseStep, skip=("id",)),  # a serial
    "archive_access": _columns(ArchiveAccess),
}


def _row(table: str, **values: Any) -> tuple[Any, ...]:
    columns = TABLES[table]
    unknown = set(values) - set(columns)
    if unknown:
        raise KeyError(f"{table} has no column {sorted(unknown)}")
    return tuple(values.get(column) for column in columns)


@dataclass
class _Identity:
    last_name: str
    first_name: str
    birth_date: date
    sex: str | None


@dataclass
class _World:
    """What every case refers to: accounts, meetings per cell, the clock."""

    accounts: dict[str, Account]
    vault: Vault
    now: datetime
    today: date
    meetings: dict[int, list[tuple[uuid.UUID, date]]] = field(default_factory=dict)
    identities: dict[int, list[_Identity]] = field(default_factory=dict)
    # The last reference number given per (cell, year of receipt), as the service keeps it.
    references: dict[tuple[int, int], int] = field(default_factory=dict)
    arrondissements: dict[int, int] = field(default_factory=dict)

    def reference(self, cell: int, received: date) -> str:
        key = (cell, received.year)
        self.references[key] = self.references.get(key, 0) + 1
        return format_reference(
            CellKind.CENOMED, self.arrondissements[cell], received.year, self.references[key]
        )

    def account(self, role: str, cell: int) -> Account:
        return self.accounts[username(role, cell)]

    def first_meeting(self, cell: int, on_or_after: date) -> tuple[uuid.UUID, date] | None:
        for meeting in self.meetings[cell]:
            if meeting[1] >= on_or_after:
                return meeting
        return None


class _TooLate(Exception):
    """The history drawn would end after now: drawn again, received earlier."""


@dataclass
class _Rows:
    tables: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {name: [] for name in TABLES}
    )
    events: list[Event] = field(default_factory=list)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.tables[table].append(row)


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def _text(rng: random.Random, low: int, high: int) -> str:
    """Invented prose of about ``low`` to ``high`` characters (accents included)."""
    words = ("élève", "absent", "signalé", "soirée", "quartier", "famille", "collège", "été")
    out: list[str] = []
    size, target = 0, rng.randint(low, high)
    while size < target:
        word = rng.choice(words + tuple(s * 2 for s in SYLLABLES))
        out.append(word)
        size += len(word) + 1
    return " ".join(out).capitalize() + " (récit fictif)."


class _Clock:
    """The instants of one case's history, in order, never after now."""

    def __init__(self, rng: random.Random, start: datetime, now: datetime) -> None:
        self.rng, self.at, self.now = rng, start, now

    def after(self, low_days: float, high_days: float) -> datetime:
        self.at += timedelta(days=self.rng.uniform(low_days, high_days))
        if self.at > self.now:
            raise _TooLate
        return self.at

    def on(self, day: date, hour: int = 17) -> datetime:
        """Moves to a given day (a meeting's), never backwards."""
        at = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
        self.at = max(self.at + timedelta(minutes=1), at)
        if self.at > self.now:
            raise _TooLate
        return self.at


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


# Days between receipt and now, by state (drawn uniformly), before any redraw.
RECEIVED_DAYS_AGO: dict[CaseState, tuple[int, int]] = {
    CaseState.SUBMITTED: (0, 10),
    CaseState.PARQUET_REVIEW: (2, 25),
    CaseState.RESEARCH: (8, 60),
    CaseState.CELL_REVIEW: (62, 110),
    CaseState.ORIENTED: (75, 330),
    CaseState.FEEDBACK: (110, 365),
    CaseState.CLOSED: (100, 1050),
}


class _Case:
    """One case's rows and events, built step by step as the service would have written them."""

    def __init__(self, world: _World, rows: _Rows, rng: random.Random, cell: int) -> None:
        self.world, self.rows, self.rng, self.cell = world, rows, rng, cell
        self.id = uuid.UUID(int=rng.getrandbits(128), version=4)
        self.values: dict[str, Any] = {}
        self.steps: list[tuple[Any, ...]] = []
        self.events: list[Event] = []
        self.version = 0
        self.notes: list[tuple[uuid.UUID, Account, datetime, str]] = []
        self.orientations: list[dict[str, Any]] = []
        self.accesses: list[tuple[uuid.UUID, Account, datetime]] = []
        self.purge_route = "closed"

    # -- the record of a step --

    def _event(self, who: Account | None, action: Action, at: datetime, **kw: Any) -> None:
        """The audit event the service (or, for ``who=None``, the CLI's purge) recorded."""
        self.events.append(
            Event(
                action=action.value,
                outcome="allowed",
                actor_id=None if who is None else who.user_id,
                actor_role=OPERATOR.role if who is None else who.role.value,
                actor_organisation=None if who is None else who.organisation.value,
                case_id=self.id,
                client="cli:bench" if who is None else CLIENT,
                at=at,
                **kw,
            )
        )

    def step(
        self, step: Step, before: CaseState | None, after: CaseState, who: Account, at: datetime
    ) -> None:
        self.steps.append(
            _row(
                "case_step",
                case_id=self.id,
                step=step.value,
                from_state=before.value if before else None,
                to_state=after.value,
                actor_id=who.user_id,
                actor_role=who.role.value,
                at=at,
            )
        )
        self.version += 1
        self._event(who, STEP_ACTIONS[step], at, detail=step.value)

    # -- the history --

    def build(self, target: CaseState) -> None:
        """Writes the case in ``target``: a history drawn again (after ten tries, from further
        back) while it would not fit before now."""
        low, high = self._received_range(target)
        for attempt in range(40):
            days = self.rng.randint(low, high) + 15 * max(0, attempt - 10)
            self.values, self.steps, self.events, self.version = {}, [], [], 0
            self.notes, self.orientations, self.accesses = [], [], []
            try:
                self._history(target, self.world.today - timedelta(days=days))
            except _TooLate:
                continue
            return
        raise RuntimeError(f"could not draw a history ending in {target}")

    def _received_range(self, target: CaseState) -> tuple[int, int]:
        if target is CaseState.NOT_RETAINED:
            # Decided since the cell's last meeting: it waits to be presented at the next (R7).
            past = [held for _, held in self.world.meetings[self.cell] if held < self.world.today]
            since = (self.world.today - past[-1]).days if past else 30
            return 1, since + 5
        if target is CaseState.PURGED:
            self.purge_route = "not_retained" if self.rng.random() < 0.4 else "closed"
            return (40, 400) if self.purge_route == "not_retained" else (1160, 1450)
        return RECEIVED_DAYS_AGO[target]

    def _history(self, target: CaseState, received: date) -> None:
        rng, world, cell = self.rng, self.world, self.cell
        clock = _Clock(rng, _noon(received) + timedelta(minutes=rng.randint(-180, 300)), world.now)
        if clock.at > world.now:
            clock.at = world.now - timedelta(minutes=rng.randint(1, 600))
        submitted_at = clock.at
        draw = rng.random()
        if draw < 0.5:
            submitter, origin = world.account("police", cell), Organisation.POLICE
        elif draw < 0.85:
            submitter, origin = world.account("education", cell), Organisation.EDUCATION
        else:
            submitter = world.account("coordinator", cell)
            origin = rng.choice([Organisation.MAIRIE, Organisation.SOCIAL_LANDLORD])
        self.identity = self._identity(received)
        self.values.update(
            id=self.id,
            reference=world.reference(cell, received),
            cell_id=cell,
            state=CaseState.SUBMITTED.value,
            origin=origin.value,
            received_on=received,
            received_on_declared=False,
            sex=self.identity.sex,
            age_bracket=age_bracket(self.identity.birth_date, received),
            submitted_by=submitter.user_id,
            submitted_at=submitted_at,
            birth_month_on=birth_month(self.identity.birth_date),
        )
        self.submitter = submitter
        self.step(Step.SUBMIT, None, CaseState.SUBMITTED, submitter, submitted_at)
        state = CaseState.SUBMITTED
        if target is CaseState.SUBMITTED:
            return self._finish(state, clock)
        coordinator = world.account("coordinator", cell)
        parquet = world.account("parquet", cell)
        # A not-retained case waits for the next meeting: its decision came after the last one.
        quick = target is CaseState.NOT_RETAINED
        at = clock.after(0.05, 1.5) if quick else clock.after(0.2, 3)
        self.step(Step.REFER_TO_PARQUET, state, CaseState.PARQUET_REVIEW, coordinator, at)
        state = CaseState.PARQUET_REVIEW
        if target is CaseState.PARQUET_REVIEW:
            return self._finish(state, clock)
        retained = target is not CaseState.NOT_RETAINED and not (
            target is CaseState.PURGED and self.purge_route == "not_retained"
        )
        decided = clock.after(0.05, 4) if quick else clock.after(1, 8)
        self.values.update(retained=retained, parquet_decided_at=decided)
        if not retained:
            return self._not_retained(target, clock, decided, parquet)
        self.step(Step.RETAIN, state, CaseState.RESEARCH, parquet, decided)
        state = CaseState.RESEARCH
        # The one-month rule: a meeting held a calendar month after receipt, at the earliest.
        earliest = max(add_calendar_months(received, 1), decided.date() + timedelta(days=3))
        meeting = world.first_meeting(cell, earliest)
        examined = target not in (CaseState.RESEARCH,)
        if examined and (meeting is None or meeting[1] > world.today):
            raise _TooLate
        notes_until = (
            datetime(meeting[1].year, meeting[1].month, meeting[1].day, 9, tzinfo=UTC)
            if examined and meeting is not None
            else world.now
        )
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
            author = world.account(
                rng.choice(("police", "education", "parquet", "coordinator")), cell
            )
            span = (notes_until - clock.at).total_seconds() / 86400
            if span < 0.1:
                break
            at = clock.after(0.01, min(span / 2, 12))
            self._note(author, at)
        if not examined:
            return self._finish(state, clock)
        assert meeting is not None
        meeting_id, held_on = meeting
        at = clock.on(held_on - timedelta(days=rng.randint(1, 6)), hour=10)
        self.values["meeting_id"] = meeting_id
        self.step(Step.EXAMINE_AT_MEETING, state, CaseState.CELL_REVIEW, coordinator, at)
        state = CaseState.CELL_REVIEW
        if target is CaseState.CELL_REVIEW:
            return self._finish(state, clock)
        at = clock.on(held_on)
        if target in (CaseState.CLOSED, CaseState.PURGED) and rng.random() < 0.3:
            self.values.update(review_decision="no_action", closed_at=at)
            self.step(Step.CLOSE_WITHOUT_ACTION, state, CaseState.CLOSED, coordinator, at)
            return self._closed(target, clock, at)
        self._orient(at, coordinator)
        state = CaseState.ORIENTED
        return self._follow_up(target, state, clock, coordinator)

    def _not_retained(
        self, target: CaseState, clock: _Clock, decided: datetime, parquet: Account
    ) -> None:
        """R7, R18: presented at the cell's next meeting, destroyed once presented."""
        world = self.world
        self.step(
            Step.NOT_RETAIN, CaseState.PARQUET_REVIEW, CaseState.NOT_RETAINED, parquet, decided
        )
        upcoming = world.first_meeting(self.cell, decided.date())
        if upcoming is None:
            raise _TooLate
        self.values["presentation_meeting_id"] = upcoming[0]
        presented = upcoming[1] < world.today
        if target is CaseState.NOT_RETAINED:
            if presented:  # it would have been destroyed: drawn again
                raise _TooLate
            return self._finish(CaseState.NOT_RETAINED, clock)
        if not presented:
            raise _TooLate
        purged_at = clock.on(upcoming[1] + timedelta(days=1), hour=3)
        return self._purge(clock, purged_at, "R18-non-retenue-presentee")

    def _orient(self, at: datetime, coordinator: Account) -> None:
        rng = self.rng
        destinations = rng.sample(DESTINATIONS, rng.choice((1, 1, 1, 2, 2, 3)))
        self.values["review_decision"] = "orient"
        self.step(Step.ORIENT, CaseState.CELL_REVIEW, CaseState.ORIENTED, coordinator, at)
        for position, destination in enumerate(destinations):
            self.orientations.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "case_id": self.id,
                    "position": position,
                    "destination": destination.value,
                    "decided_at": at,
                }
            )

    def _follow_up(
        self, target: CaseState, state: CaseState, clock: _Clock, coordinator: Account
    ) -> None:
        rng, cell = self.rng, self.cell
        social = any(o["destination"] == Destination.SOCIAL_SERVICES for o in self.orientations)
        if social or rng.random() < 0.5:
            at = clock.after(0.5, 10)
            self.values.update(
                family_informed_on=at.date(),
                family_information_means=rng.choice(list(InformationMeans)).value,
            )
            self.step(Step.RECORD_FAMILY_INFORMATION, state, state, coordinator, at)
        finishing = target in (CaseState.FEEDBACK, CaseState.CLOSED, CaseState.PURGED)
        for orientation in self.orientations:
            if finishing or rng.random() < 0.6:
                at = clock.after(0.5, 10)
                orientation.update(transmitted_at=at, transmitted_by=coordinator.user_id)
                self.step(Step.TRANSMIT, state, state, coordinator, at)
        if target is CaseState.ORIENTED:
            return self._finish(state, clock)
        # Feedback on most transmitted orientations (at least one), by whoever reports it.
        for n, orientation in enumerate(self.orientations):
            if n > 0 and rng.random() < 0.3:
                continue
            social_services = orientation["destination"] == Destination.SOCIAL_SERVICES
            reporter = self.world.account("cst" if social_services else "coordinator", cell)
            at = clock.after(3, 45)
            outcome = rng.choice(list(FeedbackOutcome))
            orientation.update(
                feedback_outcome=outcome.value,
                reoriented_to=(
                    rng.choice(list(ReorientedTo)).value
                    if outcome is FeedbackOutcome.REORIENTED
                    else None
                ),
                feedback_at=at,
                feedback_by=reporter.user_id,
            )
            self.step(Step.RECORD_FEEDBACK, state, CaseState.FEEDBACK, reporter, at)
            state = CaseState.FEEDBACK
        if target is CaseState.FEEDBACK:
            return self._finish(state, clock)
        at = clock.after(5, 60)
        self.values["closed_at"] = at
        self.step(Step.CLOSE, state, CaseState.CLOSED, coordinator, at)
        return self._closed(target, clock, at)

    def _closed(self, target: CaseState, clock: _Clock, closed_at: datetime) -> None:
        """The archive (R17), destroyed three years after closure (R18)."""
        world = self.world
        if target is CaseState.CLOSED:
            if closed_at < world.now - timedelta(days=1095):
                raise _TooLate  # would be purged already
            if self.rng.random() < 0.03:  # an archive access, long expired
                self._archive_access(clock)
            return self._finish(CaseState.CLOSED, clock)
        due = closed_at + timedelta(days=1095)
        if due > world.now:
            raise _TooLate
        purged_at = clock.on(due.date() + timedelta(days=1), hour=3)
        return self._purge(clock, purged_at, "R18-archive-trois-ans")

    def _purge(self, clock: _Clock, at: datetime, rule: str) -> None:
        self.values.update(
            state=CaseState.PURGED.value,
            purged_at=at,
            purge_rule=rule,
            birth_month_on=None,
            updated_at=at,
        )
        self.version += 1
        self._event(None, Action.PURGE_CASE, at, severity="high", detail=rule)
        self.notes, self.accesses = [], []
        self._write(sealed=False)

    def _finish(self, state: CaseState, clock: _Clock) -> None:
        self.values.update(state=state.value, updated_at=clock.at)
        self._write(sealed=True)

    # -- nominative parts, sealed with the case's key --

    def _identity(self, received: date) -> _Identity:
        rng = self.rng
        known = self.world.identities.setdefault(self.cell, [])
        if known and rng.random() < DUPLICATE_SHARE:
            twin = rng.choice(known)
            if twin.birth_date < received - timedelta(days=365 * 10):
                return twin
        age_days = rng.randint(365 * 10 + 1, 365 * 17 + 300)
        identity = _Identity(
            last_name=_name(rng),
            first_name=_name(rng),
            birth_date=received - timedelta(days=age_days),
            sex=rng.choice(("F", "M", "X", None)),
        )
        known.append(identity)
        return identity

    def _note(self, author: Account, at: datetime) -> None:
        note_id = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        self.notes.append((note_id, author, at, _text(self.rng, 150, 700)))
        self.step(Step.ADD_RESEARCH_NOTE, CaseState.RESEARCH, CaseState.RESEARCH, author, at)

    def _archive_access(self, clock: _Clock) -> None:
        coordinator = self.world.account("coordinator", self.cell)
        granted = clock.after(1, 60)
        access_id = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        self.accesses.append((access_id, coordinator, granted))
        self._event(
            coordinator,
            Action.REQUEST_ARCHIVE_ACCESS,
            granted,
            severity="high",
            detail=f"archive_access:{access_id}",
        )

    def _write(self, *, sealed: bool) -> None:
        rows, rng = self.rows, self.rng
        self.values["version"] = self.version
        rows.add("case_file", _row("case_file", **self.values))
        for motif in sorted(m.value for m in rng.sample(list(Motif), rng.choice((1, 1, 2, 2, 3)))):
            rows.add("case_motif", _row("case_motif", case_id=self.id, motif=motif))
        for orientation in self.orientations:
            rows.add("orientation", _row("orientation", **orientation))
        rows.tables["case_step"].extend(self.steps)
        rows.events.extend(self.events)
        if not sealed:
            return
        collector = _Collector()
        session = cast(Session, collector)
        cipher = self.world.vault.new_case_key(session, self.id)
        identity = self.identity
        self.world.vault.index_identity(
            session, self.id, identity.last_name, identity.first_name, identity.birth_date
        )
        for instance in collector.added:
            if isinstance(instance, CaseKey):
                instance.created_at = self.values["submitted_at"]
            rows.add(type(instance).__tablename__, _orm_row(instance))
        rows.add(
            "case_personal",
            _orm_row(
                personal.seal_personal(
                    cipher,
                    self.id,
                    last_name=identity.last_name,
                    first_name=identity.first_name,
                    birth_date=identity.birth_date,
                    address=f"{rng.randint(1, 120)} rue {_name(rng)}, 750{self.cell:02d} Paris",
                    school=f"Collège {_name(rng)}" if rng.random() < 0.8 else None,
                    facts=_text(rng, 200, 1200),
                )
            ),
        )
        for position in range(rng.choice((1, 1, 2))):
            guardian = personal.seal_guardian(
                cipher,
                self.id,
                position=position,
                name=f"{_name(rng)} {identity.last_name}",
                relationship=rng.choice(("parent", "parent", "guardian", "other")),
                phone=f"01{rng.randint(0, 99_999_999):08d}" if rng.random() < 0.7 else None,
            )
            rows.add("guardian", _orm_row(guardian))
        for note_id, author, at, content in self.notes:
            rows.add(
                "research_note",
                _row(
                    "research_note",
                    id=note_id,
                    case_id=self.id,
                    author_id=author.user_id,
                    author_organisation=author.organisation.value,
                    created_at=at,
                    content_enc=personal.seal_note(cipher, note_id, content),
                ),
            )
        for access_id, who, granted in self.accesses:
            rows.add(
                "archive_access",
                _row(
                    "archive_access",
                    id=access_id,
                    case_id=self.id,
                    user_id=who.user_id,
                    reason_enc=personal.seal_archive_reason(
                        cipher, access_id, "Demande du parquet (motif fictif)."
                    ),
                    granted_at=granted,
                    expires_at=granted + timedelta(hours=4),
                ),
            )


# --- the whole population ----------------------------------------------------------------------

COPY_ORDER = (
    "meeting",
    "case_file",
    "case_motif",
    "case_personal",
    "guardian",
    "case_key",
    "identity_index",
    "research_note",
    "orientation",
    "case_step",
    "archive_access",
)


def _copy(engine: Engine, tables: dict[str, list[tuple[Any, ...]]]) -> None:
    with engine.begin() as connection:
        raw: Any = connection.connection.dbapi_connection
        with raw.cursor() as cursor:
            for table in COPY_ORDER:
                if not tables.get(table):
                    continue
                columns = ", ".join(f'"{c}"' for c in TABLES[table])
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in tables[table]:
                        copy.write_row(row)


def _meetings(world: _World, rows: _Rows, rng: random.Random) -> None:
    """A meeting a month in each cell, over four years and the month to come."""
    first = world.today - timedelta(days=4 * 365 + 60)
    for cell in sorted({a.cell_id for a in world.accounts.values() if a.cell_id is not None}):
        coordinator = world.account("coordinator", cell)
        held = first + timedelta(days=rng.randrange(30))
        world.meetings[cell] = []
        while held <= world.today + timedelta(days=45):
            meeting_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            created = min(_noon(held - timedelta(days=25)), world.now)
            world.meetings[cell].append((meeting_id, held))
            rows.add(
                "meeting",
                _row(
                    "meeting",
                    id=meeting_id,
                    cell_id=cell,
                    held_on=held,
                    # Issue 17: a time, a place and a status (the past ones held).
                    starts_at=time_of_day(14, 0),
                    place="Salle du conseil",
                    status="held" if held < world.today else "scheduled",
                    version=1,
                    created_by=coordinator.user_id,
                    created_at=created,
                ),
            )
            rows.events.append(
                Event(
                    action=Action.CREATE_MEETING.value,
                    outcome="allowed",
                    actor_id=coordinator.user_id,
                    actor_role=coordinator.role.value,
                    actor_organisation=coordinator.organisation.value,
                    detail=f"meeting:{meeting_id}",
                    client=CLIENT,
                    at=created,
                )
            )
            held += timedelta(days=30)


def draw_states(cases: int, rng: random.Random) -> list[CaseState]:
    """Exactly the shares (rounded), every state at least once, in random order."""
    counts = {state: max(1, round(cases * share)) for state, share in STATE_SHARES.items()}
    largest = max(counts, key=lambda s: counts[s])
    counts[largest] += cases - sum(counts.values())
    states = [state for state, n in counts.items() for _ in range(n)]
    rng.shuffle(states)
    return states


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def append_events(engine: Engine, settings: Settings, events: list[Event]) -> None:
    """Appends the events in the order they happened, with the service's checkpoint signer."""
    signer = checkpoint.load_signer(settings)
    sessions = make_sessionmaker(
        engine, info=checkpoint.session_info(signer, settings.audit_checkpoint_every)
    )
    events.sort(key=lambda e: e.at)
    for transaction in _chunks(events, EVENT_TRANSACTION):
        with unit_of_work(sessions) as session:
            for chunk in _chunks(transaction, EVENT_CHUNK):
                append_all(session, chunk)


def build(
    url: str, settings: Settings, cases: int, seed: int = 8
) -> tuple[Built, dict[str, Account]]:
    """The accounts and ``cases`` cases in the database at ``url`` (migrated, empty)."""
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    engine = make_engine(url)
    try:
        accounts = create_accounts(make_sessionmaker(engine), settings)
        rng = random.Random(seed)
        world = _World(accounts, make_vault(settings), now=utcnow(), today=today())
        with engine.connect() as connection:
            world.arrondissements = dict(
                connection.execute(select(Cell.id, Cell.arrondissement)).tuples().all()
            )
        rows = _Rows()
        _meetings(world, rows, rng)
        _copy(engine, rows.tables)
        events = rows.events
        by_state: dict[str, int] = {}
        counts = {table: len(r) for table, r in rows.tables.items()}
        cells = sorted(world.meetings)
        seconds["accounts_meetings"] = time.perf_counter() - began
        generate = write = 0.0
        for batch in _chunks(draw_states(cases, rng), BATCH):
            started = time.perf_counter()
            rows = _Rows()
            for state in batch:
                _Case(world, rows, rng, rng.choice(cells)).build(state)
                by_state[state.value] = by_state.get(state.value, 0) + 1
            middle = time.perf_counter()
            _copy(engine, rows.tables)
            write += time.perf_counter() - middle
            generate += middle - started
            events.extend(rows.events)
            for table, table_rows in rows.tables.items():
                counts[table] += len(table_rows)
        with engine.begin() as connection:
            connection.execute(
                insert(CaseReferenceCounter),
                [
                    {"cell_id": cell, "year": year, "last": last}
                    for (cell, year), last in world.references.items()
                ],
            )
        seconds["build_cases"] = generate
        seconds["copy_cases"] = write
        started = time.perf_counter()
        append_events(engine, settings, events)
        seconds["audit_events"] = time.perf_counter() - started
        started = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        seconds["vacuum_analyze"] = time.perf_counter() - started
        with engine.connect() as connection:
            written = connection.scalar(select(func.count()).select_from(Case.__table__))
        if written != cases:
            raise RuntimeError(f"{written} cases written, {cases} expected")
    finally:
        engine.dispose()
    built = Built(
        cases=cases,
        by_state=dict(sorted(by_state.items())),
        rows={t: n for t, n in counts.items() if n},
        events=len(events),
        seconds={k: round(v, 1) for k, v in seconds.items()},
    )
    return built, accounts
