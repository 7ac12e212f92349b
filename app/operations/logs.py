"""Structured logs: one JSON object per line on stderr, each tied to its request.

Log lines carry ids, codes, route templates and durations, never a nominative value: the
messages of the service are written that way and the database driver hides bound
parameters. A test reads the log of a whole procedure for the invented names.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from app.audit.context import current_request

LogFormat = Literal["json", "text"]

JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds the current request's id (the one sent back in ``X-Request-ID``) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_request()
        record.request_id = context.request_id if context else None
        return True


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.core import RESERVED_ATTRS
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        JSON_FIELDS,
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
        # uvicorn's copy of its message with terminal colours: noise in a collector.
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
    )


def log_config(log_format: LogFormat, level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server: everything, uvicorn's own lines
    included, through one handler. uvicorn's access log stays off: ours names the route
    template instead of the path, and carries the request id and duration."""
    formatter: dict[str, Any] = (
        {"()": json_formatter}
        if log_format == "json"
        else {"format": TEXT_FORMAT, "datefmt": "%Y-%m-%dT%H:%M:%S%z"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"cenomed": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "cenomed",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }
