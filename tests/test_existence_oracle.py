"""No existence oracle: a case (or a meeting) of another cell and an id that exists nowhere
get the same answer after the same work (finding 3 of the hostile review).

Time is not asserted (tests never assert a time); the work is: the SQL statements run, in
order and shape, and the audit events written, which is where the 3x timing gap came from
(the other cell's case was loaded whole and its refusal logged; the unknown id was neither).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import meeting, to_cell_review
from tests.web.browser import signed_in

_VARIABLE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@contextmanager
def _statements(world: World) -> Iterator[list[str]]:
    """The SQL the service runs meanwhile (parameters aside: they hold the ids)."""
    engine = world.client.app.state.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(" ".join(str(args[2]).split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _probe(world: World, send: Callable[[str], Any], target: str) -> dict[str, Any]:
    before = head(world)
    with _statements(world) as statements:
        response = send(target)
    written = events(world, before)
    body = response.text.replace(target, "<id>")
    return {
        "status": response.status_code,
        "body": _VARIABLE.sub("<uuid>", body),
        "headers": sorted(k for k in response.headers if k != "x-request-id"),
        "statements": statements,
        "events": [
            {k: v for k, v in e.items() if k not in ("seq", "at", "hash", "request_id")}
            for e in written
        ],
    }


def _same_work(world: World, send: Callable[[str], Any], elsewhere: str, *, case: bool) -> None:
    nowhere = str(uuid.uuid4())
    # Both twice: the first request warms caches (the policy's memo, statements) for both.
    for _ in range(2):
        there = _probe(world, send, elsewhere)
        absent = _probe(world, send, nowhere)
    assert there["status"] == absent["status"] == 404
    assert there["body"] == absent["body"]
    assert there["headers"] == absent["headers"]
    assert there["statements"] == absent["statements"]
    # One refusal each, naming the id asked: the auditors see every probe.
    [logged_there] = there["events"]
    [logged_absent] = absent["events"]
    named = "case_id" if case else "detail"
    assert elsewhere in str(logged_there[named])
    assert nowhere in str(logged_absent[named])
    assert logged_there["outcome"] == "denied"
    absent_as_there = {
        k: v.replace(nowhere, elsewhere) if isinstance(v, str) else v
        for k, v in logged_absent.items()
    }
    assert logged_there == absent_as_there


@pytest.mark.parametrize(
    "request_",
    ["read", "step", "note", "access log", "export", "web page", "web step"],
)
def test_another_cells_case_and_no_case_are_answered_alike(world: World, request_: str) -> None:
    case_id = to_cell_review(world)
    prober = world.as_("coordinator-19")
    browser = signed_in(world, "coordinator-19") if request_.startswith("web") else None
    sends: dict[str, Callable[[str], Any]] = {
        "read": lambda target: prober.get(f"/cases/{target}"),
        "step": lambda target: prober.post(f"/cases/{target}/parquet-referral"),
        "note": lambda target: prober.post(f"/cases/{target}/research-notes", {"content": "x"}),
        "access log": lambda target: prober.get(f"/cases/{target}/access-log"),
        "export": lambda target: prober.get(f"/cases/{target}/subject-access-export"),
    }
    if browser is not None:
        browser.get("/dossiers")
        sends["web page"] = lambda target: browser.get(f"/dossiers/{target}")
        sends["web step"] = lambda target: browser.post(f"/dossiers/{target}/cloture")
    _same_work(world, sends[request_], case_id, case=True)


def test_another_cells_meeting_and_no_meeting_are_answered_alike(world: World) -> None:
    meeting_id = meeting(world)
    prober = world.as_("coordinator-19")
    _same_work(world, lambda target: prober.get(f"/meetings/{target}"), meeting_id, case=False)
    [logged] = events(world, head(world) - 1)
    assert logged["detail"].startswith("meeting-not-found meeting:")
