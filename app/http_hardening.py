"""What every HTTP response and request goes through, whatever the route.

* Security headers on every response, and ``Cache-Control: no-store`` unless a route says
  otherwise: responses carry nominative data that no cache may keep.
* A maximum body size, checked on the declared length and again on the bytes as they arrive
  (a chunked body cannot get round it): 413 before any parsing.
* Authentication failures are limited per client address (``limits``' moving window): after
  too many in a minute, that address gets 429 until the window moves, so tokens cannot be
  guessed at speed. The count is per worker process; behind several workers or machines, the
  limit is per worker (say so in the deployment, or give ``limits`` a shared storage).

CORS stays closed unless origins are configured (``CENOMED_CORS_ALLOWED_ORIGINS``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PROBLEM_JSON, TooManyRequests, problem

# Every response gets this policy unless its route set one (the pages, /docs: WEB_CSP).
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("cache-control", "no-store")
                headers.setdefault("content-security-policy", API_CSP)
                if secure:
                    headers.setdefault("strict-transport-security", "max-age=63072000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        too_large = False

        async def counting_receive() -> Message:
            # Past the limit the client is treated as gone: the route never gets a body to
            # act on (a cut body could still be valid JSON), and its answer becomes the 413.
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not too_large:
                await send(message)
            elif message["type"] == "http.response.start":
                await self._refuse(send)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, send: Send) -> None:
        body = problem(
            413,
            "body-too-large",
            "Request body too large",
            f"Send at most {self.max_bytes} bytes; no field of this service needs more.",
        )
        await _send_problem(send, body)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_problem(
    send: Send, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    payload = json.dumps(body).encode()
    raw = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(payload)).encode()),
    ]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": body["status"], "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class AuthFailureLimiter:
    """Counts authentication failures per client address over a moving minute.

    An attempt is counted before it is checked: :meth:`attempt` reserves a place among the
    address's failures of the last minute and its attempts under way, so that simultaneous
    attempts (thirty wrong passwords sent at once) cannot all start before the first failure
    is recorded. A success frees its place; a failure turns it into a failure of the window.
    """

    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._limit = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._under_way: Counter[str] = Counter()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds until the oldest failure leaves the window."""
        stats = self._limiter.get_window_stats(self._limit, "auth-failure", client)
        return max(1, int(stats.reset_time - time.time()) + 1)

    @contextmanager
    def attempt(self, client: str, refusal: str) -> Iterator[Attempt]:
        """An authentication attempt from ``client``, counted from now on; 429 (with
        ``refusal`` as its detail) if the address has no attempt left this minute. Mark a
        failed attempt with :meth:`Attempt.fail`."""
        with self._lock:
            if self._failures(client) + self._under_way[client] >= self._per_minute:
                refused = TooManyRequests(refusal)
                refused.retry_after = self.retry_after(client)
                raise refused
            self._under_way[client] += 1
        attempt = Attempt()
        try:
            yield attempt
        finally:
            with self._lock:
                self._under_way[client] -= 1
                if not self._under_way[client]:
                    del self._under_way[client]
                if attempt.failed:
                    self._limiter.hit(self._limit, "auth-failure", client)

    def _failures(self, client: str) -> int:
        stats = self._limiter.get_window_stats(self._limit, "auth-failure", client)
        return self._per_minute - stats.remaining


class Attempt:
    """One authentication attempt under way (see :meth:`AuthFailureLimiter.attempt`)."""

    failed = False

    def fail(self) -> None:
        self.failed = True
