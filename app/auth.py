"""Bearer token -> :class:`Principal`.

Two issuers, one rule set. The embedded default signs tokens itself with an ES256 key pair kept
in the data dir (``cenomed token``); in OIDC mode the identity provider signs them and its JWKS
is fetched, cached, and refreshed when a token names an unknown ``kid``. Either way the
algorithms are pinned (asymmetric only: never ``none``, never HS* with a public key), ``exp``,
``iss`` and ``aud`` are required, and the role, organisation and cells come from the service's
own user table, looked up at every request (R3).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Protocol

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jose import jwt
from jose.exceptions import ExpiredSignatureError, JOSEError
from sqlalchemy.orm import Session

from app.audit.trail import Actor
from app.config import Settings
from app.db import DbSession
from app.directory import repository as directory_repository
from app.directory.service import load_principal
from app.errors import NotAuthenticated
from app.http_hardening import AuthFailureLimiter
from app.inputs import KEY_FILE_MAX_BYTES, read_bounded
from app.keyfiles import check_private_file, write_private_file
from app.principal import Principal

log = logging.getLogger(__name__)

LOCAL_ALGORITHM = "ES256"
PRIVATE_KEY_FILE = "token-signing-key.pem"
PUBLIC_KEY_FILE = "token-signing-key.pub.pem"


class TokenVerifier(Protocol):
    def username_of(self, token: str) -> str:
        """The account name the token vouches for; raises NotAuthenticated if it is not valid."""
        ...

    def close(self) -> None:
        """Releases what the verifier holds (connections) at shutdown."""
        ...


# --- the local issuer -------------------------------------------------------------------------


def ensure_local_keys(keys_dir: Path) -> None:
    """Creates the local issuer's key pair once (private key readable by its owner only).

    The public key is derived from the private one whenever it is missing, so a crash between
    the two writes heals on the next ``cenomed init``.
    """
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_path = keys_dir / PRIVATE_KEY_FILE
    if private_path.exists():
        check_private_file(private_path)
        key = serialization.load_pem_private_key(_read_key(private_path), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private_file(private_path, private_pem)
    public_path = keys_dir / PUBLIC_KEY_FILE
    if not public_path.exists():
        public_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def _read_key(path: Path) -> bytes:
    return read_bounded(path, limit=KEY_FILE_MAX_BYTES, what="the token key file")


def _key_id(public_pem: bytes) -> str:
    """RFC 7638-style thumbprint of the public key, so verifiers can tell keys apart."""
    key = serialization.load_pem_public_key(public_pem)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    numbers = key.public_numbers()

    def b64(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes(32, "big")).decode().rstrip("=")

    jwk = {"crv": "P-256", "kty": "EC", "x": b64(numbers.x), "y": b64(numbers.y)}
    digest = hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode())
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def issue_local_token(settings: Settings, username: str, ttl_seconds: int | None = None) -> str:
    keys_dir = settings.keys_dir
    private_path = keys_dir / PRIVATE_KEY_FILE
    check_private_file(private_path)
    now = int(time.time())
    ttl = ttl_seconds if ttl_seconds is not None else settings.default_token_ttl_seconds
    claims = {
        "iss": settings.local_issuer,
        "aud": settings.local_audience,
        "sub": username,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": str(uuid.uuid4()),
    }
    kid = _key_id(_read_key(keys_dir / PUBLIC_KEY_FILE))
    return jwt.encode(
        claims, _read_key(private_path).decode(), algorithm=LOCAL_ALGORITHM, headers={"kid": kid}
    )


def _decode(
    token: str,
    key: Any,
    *,
    algorithms: list[str],
    issuer: str,
    audience: str,
    leeway: int,
    username_claim: str,
) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except JOSEError as error:
        raise NotAuthenticated("The bearer token is malformed.", slug="invalid-token") from error
    if header.get("alg") not in algorithms:
        raise NotAuthenticated(
            "The bearer token is signed with an algorithm this service does not accept.",
            slug="invalid-token",
        )
    try:
        return jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=audience,
            issuer=issuer,
            options={
                "require_exp": True,
                "require_iss": True,
                "require_aud": True,
                "require_sub": False,
                "leeway": leeway,
            },
        )
    except ExpiredSignatureError as error:
        refusal = NotAuthenticated(
            "The bearer token has expired; get a new one.", slug="expired-token"
        )
        # The signature was checked before the expiry: the account it names is known, and
        # its attempt goes to the audit log.
        claims = jwt.get_unverified_claims(token)
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        name = claims.get(username_claim)
        if claims.get("iss") == issuer and audience in audiences and isinstance(name, str):
            refusal.username = name  # a token for this service, not another client's
        raise refusal from error
    except JOSEError as error:
        raise NotAuthenticated(
            "The bearer token is not valid for this service.", slug="invalid-token"
        ) from error


@dataclass
class LocalVerifier:
    public_pem: str
    issuer: str
    audience: str
    leeway: int

    def username_of(self, token: str) -> str:
        claims = _decode(
            token,
            self.public_pem,
            algorithms=[LOCAL_ALGORITHM],
            issuer=self.issuer,
            audience=self.audience,
            leeway=self.leeway,
            username_claim="sub",
        )
        return _claim(claims, "sub")

    def close(self) -> None:
        return None


# --- OIDC -------------------------------------------------------------------------------------


class OidcVerifier:
    """Checks tokens against the provider's JWKS, refetched when a token names an unknown key."""

    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        assert settings.oidc_issuer
        assert settings.oidc_audience
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.algorithms = list(settings.oidc_algorithms)
        self.username_claim = settings.oidc_username_claim
        self.leeway = settings.token_leeway_seconds
        self.min_refresh = settings.oidc_jwks_min_refresh_seconds
        self.require_access_token_type = settings.oidc_require_access_token_type
        self._jwks_url = settings.oidc_jwks_url
        self._client = client or httpx.Client(timeout=5.0)
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def username_of(self, token: str) -> str:
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError as error:
            raise NotAuthenticated(
                "The bearer token is malformed.", slug="invalid-token"
            ) from error
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise NotAuthenticated("The bearer token is malformed.", slug="invalid-token")
        # RFC 9068: an access token says so; an ID token for the same audience is not one.
        typ = str(header.get("typ", "")).lower()
        if self.require_access_token_type and typ not in ("at+jwt", "application/at+jwt"):
            raise NotAuthenticated(
                "The bearer token is not an access token (typ at+jwt).", slug="invalid-token"
            )
        key = self._key(kid)
        claims = _decode(
            token,
            key,
            algorithms=self.algorithms,
            issuer=self.issuer,
            audience=self.audience,
            leeway=self.leeway,
            username_claim=self.username_claim,
        )
        return _claim(claims, self.username_claim)

    def close(self) -> None:
        self._client.close()

    def _key(self, kid: str | None) -> dict[str, Any]:
        with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at >= self.min_refresh:
                self._refresh()
            key = self._keys.get(kid) if kid else _only(self._keys)
        if key is None:
            raise NotAuthenticated(
                "The bearer token is signed by a key the identity provider does not publish.",
                slug="invalid-token",
            )
        return key

    def _refresh(self) -> None:
        # Counted even when it fails: an unreachable provider is asked again only after the
        # minimum interval, so unknown key ids cannot make every request wait on the network.
        self._fetched_at = time.monotonic()
        try:
            url = self._jwks_url or self._discover_jwks_url()
            response = self._client.get(url)
            response.raise_for_status()
            keys = response.json()["keys"]
        except (httpx.HTTPError, KeyError, ValueError) as error:
            log.warning("could not fetch the identity provider's keys: %s", type(error).__name__)
            raise NotAuthenticated(
                "The identity provider cannot be reached to check the token; try again shortly.",
                slug="identity-provider-unavailable",
            ) from error
        self._keys = {k["kid"]: k for k in keys if k.get("use", "sig") == "sig" and "kid" in k}

    def _discover_jwks_url(self) -> str:
        config_url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        response = self._client.get(config_url)
        response.raise_for_status()
        self._jwks_url = str(response.json()["jwks_uri"])
        return self._jwks_url


def _only(keys: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    return next(iter(keys.values())) if len(keys) == 1 else None


def _claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise NotAuthenticated(
            f"The bearer token carries no '{name}' claim naming the account.", slug="invalid-token"
        )
    return value


def make_verifier(settings: Settings) -> TokenVerifier:
    if settings.oidc_enabled:
        return OidcVerifier(settings)
    public_path = settings.keys_dir / PUBLIC_KEY_FILE
    if not public_path.exists():
        raise RuntimeError(
            f"No local token key in {settings.keys_dir}: run 'cenomed init' first "
            "(or configure CENOMED_OIDC_ISSUER)."
        )
    return LocalVerifier(
        public_pem=_read_key(public_path).decode(),
        issuer=settings.local_issuer,
        audience=settings.local_audience,
        leeway=settings.token_leeway_seconds,
    )


# --- the dependency ---------------------------------------------------------------------------

_bearer = HTTPBearer(
    auto_error=False, description="A token from 'cenomed token' or the OIDC provider"
)


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: DbSession,
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated(
            "Send a bearer token in the Authorization header.", slug="missing-token"
        )
    limiter: AuthFailureLimiter = request.app.state.auth_limiter
    client = request.client.host if request.client else "unknown"
    busy = (
        "Too many failed authentications from your address; wait a minute and try again "
        "with a valid token."
    )
    with limiter.attempt(client, busy) as attempt:
        verifier: TokenVerifier = request.app.state.token_verifier
        try:
            username = verifier.username_of(credentials.credentials)
        except NotAuthenticated as refusal:
            attempt.fail()
            if refusal.username:
                _name_refused_actor(request, session, refusal.username)
            raise
        settings: Settings = request.app.state.settings
        principal = load_principal(session, username, charter_version=settings.charter_version)
        if principal is None:
            attempt.fail()
            _name_refused_actor(request, session, username)
            raise NotAuthenticated(
                "This account is unknown or deactivated; ask your administrator.",
                slug="account-inactive",
            )
    request.state.audit_actor = Actor.of(principal)
    return principal


def _name_refused_actor(request: Request, session: Session, username: str) -> None:
    """A refused token that names a known account: the refusal is logged against it (R23)."""
    user = directory_repository.get_user_by_username(session, username)
    if user is not None:
        request.state.audit_actor = Actor(user.id, user.role, user.organisation)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
