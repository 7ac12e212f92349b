"""HTTP hygiene on every route: security headers, no caching, a bounded body, CORS closed by
default, failed authentications limited per client address."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.cases.models import Case
from app.config import Settings
from app.main import create_app
from tests.conftest import World
from tests.scenario import case_body, problem


@pytest.mark.parametrize(
    ("path", "auth", "status"),
    [
        ("/api/v1/health", False, 200),
        ("/api/v1/me", True, 200),
        ("/api/v1/cases/nope", True, 422),
        ("/api/v1/me", False, 401),
        ("/nowhere", False, 404),
    ],
)
def test_every_response_carries_the_security_headers(
    world: World, path: str, auth: bool, status: int
) -> None:
    headers = {"Authorization": f"Bearer {world.token('coordinator')}"} if auth else {}
    response = world.client.get(path, headers=headers)
    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    # The pages keep their origin on their own form posts (the CSRF check needs it).
    referrer = "no-referrer" if path.startswith("/api/") else "same-origin"
    assert response.headers["referrer-policy"] == referrer
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers  # plain HTTP here
    assert len(response.headers["x-request-id"]) == 32


class _Page(HTMLParser):
    """The addresses a page loads (every src and href), its inline scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []
        self.inline: list[str] = []
        self._script: bool = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.addresses += [v for k, v in attrs if k in ("src", "href") and v]
        if "style" in values or tag == "style" or any(k.startswith("on") for k in values):
            self.inline.append(tag)
        self._script = tag == "script" and not values.get("src")

    def handle_endtag(self, tag: str) -> None:
        self._script = False

    def handle_data(self, data: str) -> None:
        if self._script and data.strip():
            self.inline.append("script")


def _directives(csp: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}


def test_the_documentation_is_served_offline_under_the_csp(world: World) -> None:
    """/docs (where tokens are pasted) loads nothing from another origin, runs no inline
    script, and has the pages' Content-Security-Policy (it had none, and a CDN's script)."""
    response = world.client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    csp = _directives(response.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no host
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert "unsafe-eval" not in response.headers["content-security-policy"]
    for directive, sources in csp.items():
        for source in sources:
            assert source in ("'self'", "'none'", "data:"), (directive, source)
    page = _Page()
    page.feed(response.text)
    assert page.inline == []
    assert page.addresses
    for address in page.addresses:
        # This origin's paths only: no http(s):// address, no //host/ either.
        assert re.fullmatch(r"/[^/].*", address), address
        assert world.client.get(address).status_code == 200, address


def test_the_documentation_assets_load_nothing_from_elsewhere(world: World) -> None:
    """The style sheet served with /docs imports no font or sheet and its images are data:
    URLs; the scripts name no CDN to load from."""
    page = _Page()
    page.feed(world.client.get("/docs").text)
    sheets = [a for a in page.addresses if a.endswith(".css")]
    scripts = [a for a in page.addresses if a.endswith(".js")]
    assert sheets
    assert scripts
    for sheet in sheets:
        served = world.client.get(sheet)
        assert served.status_code == 200, sheet
        text = served.text
        assert "@import" not in text
        assert "@font-face" not in text
        assert {u.strip("'\"")[:5] for u in re.findall(r"url\(([^)]*)\)", text)} <= {"data:"}
    for script in scripts:
        served = world.client.get(script)
        assert served.status_code == 200, script
        text = served.text
        assert not re.search(r"(cdn|unpkg|jsdelivr|fonts\.g)[a-z.]*\.(com|net|io)", text), script


def test_redoc_is_gone_and_the_openapi_document_stays(world: World) -> None:
    """ReDoc needs inline styles and a blob: worker: it is not served under this CSP."""
    assert world.client.get("/redoc").status_code == 404
    document = world.client.get("/openapi.json")
    assert document.status_code == 200
    assert "/api/v1/me" in document.json()["paths"]
    assert "default-src 'none'" in document.headers["content-security-policy"]


def test_cors_is_closed_unless_origins_are_configured(world: World, settings: Settings) -> None:
    preflight = {
        "Origin": "https://elsewhere.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    closed = world.client.options("/api/v1/cases", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    opened = settings.model_copy(update={"cors_allowed_origins": ["https://app.example"]})
    with TestClient(create_app(opened)) as client:
        allowed = client.options(
            "/api/v1/cases", headers=preflight | {"Origin": "https://app.example"}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        refused = client.options("/api/v1/cases", headers=preflight)
        assert "access-control-allow-origin" not in refused.headers


def _cases(world: World) -> int:
    with world.db() as session:
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def test_a_body_too_large_is_refused_before_anything_is_read(world: World) -> None:
    body = case_body(world.cell.id, facts="x" * 1000)
    limit = world.settings.max_body_bytes
    padded = {**body, "padding": "y" * limit}
    declared = world.as_("police").post("/cases", padded)
    assert problem(declared, 413)["type"].endswith("body-too-large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes are counted as they come
        yield b'{"cell_id": 1, "facts": "'
        for _ in range(limit // 1024 + 2):
            yield b"z" * 1024
        yield b'"}'

    streamed = world.client.post(
        "/api/v1/cases",
        content=chunks(),
        headers={
            "Authorization": f"Bearer {world.token('police')}",
            "Content-Type": "application/json",
        },
    )
    assert problem(streamed, 413)["type"].endswith("body-too-large")

    def valid_then_blank() -> Iterator[bytes]:  # a complete, valid case first: still refused
        yield json.dumps(body).encode()
        for _ in range(limit // 1024 + 2):
            yield b" " * 1024

    trailing = world.client.post(
        "/api/v1/cases",
        content=valid_then_blank(),
        headers={
            "Authorization": f"Bearer {world.token('police')}",
            "Content-Type": "application/json",
        },
    )
    assert problem(trailing, 413)["type"].endswith("body-too-large")
    assert _cases(world) == 0


def test_failed_authentications_are_limited_per_address(world: World, settings: Settings) -> None:
    strict = settings.model_copy(update={"auth_failures_per_minute": 3})
    with TestClient(create_app(strict), raise_server_exceptions=False) as client:
        good = {"Authorization": f"Bearer {world.token('coordinator')}"}
        for _ in range(3):
            assert (
                client.get("/api/v1/me", headers={"Authorization": "Bearer a.b.c"}).status_code
                == 401
            )
        limited = client.get("/api/v1/me", headers=good)
        body = problem(limited, 429)
        assert body["type"].endswith("too-many-authentication-failures")
        assert 1 <= int(limited.headers["retry-after"]) <= 61
    # Another process (or the window gone by) starts afresh: a valid token works.
    with TestClient(create_app(strict)) as client:
        assert client.get("/api/v1/me", headers=good).status_code == 200
