"""The witness over HTTP: one Starlette route, apart from the service's FastAPI application (a
partner runs it with no database, no account, no settings of the service)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from app.witness.core import MAX_REQUEST_BYTES, Witness


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or None past the limit (read no further: a witness is on the Internet)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST_BYTES:
            return None
    return bytes(body)


def create_app(witness: Witness) -> Starlette:
    async def add_checkpoint(request: Request) -> Response:
        body = await _bounded_body(request)
        if body is None:
            return PlainTextResponse("request too large\n", status_code=413)
        # The checks fsync and take a file lock: off the event loop.
        answer = await run_in_threadpool(witness.add_checkpoint, body)
        # The header as given: Starlette would add a charset to text/x.tlog.size.
        headers = {"content-type": answer.content_type}
        return Response(answer.body, status_code=answer.status, headers=headers)

    return Starlette(routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"])])
