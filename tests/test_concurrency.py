"""Two steps on one case at the same moment: exactly one wins, the other gets 409."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any

import pytest

from app.cases import service
from app.clock import today
from app.errors import Conflict
from tests.conftest import World
from tests.scenario import ok, submit


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
