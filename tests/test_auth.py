"""Bearer tokens: every bad, expired or forged token is a 401; the directory decides the rest."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwt

from app.auth import PUBLIC_KEY_FILE
from app.directory import service as directory
from tests.conftest import World
from tests.scenario import problem


def _claims(world: World, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": world.settings.local_issuer,
        "aud": world.settings.local_audience,
        "sub": "coordinator",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _me(world: World, token: str) -> Any:
    return world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def _own_key(world: World) -> str:
    return (world.settings.keys_dir / "token-signing-key.pem").read_text()


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_a_valid_token_identifies_the_user_from_the_directory(world: World) -> None:
    response = _me(world, world.token("teacher"))
    assert response.status_code == 200
    assert response.json() == {
        "id": world.users["teacher"],
        "username": "teacher",
        "role": "member",
        "organisation": "education",
        "cells": [world.cell.id],
        "charter": {"current_version": world.settings.charter_version, "accepted": True},
        # Issue 18: no professional address recorded for this account, notified at once.
        "email": None,
        "notify_mode": "immediate",
    }


def test_role_claims_in_the_token_are_ignored(world: World) -> None:
    token = jwt.encode(_claims(world, sub="teacher", role="coordinator"), _own_key(world), "ES256")
    assert _me(world, token).json()["role"] == "member"


def test_no_token(world: World) -> None:
    response = world.client.get("/api/v1/me")
    assert problem(response, 401)["type"].endswith("missing-token")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "", "Basic abc"])
def test_a_malformed_token(world: World, token: str) -> None:
    problem(_me(world, token), 401)


def test_an_expired_token(world: World) -> None:
    past = int(time.time()) - 3600
    token = jwt.encode(_claims(world, iat=past, exp=past + 60), _own_key(world), "ES256")
    assert problem(_me(world, token), 401)["type"].endswith("expired-token")


def test_the_clock_leeway_is_a_few_seconds(world: World) -> None:
    now = int(time.time())
    just_expired = jwt.encode(_claims(world, exp=now - 2), _own_key(world), "ES256")
    assert _me(world, just_expired).status_code == 200
    long_expired = jwt.encode(_claims(world, exp=now - 30), _own_key(world), "ES256")
    problem(_me(world, long_expired), 401)


def test_a_token_without_expiry(world: World) -> None:
    token = jwt.encode(_claims(world, exp=None), _own_key(world), "ES256")
    problem(_me(world, token), 401)


@pytest.mark.parametrize(
    "override", [{"iss": "https://elsewhere.example"}, {"aud": "another-api"}, {"aud": None}]
)
def test_a_token_for_another_issuer_or_audience(world: World, override: dict[str, Any]) -> None:
    problem(_me(world, jwt.encode(_claims(world, **override), _own_key(world), "ES256")), 401)


def test_a_token_signed_by_another_key_is_forged(world: World) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    problem(_me(world, jwt.encode(_claims(world), stranger.decode(), "ES256")), 401)


def test_a_token_with_a_tampered_payload(world: World) -> None:
    header, _payload, signature = world.token("teacher").split(".")
    tampered = ".".join([header, _b64(_claims(world, sub="coordinator")), signature])
    problem(_me(world, tampered), 401)


def test_alg_none_is_refused(world: World) -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(world))}."
    problem(_me(world, unsigned), 401)


def test_hs256_signed_with_the_public_key_is_refused(world: World) -> None:
    public_pem = (world.settings.keys_dir / PUBLIC_KEY_FILE).read_text()
    import hashlib
    import hmac

    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(_claims(world))}"
    mac = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")
    problem(_me(world, token), 401)


def test_an_rs256_token_is_refused_by_the_local_issuer(world: World) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    problem(_me(world, jwt.encode(_claims(world), pem, "RS256")), 401)


def test_an_unknown_user(world: World) -> None:
    token = jwt.encode(_claims(world, sub="nobody"), _own_key(world), "ES256")
    assert problem(_me(world, token), 401)["type"].endswith("account-inactive")


def test_a_deactivated_user_is_refused_on_the_very_next_request(world: World) -> None:
    token = world.token("police")
    assert _me(world, token).status_code == 200
    with world.db() as session:
        directory.deactivate_user(session, username="police")
    assert problem(_me(world, token), 401)["type"].endswith("account-inactive")
    response = world.client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
    problem(response, 401)


def test_a_removed_membership_is_refused_on_the_very_next_request(world: World) -> None:
    from sqlalchemy import delete

    from app.directory.models import Membership
    from tests.scenario import submit

    case_id = submit(world)
    token = world.token("coordinator")
    headers = {"Authorization": f"Bearer {token}"}
    assert world.client.get(f"/api/v1/cases/{case_id}", headers=headers).status_code == 200
    with world.db() as session:
        session.execute(delete(Membership).where(Membership.user_id == world.users["coordinator"]))
    problem(world.client.get(f"/api/v1/cases/{case_id}", headers=headers), 404)
