"""At the same moment: two steps on one case (exactly one wins, the others get 409, all logged),
and two partners submitting the same minor (both kept, each linked to the other)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any

import pytest

from app.audit.chain import verify
from app.cases import service
from app.clock import today
from app.errors import Conflict
from tests.audit.log import events
from tests.conftest import World
from tests.scenario import case_body, ok, submit


def test_the_version_check_catches_a_write_on_a_stale_row(world: World) -> None:
    case_id = uuid.UUID(submit(world))
    coordinator = world.principal("coordinator")
    with world.db() as first, world.db() as second:
        stale = service.read_case(
            second, principal=coordinator, vault=world.vault, case_id=case_id
        ).case
        service.refer_to_parquet(first, principal=coordinator, case_id=case_id, today=today())
        first.commit()
        # The second session still holds the pre-step row; its own step must not pass.
        assert stale.state == "submitted"
        with pytest.raises(Conflict) as lost:
            service.refer_to_parquet(second, principal=coordinator, case_id=case_id, today=today())
        assert lost.value.slug == "concurrent-change"
        second.rollback()
    history = ok(world.as_("coordinator").get(f"/cases/{case_id}"))["history"]
    assert [h["step"] for h in history] == ["submit", "refer_to_parquet"]


def test_simultaneous_http_steps_let_exactly_one_win(world: World) -> None:
    case_id = submit(world)
    tokens = world.as_("coordinator").headers
    barrier = threading.Barrier(6)
    statuses: list[int] = []
    lock = threading.Lock()

    def refer() -> None:
        barrier.wait()
        response: Any = world.client.post(
            f"/api/v1/cases/{case_id}/parquet-referral", headers=tokens
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=refer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(statuses) == Counter({200: 1, 409: 5})
    history = ok(world.as_("coordinator").get(f"/cases/{case_id}"))["history"]
    assert [h["step"] for h in history] == ["submit", "refer_to_parquet"]
    # The log records each attempt: one step, five refusals, in a chain that verifies.
    attempts = [e for e in events(world) if e["action"] == "refer_to_parquet"]
    assert Counter(e["outcome"] for e in attempts) == Counter({"allowed": 1, "denied": 5})
    assert all(e["case_id"] == case_id for e in attempts)
    with world.db() as session:
        assert verify(session).valid


def test_two_partners_submitting_the_same_minor_at_once_are_both_kept_and_linked(
    world: World,
) -> None:
    barrier = threading.Barrier(2)
    created: dict[str, str] = {}

    def submit_as(username: str) -> None:
        barrier.wait()
        response: Any = world.client.post(
            "/api/v1/cases",
            json=case_body(world.cell.id),
            headers=world.as_(username).headers,
        )
        assert response.status_code == 201, response.text
        created[username] = response.json()["id"]

    threads = [threading.Thread(target=submit_as, args=(u,)) for u in ("police", "teacher")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(created.values())) == 2
    police, teacher = created["police"], created["teacher"]
    # The coordinator sees each as a possible duplicate of the other (R4, blind index).
    assert ok(world.as_("coordinator").get(f"/cases/{police}"))["possible_duplicates"] == [teacher]
    assert ok(world.as_("coordinator").get(f"/cases/{teacher}"))["possible_duplicates"] == [police]
