"""Liveness and readiness: what the load balancer and the orchestrator ask each worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from app import migrate
from app.keyfiles import write_private_file
from tests.conftest import World
from tests.scenario import problem

READY = {"database": "ok", "migrations": "ok", "keys": "ok", "audit_signing_key": "ok"}


def ready(client: TestClient) -> Any:
    return client.get("/api/v1/health/ready")


def test_a_healthy_worker_is_live_and_ready(world: World) -> None:
    assert world.client.get("/api/v1/health").json() == {"status": "ok"}
    response = ready(world.client)
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": READY}


def _database_gone(world: World) -> None:
    url = world.settings.database_url
    if url.startswith("sqlite"):
        unreachable = f"sqlite:///{world.settings.data_dir}/no-such-dir/x.db"
    else:
        unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2"
    world.client.app.state.engine = create_engine(unreachable)  # type: ignore[attr-defined]


def _schema_behind(world: World) -> None:
    migrate.downgrade(world.settings.database_url, "-1")


def _keyring_gone(world: World) -> None:
    world.settings.local_keyring_path.unlink()


def _signing_key_gone(world: World) -> None:
    world.settings.audit_signing_key_path.unlink()


def _signing_key_replaced(world: World) -> None:
    path = world.settings.audit_signing_key_path
    path.unlink()
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private_file(path, pem)


@pytest.mark.parametrize(
    ("breakage", "failing"),
    [
        (_database_gone, {"database": "unreachable", "migrations": "unknown"}),
        (_schema_behind, {"migrations": "not-at-head"}),
        (_keyring_gone, {"keys": "unavailable"}),
        (_signing_key_gone, {"audit_signing_key": "unavailable"}),
        (_signing_key_replaced, {"audit_signing_key": "changed"}),
    ],
)
def test_a_worker_that_cannot_keep_the_charters_guarantees_is_not_ready(
    world: World, breakage: Callable[[World], None], failing: dict[str, str]
) -> None:
    breakage(world)
    try:
        body = problem(ready(world.client), 503)
        assert body["type"].endswith(":not-ready")
        assert body["checks"] == READY | failing
        for check in failing:
            assert check in body["detail"]
        # Alive all the same: restarting it would not help, the dependency must come back.
        assert world.client.get("/api/v1/health").status_code == 200
    finally:
        migrate.upgrade(world.settings.database_url)  # the next test's database is this one


def test_readiness_says_nothing_about_where_things_are(world: World) -> None:
    _keyring_gone(world)
    _database_gone(world)
    text = ready(world.client).text
    assert str(world.settings.data_dir) not in text
    assert "127.0.0.1" not in text
    assert "sqlite" not in text
