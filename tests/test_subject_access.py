"""RGPD art. 15 (R22): the coordinator exports everything held about the minor in a case, with
its access log; the export is itself logged; nobody else can make it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.clock import today
from app.db import make_engine, make_sessionmaker
from app.retention.service import purge
from tests.audit.log import events
from tests.conftest import World
from tests.scenario import FIRST_NAME, LAST_NAME, case_body, ok, problem, to_cell_review

REASON = {"reason": "Demande d'accès de la famille à la suite donnée au signalement."}


def test_the_coordinator_exports_everything_held_even_from_the_archive(world: World) -> None:
    case_id = to_cell_review(world)
    ok(
        world.as_("police").post(
            f"/cases/{case_id}/research-notes", {"content": "Connu du commissariat."}
        )
    )
    ok(world.as_("cst").get(f"/cases/{case_id}"))
    ok(
        world.as_("coordinator").post(
            f"/cases/{case_id}/review-decision", {"decision": "no_action"}
        )
    )
    ok(world.as_("parquet").post(f"/cases/{case_id}/archive-access", REASON))

    export = ok(world.as_("coordinator").get(f"/cases/{case_id}/subject-access-export"))
    case = export["case"]
    body = case_body(world.cell.id)
    assert case["withheld"] == []
    assert (case["minor"]["last_name"], case["minor"]["first_name"]) == (LAST_NAME, FIRST_NAME)
    assert case["facts"] == body["facts"]
    assert case["contact"]["address"] == body["minor"]["address"]
    assert [n["content"] for n in case["research_notes"]] == ["Connu du commissariat."]
    assert [(a["user_id"], a["reason"]) for a in export["archive_accesses"]] == [
        (world.users["parquet"], REASON["reason"])
    ]
    readers = {(e["actor_role"], e["action"]) for e in export["access_log"]}
    assert ("cst", "read_case") in readers
    assert ("parquet", "request_archive_access") in readers

    [logged] = [e for e in events(world) if e["action"] == "export_subject_access"]
    assert (logged["case_id"], logged["severity"], logged["actor_id"]) == (
        case_id,
        "high",
        world.users["coordinator"],
    )
    assert len(logged["blocks"]) == 7


@pytest.mark.parametrize(
    ("who", "status"),
    [("parquet", 403), ("police", 403), ("cst", 403), ("coordinator-19", 404), ("auditor", 404)],
)
def test_only_the_cells_coordinator_exports(world: World, who: str, status: int) -> None:
    case_id = to_cell_review(world)
    problem(world.as_(who).get(f"/cases/{case_id}/subject-access-export"), status)


def test_nothing_is_left_to_export_from_a_purged_case(world: World) -> None:
    case_id = to_cell_review(world)
    ok(
        world.as_("coordinator").post(
            f"/cases/{case_id}/review-decision", {"decision": "no_action"}
        )
    )
    engine = make_engine(world.settings.database_url)
    purge(make_sessionmaker(engine), world.vault, as_of=today() + timedelta(days=1096))
    engine.dispose()
    problem(world.as_("coordinator").get(f"/cases/{case_id}/subject-access-export"), 410)
