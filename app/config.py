"""Service settings, read from the environment (prefix ``CENOMED_``) once per process."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import Field, IPvAnyNetwork, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Signature algorithms python-jose verifies with public keys; never "none", never HS*.
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"})


class Settings(BaseSettings):
    """Every knob an operator can turn; names are part of the contract (api-contract.md)."""

    model_config = SettingsConfigDict(env_prefix="CENOMED_", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str = ""

    # Local token issuer (embedded default): ES256 key pair kept in the data dir.
    local_issuer: str = "urn:cenomed:local-issuer"
    local_audience: str = "cenomed-api"
    default_token_ttl_seconds: int = Field(default=8 * 3600, gt=0, le=7 * 24 * 3600)

    # OIDC mode: when the issuer is set, bearer tokens come from that identity provider.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_algorithms: list[str] = ["RS256", "ES256"]
    oidc_username_claim: str = "sub"
    oidc_jwks_min_refresh_seconds: float = Field(default=30.0, ge=0)
    oidc_require_access_token_type: bool = True

    # The web front end's sessions (issue 9): closed after this long without a request, and
    # in any case this long after signing in (R3: a session never outlives a working day).
    web_idle_timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)
    web_absolute_timeout_hours: int = Field(default=10, ge=1, le=24)
    # The web sign-in through the OIDC provider (authorization code with PKCE): this
    # service's client at the provider. Without it, with OIDC on, the web has no sign-in.
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = Field(default=None, repr=False)
    # The address the provider sends the browser back to, exactly as registered there
    # (https://host/connexion/retour). Unset, it is derived from the request, which is wrong
    # behind a proxy that does not forward the scheme and host: set it in production.
    oidc_web_redirect_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    # The scopes the web sign-in asks for: openid, plus whatever the provider needs to put
    # oidc_username_claim in the ID token (say "openid profile" for preferred_username).
    oidc_web_scope: str = Field(default="openid", pattern=r"^(\S+ )*openid( \S+)*$")
    # The demo (make run): the sign-in page lists the demo accounts. Never in production.
    web_demo_accounts: bool = False

    token_leeway_seconds: int = Field(default=5, ge=0, le=300)

    # R1: the version of the charter in force; a new one must be accepted again.
    charter_version: str = Field(default="2015-2020-v1", min_length=1, max_length=40)
    # R17: how long a motivated archive access lasts.
    archive_access_hours: float = Field(default=4.0, gt=0, le=8)
    # Dates come from the server: the coordinator may declare a signalement received outside
    # the service at most this many days back; a meeting is recorded at most this many days
    # after it was held.
    received_on_max_days: int = Field(default=92, ge=0, le=366)
    meeting_record_days: int = Field(default=14, ge=0, le=92)
    # Issue 18: a service's feedback is overdue this many days after the transmission.
    feedback_due_days: int = Field(default=90, ge=1, le=730)
    # R19 and statistical disclosure control (app.indicators.disclosure): counts of persons
    # under this are withheld from those who do not read the cases themselves.
    indicators_min_count: int = Field(default=5, ge=3, le=100)

    # Key-encryption keys: the local keyring file by default, or a secret for containers.
    keyring: str | None = Field(default=None, repr=False)
    keyring_file: Path | None = None
    data_key_cache_seconds: float = Field(default=60.0, ge=0, le=3600)

    # HTTP hygiene: the largest body accepted, the origins a browser may call from (none by
    # default), and how many failed authentications a client address gets per minute.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=10 * 1024 * 1024)
    cors_allowed_origins: list[str] = []
    auth_failures_per_minute: int = Field(default=20, ge=1, le=10_000)
    # Finding a case by identity (issue 16): at most this many searches per account in any
    # hour (counted from the audit log, so across workers and restarts); then 429.
    searches_per_hour: int = Field(default=30, ge=1, le=10_000)

    # R18: the largest share of the cases not yet purged that one purge destroys without
    # --yes (a wrong --as-of or clock would otherwise destroy them all at once).
    purge_max_share: float = Field(default=0.10, gt=0, le=1)

    # R23: the audit log's checkpoints, signed with an Ed25519 key kept apart from the database.
    audit_signing_key_file: Path | None = None
    audit_origin: str = Field(default="cenomed.local/audit", pattern=r"^[^\s+]+$", max_length=200)
    audit_checkpoint_every: int = Field(default=1000, ge=1)

    # Operations: who may scrape /metrics (addresses as seen by the service, after a trusted
    # proxy's X-Forwarded-For), and the server's log lines (JSON for a collector, or text).
    metrics_allowed_networks: list[IPvAnyNetwork] = [
        IPv4Network("127.0.0.0/8"),
        IPv6Network("::1/128"),
    ]
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # E-mail notifications (issue 18). No host, no e-mail: nothing is even put in the outbox.
    # ``none`` (no encryption) only towards this machine: a relay on localhost.
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password_file: Path | None = None
    smtp_from: str = Field(default="cenomed@localhost", pattern=r"^[^\s@<>]+@[^\s@<>]+$")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    notify_batch_seconds: int = Field(default=300, ge=0, le=24 * 3600)
    # The sender runs in the server's workers (one active, by a database lock); turn it off
    # when a cron job runs 'cenomed notify run --once' instead.
    notify_sender_in_server: bool = True
    notify_sender_interval_seconds: float = Field(default=30.0, ge=1, le=3600)
    # The link a notification gives: the service's address as its users reach it.
    public_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://[^\s/]+(/\S*)?$")

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'cenomed.db'}"
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError("CENOMED_OIDC_AUDIENCE is required when CENOMED_OIDC_ISSUER is set")
        refused = [a for a in self.oidc_algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if refused or not self.oidc_algorithms:
            raise ValueError(
                f"token algorithms must be among {sorted(ASYMMETRIC_ALGORITHMS)}, not {refused}"
            )
        if self.smtp_host and self.smtp_security == "none" and not _loopback(self.smtp_host):
            raise ValueError(
                "CENOMED_SMTP_SECURITY=none sends in clear: only towards a loopback address "
                "(a relay on this machine); use starttls or tls"
            )
        return self

    @property
    def notifications_enabled(self) -> bool:
        return bool(self.smtp_host)

    @property
    def smtp_effective_port(self) -> int:
        if self.smtp_port is not None:
            return self.smtp_port
        return (
            465 if self.smtp_security == "tls" else 587 if self.smtp_security == "starttls" else 25
        )

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def audit_signing_key_path(self) -> Path:
        return self.audit_signing_key_file or self.keys_dir / "audit-signing-key.pem"

    @property
    def local_keyring_path(self) -> Path:
        return self.keys_dir / "keyring.json"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def _request_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# The settings the application was created with (tests create apps with their own).
CurrentSettings = Annotated[Settings, Depends(_request_settings)]
