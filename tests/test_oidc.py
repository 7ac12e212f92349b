"""OIDC mode against a real OpenID Provider (the certified ``oidc-provider``, on Node.js).

The provider issues RS256 ``at+jwt`` access tokens through the client credentials grant; each
client id is the username of an account in cenomed's own directory.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.directory import service as directory
from app.main import create_app
from app.vocabulary import CellKind, Role
from tests.scenario import problem

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
RESOURCE = "urn:cenomed:api"
CLIENTS = {
    "oidc-coordinator": "coordinator-secret-0123456789abcdef0123",
    "oidc-stranger": "stranger-secret-0123456789abcdef01234567",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


API_CLIENTS = [{"client_id": c, "client_secret": s} for c, s in CLIENTS.items()]


@dataclass
class Provider:
    """The real OpenID Provider on ``port``, with ``clients`` registered (server.mjs)."""

    port: int
    clients: list[dict[str, Any]] = field(default_factory=lambda: list(API_CLIENTS))
    process: subprocess.Popen[str] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        node = shutil.which("node")
        if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").exists():
            pytest.fail("Node.js and 'npm ci --prefix tests/oidc_provider' are needed (make test)")
        self.process = subprocess.Popen(
            [node, str(PROVIDER_DIR / "server.mjs"), str(self.port), json.dumps(self.clients)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.strip() == "ready", "the OpenID Provider did not start"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def token(self, client_id: str, resource: str = RESOURCE) -> str:
        response = httpx.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "resource": resource, "scope": "api"},
            auth=(client_id, CLIENTS[client_id]),
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


@pytest.fixture
def provider() -> Iterator[Provider]:
    running = Provider(_free_port())
    running.start()
    yield running
    running.stop()


@pytest.fixture
def oidc_client(provider: Provider, settings: Settings, db: Any) -> Iterator[TestClient]:
    with db() as session:
        cell = directory.create_cell(
            session, name="CENOMED 10e", kind=CellKind.CENOMED, arrondissement=10
        )
        directory.create_user(
            session,
            username="oidc-coordinator",
            role=Role.COORDINATOR,
            organisation=None,
            cell_ids=[cell.id],
        )
    oidc_settings = settings.model_copy(
        update={
            "oidc_issuer": provider.issuer,
            "oidc_audience": RESOURCE,
            "oidc_jwks_min_refresh_seconds": 0.0,
        }
    )
    with TestClient(create_app(oidc_settings), raise_server_exceptions=False) as client:
        yield client


def _me(client: TestClient, token: str) -> Any:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_a_provider_token_identifies_a_directory_user(
    provider: Provider, oidc_client: TestClient
) -> None:
    response = _me(oidc_client, provider.token("oidc-coordinator"))
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "coordinator"


def test_a_provider_client_unknown_to_the_directory_is_refused(
    provider: Provider, oidc_client: TestClient
) -> None:
    body = problem(_me(oidc_client, provider.token("oidc-stranger")), 401)
    assert body["type"].endswith("account-inactive")


def test_a_token_for_another_audience_is_refused(
    provider: Provider, oidc_client: TestClient
) -> None:
    problem(_me(oidc_client, provider.token("oidc-coordinator", "urn:another:api")), 401)


def test_local_tokens_are_refused_in_oidc_mode(oidc_client: TestClient, settings: Settings) -> None:
    from app.auth import issue_local_token

    problem(_me(oidc_client, issue_local_token(settings, "oidc-coordinator")), 401)


def test_a_tampered_provider_token_is_refused(provider: Provider, oidc_client: TestClient) -> None:
    header, payload, signature = provider.token("oidc-coordinator").split(".")
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    problem(_me(oidc_client, f"{header}.{payload}.{flipped}"), 401)


def test_a_new_provider_key_is_fetched_when_a_token_names_it(
    provider: Provider, oidc_client: TestClient
) -> None:
    assert _me(oidc_client, provider.token("oidc-coordinator")).status_code == 200
    provider.stop()
    provider.start()  # a new signing key, with a new kid
    rotated = provider.token("oidc-coordinator")
    assert _me(oidc_client, rotated).status_code == 200


def test_an_unreachable_provider_is_a_clear_401(
    provider: Provider, oidc_client: TestClient
) -> None:
    token = provider.token("oidc-coordinator")
    provider.stop()
    time.sleep(0.1)
    body = problem(_me(oidc_client, token), 401)
    assert body["type"].endswith("identity-provider-unavailable")


def test_a_token_that_is_not_an_access_token_is_refused(oidc_client: TestClient) -> None:
    import base64

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = part({"sub": "oidc-coordinator", "aud": RESOURCE})
    id_token_like = f"{part({'alg': 'RS256', 'typ': 'JWT', 'kid': 'x'})}.{claims}.c2ln"
    assert "access token" in problem(_me(oidc_client, id_token_like), 401)["detail"]
    odd_kid = f"{part({'alg': 'RS256', 'typ': 'at+jwt', 'kid': ['x']})}.{claims}.c2ln"
    problem(_me(oidc_client, odd_kid), 401)
