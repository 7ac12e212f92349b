"""The production web sign-in: authorization code with PKCE against a real OpenID Provider.

The provider is the certified ``oidc-provider`` (tests/oidc_provider/server.mjs) with a web
client; its development interactions (a login form taking any account id, then a consent
form) are filled in over plain HTTP, as a browser would. The service is the real application
in a TestClient whose cookie jar plays the browser's: on the provider's redirect back, the
SameSite=Strict session cookie is withheld, as a browser withholds it on a cross-site return.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import time
from base64 import urlsafe_b64encode
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from sqlalchemy import select, update

from app.config import Settings
from app.directory import service as directory
from app.main import create_app
from app.web import oidc
from app.web.models import WebSession
from tests.audit.log import events, head
from tests.conftest import World, make_world
from tests.test_oidc import RESOURCE, Provider, _free_port

CLIENT_ID = "cenomed-web"
CLIENT_SECRET = "web-client-secret-0123456789abcdef0123456789"  # noqa: S105 (the tests' own)
SERVICE = "http://testserver"
REDIRECT_URI = f"{SERVICE}/connexion/retour"
_FORM = re.compile(r'<form[^>]*action="([^"]+)"')
_PROMPT = re.compile(r'name="prompt" value="(\w+)"')
_REFRESH = re.compile(r'<meta http-equiv="refresh" content="0;url=([^"]+)">')
_LINK = re.compile(r'<a href="([^"]+)">Continuer vers CENOMED</a>')


@pytest.fixture(scope="module")
def web_provider() -> Iterator[Provider]:
    web_client = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [REDIRECT_URI],
    }
    running = Provider(_free_port(), clients=[web_client])
    running.start()
    yield running
    running.stop()


@pytest.fixture
def oidc_world(web_provider: Provider, settings: Any, db: Any) -> Iterator[World]:
    oidc_settings = settings.model_copy(
        update={
            "oidc_issuer": web_provider.issuer,
            "oidc_audience": RESOURCE,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "oidc_jwks_min_refresh_seconds": 0.0,
        }
    )
    with TestClient(create_app(oidc_settings), raise_server_exceptions=False) as client:
        yield make_world(client, oidc_settings, db)


@pytest.fixture
def browser(oidc_world: World) -> Iterator[Callable[[], Visitor]]:
    """Opens browsers on the service (closed at the end of the test)."""
    opened: list[Visitor] = []

    def open_one() -> Visitor:
        opened.append(Visitor(TestClient(oidc_world.client.app, raise_server_exceptions=False)))
        return opened[-1]

    yield open_one
    for visitor in opened:
        visitor.close()


@dataclass
class Visitor:
    """One browser: its cookies at the service and at the provider."""

    service: TestClient
    provider: httpx.Client = field(default_factory=httpx.Client)
    started: Any = None

    def close(self) -> None:
        self.provider.close()
        self.service.close()

    def start(self, suite: str | None = None) -> str:
        """The provider's authorization URL the service sends the browser to."""
        query = "?" + urlencode({"suite": suite}) if suite is not None else ""
        self.started = self.service.get("/connexion/oidc" + query, follow_redirects=False)
        assert self.started.status_code == 303, self.started.text
        return str(self.started.headers["location"])

    def authenticate(self, url: str, login: str, *, abort: bool = False) -> str:
        """Signs in at the provider as ``login`` (consenting), or gives up at its login form;
        the URL of this service the provider sends the browser back to."""
        response = self.provider.get(url)
        for _ in range(10):
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                if location.startswith(SERVICE):
                    return location
                response = self.provider.get(location)
                continue
            assert response.status_code == 200, response.text
            if abort:
                uid = urlsplit(str(response.url)).path.rsplit("/", 1)[-1]
                response = self.provider.get(
                    urljoin(str(response.url), f"/interaction/{uid}/abort")
                )
                continue
            action = html.unescape(_FORM.search(response.text).group(1))  # type: ignore[union-attr]
            prompt = _PROMPT.search(response.text).group(1)  # type: ignore[union-attr]
            form = {"prompt": prompt} | ({"login": login} if prompt == "login" else {})
            response = self.provider.post(urljoin(str(response.url), action), data=form)
        raise AssertionError("the provider never sent the browser back")

    def come_back(self, url: str) -> Any:
        """The provider's redirect back, as a browser makes it: a cross-site navigation, so
        the SameSite=Strict session cookie stays home (the Lax attempt cookie goes)."""
        jar = self.service.cookies.jar
        strict = [cookie for cookie in jar if cookie.name == "cenomed_session"]
        for cookie in strict:
            jar.clear(cookie.domain, cookie.path, cookie.name)
        response = self.service.get(url.removeprefix(SERVICE), follow_redirects=False)
        if not any(cookie.name == "cenomed_session" for cookie in jar):
            for cookie in strict:  # a refusal: the browser still has its anonymous session
                jar.set_cookie(cookie)
        return response

    def sign_in(self, login: str, suite: str | None = None) -> Any:
        return self.come_back(self.authenticate(self.start(suite), login))

    def stored_attempt(self, world: World) -> dict[str, Any]:
        with world.db() as session:
            [text] = session.scalars(
                select(WebSession.sign_in).where(WebSession.sign_in.is_not(None))
            ).all()
        return dict(json.loads(text or "{}"))

    def change_attempt(self, world: World, **changes: Any) -> None:
        attempt = self.stored_attempt(world) | changes
        with world.db() as session:
            session.execute(
                update(WebSession)
                .where(WebSession.sign_in.is_not(None))
                .values(sign_in=json.dumps(attempt))
            )


def _signed_in_sessions(world: World) -> list[int]:
    with world.db() as session:
        rows = session.scalars(select(WebSession.user_id).where(WebSession.user_id.is_not(None)))
        return [int(user_id) for user_id in rows]


def _set_cookies(response: Any) -> dict[str, str]:
    return {value.split("=", 1)[0]: value for value in response.headers.get_list("set-cookie")}


def _refused_with_nothing_written(world: World, response: Any, status: int, before: int) -> None:
    assert response.status_code == status, response.text
    assert '<html lang="fr">' in response.text
    assert 'role="alert"' in response.text
    assert "Se connecter avec le compte de mon institution" in response.text  # to try again
    assert _signed_in_sessions(world) == []
    assert events(world, before) == []
    # The attempt is used up and its cookie deleted.
    assert "Max-Age=0" in _set_cookies(response)["cenomed_oidc"]


def test_signing_in_through_the_provider_lands_on_my_cases_as_the_directory_user(
    oidc_world: World, browser: Callable[[], Visitor], web_provider: Provider
) -> None:
    visitor = browser()
    sign_in_page = visitor.service.get("/connexion")
    assert 'href="/connexion/oidc?suite=' in sign_in_page.text
    assert 'name="password"' not in sign_in_page.text  # OIDC mode: no local password
    anonymous = visitor.service.cookies.get("cenomed_session")

    url = visitor.start()
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == web_provider.issuer
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["scope"] == "openid"
    assert query["code_challenge_method"] == "S256"
    assert "code_verifier" not in query
    # The attempt is kept server-side, in the anonymous session: the challenge is its
    # verifier's SHA-256, and the state and nonce are the ones sent.
    attempt = visitor.stored_attempt(oidc_world)
    assert (attempt["state"], attempt["nonce"]) == (query["state"], query["nonce"])
    digest = hashlib.sha256(attempt["verifier"].encode()).digest()
    assert urlsafe_b64encode(digest).decode().rstrip("=") == query["code_challenge"]
    attempt_cookie = _set_cookies(visitor.started)["cenomed_oidc"]
    for attribute in ("HttpOnly", "SameSite=lax", "Path=/connexion/retour", "Max-Age=600"):
        assert attribute in attempt_cookie
    assert visitor.started.headers["cache-control"] == "no-store"

    before = head(oidc_world)
    response = visitor.come_back(visitor.authenticate(url, "coordinator"))
    assert response.status_code == 200, response.text
    assert "<script" not in response.text
    [target] = _REFRESH.findall(response.text)
    assert target == "/"
    assert 'href="/"' in response.text
    cookies = _set_cookies(response)
    assert "SameSite=strict" in cookies["cenomed_session"]
    assert "HttpOnly" in cookies["cenomed_session"]
    assert "Max-Age=0" in cookies["cenomed_oidc"]
    signed = visitor.service.cookies.get("cenomed_session")
    assert signed
    assert signed != anonymous
    # The anonymous session is gone (no fixation); one session, the directory's user's.
    assert _signed_in_sessions(oidc_world) == [oidc_world.users["coordinator"]]
    with oidc_world.db() as session:
        assert session.scalars(select(WebSession)).all()[0].sign_in is None
    [event] = events(oidc_world, before)
    assert (event["action"], event["outcome"]) == ("sign_in", "allowed")
    assert event["actor_id"] == oidc_world.users["coordinator"]
    assert event["actor_role"] == "coordinator"

    # The page's own navigation is same-site: the Strict cookie goes, and the directory's
    # account (its role and cells, not the provider's) is signed in.
    home = visitor.service.get(target, follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/a-faire")
    cases = visitor.service.get("/a-faire", follow_redirects=False)
    assert cases.status_code == 200, cases.text
    assert "coordinator" in cases.text
    assert "Se déconnecter" in html.unescape(cases.text)


@pytest.mark.parametrize(
    ("suite", "landing"),
    [
        ("/charte", "/charte"),
        ("/reunions?x=1", "/reunions?x=1"),
        ("//elsewhere.example/x", "/"),
        ("https://x.example", "/"),
        # Browsers drop tabs and line breaks and read a backslash as a slash: each of these
        # went to another origin from the meta refresh.
        ("/\t/elsewhere.example", "/"),
        ("/\n/elsewhere.example", "/"),
        ("/\\elsewhere.example", "/"),
    ],
)
def test_the_next_page_is_kept_and_is_always_a_path_of_this_site(
    oidc_world: World, browser: Callable[[], Visitor], suite: str, landing: str
) -> None:
    response = browser().sign_in("police", suite)
    assert response.status_code == 200, response.text
    assert [html.unescape(url) for url in _REFRESH.findall(response.text)] == [landing]
    assert [html.unescape(url) for url in _LINK.findall(response.text)] == [landing]


def test_a_return_address_altered_in_the_stored_attempt_stays_on_this_site(
    oidc_world: World, browser: Callable[[], Visitor]
) -> None:
    visitor = browser()
    url = visitor.authenticate(visitor.start("/reunions"), "police")
    visitor.change_attempt(oidc_world, next_page="/\t/elsewhere.example")
    response = visitor.come_back(url)
    assert response.status_code == 200, response.text
    assert _REFRESH.findall(response.text) == ["/"]


def test_a_tampered_state_is_refused_and_the_attempt_is_used_up(
    oidc_world: World, browser: Callable[[], Visitor]
) -> None:
    visitor = browser()
    back = visitor.authenticate(visitor.start(), "coordinator")
    state = parse_qs(urlsplit(back).query)["state"][0]
    before = head(oidc_world)
    response = visitor.come_back(back.replace(state, state[:-2] + "xx"))
    _refused_with_nothing_written(oidc_world, response, 400, before)
    assert "ne correspond pas" in response.text
    # The genuine return after that finds no attempt any more.
    response = visitor.come_back(back)
    assert response.status_code == 400
    assert _signed_in_sessions(oidc_world) == []


def test_a_mismatched_pkce_verifier_is_refused_by_the_provider(
    oidc_world: World, browser: Callable[[], Visitor]
) -> None:
    visitor = browser()
    url = visitor.start()
    visitor.change_attempt(oidc_world, verifier="another-verifier-" + "v" * 40)
    back = visitor.authenticate(url, "coordinator")
    before = head(oidc_world)
    response = visitor.come_back(back)
    _refused_with_nothing_written(oidc_world, response, 401, before)
    assert "n'a pas confirmé la connexion" in html.unescape(response.text)


def test_the_provider_requires_the_pkce_challenge_and_verifier(
    oidc_world: World, browser: Callable[[], Visitor], web_provider: Provider
) -> None:
    visitor = browser()
    url = visitor.start()
    # Without the challenge, the provider refuses the authorization request itself.
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    del query["code_challenge"], query["code_challenge_method"]
    bare = browser().provider.get(f"{web_provider.issuer}{parts.path}?{urlencode(query)}")
    assert bare.is_redirect
    refused = parse_qs(urlsplit(bare.headers["location"]).query)
    assert refused["error"] == ["invalid_request"]
    # And a code is not exchanged without its verifier.
    back = visitor.authenticate(url, "coordinator")
    code = parse_qs(urlsplit(back).query)["code"][0]
    exchange = httpx.post(
        f"{web_provider.issuer}/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert exchange.status_code == 400
    assert exchange.json()["error"] == "invalid_grant"


def test_a_mismatched_nonce_is_refused(oidc_world: World, browser: Callable[[], Visitor]) -> None:
    visitor = browser()
    url = visitor.start()
    visitor.change_attempt(oidc_world, nonce="another-nonce-" + "n" * 40)
    back = visitor.authenticate(url, "coordinator")
    before = head(oidc_world)
    response = visitor.come_back(back)
    _refused_with_nothing_written(oidc_world, response, 401, before)
    assert "n'a pas pu être vérifiée" in html.unescape(response.text)


def test_an_account_unknown_to_the_directory_is_refused(
    oidc_world: World, browser: Callable[[], Visitor]
) -> None:
    before = head(oidc_world)
    response = browser().sign_in("nobody-here")
    _refused_with_nothing_written(oidc_world, response, 401, before)
    assert "aucun compte CENOMED" in response.text


def test_a_deactivated_account_is_refused_and_its_refusal_logged(
    oidc_world: World, browser: Callable[[], Visitor]
) -> None:
    with oidc_world.db() as session:
        directory.deactivate_user(session, username="police")
    before = head(oidc_world)
    response = browser().sign_in("police")
    assert response.status_code == 401, response.text
    assert "désactivé" in html.unescape(response.text)
    assert _signed_in_sessions(oidc_world) == []
    [event] = events(oidc_world, before)
    assert (event["action"], event["outcome"]) == ("sign_in", "denied")
    assert event["actor_id"] == oidc_world.users["police"]
    assert event["detail"] == "account-inactive"


def test_a_refusal_at_the_provider_is_a_clear_page(
    oidc_world: World, browser: Callable[[], Visitor]
) -> None:
    visitor = browser()
    back = visitor.authenticate(visitor.start(), "coordinator", abort=True)
    assert parse_qs(urlsplit(back).query)["error"] == ["access_denied"]
    before = head(oidc_world)
    response = visitor.come_back(back)
    _refused_with_nothing_written(oidc_world, response, 401, before)
    assert "n'a pas autorisé la connexion" in html.unescape(response.text)


def test_a_return_in_another_browser_or_too_late_is_refused(
    oidc_world: World, browser: Callable[[], Visitor]
) -> None:
    visitor = browser()
    back = visitor.authenticate(visitor.start(), "coordinator")
    before = head(oidc_world)
    elsewhere = browser().come_back(back)
    assert elsewhere.status_code == 400
    assert "dix minutes" in elsewhere.text
    # Ten minutes later, the attempt is refused even if the browser kept its cookie.
    visitor.change_attempt(
        oidc_world, started_at=visitor.stored_attempt(oidc_world)["started_at"] - 601
    )
    _refused_with_nothing_written(oidc_world, visitor.come_back(back), 400, before)


def test_over_tls_the_attempt_cookie_is_secure_and_the_return_address_configurable(
    oidc_world: World,
) -> None:
    public = "https://cenomed.example.org/connexion/retour"
    settings = oidc_world.settings.model_copy(update={"oidc_web_redirect_url": public})
    with TestClient(
        create_app(settings), base_url="https://testserver", raise_server_exceptions=False
    ) as client:
        response = client.get("/connexion/oidc", follow_redirects=False)
    assert response.status_code == 303
    assert parse_qs(urlsplit(response.headers["location"]).query)["redirect_uri"] == [public]
    cookies = _set_cookies(response)
    assert "Secure" in cookies["__Secure-cenomed_oidc"]
    assert "Path=/connexion/retour" in cookies["__Secure-cenomed_oidc"]
    assert "Secure" in cookies["__Host-cenomed_session"]


def test_without_a_client_the_provider_sign_in_is_not_offered(oidc_world: World) -> None:
    settings = oidc_world.settings.model_copy(update={"oidc_client_id": None})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/connexion/oidc", follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/connexion")
        assert client.get("/connexion/retour").status_code == 400


def test_new_provider_keys_are_fetched_when_an_id_token_names_them(
    oidc_world: World, browser: Callable[[], Visitor], web_provider: Provider
) -> None:
    assert browser().sign_in("police").status_code == 200  # the keys are now cached
    web_provider.stop()
    web_provider.start()  # a new signing key, with a new kid
    response = browser().sign_in("police")
    assert response.status_code == 200, response.text


def test_an_unreachable_provider_is_a_page_saying_to_try_later(oidc_world: World) -> None:
    settings = oidc_world.settings.model_copy(
        update={"oidc_issuer": f"http://127.0.0.1:{_free_port()}"}
    )
    before = head(oidc_world)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/connexion/oidc", follow_redirects=False)
    assert response.status_code == 503
    assert "ne répond pas" in html.unescape(response.text)
    assert events(oidc_world, before) == []


# --- the ID token's checks, one by one (tokens the real provider would never sign) ----------

ISSUER = "https://idp.example.org"
_KEY = RSAKey.generate_key(2048, parameters={"kid": "signing"})


class _Keys:
    """The provider's published keys, and nothing else of it."""

    def keys(self, *, unknown_kid: bool = False) -> KeySet:
        return KeySet([_KEY])


def _claims_of(changes: dict[str, Any], *, key: Any = _KEY, alg: str = "RS256") -> Any:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "coordinator",
        "iat": now,
        "exp": now + 300,
        "nonce": "the-nonce",
    } | changes
    claims = {name: value for name, value in claims.items() if value is not None}
    token = jwt.encode({"alg": alg, "kid": "signing"}, claims, key, algorithms=[alg])
    settings = Settings(oidc_issuer=ISSUER, oidc_audience=RESOURCE, oidc_client_id=CLIENT_ID)
    attempt = oidc.Attempt("state", "the-nonce", "verifier", "/dossiers", time.time())
    return oidc._id_token_claims(_Keys(), settings, {"id_token": token}, attempt)  # type: ignore[arg-type]


def test_a_well_formed_id_token_gives_its_claims() -> None:
    assert _claims_of({})["sub"] == "coordinator"


@pytest.mark.parametrize(
    "changes",
    [
        {"nonce": None},
        {"nonce": "another-nonce"},
        {"aud": "another-client"},
        {"aud": None},
        {"iss": "https://elsewhere.example.org"},
        {"exp": int(time.time()) - 60},
        {"exp": None},
        {"iat": None},
    ],
    ids=lambda changes: ",".join(
        f"{k}={'missing' if v is None else 'wrong'}" for k, v in changes.items()
    ),
)
def test_an_id_token_with_a_wrong_or_missing_claim_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(oidc.SignInFailed) as refused:
        _claims_of(changes)
    assert (refused.value.status, refused.value.slug) == (401, "id-token-invalid")


def test_an_id_token_signed_otherwise_is_refused() -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": "signing"})
    with pytest.raises(oidc.SignInFailed):
        _claims_of({}, key=other)  # the published kid, another key
    with pytest.raises(oidc.SignInFailed):
        _claims_of({}, key=OctKey.generate_key(256), alg="HS256")  # a shared secret
