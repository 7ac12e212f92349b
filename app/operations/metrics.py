"""Prometheus metrics: what the operators watch, never what a case holds.

Labels are closed sets (route templates, status codes, problem slugs, audit outcomes, retention
rule ids), never ids or values. This module only counts; ``exposition`` builds what a
scrape reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

from prometheus_client import Counter, Histogram, disable_created_metrics
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED_ROUTE = "(unmatched)"
access_log = logging.getLogger("cenomed.access")
# The *_created series would double every scrape for no use here.
disable_created_metrics()  # type: ignore[no-untyped-call]
# Probes and scrapes come every few seconds: logged only when debugging.
QUIET_ROUTES = frozenset({"/api/v1/health", "/api/v1/health/ready", "/metrics"})

REQUESTS = Counter("cenomed_http_requests", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "cenomed_http_request_duration_seconds",
    "Time to answer an HTTP request, from the first byte received to the response's start",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REFUSALS = Counter(
    "cenomed_refusals",
    "Requests refused with a problem response, by status and kind (the problem's slug)",
    ["status", "kind"],
)
AUDIT_APPENDS = Counter(
    "cenomed_audit_events_appended",
    "Audit events committed to the chained log",
    ["outcome"],
)
DECRYPTION_FAILURES = Counter(
    "cenomed_decryption_failures",
    "Stored values or data keys that failed their integrity check (each one is an incident)",
    ["kind"],
)


def count_refusal(status: int, kind: str) -> None:
    REFUSALS.labels(status=str(status), kind=kind).inc()


def count_audit_appends(outcomes: dict[str, int]) -> None:
    for outcome, number in outcomes.items():
        AUDIT_APPENDS.labels(outcome=outcome).inc(number)


def count_decryption_failure(kind: str) -> None:
    DECRYPTION_FAILURES.labels(kind=kind).inc()


def address_allowed(address: str | None, networks: Sequence[IPv4Network | IPv6Network]) -> bool:
    """Whether a client address is inside one of the operator's networks."""
    if address is None:
        return False
    try:
        client = ip_address(address)
    except ValueError:
        return False
    return any(client in network for network in networks)


class ObservedRequestsMiddleware:
    """Counts, times and logs every request by its route template (a closed set of labels;
    the path itself is never logged: an operator needs the route, not which case)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {}

        async def send_and_time(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["elapsed"] = time.perf_counter() - started
            await send(message)

        try:
            await self.app(scope, receive, send_and_time)
        finally:
            route = route_template(scope)
            method = scope["method"]
            code = int(status.get("code", 500))
            elapsed = float(status.get("elapsed", time.perf_counter() - started))
            REQUESTS.labels(method=method, route=route, status=str(code)).inc()
            LATENCY.labels(method=method, route=route).observe(elapsed)
            access_log.log(
                logging.DEBUG if route in QUIET_ROUTES else logging.INFO,
                "%s %s %d",
                method,
                route,
                code,
                extra={
                    "method": method,
                    "route": route,
                    "status": code,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )


def route_template(scope: Scope) -> str:
    """The matched route's full template (``/api/v1/cases/{case_id}``). FastAPI keeps an
    included router's route with its own relative path and records the full one in its
    effective route context."""
    context = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
    return str(path) if path else UNMATCHED_ROUTE
