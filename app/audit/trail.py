"""What the rest of the service calls to leave a trace (R23).

Every allowed access is recorded in the transaction of the access itself (``record``,
``record_reads``): if the access is rolled back, so is its event, and an access never commits
without its event. Events wait on the session and are appended just before it commits: the
chain's head is then always the last lock a transaction takes, and is held only for the commit
(no lock-order deadlock with case rows, no writer waiting on another's decryption). A refusal
is recorded by ``record_refusal`` in a transaction of its own, after the refused request's
transaction was rolled back: the refusal changes nothing but the log.

Actions are operations, named as the API's routes and the CLI's commands are, so that an
auditor filters on one vocabulary whether the request went through or not; ``detail`` adds a
code (the step fired, the refusal's problem type, the charter version, a key id...).
"""

from __future__ import annotations

import getpass
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.orm import Session, SessionTransaction

from app.audit.chain import Event, append_all
from app.audit.context import current_request
from app.operations import metrics
from app.principal import Principal

ALLOWED = "allowed"
DENIED = "denied"
INFO = "info"
HIGH = "high"


class Action(StrEnum):
    # reads
    READ_CASE = "read_case"
    LIST_CASES = "list_cases"
    # finding a case by the minor's identity: the number of results, never the terms
    SEARCH_CASES = "search_cases"
    READ_MEETING = "read_meeting"
    # the procedure
    SUBMIT_CASE = "submit_case"
    REFER_TO_PARQUET = "refer_to_parquet"
    DECIDE_PARQUET = "decide_parquet"
    ADD_RESEARCH_NOTE = "add_research_note"
    CREATE_MEETING = "create_meeting"
    PUT_ON_AGENDA = "put_on_agenda"
    REVIEW_DECISION = "review_decision"
    RECORD_FAMILY_INFORMATION = "record_family_information"
    ADD_ORIENTATION = "add_orientation"
    TRANSMIT = "transmit"
    RECORD_FEEDBACK = "record_feedback"
    CLOSE = "close"
    REQUEST_ARCHIVE_ACCESS = "request_archive_access"
    EXPORT_SUBJECT_ACCESS = "export_subject_access"
    # corrections (issue 16)
    AMEND_CASE = "amend_case"
    WITHDRAW = "withdraw"
    RETURN_TO_AUTHOR = "return_to_author"
    AMEND_RESEARCH_NOTE = "amend_research_note"
    READ_REVISIONS = "read_revisions"
    # a cell's partner services
    MANAGE_SERVICES = "manage_services"
    # statistics (never nominative)
    READ_INDICATORS = "read_indicators"
    # the caller's account
    READ_ME = "read_me"
    ACCEPT_CHARTER = "accept_charter"
    # the web front end's sessions
    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    # administration (the CLI)
    ADD_CELL = "add_cell"
    ADD_USER = "add_user"
    DEACTIVATE_USER = "deactivate_user"
    ISSUE_TOKEN = "issue_token"  # noqa: S105 (an action's name, not a secret)
    SET_PASSWORD = "set_password"  # noqa: S105 (an action's name, not a secret)
    ROTATE_KEYS = "rotate_keys"
    DESTROY_KEY = "destroy_key"
    CHECKPOINT = "checkpoint"
    PURGE_CASE = "purge_case"
    PURGE = "purge"  # a whole run: logged when it is refused (counts only)
    BACKUP = "backup"
    RESTORE = "restore"
    # the auditors
    READ_AUDIT_EVENTS = "read_audit_events"
    VERIFY_AUDIT_LOG = "verify_audit_log"
    READ_ACCESS_LOG = "read_access_log"
    EXPORT_AUDIT_EVENTS = "export_audit_events"  # issue 19: a period's events, for an inspection
    # issue 16: duplicates and transfers
    DECIDE_DUPLICATE = "decide_duplicate"
    PROPOSE_TRANSFER = "propose_transfer"
    DECIDE_TRANSFER = "decide_transfer"
    LIST_TRANSFERS = "list_transfers"
    # issue 17: meetings the coordinator runs
    LIST_MEETINGS = "list_meetings"
    RESCHEDULE_MEETING = "reschedule_meeting"
    CANCEL_MEETING = "cancel_meeting"
    REMOVE_FROM_AGENDA = "remove_from_agenda"
    ORDER_AGENDA = "order_agenda"
    RECORD_ATTENDANCE = "record_attendance"
    MARK_MEETING_HELD = "mark_meeting_held"
    PRINT_AGENDA = "print_agenda"
    PRINT_MINUTES = "print_minutes"
    # issue 18: what awaits each user
    READ_WORKLIST = "read_worklist"
    # issue 18: e-mail notifications (never the address in the detail)
    SET_EMAIL = "set_email"
    SET_NOTIFICATIONS = "set_notifications"
    # issue 19: the admin console (details hold ids and codes, never a name or an address)
    LIST_USERS = "list_users"
    READ_USER = "read_user"
    UPDATE_USER = "update_user"
    REACTIVATE_USER = "reactivate_user"
    START_PASSWORD_RESET = "start_password_reset"  # noqa: S105 (an action's name)
    RESET_PASSWORD = "reset_password"  # noqa: S105 (an action's name, not a secret)
    LIST_CELLS = "list_cells"
    UPDATE_CELL = "update_cell"
    READ_CHARTER_ACCEPTANCES = "read_charter_acceptances"


# What the server's operator is, in the log, when acting through the CLI; the client names
# the system account that ran the command.
OPERATOR_ROLE = "operator"


def _cli_client() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@dataclass(frozen=True, slots=True)
class Actor:
    id: int | None
    role: str
    organisation: str | None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(principal.user_id, principal.role.value, principal.organisation.value)


OPERATOR = Actor(None, OPERATOR_ROLE, None)
# Someone who holds no account (a password link this service never gave, say).
ANONYMOUS_ROLE = "anonymous"
ANONYMOUS = Actor(None, ANONYMOUS_ROLE, None)


def _event(
    actor: Actor,
    action: Action,
    *,
    outcome: str,
    case_id: uuid.UUID | None,
    blocks: Iterable[str],
    severity: str,
    detail: str | None,
) -> Event:
    request = current_request()
    return Event(
        action=action.value,
        outcome=outcome,
        actor_id=actor.id,
        actor_role=actor.role,
        actor_organisation=actor.organisation,
        case_id=case_id,
        blocks=tuple(sorted(str(b) for b in blocks)),
        severity=severity,
        detail=detail,
        request_id=request.request_id if request else None,
        client=request.client if request else _cli_client(),
    )


def record(
    session: Session,
    actor: Principal | Actor,
    action: Action,
    *,
    case_id: uuid.UUID | None = None,
    blocks: Iterable[str] = (),
    severity: str = INFO,
    detail: str | None = None,
    outcome: str = ALLOWED,
) -> None:
    """An action (allowed, unless ``outcome`` says otherwise), in the caller's transaction."""
    who = Actor.of(actor) if isinstance(actor, Principal) else actor
    _queue(
        session,
        _event(
            who,
            action,
            outcome=outcome,
            case_id=case_id,
            blocks=blocks,
            severity=severity,
            detail=detail,
        ),
    )


@dataclass(frozen=True, slots=True)
class Read:
    """One case shown to a caller: which blocks, and whether it was archived (R17)."""

    case_id: uuid.UUID
    blocks: frozenset[str]
    archived: bool = False


def record_reads(session: Session, principal: Principal, action: Action, reads: list[Read]) -> None:
    """The cases a response shows (one event each), in the caller's transaction."""
    actor = Actor.of(principal)
    _queue(
        session,
        *[
            _event(
                actor,
                action,
                outcome=ALLOWED,
                case_id=read.case_id,
                blocks=read.blocks,
                severity=HIGH if read.archived else INFO,
                detail=None,
            )
            for read in reads
            if read.blocks
        ],
    )


def record_refusal(
    session: Session,
    actor: Actor,
    action: Action,
    *,
    status: int,
    slug: str,
    case_id: uuid.UUID | None,
    meeting_id: uuid.UUID | None = None,
) -> None:
    """A refused request, in a transaction of its own. Refusals by the charter or the
    authentication (401, 403, 404) and integrity failures (500) are high; those of the
    procedure (409, 410, 422) are info. ``detail`` is the problem type, and the meeting the
    request named, if any (``case-not-found meeting:<id>``)."""
    _queue(
        session,
        _event(
            actor,
            action,
            outcome=DENIED,
            case_id=case_id,
            blocks=(),
            severity=HIGH if status in (401, 403, 404) or status >= 500 else INFO,
            detail=slug if meeting_id is None else f"{slug} meeting:{meeting_id}",
        ),
    )


# --- events wait on the session until it commits -------------------------------------------------

_PENDING = "audit.pending"
_APPENDED = "audit.appended"  # counted for the operators once the commit succeeded


def _queue(session: Session, *events: Event) -> None:
    session.info.setdefault(_PENDING, []).extend(events)


@sqlalchemy_event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the events wait for the real commit
    pending: list[Event] = session.info.pop(_PENDING, [])
    if pending:
        # Every other change first (its row locks too), then the head: always the last lock.
        session.flush()
        append_all(session, pending)
        session.info[_APPENDED] = Counter(event.outcome for event in pending)


@sqlalchemy_event.listens_for(Session, "after_commit")
def _count_appended(session: Session) -> None:
    appended: Counter[str] | None = session.info.pop(_APPENDED, None)
    if appended:
        metrics.count_audit_appends(appended)


@sqlalchemy_event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, previous: SessionTransaction) -> None:
    if not previous.nested:
        session.info.pop(_PENDING, None)
        session.info.pop(_APPENDED, None)
