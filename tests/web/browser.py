"""A browser for the page tests: its own cookies, the CSRF token of the last page it read."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from app.web import signin
from tests.conftest import World

PASSWORD = "correct horse battery staple"  # noqa: S105 (the tests' invented password)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def set_password(world: World, username: str, password: str = PASSWORD) -> None:
    with world.db() as session:
        signin.set_password(session, username=username, password=password)


@dataclass
class Browser:
    client: TestClient
    csrf: str = ""
    last: Any = field(default=None, repr=False)

    @classmethod
    def open(cls, world: World) -> Browser:
        client = TestClient(world.client.app, raise_server_exceptions=False)
        return cls(client)

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, follow_redirects=False, **kwargs)
        self._remember(response)
        return response

    def follow(self, path: str) -> Any:
        """GET, following redirects (as a browser would)."""
        response = self.client.get(path, follow_redirects=True)
        self._remember(response)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """A form post carrying the last page's CSRF token (unless ``data`` sets its own)."""
        body = {"csrf": self.csrf, **(data or {})}
        response = self.client.post(path, data=body, follow_redirects=False, **kwargs)
        self._remember(response)
        return response

    def confirm(self, path: str, data: dict[str, Any] | None = None) -> Any:
        """An irreversible step: the first submit shows what will happen (a page asking for
        confirmation), the second, explicit one takes the step."""
        shown = self.post(path, data)
        assert shown.status_code == 200, shown.text[:300]
        assert 'name="confirme" value="oui"' in shown.text
        return self.post(path, {**(data or {}), "confirme": "oui"})

    def sign_in(self, username: str, password: str = PASSWORD) -> Any:
        self.get("/connexion")
        response = self.post("/connexion", {"username": username, "password": password})
        assert response.status_code == 303, response.text
        return response

    def _remember(self, response: Any) -> None:
        self.last = response
        found = _CSRF.search(response.text) if response.text else None
        if found:
            self.csrf = html.unescape(found.group(1))


def title_of(response: Any) -> str:
    found = _TITLE.search(response.text)
    return html.unescape(found.group(1)) if found else ""


def signed_in(world: World, username: str) -> Browser:
    set_password(world, username)
    browser = Browser.open(world)
    browser.sign_in(username)
    return browser
