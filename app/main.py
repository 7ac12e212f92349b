"""The application factory: routers, problem+json error handling, engine and token verifier."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import migrate
from app.audit import checkpoint, trail
from app.audit.context import RequestContextMiddleware
from app.audit.router import router as audit_router
from app.audit.trail import Action, Actor
from app.auth import make_verifier
from app.cases.router import router as cases_router
from app.cases.router import transfers_router
from app.config import Settings, get_settings
from app.crypto.keyring import configured_provider
from app.crypto.vault import Vault
from app.db import make_engine, make_sessionmaker, unit_of_work
from app.directory.admin_router import router as admin_router
from app.directory.router import router as directory_router
from app.errors import (
    PROBLEM_JSON,
    PROBLEM_PREFIX,
    AppError,
    TooManyRequests,
    declare_common_problems,
    problem,
)
from app.http_hardening import (
    AuthFailureLimiter,
    BodySizeLimitMiddleware,
    SecurityHeadersMiddleware,
)
from app.indicators.router import router as indicators_router
from app.meetings.router import router as meetings_router
from app.notifications import service as notifications
from app.notifications.sender import SenderThread
from app.operations import metrics
from app.operations.metrics import ObservedRequestsMiddleware
from app.operations.router import metrics_router
from app.operations.router import router as operations_router
from app.partners.router import router as partners_router
from app.policy.engine import get_engine
from app.web.api_docs import router as api_docs_router
from app.web.deps import CharterRequired, SignInRequired
from app.web.errors import error_page, to_charter, to_sign_in
from app.web.rendering import is_page_request, static_files
from app.web.router import router as web_router
from app.worklist.router import router as worklist_router

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    get_engine()  # parse and validate the charter's policies now: an invalid one stops here
    engine = make_engine(settings.database_url)
    verifier = make_verifier(settings)
    vault = make_vault(settings)
    signer = checkpoint.load_signer(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sender = None
        if settings.notifications_enabled and settings.notify_sender_in_server:
            sender = SenderThread(
                app.state.sessionmaker, settings, settings.notify_sender_interval_seconds
            )
            sender.start()
        yield
        if sender is not None:
            sender.stop()
        verifier.close()
        engine.dispose()

    app = FastAPI(
        title="cenomed",
        version="0.1.0",
        summary="Nominative information exchange of the Paris CENOMED cells (CPPS fiche 1.3)",
        lifespan=lifespan,
        # FastAPI's pages load Swagger UI and ReDoc from a CDN with an inline script: /docs is
        # ours (app.web.api_docs), offline and under the pages' CSP; ReDoc is not served.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(
        engine,
        info=checkpoint.session_info(signer, settings.audit_checkpoint_every)
        | notifications.session_info(settings.notifications_enabled),
    )
    app.state.audit_signer = signer
    app.state.auth_limiter = AuthFailureLimiter(settings.auth_failures_per_minute)
    app.state.token_verifier = verifier
    app.state.vault = vault

    app.state.expected_revisions = migrate.head_revisions(settings.database_url)

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(operations_router)
    api.include_router(directory_router)
    api.include_router(cases_router)
    api.include_router(transfers_router)
    api.include_router(meetings_router)
    api.include_router(partners_router)
    api.include_router(audit_router)
    api.include_router(indicators_router)
    api.include_router(worklist_router)
    api.include_router(admin_router)
    app.include_router(api)
    app.include_router(metrics_router)
    app.include_router(web_router)
    app.include_router(api_docs_router)
    app.mount("/static", static_files(), name="static")
    # Added inside out: the security headers wrap everything, even a refused body; every
    # request, refused bodies included, is counted and logged with its request id.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ObservedRequestsMiddleware)
    app.add_middleware(RequestContextMiddleware)
    if settings.cors_allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allowed_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(SecurityHeadersMiddleware)
    _install_error_handlers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def make_vault(settings: Settings) -> Vault:
    return Vault(configured_provider(settings), cache_seconds=settings.data_key_cache_seconds)


def _problem_response(request: Request, body: dict[str, Any], headers: Any = None) -> Response:
    """The API's problem+json, or for a browser's page the same refusal as a French page."""
    slug = body["type"].removeprefix(PROBLEM_PREFIX)
    if 400 <= body["status"] < 500:
        metrics.count_refusal(body["status"], slug)
    if is_page_request(request):
        return error_page(request, body["status"], slug, headers)
    body.setdefault("instance", request.url.path)
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, _error: SignInRequired) -> Response:
        return to_sign_in(request)

    @app.exception_handler(CharterRequired)
    async def charter_required(request: Request, _error: CharterRequired) -> Response:
        return to_charter(request)

    @app.exception_handler(AppError)
    async def app_error(request: Request, error: AppError) -> Response:
        await run_in_threadpool(
            _record_refusal, request, error.status, error.slug, error.case_id, error.meeting_id
        )
        headers = None
        if error.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        elif isinstance(error, TooManyRequests):
            headers = {"Retry-After": str(error.retry_after)}
        return _problem_response(request, error.to_problem(), headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        # Only where and why: the rejected value may be nominative, so it is never echoed; nor is
        # the name of an unknown field, which the client chose and could be anything.
        errors = [
            {"loc": _safe_loc(item), "msg": item.get("msg", ""), "type": item.get("type")}
            for item in error.errors()
        ]
        fields = ", ".join(".".join(str(part) for part in e["loc"][1:]) or "body" for e in errors)
        await run_in_threadpool(_record_refusal, request, 422, "validation-error", None)
        body = problem(
            422,
            "validation-error",
            "Invalid request",
            f"Correct these fields and send the request again: {fields}.",
            errors=errors,
        )
        return _problem_response(request, body)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 400:
            # The framework's only 400 here (no route reads a form): a JSON body it cannot even
            # decode (not UTF-8). A malformed body, answered like every other one.
            body = problem(
                422,
                "validation-error",
                "Invalid request",
                "Send the body as JSON encoded in UTF-8.",
                errors=[{"loc": ["body"], "msg": "Unreadable body", "type": "json_invalid"}],
            )
            return _problem_response(request, body)
        titles = {404: "Not found", 405: "Method not allowed"}
        detail = error.detail if isinstance(error.detail, str) else "The request was refused."
        body = problem(
            error.status_code,
            f"http-{error.status_code}",
            titles.get(error.status_code, "Request refused"),
            detail,
        )
        return _problem_response(request, body, getattr(error, "headers", None))

    @app.exception_handler(StaleDataError)
    async def stale(request: Request, _error: StaleDataError) -> Response:
        await run_in_threadpool(_record_refusal, request, 409, "concurrent-change", None)
        body = problem(
            409,
            "concurrent-change",
            "Not possible in the current state",
            "Someone changed this record at the same moment; reload it and try again.",
        )
        return _problem_response(request, body)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        # The type only: messages of database errors can carry values.
        log.error("unhandled %s on %s %s", type(error).__name__, request.method, request.url.path)
        body = problem(
            500,
            "internal-error",
            "Internal error",
            "The service met an unexpected error; nothing was changed. Try again, and report it "
            "if it persists.",
        )
        return _problem_response(request, body)


def _record_refusal(
    request: Request,
    status: int,
    slug: str,
    case_id: uuid.UUID | None,
    meeting_id: uuid.UUID | None = None,
) -> None:
    """A refused request by a known caller, in a transaction of its own (the request's own
    was rolled back), with the case and the meeting it named: a 404 is logged whether the
    case exists in another cell or nowhere, so that both answers do the same work (R23; no
    existence oracle in the timing)."""
    actor: Actor | None = getattr(request.state, "audit_actor", None)
    route = request.scope.get("route")
    if actor is None or route is None:
        return
    case_id = case_id or _uuid_or_none(request.path_params.get("case_id"))
    meeting_id = meeting_id or _uuid_or_none(request.path_params.get("meeting_id"))
    # The API's route names are the actions; a page names its action (app.web.deps).
    action = getattr(request.state, "audit_action", None) or _action_of(route.name)
    if action is None:
        log.warning("a refusal on %s has no audit action", route.name)
        return
    try:
        with unit_of_work(request.app.state.sessionmaker) as session:
            trail.record_refusal(
                session,
                actor,
                action,
                status=status,
                slug=slug,
                case_id=case_id,
                meeting_id=meeting_id,
            )
    except SQLAlchemyError as error:
        # The refusal stands; the missing event is an incident for the operators.
        log.error("could not record a refusal in the audit log: %s", type(error).__name__)


def _action_of(route_name: str) -> Action | None:
    try:
        return Action(route_name)
    except ValueError:
        return None


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def _safe_loc(item: Any) -> list[str | int]:
    loc = list(item.get("loc", ()))
    if item.get("type") == "extra_forbidden" and loc:
        loc[-1] = "(unknown field)"
    return loc


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, summary=app.summary, routes=app.routes
    )
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = {
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
        },
    }
    declare_common_problems(schema)
    app.openapi_schema = schema
    return schema
