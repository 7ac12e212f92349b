"""The production web sign-in: OpenID Connect, authorization code flow with PKCE (issue 9).

``GET /connexion/oidc`` draws a state, a nonce and a PKCE verifier, keeps them in the visitor's
anonymous session row (``WebSession.sign_in``) and sends the browser to the provider's
authorization endpoint (found by discovery) with the S256 challenge of the verifier.

``GET /connexion/retour`` is where the provider sends the browser back. The attempt is used
once, whatever follows: the state must be the stored one; the code is exchanged at the token
endpoint with the verifier (client_secret_basic); the ID token's signature (the provider's
JWKS, algorithms pinned), ``iss``, ``aud`` (this client), ``exp`` and ``nonce`` are checked;
its ``oidc_username_claim`` must name an active account of the directory, whose role,
organisation and cells are the directory's (never the provider's claims). Then the signed-in
session replaces the anonymous one (no fixation) and the sign-in goes to the audit log.
Every failure is a French page saying what to do; a known account's failure is an audit
refusal, and nothing else is written.

The session cookie is ``SameSite=Strict``: a browser does not send it on the provider's
redirect back (a navigation that started on another site). The attempt's anonymous session is
therefore found through a second cookie, ``SameSite=Lax`` and limited to the return's path,
that lives for the attempt only.

The OAuth and OpenID pieces are authlib's (tokens, the PKCE challenge, the request encodings,
the ID token's claims) and joserfc's, the JOSE library authlib itself now verifies ID tokens
with; HTTP goes through the service's own httpx, as for the API's JWKS (authlib's httpx client
wants the newer httpx2 package and warns without it).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast

import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_grant_uri,
    prepare_token_request,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet, KeySetSerialization

from app.audit import trail
from app.audit.context import audited_as
from app.audit.trail import Action, Actor
from app.config import CurrentSettings, Settings
from app.db import DbSession, utcnow
from app.directory import repository as directory
from app.directory.models import User
from app.http_hardening import AuthFailureLimiter
from app.web import sessions
from app.web.deps import CurrentVisit, cookie_name, set_session_cookie, timeouts
from app.web.pages import _sign_in_page
from app.web.rendering import page
from app.web.returns import LANDING, SIGN_IN, safe_return

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

START = SIGN_IN + "/oidc"
RETURN = SIGN_IN + "/retour"
# The attempt's cookie. Over TLS it is Secure with the __Secure- prefix: __Host- would need
# Path=/, and this cookie is for the return's path only.
ATTEMPT_COOKIE = "cenomed_oidc"
SECURE_ATTEMPT_COOKIE = "__Secure-cenomed_oidc"
# Long enough to type a password and a second factor at the provider; an attempt older than
# this is refused even if the browser kept its cookie.
ATTEMPT_SECONDS = 600
# The discovery document changes with the provider's configuration, rarely: fetched again
# after this long (the keys are fetched again whenever a token names an unknown one).
METADATA_SECONDS = 3600
PROVIDER_TIMEOUT_SECONDS = 5.0
_LONGEST_PARAMETER = 2048  # state, code, iss: anything longer is not the provider's

# What the visitor reads, by failure: what happened, and what to do.
_RETRY = "Recommencez depuis la page de connexion."
MESSAGES = {
    "sign-in-attempt-unknown": "Cette connexion n'a pas été commencée dans ce navigateur, ou "
    "elle a expiré (dix minutes). " + _RETRY,
    "sign-in-state-mismatch": "La réponse du fournisseur d'identité ne correspond pas à la "
    "connexion commencée dans ce navigateur ; elle a été refusée. " + _RETRY,
    "identity-provider-refused": "Le fournisseur d'identité n'a pas autorisé la connexion. "
    + _RETRY
    + " Si le refus persiste, contactez l'administrateur de votre compte.",
    "sign-in-code-refused": "Le fournisseur d'identité n'a pas confirmé la connexion. " + _RETRY,
    "id-token-invalid": "L'identité transmise par le fournisseur n'a pas pu être vérifiée. "
    + _RETRY
    + " Si cela se reproduit, prévenez l'administrateur du service.",
    "account-unknown": "Votre identité a bien été vérifiée, mais aucun compte CENOMED ne lui "
    "correspond. Demandez à l'administrateur du service de vous ouvrir un compte.",
    "account-inactive": "Votre compte CENOMED est désactivé. Adressez-vous à l'administrateur "
    "du service.",
    "identity-provider-unavailable": "Le fournisseur d'identité ne répond pas. Réessayez dans "
    "quelques minutes ; si le problème persiste, prévenez l'administrateur du service.",
}


class SignInFailed(Exception):
    """A refused return (or an unreachable provider): its status and its message's slug."""

    def __init__(self, status: int, slug: str) -> None:
        super().__init__(slug)
        self.status = status
        self.slug = slug


# --- the attempt ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One sign-in through the provider, kept server-side (JSON in ``WebSession.sign_in``)."""

    state: str
    nonce: str
    verifier: str  # PKCE: only its S256 hash leaves the service before the code exchange
    next_page: str
    started_at: float  # seconds since the epoch

    @classmethod
    def new(cls, next_page: str, now: datetime) -> Attempt:
        # 48 characters of 62: about 285 bits each; RFC 7636 wants 43 to 128 for the verifier.
        return cls(
            state=generate_token(48),
            nonce=generate_token(48),
            verifier=generate_token(64),
            next_page=next_page,
            started_at=now.timestamp(),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Attempt | None:
        try:
            data = json.loads(text)
            attempt = cls(**data)
        except (TypeError, ValueError):
            return None
        fields = (attempt.state, attempt.nonce, attempt.verifier, attempt.next_page)
        if not all(isinstance(value, str) and value for value in fields):
            return None
        if not isinstance(attempt.started_at, int | float):
            return None
        return attempt

    def expired(self, now: datetime) -> bool:
        return not 0 <= now.timestamp() - self.started_at < ATTEMPT_SECONDS


# --- the provider ---------------------------------------------------------------------------


class IdentityProvider:
    """The provider's discovery document and signing keys, fetched when needed and kept."""

    def __init__(self, issuer: str, *, min_key_refresh: float) -> None:
        self.issuer = issuer
        self.min_key_refresh = min_key_refresh
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = float("-inf")
        self._keys: KeySet | None = None
        self._keys_at = float("-inf")
        self._lock = threading.Lock()

    def endpoint(self, name: str) -> str:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata_at >= METADATA_SECONDS:
                self._metadata = self._discover()
                self._metadata_at = time.monotonic()
            value = self._metadata.get(name)
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            log.warning("the identity provider's discovery document has no %s", name)
            raise SignInFailed(503, "identity-provider-unavailable")
        return value

    def keys(self, *, unknown_kid: bool = False) -> KeySet:
        """The JWKS; fetched again for a token naming an unknown key (not more often than
        ``min_key_refresh``, so that made-up key ids cannot make every request wait)."""
        with self._lock:
            stale = unknown_kid and time.monotonic() - self._keys_at >= self.min_key_refresh
            cached = self._keys
        if cached is not None and not stale:
            return cached
        url = self.endpoint("jwks_uri")
        with self._lock:
            self._keys_at = time.monotonic()
        try:
            keys = KeySet.import_key_set(cast(KeySetSerialization, self._get_json(url)))
        except (JoseError, ValueError, KeyError, TypeError) as error:
            log.warning("the identity provider's keys are unreadable: %s", type(error).__name__)
            raise SignInFailed(503, "identity-provider-unavailable") from error
        with self._lock:
            self._keys = keys
        return keys

    def _discover(self) -> dict[str, Any]:
        metadata = self._get_json(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        # OpenID Connect Discovery 1.0, section 4.3: the document is the configured issuer's.
        if metadata.get("issuer") != self.issuer:
            log.warning("the identity provider's discovery document names another issuer")
            raise SignInFailed(503, "identity-provider-unavailable")
        return metadata

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=PROVIDER_TIMEOUT_SECONDS)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            log.warning("could not read the identity provider: %s", type(error).__name__)
            raise SignInFailed(503, "identity-provider-unavailable") from error
        if not isinstance(body, dict):
            raise SignInFailed(503, "identity-provider-unavailable")
        return body


_providers_lock = threading.Lock()


def _provider(request: Request, settings: Settings) -> IdentityProvider:
    """The application's one cache of the provider (created on the first sign-in)."""
    assert settings.oidc_issuer
    with _providers_lock:
        found: IdentityProvider | None = getattr(request.app.state, "oidc_web_provider", None)
        if found is None:
            found = IdentityProvider(
                settings.oidc_issuer, min_key_refresh=settings.oidc_jwks_min_refresh_seconds
            )
            request.app.state.oidc_web_provider = found
    return found


def _configured(settings: Settings) -> bool:
    return bool(settings.oidc_enabled and settings.oidc_client_id)


def _redirect_uri(request: Request, settings: Settings) -> str:
    return settings.oidc_web_redirect_url or str(request.url.replace(path=RETURN, query=None))


# --- starting -------------------------------------------------------------------------------


@router.get(START, dependencies=[audited_as(Action.SIGN_IN)])
def start(
    request: Request,
    visit: CurrentVisit,
    session: DbSession,
    settings: CurrentSettings,
    suite: str | None = Query(default=None, max_length=2000),
) -> Response:
    if not _configured(settings):
        return RedirectResponse(SIGN_IN, status_code=303)
    if visit.principal is not None:
        return RedirectResponse(LANDING, status_code=303)
    try:
        endpoint = _provider(request, settings).endpoint("authorization_endpoint")
    except SignInFailed as failure:
        return _failure_page(request, session, settings, failure)
    now = utcnow()
    opened = None
    if visit.row is None:
        opened = sessions.open_session(session, user_id=None, now=now)
        row, token = opened.row, opened.token
    else:
        row, token = visit.row, request.cookies.get(cookie_name(request), "")
    attempt = Attempt.new(safe_return(suite), now)
    # A new attempt replaces an unfinished one: only the latest tab's return will succeed.
    row.sign_in = attempt.to_json()
    url = prepare_grant_uri(
        endpoint,
        settings.oidc_client_id,
        "code",
        redirect_uri=_redirect_uri(request, settings),
        scope=settings.oidc_web_scope,
        state=attempt.state,
        nonce=attempt.nonce,
        code_challenge=create_s256_code_challenge(attempt.verifier),
        code_challenge_method="S256",
    )
    response = RedirectResponse(url, status_code=303)
    response.headers["cache-control"] = "no-store"
    if opened is not None:
        set_session_cookie(request, response, token)
    _set_attempt_cookie(request, response, token)
    return response


# --- coming back ----------------------------------------------------------------------------


@router.get(RETURN, dependencies=[audited_as(Action.SIGN_IN)])
def finish(request: Request, session: DbSession, settings: CurrentSettings) -> Response:
    limiter: AuthFailureLimiter = request.app.state.auth_limiter
    client = request.client.host if request.client else "unknown"
    now = utcnow()
    token = request.cookies.get(_attempt_cookie_name(request), "")
    with limiter.attempt(client, "Too many failed sign-ins from this address.") as tried:
        found = (
            sessions.find(session, token, timeouts=timeouts(settings), now=now) if token else None
        )
        try:
            if not _configured(settings) or found is None or found.username is not None:
                raise SignInFailed(400, "sign-in-attempt-unknown")
            attempt = Attempt.from_json(found.row.sign_in or "")
            # Used once, whatever follows: a replayed or second return finds nothing.
            found.row.sign_in = None
            if attempt is None or attempt.expired(now):
                raise SignInFailed(400, "sign-in-attempt-unknown")
            user = _account(request, session, settings, attempt)
        except SignInFailed as failure:
            log.info("a web sign-in through the identity provider was refused: %s", failure.slug)
            tried.fail()
            response = _failure_page(request, session, settings, failure)
            _clear_attempt_cookie(request, response)
            return response
    opened = sessions.signed_in(
        session, previous=found.row, user_id=user.id, timeouts=timeouts(settings), now=now
    )
    trail.record(session, Actor(user.id, user.role, user.organisation), Action.SIGN_IN)
    # Not a redirect: this request came from the provider's site, and a browser treats a
    # redirect's target as part of that same cross-site navigation, so it would not send the
    # SameSite=Strict cookie just set, and /dossiers would ask to sign in again. The page's
    # own navigation (meta refresh, or the link) starts on this site: the cookie goes with it.
    response = page(request, "oidc_continue.html", {"next": safe_return(attempt.next_page)})
    set_session_cookie(request, response, opened.token)
    _clear_attempt_cookie(request, response)
    return response


def _account(request: Request, session: DbSession, settings: Settings, attempt: Attempt) -> User:
    """The directory's active account the provider vouches for, or SignInFailed."""
    query = request.query_params
    if any(len(value) > _LONGEST_PARAMETER for value in query.values()):
        raise SignInFailed(400, "sign-in-state-mismatch")
    state = query.get("state", "")
    if not secrets.compare_digest(state.encode(), attempt.state.encode()):
        raise SignInFailed(400, "sign-in-state-mismatch")
    # RFC 9207: a provider that names itself must be ours (a mix-up with another is refused).
    if "iss" in query and query["iss"] != settings.oidc_issuer:
        raise SignInFailed(400, "sign-in-state-mismatch")
    if "error" in query or not query.get("code"):
        raise SignInFailed(401, "identity-provider-refused")
    provider = _provider(request, settings)
    tokens = _exchange(provider, settings, query["code"], attempt, _redirect_uri(request, settings))
    claims = _id_token_claims(provider, settings, tokens, attempt)
    username = claims.get(settings.oidc_username_claim)
    if not isinstance(username, str) or not username:
        log.warning("the ID token has no string claim %s", settings.oidc_username_claim)
        raise SignInFailed(401, "id-token-invalid")
    user = directory.get_user_by_username(session, username)
    if user is None:
        raise SignInFailed(401, "account-unknown")
    if not user.active:
        trail.record_refusal(
            session,
            Actor(user.id, user.role, user.organisation),
            Action.SIGN_IN,
            status=401,
            slug="account-inactive",
            case_id=None,
        )
        raise SignInFailed(401, "account-inactive")
    return user


def _exchange(
    provider: IdentityProvider,
    settings: Settings,
    code: str,
    attempt: Attempt,
    redirect_uri: str,
) -> dict[str, Any]:
    """The token endpoint's answer to the code and the verifier (RFC 6749 4.1.3, RFC 7636)."""
    url = provider.endpoint("token_endpoint")
    body = prepare_token_request(
        "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=attempt.verifier
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    auth = ClientAuth(settings.oidc_client_id, settings.oidc_client_secret, "client_secret_basic")
    _, headers, body = auth.prepare("POST", url, headers, body)
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=PROVIDER_TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        log.warning("could not reach the identity provider: %s", type(error).__name__)
        raise SignInFailed(503, "identity-provider-unavailable") from error
    try:
        tokens = response.json()
    except ValueError:
        tokens = None
    if response.status_code != 200 or not isinstance(tokens, dict):
        # The OAuth error code only (invalid_grant, ...): never the description, which the
        # provider writes and which could repeat anything.
        error_code = tokens.get("error") if isinstance(tokens, dict) else None
        shown = error_code if isinstance(error_code, str) and error_code.isidentifier() else "?"
        log.warning("the token endpoint refused the code: %s %s", response.status_code, shown)
        raise SignInFailed(401, "sign-in-code-refused")
    return tokens


def _id_token_claims(
    provider: IdentityProvider, settings: Settings, tokens: dict[str, Any], attempt: Attempt
) -> dict[str, Any]:
    """The ID token's claims, once its signature, issuer, audience, expiry and nonce hold."""
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise SignInFailed(401, "id-token-invalid")
    try:
        try:
            decoded = jwt.decode(id_token, provider.keys(), algorithms=settings.oidc_algorithms)
        except InvalidKeyIdError:
            keys = provider.keys(unknown_kid=True)  # the provider rotated its keys
            decoded = jwt.decode(id_token, keys, algorithms=settings.oidc_algorithms)
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": settings.oidc_issuer},
                "aud": {"essential": True, "value": settings.oidc_client_id},
                "exp": {"essential": True},
                "nonce": {"essential": True, "value": attempt.nonce},
            },
            {
                "nonce": attempt.nonce,
                "client_id": settings.oidc_client_id,
                "access_token": tokens.get("access_token"),
            },
        )
        claims.validate(leeway=settings.token_leeway_seconds)
    except (JoseError, ValueError) as error:
        log.warning("the ID token was refused: %s", type(error).__name__)
        raise SignInFailed(401, "id-token-invalid") from error
    return dict(claims)


# --- the pages and the attempt's cookie -----------------------------------------------------


def _failure_page(
    request: Request, session: DbSession, settings: Settings, failure: SignInFailed
) -> HTMLResponse:
    """The sign-in page with what went wrong and what to do (its button starts again)."""
    return _sign_in_page(
        request,
        session,
        settings,
        error=MESSAGES.get(failure.slug, _RETRY),
        status_code=failure.status,
    )


def _attempt_cookie_name(request: Request) -> str:
    return SECURE_ATTEMPT_COOKIE if request.url.scheme == "https" else ATTEMPT_COOKIE


def _set_attempt_cookie(request: Request, response: Response, token: str) -> None:
    # Lax, not Strict: the provider's redirect back is a top-level GET from its site, which
    # carries Lax cookies. Its path keeps it off every other request of this site.
    response.set_cookie(
        _attempt_cookie_name(request),
        token,
        max_age=ATTEMPT_SECONDS,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
        path=RETURN,
    )


def _clear_attempt_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        _attempt_cookie_name(request),
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
        path=RETURN,
    )
