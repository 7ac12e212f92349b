"""A real SMTP server (aiosmtpd) for the notification tests, and a world that sends to it.

Every message the server receives in a test is checked, when the test ends, for the test
cases' nominative values and for anything shaped like a case reference: in its headers, its
decoded body and its attachment alike.
"""

from __future__ import annotations

import email
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.directory import service as directory
from app.main import create_app
from app.notifications import sender
from app.notifications.sender import RunReport
from app.vocabulary import NotifyMode
from tests.conftest import World, make_world
from tests.scenario import FIRST_NAME, LAST_NAME, case_body

REFERENCE = re.compile(r"\bR?\d{2}-\d{4}-\d{4}\b")


@dataclass
class Received:
    recipients: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        """The plain text part, decoded."""
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        content: str = part.get_content()  # type: ignore[attr-defined]
        return content

    def calendar(self) -> bytes | None:
        for part in self.message.iter_attachments():
            if part.get_content_type() == "text/calendar":
                payload: bytes = part.get_payload(decode=True)  # type: ignore[assignment]
                return payload
        return None


@dataclass
class Recorder:
    """The server's handler: keeps what it accepts; refuses the next ``refusals`` with 451."""

    received: list[Received] = field(default_factory=list)
    refusals: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        with self.lock:
            if self.refusals > 0:
                self.refusals -= 1
                return "451 4.3.0 Try again later"
            raw = envelope.original_content or envelope.content
            assert isinstance(raw, bytes)
            parsed = email.message_from_bytes(raw, policy=default_policy)
            assert isinstance(parsed, EmailMessage)
            self.received.append(Received([str(r) for r in envelope.rcpt_tos], parsed))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class MailServer:
    recorder: Recorder
    port: int
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]


def forbidden_values() -> list[str]:
    body = case_body(0)
    minor, guardian = body["minor"], body["guardians"][0]
    born = date.fromisoformat(minor["birth_date"])
    return [
        LAST_NAME,
        FIRST_NAME,
        minor["birth_date"],
        born.strftime("%d/%m/%Y"),
        born.strftime("%Y%m%d"),
        minor["address"],
        "Imaginaire",
        minor["school"],
        guardian["name"],
        guardian["phone"],
        body["facts"],
        "absenteeism",
        "night_presence",
    ]


def everything_in(received: Received) -> str:
    """Headers (decoded) and every part's decoded content, attachment included."""
    texts = [f"{name}: {value}" for name, value in received.message.items()]
    for part in received.message.walk():
        if part.is_multipart():
            continue
        texts.extend(f"{name}: {value}" for name, value in part.items())
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            texts.append(payload.decode("utf-8", errors="replace"))
    return "\n".join(texts)


def check_no_nominative_value(received: list[Received]) -> None:
    for message in received:
        seen = everything_in(message)
        for value in forbidden_values():
            assert value.lower() not in seen.lower(), value
        assert REFERENCE.search(seen) is None, REFERENCE.search(seen)


@pytest.fixture
def smtp_server() -> Iterator[MailServer]:
    server = MailServer(Recorder(), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
        check_no_nominative_value(server.received)


def notifying_settings(base: Settings, port: int) -> Settings:
    """The test's settings, sending to the suite's server (in clear: it is on this machine)."""
    return base.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "smtp_from": "cenomed@cellule.test",
            "smtp_timeout_seconds": 5.0,
            "notify_sender_in_server": False,
            "public_url": "https://cenomed.test",
        }
    )


ADDRESSES = {
    "coordinator": "coordination18@cellule.test",
    "parquet": "parquet18@cellule.test",
    "police": "police18@cellule.test",
    "teacher": "college18@cellule.test",
    "cst": "cst18@cellule.test",
    "coordinator-19": "coordination19@cellule.test",
    "parquet-19": "parquet19@cellule.test",
}


@dataclass
class Mail:
    """The world, its SMTP server, and the sender run at a chosen instant."""

    world: World
    server: MailServer
    sessions: sessionmaker[Session]

    def run(self, at: datetime | None = None, **kwargs: Any) -> RunReport:
        return sender.run_once(self.sessions, self.world.settings, now=at, **kwargs)

    def later(self, seconds: float) -> datetime:
        from app.clock import now

        return now() + timedelta(seconds=seconds)

    def set_mode(self, username: str, mode: NotifyMode) -> None:
        response = self.world.as_(username).put("/me/notifications", {"mode": mode.value})
        assert response.status_code == 200, response.text


@pytest.fixture
def mail(settings: Settings, db: Any, smtp_server: MailServer) -> Iterator[Mail]:
    settings = notifying_settings(settings, smtp_server.port)
    engine = make_engine(settings.database_url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        world = make_world(client, settings, db)
        with db() as session:
            for username, address in ADDRESSES.items():
                directory.set_email(session, username=username, email=address)
        yield Mail(world, smtp_server, make_sessionmaker(engine))
    engine.dispose()


Runner = Callable[..., RunReport]
