"""The auditors' API: filtered, paginated events (JSON and CSV), the verification verdict, and
"who looked at this file"; auditors see events, never case content."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import FIRST_NAME, LAST_NAME, ok, problem, submit, to_cell_review


def _all_pages(world: World, url: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        page = ok(world.as_("auditor").get(url, params=query))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_the_auditor_pages_through_the_log_with_filters(world: World) -> None:
    first, second = to_cell_review(world), submit(world)
    problem(world.as_("cst").post(f"/cases/{first}/research-notes", {"content": "Rien."}), 403)
    logged = events(world)
    everything = _all_pages(world, "/audit/events", limit=7)
    # Each page read is itself logged as it commits: the later pages show the earlier reads.
    assert [e["seq"] for e in everything[: len(logged)]] == [e["seq"] for e in logged]
    assert {e["action"] for e in everything[len(logged) :]} == {"read_audit_events"}
    assert everything[0] | {"at": None} == logged[0] | {"at": None}

    by_case = _all_pages(world, "/audit/events", case_id=second, limit=3)
    assert by_case
    assert all(e["case_id"] == second for e in by_case)
    assert len(by_case) == sum(1 for e in logged if e["case_id"] == second)

    denied = _all_pages(world, "/audit/events", outcome="denied", severity="high")
    assert [(e["action"], e["actor_id"]) for e in denied] == [
        ("add_research_note", world.users["cst"])
    ]
    by_actor = _all_pages(
        world, "/audit/events", actor_id=world.users["parquet"], action="decide_parquet"
    )
    assert [e["detail"] for e in by_actor] == ["retain"]

    now = datetime.now(UTC)
    assert _all_pages(world, "/audit/events", since=(now + timedelta(hours=1)).isoformat()) == []
    until_now = _all_pages(world, "/audit/events", until=(now + timedelta(seconds=1)).isoformat())
    assert len(until_now) > len(logged)


def test_csv_says_what_json_says(world: World) -> None:
    submit(world)
    page = ok(world.as_("auditor").get("/audit/events", params={"limit": 5}))
    response = world.as_("auditor").get("/audit/events", params={"limit": 5, "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(r["seq"]) for r in rows] == [e["seq"] for e in page["items"]]
    assert [r["hash"] for r in rows] == [e["hash"] for e in page["items"]]
    assert [r["blocks"].split() for r in rows] == [e["blocks"] for e in page["items"]]
    assert 'rel="next"' in response.headers["link"]
    assert "cursor=" in response.headers["link"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"outcome": "maybe"}, 422),
        ({"action": "steal"}, 422),
        ({"since": "2026-11-26T09:00:00"}, 422),
        ({"cursor": "bm9wZQ"}, 422),
        ({"limit": 1000}, 422),
        ({"actor_id": 2**63}, 422),
        ({"cursor": "YWZ0ZXI6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"}, 422),  # after:999...9 (24)
    ],
)
def test_bad_filters_are_problems(world: World, params: dict[str, Any], status: int) -> None:
    problem(world.as_("auditor").get("/audit/events", params=params), status)


@pytest.mark.parametrize("who", ["coordinator", "parquet", "police", "cst", "admin"])
def test_only_auditors_read_the_log_and_its_verdict(world: World, who: str) -> None:
    problem(world.as_(who).get("/audit/events"), 403)
    problem(world.as_(who).get("/audit/verification"), 403)


def test_the_verdict_turns_when_the_log_is_edited(world: World, engine_name: str) -> None:
    submit(world)
    verdict = ok(world.as_("auditor").get("/audit/verification"))
    assert verdict["valid"] is True
    assert verdict["events"] == head(world) - 1  # its own event is appended as it commits
    target = head(world) - 2
    with world.db() as session:
        if engine_name == "postgresql":
            session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        else:
            session.execute(text("DROP TRIGGER audit_event_no_update"))
        session.execute(
            text("UPDATE audit_event SET outcome = 'denied' WHERE seq = :seq"), {"seq": target}
        )
        if engine_name == "postgresql":
            session.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))
    broken = ok(world.as_("auditor").get("/audit/verification"))
    assert broken["valid"] is False
    assert broken["first_bad_seq"] == target
    assert "columns" in broken["problem"]


def test_who_looked_at_this_file(world: World) -> None:
    case_id = to_cell_review(world)
    ok(world.as_("cst").get(f"/cases/{case_id}"))
    problem(world.as_("coordinator-19").get(f"/cases/{case_id}"), 404)
    access = _all_pages(world, f"/cases/{case_id}/access-log")
    assert all(e["case_id"] == case_id for e in access)
    readers = {(e["actor_role"], e["outcome"]) for e in access if e["action"] == "read_case"}
    assert {("cst", "allowed"), ("coordinator", "denied")} <= readers
    assert LAST_NAME not in str(access)
    assert FIRST_NAME not in str(access)
    # The cell's coordinator reads it too; their reading is logged.
    seen = ok(world.as_("coordinator").get(f"/cases/{case_id}/access-log"))
    assert [e["seq"] for e in seen["items"]][: len(access)] == [e["seq"] for e in access]
    assert seen["items"][len(access)]["actor_role"] == "auditor"  # the auditor's look, logged
    assert events(world)[-1]["action"] == "read_access_log"


@pytest.mark.parametrize(
    ("who", "status"), [("coordinator-19", 404), ("police", 403), ("cst", 403)]
)
def test_the_access_log_is_for_the_cells_coordinator_and_the_auditors(
    world: World, who: str, status: int
) -> None:
    case_id = submit(world)
    problem(world.as_(who).get(f"/cases/{case_id}/access-log"), status)


def test_an_auditor_who_has_not_accepted_the_charter_is_told_so(world: World) -> None:
    from app.vocabulary import Role

    case_id = submit(world)
    world.add_user("new-auditor", Role.AUDITOR, cells=[], accept_charter=False)
    for url in ("/audit/events", "/audit/verification", f"/cases/{case_id}/access-log"):
        body = problem(world.as_("new-auditor").get(url), 403)
        assert body["type"].endswith("charter-not-accepted")


def test_newest_first_on_request_the_log_order_by_default(world: World) -> None:
    submit(world)
    last = head(world)
    default = ok(world.as_("auditor").get("/audit/events", params={"limit": 3}))
    assert [e["seq"] for e in default["items"]] == [1, 2, 3]
    newest = ok(world.as_("auditor").get("/audit/events", params={"limit": 3, "order": "desc"}))
    # Each read is appended as it commits: the first read saw the log up to ``last``.
    assert [e["seq"] for e in newest["items"]] == [last + 1, last, last - 1]
    older = ok(
        world.as_("auditor").get(
            "/audit/events", params={"limit": 3, "order": "desc", "cursor": newest["next_cursor"]}
        )
    )
    assert [e["seq"] for e in older["items"]] == [last - 2, last - 3, last - 4]
    # A cursor continues the order it was given in, never the other.
    before = head(world)
    body = problem(
        world.as_("auditor").get(
            "/audit/events", params={"order": "asc", "cursor": newest["next_cursor"]}
        ),
        422,
    )
    assert body["type"].endswith("invalid-cursor")
    [refusal] = events(world, before)
    assert (refusal["action"], refusal["outcome"], refusal["detail"]) == (
        "read_audit_events",
        "denied",
        "invalid-cursor",
    )
    problem(world.as_("auditor").get("/audit/events", params={"order": "sideways"}), 422)


def test_the_access_log_comes_newest_first_on_request(world: World) -> None:
    case_id = submit(world)
    oldest = ok(world.as_("coordinator").get(f"/cases/{case_id}/access-log"))["items"]
    newest = ok(
        world.as_("coordinator").get(f"/cases/{case_id}/access-log", params={"order": "desc"})
    )["items"]
    # The second read sees the first one's event, at its head, then the rest reversed.
    assert [e["seq"] for e in newest[1:]] == [e["seq"] for e in reversed(oldest)]
    assert newest[0]["action"] == "read_access_log"


def test_the_export_holds_the_periods_events_and_is_logged(world: World) -> None:
    case_id = submit(world, received_days_ago=0)
    reference = ok(world.as_("coordinator").get(f"/cases/{case_id}"))["reference"]
    now = datetime.now(UTC)
    before = head(world)
    response = world.as_("auditor").get(
        "/audit/events.csv",
        params={
            "since": (now - timedelta(hours=1)).isoformat(),
            "until": (now + timedelta(hours=1)).isoformat(),
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="journal-audit-'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "seq",
        "at",
        "actor_id",
        "actor_role",
        "actor_organisation",
        "action",
        "case_id",
        "case_reference",
        "blocks",
        "outcome",
        "severity",
        "detail",
        "hash",
        "unreadable",
    ]
    assert [int(r["seq"]) for r in rows] == list(range(1, before + 1))
    [submitted] = [r for r in rows if r["action"] == "submit_case"]
    assert (submitted["actor_id"], submitted["actor_role"], submitted["actor_organisation"]) == (
        str(world.users["police"]),
        "member",
        "police",
    )
    assert (submitted["case_id"], submitted["case_reference"]) == (case_id, reference)
    assert LAST_NAME not in response.text
    assert FIRST_NAME not in response.text
    [logged] = events(world, before)
    assert (logged["action"], logged["detail"]) == ("export_audit_events", f"up_to:{before}")
    # A period before anything happened: the header only.
    earlier = world.as_("auditor").get(
        "/audit/events.csv", params={"until": (now - timedelta(days=400)).isoformat()}
    )
    assert earlier.text.splitlines() == [
        "seq,at,actor_id,actor_role,actor_organisation,action,"
        "case_id,case_reference,blocks,outcome,severity,detail,hash,unreadable"
    ]
    problem(world.as_("auditor").get("/audit/events.csv", params={"since": "2026-11-26"}), 422)


@pytest.mark.parametrize("who", ["coordinator", "steering", "admin"])
def test_only_auditors_export_the_log(world: World, who: str) -> None:
    from app.vocabulary import Role

    if who == "steering":
        world.add_user("steering", Role.STEERING, cells=[])
    submit(world)
    before = head(world)
    body = problem(world.as_(who).get("/audit/events.csv"), 403)
    assert body["type"].endswith("role-not-allowed")
    [refusal] = events(world, before)
    assert (refusal["action"], refusal["outcome"], refusal["actor_id"], refusal["detail"]) == (
        "export_audit_events",
        "denied",
        world.users[who],
        "role-not-allowed",
    )
    assert refusal["severity"] == "high"
