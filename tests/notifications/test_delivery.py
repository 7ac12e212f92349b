"""E-mail notifications delivered to a real SMTP server (aiosmtpd, started by the suite).

Every message these tests receive is checked for the cases' nominative values and case
references when each test ends (``conftest.smtp_server``).
"""

from __future__ import annotations

import email
import logging
import os
import subprocess
import sys
import threading
from datetime import date, time, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from time import monotonic, sleep
from typing import Any

import icalendar
import pytest
from sqlalchemy import func, select, update

from app.clock import PARIS, today
from app.db import utcnow
from app.directory import service as directory
from app.notifications import sender
from app.notifications.models import (
    Notification,
    NotificationAttempt,
    NotificationMessage,
    SenderLease,
)
from app.notifications.sender import last_digest_time
from app.vocabulary import NotifyMode, Organisation, Role
from tests.conftest import World
from tests.notifications.conftest import ADDRESSES, Mail, Received, check_no_nominative_value
from tests.scenario import (
    FIRST_NAME,
    LAST_NAME,
    meeting_body,
    ok,
    submit,
    to_oriented,
    to_research,
)

BATCH = 300  # CENOMED_NOTIFY_BATCH_SECONDS's default, which the tests keep


def _only(received: list[Received]) -> Received:
    assert len(received) == 1, [r.message["Subject"] for r in received]
    return received[0]


def _summaries(received: list[Received]) -> list[Received]:
    return [r for r in received if r.calendar() is None]


def _invitations(received: list[Received]) -> list[Received]:
    return [r for r in received if r.calendar() is not None]


def _message_rows(mail: Mail) -> list[NotificationMessage]:
    with mail.world.db() as session:
        return list(session.scalars(select(NotificationMessage)).all())


# --- who receives what --------------------------------------------------------------------------


def test_each_kind_reaches_its_accounts_and_no_other(mail: Mail) -> None:
    world = mail.world
    coordinator = world.as_("coordinator")
    mail.set_mode("teacher", NotifyMode.NONE)
    world.add_user("police-2", Role.MEMBER, Organisation.POLICE)  # no address

    returned = submit(world)  # new signalement: the coordinator
    ok(coordinator.post(f"/cases/{returned}/return", {"reason": "incomplete_identity"}))
    moving = to_research(world)  # a new signalement, and a referral: the parquet
    ok(coordinator.post(f"/cases/{moving}/transfer", {"cell_id": world.other_cell.id}))
    oriented, ids = to_oriented(world, "social_services")  # a third, a referral, a meeting
    informed = {"informed_on": today().isoformat(), "means": "letter", "outcome": "informed"}
    ok(coordinator.post(f"/cases/{oriented}/family-information", informed))
    ok(coordinator.post(f"/cases/{oriented}/orientations/{ids['social_services']}/transmission"))
    later = ok(coordinator.post("/meetings", meeting_body(world.cell.id, today() + timedelta(40))))
    ok(coordinator.patch(f"/meetings/{later['id']}", {"place": "Salle 2, mairie du 18e"}))
    ok(coordinator.post(f"/meetings/{later['id']}/cancellation"))

    assert mail.run(mail.later(BATCH - 60)).messages_made == 0  # the batch window is open
    report = mail.run(mail.later(BATCH + 1))
    assert (report.sent, report.failed) == (report.messages_made, 0)

    def summary(username: str) -> str:
        return _only(_summaries(mail.server.to(ADDRESSES[username]))).text

    assert "CENOMED 18e : 3 nouveaux signalements attendent votre décision." in summary(
        "coordinator"
    )
    assert "CENOMED 18e : 2 situations transmises au parquet attendent votre décision." in (
        summary("parquet")
    )
    assert "CENOMED 18e : 1 de vos signalements vous est retourné pour être complété." in (
        summary("police")
    )
    assert "CENOMED 18e : 1 transmission aux services sociaux vous est adressée." in summary("cst")
    assert (
        "CENOMED 19e : 1 transfert de situation vers votre cellule attend votre réponse."
        in summary("coordinator-19")
    )
    # Two meetings convened, one changed, then cancelled: four invitations to each participant.
    for username in ("coordinator", "parquet", "police", "cst"):
        subjects = sorted(
            str(r.message["Subject"]).split(" — ")[0]
            for r in _invitations(mail.server.to(ADDRESSES[username]))
        )
        assert subjects == [
            "cenomed : Réunion annulée",
            "cenomed : Réunion convoquée",
            "cenomed : Réunion convoquée",
            "cenomed : Réunion modifiée",
        ], username
    # Mode none, another cell's parquet, an account without an address: nothing at all.
    assert mail.server.to(ADDRESSES["teacher"]) == []
    assert mail.server.to(ADDRESSES["parquet-19"]) == []
    assert sum(len(r.recipients) for r in mail.server.received) == 5 * 4 + 1
    assert all(len(r.recipients) == 1 for r in mail.server.received)
    with world.db() as session:
        skipped = session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == world.users["teacher"])
        )
        assert skipped == 4
        assert set(
            session.scalars(
                select(Notification.status).where(Notification.user_id == world.users["teacher"])
            )
        ) == {"skipped"}
    for received in mail.server.received:
        assert received.message["From"] == "cenomed@cellule.test"
        assert "https://cenomed.test/" in received.text
        assert "aucune donnée nominative" in received.text
    # Nothing more to send: a second round makes and sends nothing.
    again = mail.run(mail.later(2 * BATCH))
    assert (again.messages_made, again.sent) == (0, 0)


def test_a_feedback_overdue_is_told_to_the_coordinator_once(mail: Mail) -> None:
    world = mail.world
    coordinator = world.as_("coordinator")
    oriented, ids = to_oriented(world, "social_services", "crip")
    informed = {"informed_on": today().isoformat(), "means": "letter", "outcome": "informed"}
    ok(coordinator.post(f"/cases/{oriented}/family-information", informed))
    for orientation_id in ids.values():
        ok(coordinator.post(f"/cases/{oriented}/orientations/{orientation_id}/transmission"))
    ok(
        world.as_("cst").post(
            f"/cases/{oriented}/orientations/{ids['social_services']}/feedback",
            {"outcome": "support_in_place"},
        )
    )
    mail.run(mail.later(BATCH + 1))
    before = len(mail.server.to(ADDRESSES["coordinator"]))
    due = timedelta(days=world.settings.feedback_due_days)
    assert mail.run(mail.later(0) + due - timedelta(hours=1)).messages_made == 0  # not yet
    # Overdue the day after the due day (the worklist's rule: more than N whole days).
    late = mail.later(0) + due + timedelta(days=1)
    mail.run(late)
    mail.run(late + timedelta(seconds=BATCH + 1))
    mail.run(late + timedelta(days=30))  # once: never told again
    told = mail.server.to(ADDRESSES["coordinator"])[before:]
    assert len(told) == 1
    assert "CENOMED 18e : 1 retour attendu d'un service saisi est en retard." in told[0].text
    # The CRIP's feedback is late; the social services' came: one only. Nobody else is told.
    assert mail.server.to(ADDRESSES["coordinator-19"]) == []


def test_nothing_is_written_without_an_smtp_host(world: World) -> None:
    submit(world)
    with world.db() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 0


# --- batching and the daily digest ---------------------------------------------------------------


def test_two_signalements_in_the_window_make_one_message_saying_two(mail: Mail) -> None:
    submit(mail.world)
    submit(mail.world)
    mail.run(mail.later(BATCH + 1))
    [message] = mail.server.to(ADDRESSES["coordinator"])
    assert message.message["Subject"] == "cenomed : 2 éléments vous attendent"
    assert "CENOMED 18e : 2 nouveaux signalements attendent votre décision." in message.text
    submit(mail.world)
    mail.run(mail.later(BATCH + 1))
    second = mail.server.to(ADDRESSES["coordinator"])[1]
    assert "CENOMED 18e : 1 nouveau signalement attend votre décision." in second.text
    assert second.message["Message-ID"] != message.message["Message-ID"]


def test_the_daily_digest_goes_at_eight_paris_time(mail: Mail) -> None:
    mail.set_mode("coordinator", NotifyMode.DAILY)
    submit(mail.world)
    submit(mail.world)
    eight = last_digest_time(mail.later(0)) + timedelta(days=1)
    assert eight.astimezone(PARIS).time() == time(8, 0)
    before = mail.run(eight - timedelta(minutes=1))
    assert before.messages_made == 0
    assert mail.server.to(ADDRESSES["coordinator"]) == []
    mail.run(eight + timedelta(minutes=1))
    [digest] = mail.server.to(ADDRESSES["coordinator"])
    assert "CENOMED 18e : 2 nouveaux signalements attendent votre décision." in digest.text


# --- retries, crashes, one sender -------------------------------------------------------------


def test_a_refused_message_is_retried_later_with_the_same_message_id(mail: Mail) -> None:
    submit(mail.world)
    mail.server.recorder.refusals = 1
    at = mail.later(BATCH + 1)
    first = mail.run(at)
    assert (first.sent, first.failed, first.errors) == (0, 1, ["SMTPDataError"])
    [row] = _message_rows(mail)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "SMTPDataError")
    assert row.next_attempt_at == at + timedelta(seconds=60)
    assert mail.run(at + timedelta(seconds=30)).sent == 0  # backing off
    assert mail.run(at + timedelta(seconds=61)).sent == 1
    [received] = mail.server.to(ADDRESSES["coordinator"])
    assert received.message["Message-ID"] == f"<{row.id.hex}@cenomed>"
    with mail.world.db() as session:
        errors = session.scalars(
            select(NotificationAttempt.error).order_by(NotificationAttempt.id)
        ).all()
    assert errors == ["SMTPDataError", None]


def test_a_stopped_server_delays_delivery_without_failing_a_step(
    mail: Mail, caplog: pytest.LogCaptureFixture
) -> None:
    mail.server.stop()
    submit(mail.world)  # the step goes through: it never talks to SMTP
    ready = mail.world.client.get("/api/v1/health/ready")
    assert ready.status_code == 200, ready.text
    at = mail.later(BATCH + 1)
    with caplog.at_level(logging.WARNING, logger="app.notifications.sender"):
        report = mail.run(at)
    assert (report.sent, report.failed) == (0, 1)
    [warning] = [r for r in caplog.records if r.name == "app.notifications.sender"]
    assert "SMTP server" in warning.getMessage()
    assert "@" not in warning.getMessage()
    [row] = _message_rows(mail)
    assert row.last_error == "ConnectionRefusedError"
    mail.server.start()
    assert mail.run(at + timedelta(seconds=61)).sent == 1
    [received] = mail.server.to(ADDRESSES["coordinator"])
    assert received.message["Message-ID"] == f"<{row.id.hex}@cenomed>"


def test_a_crash_between_sending_and_recording_sends_the_same_message_again(
    mail: Mail, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit(mail.world)

    def crash(*_args: Any) -> None:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(sender, "record_sent", crash)
    at = mail.later(BATCH + 1)
    with pytest.raises(RuntimeError):
        mail.run(at)
    monkeypatch.undo()
    [row] = _message_rows(mail)
    assert row.status == "pending"
    assert mail.run(at + timedelta(seconds=1)).sent == 1
    first, second = mail.server.to(ADDRESSES["coordinator"])
    assert first.message["Message-ID"] == second.message["Message-ID"]
    assert first.message["Message-ID"] == f"<{row.id.hex}@cenomed>"
    assert first.text == second.text
    [row] = _message_rows(mail)
    assert row.status == "sent"


def test_only_one_sender_works_at_a_time(mail: Mail) -> None:
    submit(mail.world)
    engine = mail.sessions.kw["bind"]
    reports: list[sender.RunReport] = []
    with sender.sender_lock(engine, mail.sessions) as locked:
        assert locked
        other = threading.Thread(target=lambda: reports.append(mail.run(mail.later(BATCH + 1))))
        other.start()
        other.join()
    assert reports[0].locked is False
    assert mail.server.received == []
    assert mail.run(mail.later(BATCH + 1)).sent == 1


# --- meeting invitations -----------------------------------------------------------------------


def _calendar(received: Received) -> icalendar.Calendar:
    data = received.calendar()
    assert data is not None
    return icalendar.Calendar.from_ical(data)


def test_meeting_invitations_carry_one_uid_a_growing_sequence_and_the_right_method(
    mail: Mail,
) -> None:
    coordinator = mail.world.as_("coordinator")
    day = today() + timedelta(days=20)
    body = meeting_body(mail.world.cell.id, day, starts_at="14:30")
    meeting = ok(coordinator.post("/meetings", body))
    ok(coordinator.patch(f"/meetings/{meeting['id']}", {"starts_at": "15:00"}))
    ok(coordinator.post(f"/meetings/{meeting['id']}/cancellation"))
    mail.run(mail.later(BATCH + 1))
    received = mail.server.to(ADDRESSES["police"])
    assert len(received) == 3
    calendars = sorted(
        (_calendar(r) for r in received), key=lambda c: int(c.walk("VEVENT")[0]["SEQUENCE"])
    )
    events = [c.walk("VEVENT")[0] for c in calendars]
    uid = f"meeting-{meeting['id'].replace('-', '')}@cenomed"
    assert [str(e["UID"]) for e in events] == [uid, uid, uid]
    assert [int(e["SEQUENCE"]) for e in events] == [0, 1, 2]
    assert [str(c["METHOD"]) for c in calendars] == ["REQUEST", "REQUEST", "CANCEL"]
    starts = [e.decoded("DTSTART") for e in events]
    assert [s.astimezone(PARIS).replace(tzinfo=None) for s in starts] == [
        _paris(day, time(14, 30)),
        _paris(day, time(15, 0)),
        _paris(day, time(15, 0)),
    ]
    assert {str(e["LOCATION"]) for e in events} == {body["place"]}
    assert [str(e["STATUS"]) for e in events] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert str(events[0]["ATTENDEE"]) == f"mailto:{ADDRESSES['police']}"
    # The message itself says the cell, the day, the time and the place.
    first = next(r for r in received if "convoquée" in str(r.message["Subject"]))
    assert f"le {day.strftime('%d/%m/%Y')} à 14:30" in first.text
    assert body["place"] in first.text
    part = next(first.message.iter_attachments())
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == "REQUEST"


def _paris(day: date, at: time) -> Any:
    from datetime import datetime

    return datetime.combine(day, at)


def test_the_server_runs_the_sender_in_the_background(
    settings: Any, db: Any, smtp_server: Any
) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.conftest import make_world
    from tests.notifications.conftest import notifying_settings

    serving = notifying_settings(settings, smtp_server.port).model_copy(
        update={
            "notify_sender_in_server": True,
            "notify_sender_interval_seconds": 1.0,
            "notify_batch_seconds": 0,
        }
    )
    with TestClient(create_app(serving), raise_server_exceptions=False) as client:
        world = make_world(client, serving, db)
        with db() as session:
            directory.set_email(session, username="coordinator", email=ADDRESSES["coordinator"])
        submit(world)
        deadline = monotonic() + 30
        while not smtp_server.to(ADDRESSES["coordinator"]) and monotonic() < deadline:
            sleep(0.2)
    [received] = smtp_server.to(ADDRESSES["coordinator"])
    assert "1 nouveau signalement attend votre décision." in received.text


# The command of a cron job, killed right after the server accepted its message and before
# it could record so (as a power cut or an OOM kill would).
_KILLED_AFTER_SENDING = (
    "import os, app.notifications.sender as sender\n"
    "sender.record_sent = lambda *args: os._exit(9)\n"
    "from app.cli import main\n"
    "main()\n"
)


def test_a_sender_killed_after_sending_sends_the_same_message_again(
    mail: Mail, engine_name: str
) -> None:
    settings = mail.world.settings
    submit(mail.world)
    env = os.environ | {
        "CENOMED_DATA_DIR": str(settings.data_dir),
        "CENOMED_DATABASE_URL": settings.database_url,
        "CENOMED_SMTP_HOST": "127.0.0.1",
        "CENOMED_SMTP_PORT": str(mail.server.port),
        "CENOMED_SMTP_SECURITY": "none",
        "CENOMED_NOTIFY_BATCH_SECONDS": "0",
    }
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_AFTER_SENDING, "notify", "run", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == 9, killed.stderr
    [first] = mail.server.to(ADDRESSES["coordinator"])
    [row] = _message_rows(mail)
    assert row.status == "pending"
    if engine_name == "sqlite":
        # The dead sender's lease holds until it expires: nobody sends meanwhile.
        assert mail.run(mail.later(BATCH + 1)).locked is False
        with mail.world.db() as session:
            session.execute(update(SenderLease).values(expires_at=utcnow() - timedelta(seconds=1)))
    # PostgreSQL released the dead connection's advisory lock at once.
    assert mail.run(mail.later(BATCH + 1)).sent == 1
    first_again, second = mail.server.to(ADDRESSES["coordinator"])
    assert first_again is first
    assert second.message["Message-ID"] == first.message["Message-ID"] == f"<{row.id.hex}@cenomed>"
    [row] = _message_rows(mail)
    assert (row.status, row.attempts) == ("sent", 1)


@pytest.mark.parametrize(
    "leak",
    [
        LAST_NAME,
        FIRST_NAME.upper(),
        "12 rue Imaginaire, 75018 Paris",
        "18-2026-0001",
        "R18-2026-0001",
    ],
)
def test_the_check_on_every_message_catches_a_leak(leak: str) -> None:
    """The guard the SMTP fixture runs on every message: it would see a name, an address or
    a reference anywhere, even encoded (here in the attachment, base64)."""
    message = EmailMessage()
    message["Subject"] = "cenomed : 1 élément vous attend"
    message.set_content("Rien de nominatif ici.")
    message.add_attachment(f"DESCRIPTION:{leak}".encode(), maintype="text", subtype="calendar")
    parsed = email.message_from_bytes(message.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    with pytest.raises(AssertionError):
        check_no_nominative_value([Received(["x@cellule.test"], parsed)])
