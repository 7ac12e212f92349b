"""Errors a caller can meet, and their RFC 9457 ``application/problem+json`` form.

Every error is an :class:`AppError` subclass with a stable problem ``type`` (a URN), a one-line
``title`` and a ``detail`` that tells the caller what to do. Details never carry a nominative
value: they name fields, states and rules, never what a person typed.

    AppError
    ├── NotAuthenticated   401  missing, invalid, expired token, or unknown/inactive account
    ├── Forbidden          403  the caller's role may not do this (charter or procedure)
    ├── NotFound           404  no such resource, or not in the caller's cells
    ├── Conflict           409  the case's state or a procedural rule forbids the step now
    ├── Gone               410  the case's nominative data was destroyed (crypto-shredded)
    ├── InvalidInput       422  the body is well-formed JSON but its values are refused
    ├── TooManyRequests    429  too many failed authentications from this address
    │   └── TooManySearches 429  too many searches by this account in the last hour
    ├── IntegrityFailure   500  a stored ciphertext or key failed authentication
    └── ServiceBusy        503  too many costly checks under way in this worker; retry soon
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

PROBLEM_JSON = "application/problem+json"
PROBLEM_PREFIX = "urn:cenomed:problem:"


class AppError(Exception):
    status: ClassVar[int] = 500
    default_slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        slug: str | None = None,
        case_id: uuid.UUID | None = None,
        meeting_id: uuid.UUID | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.slug = slug or self.default_slug
        self.extra = extra
        # For the audit log only, never shown: the case and the meeting the refused request
        # named (whether or not they exist: a refused probe is logged the same either way).
        self.case_id = case_id
        self.meeting_id = meeting_id

    @property
    def type(self) -> str:
        return PROBLEM_PREFIX + self.slug

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        return problem(self.status, self.slug, self.title, self.detail, instance, **self.extra)


class NotAuthenticated(AppError):
    status = 401
    default_slug = "not-authenticated"
    title = "Authentication required"

    # The account a validly signed but refused token names (expired, say), for the audit log.
    username: str | None = None


class Forbidden(AppError):
    status = 403
    default_slug = "forbidden"
    title = "Not allowed for your role"


class NotFound(AppError):
    status = 404
    default_slug = "not-found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    default_slug = "conflict"
    title = "Not possible in the current state"


class Gone(AppError):
    status = 410
    default_slug = "data-destroyed"
    title = "Data destroyed"


class IntegrityFailure(AppError):
    status = 500
    default_slug = "integrity-failure"
    title = "Stored data failed its integrity check"


class TooManyRequests(AppError):
    status = 429
    default_slug = "too-many-authentication-failures"
    title = "Too many failed authentications"

    # Seconds before the client may try again (the Retry-After header).
    retry_after: int = 60


class TooManySearches(TooManyRequests):
    """The account's searches of the last hour reached ``CENOMED_SEARCHES_PER_HOUR``."""

    default_slug = "too-many-searches"
    title = "Too many searches"


class ServiceBusy(AppError):
    status = 503
    default_slug = "service-busy"
    title = "Service busy"


class InvalidInput(AppError):
    status = 422
    default_slug = "invalid-input"
    title = "Invalid input"


def problem(
    status: int, slug: str, title: str, detail: str, instance: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_PREFIX + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


# Documented once, so that the OpenAPI document lists what each route can answer.
PROBLEM_RESPONSE: dict[str, Any] = {
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: the problem codes it may answer."""
    descriptions = {
        401: "Missing, invalid or expired token; unknown or deactivated account",
        403: "Your role may not do this",
        404: "No such resource in your cells",
        409: "The case's state or a procedural rule forbids this now",
        410: "The case's nominative data was destroyed",
        413: "The body is larger than the service accepts",
        422: "The body or parameters are invalid",
        429: "Too many failed authentications from this address; wait and retry",
        503: "Not ready: a dependency of the service is missing (see the checks)",
    }
    return {code: {"description": descriptions[code], **PROBLEM_RESPONSE} for code in codes}


def declare_common_problems(openapi: dict[str, Any]) -> None:
    """Completes an OpenAPI document with the problems that come from outside the routes.

    Each route's ``responses=`` says what its own logic refuses (403, 404, 409, 410...); these
    come from the layers around it: 401 and 429 on every authenticated route (the token check
    and the failed-authentication limit, ``app/auth.py``), 413 on every POST (the body limit,
    ``app/http_hardening.py``, before routing), and 422 as problem+json wherever there are
    parameters or a body to validate (in place of FastAPI's own, which this service never
    sends).
    """
    for item in openapi.get("paths", {}).values():
        for method, operation in item.items():
            answers = operation.setdefault("responses", {})
            codes: list[int] = []
            if operation.get("security"):
                codes += [401, 429]
            if method == "post":
                codes.append(413)
            if operation.get("parameters") or operation.get("requestBody"):
                codes.append(422)
            for code, declared in responses(*codes).items():
                current = answers.get(str(code))
                if current is None or PROBLEM_JSON not in current.get("content", {}):
                    answers[str(code)] = declared
    schemas = openapi.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
