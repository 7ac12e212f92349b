"""The sender: makes messages of the due notifications and delivers them, one sender at a time.

``run_once`` is all of it: ``cenomed notify run --once`` calls it from a cron job, and
``cenomed serve`` from a background thread (``SenderThread``) in each worker. Only the one that
holds the database lock works (PostgreSQL: an advisory lock on a dedicated connection; SQLite:
a lease row taken by one conditional UPDATE); the others find it taken and wait for the next
round.

Nothing lost, nothing doubled: a message is recorded (with its Message-ID) before its first
attempt, and marked sent only after the server accepted it. A crash between the two sends it
again with the same Message-ID, which the recipient's server or client recognises as the same
message. Each attempt is recorded; a failure waits longer each time (exponential backoff), and
only the exception's type name is kept: its text may hold an address or the server's reply.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from email.message import EmailMessage

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.clock import PARIS
from app.config import Settings
from app.db import unit_of_work, utcnow
from app.notifications import content, repository, service
from app.notifications.models import NotificationMessage
from app.notifications.smtp import SmtpTransport
from app.vocabulary import MEETING_NOTIFICATIONS, NotificationKind, NotifyMode

log = logging.getLogger(__name__)

Transport = Callable[[EmailMessage], None]

DIGEST_AT = time(8, 0)  # Paris time
FIRST_RETRY = timedelta(seconds=60)
LONGEST_WAIT = timedelta(hours=1)
MAX_ATTEMPTS = 12  # about seven hours of retries, then the message is marked failed
LEASE_LENGTH = timedelta(minutes=5)
# pg_try_advisory_lock's key: the bytes of "cenomed-n" as one bigint, ours alone.
ADVISORY_LOCK_KEY = 0x63656E6F6D65646E


@dataclass
class RunReport:
    locked: bool = True  # false: another sender held the lock, this run did nothing
    messages_made: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


def last_digest_time(now: datetime) -> datetime:
    """The most recent 08:00 in Paris at or before ``now``."""
    local = now.astimezone(PARIS)
    today_at = datetime.combine(local.date(), DIGEST_AT, tzinfo=PARIS)
    return today_at if today_at <= local else today_at - timedelta(days=1)


def backoff(attempts: int) -> timedelta:
    """After the n-th failed attempt: 1, 2, 4... minutes, never more than an hour."""
    wait: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, LONGEST_WAIT)


def run_once(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    now: datetime | None = None,
    transport: Transport | None = None,
) -> RunReport:
    """Delivers what is due at ``now`` (the clock's, by default) and returns."""
    at = now or clock.now()
    engine = sessions.kw["bind"]
    with sender_lock(engine, sessions) as locked:
        if not locked:
            return RunReport(locked=False)
        report = RunReport()
        with unit_of_work(sessions) as session:
            service.feedback_overdue(session, at=at, due_days=settings.feedback_due_days)
            report.skipped = repository.skip_unreachable(session)
            report.messages_made = _make_messages(session, settings, at)
        send = transport or SmtpTransport(settings)
        with unit_of_work(sessions) as session:
            due = [m.id for m in repository.due_messages(session, at)]
        for message_id in due:
            _deliver(sessions, settings, message_id, at, send, report)
            if not renew_lock(engine, sessions):
                break
        return report


def _make_messages(session: Session, settings: Settings, now: datetime) -> int:
    """Groups each account's due notifications: one message for the counts, and one per
    meeting notification (it carries its own invitation)."""
    made = 0
    window = timedelta(seconds=settings.notify_batch_seconds)
    for user_id, mode, oldest in repository.pending_by_account(session):
        if mode == NotifyMode.DAILY.value:
            due = oldest <= last_digest_time(now)
        else:
            due = oldest <= now - window
        if not due:
            continue
        pending = repository.pending_of(session, user_id, now)
        meetings = [n for n in pending if NotificationKind(n.kind) in MEETING_NOTIFICATIONS]
        counts = [n for n in pending if NotificationKind(n.kind) not in MEETING_NOTIFICATIONS]
        groups = [[n] for n in meetings] + ([counts] if counts else [])
        for group in groups:
            message = NotificationMessage(
                id=uuid.uuid4(),
                user_id=user_id,
                created_at=now,
                status="pending",
                attempts=0,
                next_attempt_at=now,
            )
            session.add(message)
            session.flush()  # the message row before the notifications that point to it
            for notification in group:
                notification.status = "queued"
                notification.message_id = message.id
            made += 1
    session.flush()
    return made


def _deliver(
    sessions: sessionmaker[Session],
    settings: Settings,
    message_id: uuid.UUID,
    now: datetime,
    send: Transport,
    report: RunReport,
) -> None:
    with unit_of_work(sessions) as session:
        message = session.get(NotificationMessage, message_id)
        if message is None or message.status != "pending":
            return
        address = repository.address_of(session, message.user_id)
        notifications = repository.notifications_of(session, message_id)
        if address is None or not notifications:
            message.status = "failed"
            message.last_error = "NoAddress" if address is None else "NothingToSay"
            repository.record_attempt(session, message_id, now, message.last_error)
            report.failed += 1
            return
        names = repository.cell_names(session, {n.cell_id for n in notifications})
        email = content.compose(
            settings=settings,
            message=message,
            notifications=notifications,
            cell_names=names,
            address=address,
        )
    try:
        send(email)
    except Exception as error:  # any failure to deliver: retried later, never raised
        record_failure(sessions, message_id, now, type(error).__name__, report)
        return
    record_sent(sessions, message_id, now)
    report.sent += 1


def record_sent(sessions: sessionmaker[Session], message_id: uuid.UUID, now: datetime) -> None:
    """After the server accepted the message (a crash before this sends it again, with the
    same Message-ID)."""
    with unit_of_work(sessions) as session:
        message = session.get(NotificationMessage, message_id)
        assert message is not None
        message.status = "sent"
        message.sent_at = now
        message.attempts += 1
        message.last_error = None
        repository.record_attempt(session, message_id, now, None)


def record_failure(
    sessions: sessionmaker[Session],
    message_id: uuid.UUID,
    now: datetime,
    error: str,
    report: RunReport,
) -> None:
    with unit_of_work(sessions) as session:
        message = session.get(NotificationMessage, message_id)
        assert message is not None
        message.attempts += 1
        message.last_error = error
        message.next_attempt_at = now + backoff(message.attempts)
        if message.attempts >= MAX_ATTEMPTS:
            message.status = "failed"
        repository.record_attempt(session, message_id, now, error)
    report.failed += 1
    report.errors.append(error)
    # No address, no content: the operator needs to know the server is unreachable, not who.
    log.warning(
        "notifications: the SMTP server could not take a message (%s); retried from %s",
        error,
        (now + backoff(message.attempts)).isoformat(timespec="seconds"),
    )


# --- one active sender --------------------------------------------------------------------------


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:80]


@contextmanager
def sender_lock(engine: Engine, sessions: sessionmaker[Session]) -> Iterator[bool]:
    """True while this process is the one active sender."""
    if engine.dialect.name == "postgresql":
        # A dedicated connection holds the session-level lock for the whole run.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            locked = bool(
                connection.scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
            )
            try:
                yield locked
            finally:
                if locked:
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                    )
        return
    holder = _holder()
    with unit_of_work(sessions) as session:
        start = utcnow()
        locked = repository.take_lease(
            session, holder=holder, now=start, until=start + LEASE_LENGTH
        )
    try:
        yield locked
    finally:
        if locked:
            with unit_of_work(sessions) as session:
                repository.release_lease(session, holder=holder)


def renew_lock(engine: Engine, sessions: sessionmaker[Session]) -> bool:
    """Keeps SQLite's lease between two messages (PostgreSQL's lock lasts as long as its
    connection); false if another sender took it meanwhile."""
    if engine.dialect.name == "postgresql":
        return True
    with unit_of_work(sessions) as session:
        start = utcnow()
        return repository.take_lease(
            session, holder=_holder(), now=start, until=start + LEASE_LENGTH
        )


class SenderThread(threading.Thread):
    """``cenomed serve``'s sender: a round every ``interval`` seconds until stopped. A round
    that fails (the database away) is logged by its type and retried at the next one."""

    def __init__(
        self, sessions: sessionmaker[Session], settings: Settings, interval: float = 30.0
    ) -> None:
        super().__init__(name="cenomed-notifications", daemon=True)
        self.sessions = sessions
        self.settings = settings
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                run_once(self.sessions, self.settings)
            except Exception as error:  # the loop outlives a bad round
                log.warning("notifications: a sender round failed (%s)", type(error).__name__)
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=self.interval + 5)
