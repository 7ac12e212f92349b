"""The service's log: JSON lines tied to their request, and never a nominative value."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from app.cases.models import CasePersonal
from app.operations.logs import RequestIdFilter, json_formatter
from tests.conftest import World
from tests.scenario import (
    LAST_NAME,
    case_body,
    nominative_values,
    problem,
    submit,
    through_the_six_steps,
)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything logged during the test, through the server's own formatter and filter."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_whole_procedure_logs_json_lines_with_request_ids_and_no_nominative_value(
    world: World, json_log: io.StringIO
) -> None:
    case_id = through_the_six_steps(world)
    # Refusals and an integrity failure log too: they must not leak either.
    problem(world.as_("cst").post("/cases", case_body(world.cell.id)), 403)
    body = case_body(world.cell.id)
    body["minor"]["nickname"] = LAST_NAME  # an unknown field, with a name as its value
    problem(world.as_("police").post("/cases", body), 422)
    damaged = submit(world)
    with world.db() as session:
        session.execute(
            update(CasePersonal)
            .where(CasePersonal.case_id == uuid.UUID(damaged))
            .values(last_name_enc=b"x")
        )
    response = world.as_("coordinator").get(f"/cases/{damaged}")
    problem(response, 500)

    records = lines(json_log)
    text = json_log.getvalue()
    body = case_body(world.cell.id)
    secrets = nominative_values(body)
    for secret in secrets:
        assert secret not in text
        assert json.dumps(secret)[1:-1] not in text  # as JSON escapes non-ASCII characters
    # One access line per request, carrying the route template (never the case's id) and
    # the id the client was given in X-Request-ID.
    access = [r for r in records if r["logger"] == "cenomed.access"]
    sent = [r for r in records if r["message"].startswith("HTTP Request:")]  # the test client's
    assert len(access) == len(sent) > 15
    assert all(r["request_id"] and len(r["request_id"]) == 32 for r in access)
    assert all(case_id not in r["message"] and case_id not in r["route"] for r in access)
    assert {"/api/v1/cases/{case_id}", "/api/v1/cases"} <= {r["route"] for r in access}
    last = access[-1]
    assert (last["method"], last["route"], last["status"]) == (
        "GET",
        "/api/v1/cases/{case_id}",
        500,
    )
    assert last["request_id"] == response.headers["X-Request-ID"]
    assert last["duration_ms"] >= 0
    # The integrity failure is logged for the operators, tied to the same request.
    [incident] = [r for r in records if r["level"] == "ERROR" and "integrity" in r["message"]]
    assert incident["request_id"] == response.headers["X-Request-ID"]


def test_the_server_configuration_writes_uvicorn_lines_as_json_without_colours() -> None:
    """The dictConfig the server starts with, applied in a process of its own."""
    program = (
        "import logging, logging.config\n"
        "from app.operations.logs import log_config\n"
        "logging.config.dictConfig(log_config('json', 'INFO'))\n"
        "logging.getLogger('uvicorn.error').info('Started', extra={'color_message': 'x'})\n"
        "logging.getLogger('uvicorn.access').info('GET /api/v1/cases/some-id 200')\n"
        "logging.getLogger('app.x').debug('below the level')\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert completed.stdout == ""
    [record] = [json.loads(line) for line in completed.stderr.splitlines()]
    assert (record["level"], record["logger"], record["message"]) == (
        "INFO",
        "uvicorn.error",
        "Started",
    )
    assert record["request_id"] is None
    assert "color_message" not in record


def test_the_text_format_is_there_for_a_terminal() -> None:
    program = (
        "import logging, logging.config\n"
        "from app.operations.logs import log_config\n"
        "logging.config.dictConfig(log_config('text', 'WARNING'))\n"
        "logging.getLogger('app.x').warning('a warning')\n"
        "logging.getLogger('app.x').info('below the level')\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    [line] = completed.stderr.splitlines()
    assert line.endswith("WARNING app.x [None] a warning")
