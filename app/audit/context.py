"""Which request an event belongs to: its id and the client's address, set once per request.

A context variable, so that the service layer records them without knowing about HTTP; the
worker threads that run sync endpoints inherit it. The id is ours (never taken from the
client, who could make it say anything) and is sent back in ``X-Request-ID`` so a user's
report can be matched with the log.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    client: str | None


_current: ContextVar[RequestContext | None] = ContextVar("cenomed_request", default=None)


def current_request() -> RequestContext | None:
    return _current.get()


class RequestContextMiddleware:
    """Gives each HTTP request an id and records its client address for the audit log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        context = RequestContext(uuid.uuid4().hex, client[0] if client else None)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, context.request_id)
            await send(message)

        token = _current.set(context)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)


def audited_as(action: Any) -> Any:
    """Names the audit action a refusal of this route is logged under, where the route's own
    name is not one (a page's French path, several API routes that share one action)."""

    def mark(request: Request) -> None:
        request.state.audit_action = action

    return Depends(mark)
