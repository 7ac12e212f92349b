"""An account's address and notification choice: the API, the CLI, the settings' checks, and
what the operators see (metrics, readiness)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from app.config import Settings
from app.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from app.directory import service as directory
from app.directory.models import User
from app.errors import InvalidInput
from app.notifications.models import Notification
from app.operations.exposition import exposition
from tests.audit.log import events, head
from tests.conftest import World
from tests.notifications.conftest import ADDRESSES, Mail, MailServer
from tests.scenario import problem, submit


def test_me_shows_the_address_and_the_choice_which_the_caller_changes(world: World) -> None:
    with world.db() as session:
        directory.set_email(session, username="police", email="police18@cellule.test")
    police = world.as_("police")
    me = police.get("/me").json()
    assert (me["email"], me["notify_mode"]) == ("police18@cellule.test", "immediate")
    before = head(world)
    changed = police.put("/me/notifications", {"mode": "daily"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["notify_mode"] == "daily"
    assert police.get("/me").json()["notify_mode"] == "daily"
    [event] = [e for e in events(world, before) if e["action"] == "set_notifications"]
    assert (event["outcome"], event["detail"]) == ("allowed", "mode:daily")
    assert world.as_("teacher").get("/me").json()["email"] is None


@pytest.mark.parametrize("body", [{"mode": "hourly"}, {"mode": "none", "email": "x@y.test"}, {}])
def test_a_bad_choice_is_refused_and_logged(world: World, body: dict[str, Any]) -> None:
    before = head(world)
    refused = problem(world.as_("police").put("/me/notifications", body), 422)
    assert refused["type"] == "urn:cenomed:problem:validation-error"
    [event] = events(world, before)
    assert (event["action"], event["outcome"], event["detail"]) == (
        "set_notifications",
        "denied",
        "validation-error",
    )
    assert world.as_("police").get("/me").json()["notify_mode"] == "immediate"


@pytest.mark.parametrize(
    "address",
    [
        "Jean Dupont <jean@paris.fr>",
        "jean@paris.fr\r\nBcc: autre@paris.fr",
        "pas-une-adresse",
        "jean@",
        "a" * 250 + "@paris.fr",
    ],
)
def test_a_bad_address_is_refused_and_not_recorded(world: World, address: str) -> None:
    before = head(world)
    with world.db() as session, pytest.raises(InvalidInput) as refused:
        directory.set_email(session, username="police", email=address)
    assert refused.value.slug == "invalid-email"
    assert address not in str(refused.value)
    assert [e for e in events(world, before) if e["action"] == "set_email"] == []
    with world.db() as session:
        user = session.scalar(select(User).where(User.username == "police"))
        assert user is not None
        assert user.email is None


def test_the_address_is_set_in_the_audit_log_without_its_value(world: World) -> None:
    before = head(world)
    with world.db() as session:
        directory.set_email(session, username="cst", email="cst18@cellule.test")
        directory.set_email(session, username="cst", email=None)
    details = [e["detail"] for e in events(world, before) if e["action"] == "set_email"]
    user_id = world.users["cst"]
    assert details == [f"user:{user_id}", f"user:{user_id} removed"]
    assert "cellule.test" not in json.dumps(events(world, before))


@pytest.mark.parametrize("host", ["smtp.example.org", "192.0.2.10", "::ffff:192.0.2.10"])
def test_sending_in_clear_is_refused_unless_towards_this_machine(host: str) -> None:
    with pytest.raises(ValidationError, match="loopback"):
        Settings(smtp_host=host, smtp_security="none")


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "[::1]", "localhost"])
def test_sending_in_clear_to_a_local_relay_is_accepted(host: str) -> None:
    settings = Settings(smtp_host=host, smtp_security="none")
    assert (settings.notifications_enabled, settings.smtp_effective_port) == (True, 25)


def test_the_default_ports_follow_the_security() -> None:
    assert Settings(smtp_host="smtp.example.org").smtp_effective_port == 587
    assert Settings(smtp_host="smtp.example.org", smtp_security="tls").smtp_effective_port == 465
    assert Settings().notifications_enabled is False


def test_metrics_count_what_waits_and_what_failed(mail: Mail) -> None:
    sessions = mail.sessions  # the fixture disposes of its engine

    def figures() -> dict[str, float]:
        text = exposition(sessions)[0].decode()
        return {
            line.split()[0]: float(line.split()[1])
            for line in text.splitlines()
            if line.startswith("cenomed_notification")
        }

    submit(mail.world)
    waiting = figures()
    assert waiting["cenomed_notifications_waiting"] == 1
    assert waiting["cenomed_notification_delivery_failures"] == 0
    mail.server.recorder.refusals = 1
    mail.run(mail.later(301))
    failed = figures()
    assert failed["cenomed_notifications_waiting"] == 1
    assert failed["cenomed_notification_delivery_failures"] == 1
    assert failed["cenomed_notifications_oldest_waiting_seconds"] >= 0
    mail.run(mail.later(400))
    assert figures()["cenomed_notifications_waiting"] == 0


# --- the command line ------------------------------------------------------------------------


def _cenomed(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cli_sets_addresses_and_the_sender_runs_once(
    tmp_path: Path, new_database: Any, smtp_server: MailServer
) -> None:
    env = os.environ | {
        "CENOMED_DATA_DIR": str(tmp_path / "data"),
        "CENOMED_DATABASE_URL": new_database(),
        "CENOMED_SMTP_HOST": "127.0.0.1",
        "CENOMED_SMTP_PORT": str(smtp_server.port),
        "CENOMED_SMTP_SECURITY": "none",
        "CENOMED_NOTIFY_BATCH_SECONDS": "0",
    }
    assert _cenomed(env, "init").returncode == 0
    cell = _cenomed(
        env, "cell", "add", "--name", "CENOMED 18e", "--kind", "cenomed", "--arrondissement", "18"
    )
    assert cell.returncode == 0, cell.stderr
    cell_id = cell.stdout.strip()
    added = _cenomed(
        env,
        "user",
        "add",
        "--username",
        "coord",
        "--role",
        "coordinator",
        "--cell",
        cell_id,
        "--email",
        ADDRESSES["coordinator"],
    )
    assert added.returncode == 0, added.stderr
    member = _cenomed(
        env,
        "user",
        "add",
        "--username",
        "agent",
        "--role",
        "member",
        "--organisation",
        "police",
        "--cell",
        cell_id,
    )
    assert member.returncode == 0, member.stderr
    refused = _cenomed(
        env, "user", "set-email", "--username", "agent", "--email", "agent at police"
    )
    assert refused.returncode != 0
    assert "e-mail address" in refused.stderr
    assert "agent at police" not in refused.stderr
    assert (
        _cenomed(
            env, "user", "set-email", "--username", "agent", "--email", "agent@police.test"
        ).returncode
        == 0
    )
    engine = make_engine(env["CENOMED_DATABASE_URL"])
    with unit_of_work(make_sessionmaker(engine)) as session:
        emails = dict(session.execute(select(User.username, User.email)).all())
        ids = dict(session.execute(select(User.username, User.id)).all())
        # What submit_case writes for the coordinator, as a step in a worker would.
        session.add(
            Notification(
                user_id=ids["coord"],
                kind="new_case",
                cell_id=int(cell_id),
                created_at=utcnow(),
                status="pending",
            )
        )
    engine.dispose()
    assert emails == {"coord": ADDRESSES["coordinator"], "agent": "agent@police.test"}
    ran = _cenomed(env, "notify", "run", "--once")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["sent"] == 1
    [received] = smtp_server.received
    assert received.recipients == [ADDRESSES["coordinator"]]
    assert "CENOMED 18e : 1 nouveau signalement attend votre décision." in received.text
    again = _cenomed(env, "notify", "run", "--once")
    assert json.loads(again.stdout)["sent"] == 0
    assert len(smtp_server.received) == 1
