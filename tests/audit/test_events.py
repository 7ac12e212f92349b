"""R23 over HTTP: every read, step and refusal leaves its event, with ids and codes only; a
refused request leaves exactly one event and no other change."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import pytest
from jose import jwt
from sqlalchemy import select, text

from app.audit.models import AuditEvent
from app.auth import PRIVATE_KEY_FILE
from app.db import Base
from app.directory import service as directory
from app.policy.visibility import Block
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import (
    case_body,
    nominative_values,
    ok,
    problem,
    submit,
    to_cell_review,
    to_oriented,
)

REASON = {"reason": "Demande du juge des enfants sur la suite donnée au signalement."}
AUDIT_TABLES = {"audit_event", "audit_head", "audit_checkpoint"}


def _everything_but_the_log(world: World) -> dict[str, list[tuple[Any, ...]]]:
    with world.db() as session:
        return {
            table.name: sorted(
                (tuple(map(repr, row)) for row in session.execute(select(table))), key=repr
            )
            for table in Base.metadata.sorted_tables
            if table.name not in AUDIT_TABLES
        }


def test_each_step_of_the_procedure_and_each_read_is_an_event(world: World) -> None:
    start = head(world)
    case_id, orientations = to_oriented(world, "crip")
    ok(
        world.as_("coordinator").post(
            f"/cases/{case_id}/orientations/{orientations['crip']}/transmission"
        )
    )
    ok(
        world.as_("coordinator").post(
            f"/cases/{case_id}/orientations/{orientations['crip']}/feedback",
            {"outcome": "support_in_place"},
        )
    )
    ok(world.as_("coordinator").post(f"/cases/{case_id}/closure", {"reason": "feedback_received"}))
    steps = [
        (e["action"], e["detail"], e["actor_id"])
        for e in events(world, start)
        if e["case_id"] == case_id and not e["action"].startswith("read_")
    ]
    users = world.users
    assert steps == [
        ("submit_case", "submit", users["police"]),
        ("refer_to_parquet", "refer_to_parquet", users["coordinator"]),
        ("decide_parquet", "retain", users["parquet"]),
        ("put_on_agenda", "examine_at_meeting", users["coordinator"]),
        ("review_decision", "orient", users["coordinator"]),
        ("transmit", "transmit", users["coordinator"]),
        ("record_feedback", "record_feedback", users["coordinator"]),
        ("close", "close", users["coordinator"]),
    ]
    logged = events(world, start)
    assert all(e["outcome"] == "allowed" and e["client"] == "testclient" for e in logged)
    assert all(len(e["request_id"]) == 32 for e in logged)
    # Each step answers with the case as the caller may now see it: that is a read, logged.
    reads = [e for e in logged if e["action"] == "read_case" and e["case_id"] == case_id]
    step_requests = {e["request_id"] for e in logged if e["detail"] in {s for _, s, _ in steps}}
    assert {r["request_id"] for r in reads} <= step_requests
    assert len(reads) == len({r["request_id"] for r in reads}) >= 6
    assert all(r["blocks"] for r in reads)
    assert reads[0]["actor_id"] == users["police"]
    # Putting the case on the agenda answers with the meeting, showing the minor's identity.
    agenda = [e for e in logged if e["action"] == "read_meeting" and e["case_id"] == case_id]
    assert [e["blocks"] for e in agenda] == [["identity", "workflow"]]
    meeting_event = next(e for e in logged if e["action"] == "create_meeting")
    assert meeting_event["detail"].startswith("meeting:")


def test_a_read_records_the_blocks_it_showed_and_the_request_id(world: World) -> None:
    case_id = to_cell_review(world)
    start = head(world)
    response = world.as_("cst").get(f"/cases/{case_id}")
    seen = ok(response)
    [event] = events(world, start)
    assert event["action"] == "read_case"
    assert event["case_id"] == case_id
    assert (event["actor_id"], event["actor_role"], event["actor_organisation"]) == (
        world.users["cst"],
        "cst",
        "dases",
    )
    assert set(event["blocks"]) == {b.value for b in Block} - set(seen["withheld"])
    assert "identity" in event["blocks"]
    assert event["request_id"] == response.headers["x-request-id"]
    assert (event["outcome"], event["severity"]) == ("allowed", "info")


def test_a_list_and_a_meeting_record_each_case_they_show(world: World) -> None:
    first, second = to_cell_review(world), submit(world)
    start = head(world)
    ok(world.as_("coordinator").get("/cases"))
    listed = {e["case_id"]: e for e in events(world, start)}
    assert set(listed) == {first, second}
    assert all(e["action"] == "list_cases" for e in listed.values())
    request_ids = {e["request_id"] for e in listed.values()}
    assert len(request_ids) == 1

    with world.db() as session:
        meeting_id = session.scalar(
            text("SELECT meeting_id FROM case_file WHERE meeting_id IS NOT NULL")
        )
    start = head(world)
    ok(world.as_("teacher").get(f"/meetings/{uuid.UUID(str(meeting_id))}"))
    shown_at_meeting = events(world, start)
    assert {(e["action"], e["case_id"], tuple(e["blocks"])) for e in shown_at_meeting} == {
        ("read_meeting", first, ("identity", "workflow"))
    }


def test_archive_access_and_archived_reads_are_high(world: World) -> None:
    case_id = to_cell_review(world)
    ok(
        world.as_("coordinator").post(
            f"/cases/{case_id}/review-decision", {"decision": "no_action"}
        )
    )
    start = head(world)
    problem(world.as_("parquet").get(f"/cases/{case_id}"), 403)
    granted = world.as_("parquet").post(f"/cases/{case_id}/archive-access", REASON)
    assert granted.status_code == 201
    ok(world.as_("parquet").get(f"/cases/{case_id}"))
    refused, access, read = events(world, start)
    assert (refused["outcome"], refused["severity"], refused["detail"]) == (
        "denied",
        "high",
        "archive-access-required",
    )
    assert (access["action"], access["severity"]) == ("request_archive_access", "high")
    assert access["detail"].startswith("archive_access:")
    assert (read["action"], read["severity"], read["outcome"]) == ("read_case", "high", "allowed")


def test_charter_acceptance_and_account_changes_are_events(world: World) -> None:
    start = head(world)
    user_id = world.add_user(
        "newcomer",
        world.principal("teacher").role,
        world.principal("teacher").organisation,
        accept_charter=False,
    )
    ok(
        world.as_("newcomer").post(
            "/me/charter-acceptance", {"version": world.settings.charter_version}
        )
    )
    with world.db() as session:
        directory.deactivate_user(session, username="newcomer")
    logged = [
        (e["action"], e["detail"], e["actor_id"], e["actor_role"]) for e in events(world, start)
    ]
    assert logged == [
        ("add_user", f"user:{user_id}", None, "operator"),
        ("accept_charter", f"charter:{world.settings.charter_version}", user_id, "member"),
        ("deactivate_user", f"user:{user_id}", None, "operator"),
    ]


def _expired_token(world: World, username: str) -> str:
    past = int(time.time()) - 3600
    claims = {
        "iss": world.settings.local_issuer,
        "aud": world.settings.local_audience,
        "sub": username,
        "iat": past,
        "exp": past + 60,
    }
    key = (world.settings.keys_dir / PRIVATE_KEY_FILE).read_text()
    return str(jwt.encode(claims, key, "ES256"))


REFUSALS: dict[str, tuple[int, str, str, str]] = {
    # name: (status, problem slug, action, severity)
    "charter: the cst adds no research note": (
        403,
        "role-not-allowed",
        "add_research_note",
        "high",
    ),
    "charter: a case of another cell": (404, "case-not-found", "read_case", "high"),
    "procedure: a step out of order": (409, "step-not-allowed-in-state", "close", "info"),
    "auth: a deactivated account": (401, "account-inactive", "read_case", "high"),
    "auth: an expired token of a known account": (401, "expired-token", "read_case", "high"),
    "audit: a member asks for the log": (403, "role-not-allowed", "read_audit_events", "high"),
    "procedure: a transmission with content": (
        422,
        "transmission-takes-no-content",
        "transmit",
        "info",
    ),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_a_refused_request_leaves_exactly_one_event_and_no_other_change(
    world: World, name: str
) -> None:
    status, slug, action, severity = REFUSALS[name]
    case_id = submit(world)
    with world.db() as session:
        directory.deactivate_user(session, username="teacher")
    before, start = _everything_but_the_log(world), head(world)
    requests = {
        "charter: the cst adds no research note": lambda: world.as_("cst").post(
            f"/cases/{case_id}/research-notes", {"content": "Connu de nos services."}
        ),
        "charter: a case of another cell": lambda: world.as_("coordinator-19").get(
            f"/cases/{case_id}"
        ),
        "procedure: a step out of order": lambda: world.as_("coordinator").post(
            f"/cases/{case_id}/closure", {"reason": "moved_away"}
        ),
        "auth: a deactivated account": lambda: world.as_("teacher").get(f"/cases/{case_id}"),
        "auth: an expired token of a known account": lambda: world.client.get(
            f"/api/v1/cases/{case_id}",
            headers={"Authorization": f"Bearer {_expired_token(world, 'police')}"},
        ),
        "audit: a member asks for the log": lambda: world.as_("police").get("/audit/events"),
        "procedure: a transmission with content": lambda: world.as_("coordinator").post(
            f"/cases/{case_id}/orientations/{uuid.uuid4()}/transmission", {"sent": "content"}
        ),
    }
    body = problem(requests[name](), status)
    assert body["type"].endswith(slug)
    assert _everything_but_the_log(world) == before
    [event] = events(world, start)
    assert (event["outcome"], event["action"], event["detail"], event["severity"]) == (
        "denied",
        action,
        slug,
        severity,
    )
    assert event["actor_id"] is not None
    if action != "read_audit_events":
        assert event["case_id"] == case_id
    assert event["blocks"] == []


@pytest.mark.parametrize("request_", ["garbage token", "no token"])
def test_a_refusal_that_concerns_no_known_account_is_not_an_event(
    world: World, request_: str
) -> None:
    start = head(world)
    if request_ == "garbage token":
        problem(world.client.get("/api/v1/me", headers={"Authorization": "Bearer a.b.c"}), 401)
    else:
        problem(world.client.get("/api/v1/me"), 401)
    assert head(world) == start


def test_no_event_holds_a_nominative_value(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """A whole procedure, with every free-text field filled with invented values; nor does
    any log line."""
    caplog.set_level(logging.DEBUG)
    body = case_body(world.cell.id)
    case_id = to_cell_review(world)
    ok(
        world.as_("police").post(
            f"/cases/{case_id}/research-notes", {"content": "Connu pour Zyxwavel."}
        )
    )
    ok(
        world.as_("coordinator").post(
            f"/cases/{case_id}/review-decision",
            {"decision": "orient", "orientations": [{"destination": "crip"}]},
        )
    )
    ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    ok(world.as_("coordinator").get("/cases"))
    ok(world.as_("coordinator").post(f"/cases/{case_id}/closure", {"reason": "moved_away"}))
    ok(world.as_("coordinator").post(f"/cases/{case_id}/archive-access", REASON))
    problem(world.as_("cst").post("/cases", body), 403)
    with world.db() as session:
        stored = b"".join(bytes(row) for row in session.scalars(select(AuditEvent.body)))
    secrets = [*nominative_values(body), REASON["reason"]]
    assert stored
    for secret in secrets:
        # As stored: canonical JSON escapes every non-ASCII character (\u00e9).
        escaped = json.dumps(secret)[1:-1].encode()
        assert escaped not in stored, "an audit event carries a nominative value"
        assert secret.encode() not in stored
    assert all(secret not in caplog.text for secret in secrets)


def test_every_api_route_names_an_audit_action(world: World) -> None:
    from fastapi.routing import APIRoute

    from app.audit.trail import Action

    names = {
        route.name
        for route in world.client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, APIRoute)
        and route.path.startswith("/api/v1")
        and route.name != "health"
    }
    assert names <= {a.value for a in Action}, names - {a.value for a in Action}
