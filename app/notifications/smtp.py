"""Delivery over SMTP with the standard library: STARTTLS, implicit TLS, or clear text towards
a relay on this machine (``none``, which the settings allow only for a loopback host)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from app.config import Settings
from app.inputs import read_bounded_text

PASSWORD_MAX_BYTES = 4096


def read_password(path: Path | None) -> str | None:
    if path is None:
        return None
    return read_bounded_text(
        path, limit=PASSWORD_MAX_BYTES, what="CENOMED_SMTP_PASSWORD_FILE"
    ).strip()


class SmtpTransport:
    """Sends one message per connection: the sender delivers a few messages every few
    minutes, and a fresh connection never reuses a half-broken one."""

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("no SMTP host configured")
        self.host = settings.smtp_host
        self.port = settings.smtp_effective_port
        self.security = settings.smtp_security
        self.timeout = settings.smtp_timeout_seconds
        self.username = settings.smtp_username
        self.password = read_password(settings.smtp_password_file)

    def __call__(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.security == "tls":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.security == "starttls":
                client.starttls(context=context)
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(message)
