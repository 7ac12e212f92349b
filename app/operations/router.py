"""Liveness, readiness and metrics: for the load balancer, the orchestrator and Prometheus."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.errors import PROBLEM_JSON, problem, responses
from app.operations import metrics
from app.operations.exposition import exposition
from app.operations.health import check_readiness

router = APIRouter(tags=["operations"])
metrics_router = APIRouter()


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    checks: dict[str, str]


@router.get("/health", response_model=Health, summary="Liveness: the process answers")
def health() -> Health:
    return Health(status="ok")


@router.get(
    "/health/ready",
    response_model=Ready,
    responses=responses(503),
    summary="Readiness: database reachable, migrations at head, keys loaded, audit signing key "
    "present",
)
def ready(request: Request) -> Response:
    state = request.app.state
    readiness = check_readiness(
        engine=state.engine,
        expected_revisions=state.expected_revisions,
        keys=state.vault.provider,
        settings=state.settings,
        signer=state.audit_signer,
    )
    if readiness.ready:
        return JSONResponse(Ready(status="ready", checks=readiness.checks).model_dump())
    failing = ", ".join(name for name, result in readiness.checks.items() if result != "ok")
    body = problem(
        503,
        "not-ready",
        "Not ready",
        f"This worker cannot serve requests yet; failing checks: {failing}.",
        instance=request.url.path,
        checks=readiness.checks,
    )
    return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON)


@metrics_router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    """For the operators' network only (``CENOMED_METRICS_ALLOWED_NETWORKS``); anyone else
    is told there is nothing here."""
    client = request.client.host if request.client else None
    if not metrics.address_allowed(client, request.app.state.settings.metrics_allowed_networks):
        return JSONResponse(
            problem(404, "http-404", "Not found", "Not Found", instance=request.url.path),
            status_code=404,
            media_type=PROBLEM_JSON,
        )
    body, content_type = await run_in_threadpool(exposition, request.app.state.sessionmaker)
    return Response(body, media_type=content_type)
