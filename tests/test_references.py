"""Case references and finding a case again in a list (issue 16, points 1 and 9): a reference
per cell and year of receipt, a list that finds one, sorts by the date it shows, and lists the
closed cases as the archive's index to those who may ask for an archive access."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import update

from app import migrate
from app.cases.models import Case
from app.clock import today
from app.db import utcnow
from app.directory import service as directory
from app.vocabulary import CellKind, Organisation, Role
from tests.audit.log import head
from tests.conftest import World
from tests.scenario import (
    case_body,
    declared_body,
    ok,
    on_day,
    problem,
    submit,
    to_cell_review,
)


def _declared(cell_id: int) -> dict[str, object]:
    return declared_body(cell_id, received_days_ago=0)


def _reference(world: World, case_id: str) -> str:
    return str(ok(world.as_("coordinator").get(f"/cases/{case_id}"))["reference"])


def test_references_count_within_a_cell_and_its_year_of_receipt(world: World) -> None:
    year = today().year
    first = submit(world, by="police", received_days_ago=0)
    second = submit(world, by="teacher", received_days_ago=0)
    assert [_reference(world, first), _reference(world, second)] == [
        f"18-{year}-0001",
        f"18-{year}-0002",
    ]
    # Another cell numbers its own; a recidivism group's reference starts with R.
    other = ok(world.as_("coordinator-19").post("/cases", _declared(world.other_cell.id)))
    assert other["reference"] == f"19-{year}-0001"
    with world.db() as session:
        group = directory.create_cell(
            session, name="Récidive 18e", kind=CellKind.RECIDIVISM, arrondissement=18
        )
    world.add_user("pjj", Role.MEMBER, Organisation.PJJ, cells=[group.id])
    body = case_body(group.id)
    body["minor"]["birth_date"] = date(year - 20, 3, 1).isoformat()
    assert ok(world.as_("pjj").post("/cases", body))["reference"] == f"R18-{year}-0001"


def test_a_signalement_declared_received_last_year_takes_last_years_number(
    world: World,
) -> None:
    """The year is the year of receipt: on 5 January, a letter of 30 December is numbered in
    the year it reached the coordinator."""
    january = date(today().year, 1, 5)
    with on_day(world, january):
        body = declared_body(world.cell.id, received_days_ago=0)
        body["received_on"] = date(january.year - 1, 12, 30).isoformat()
        body["minor"]["birth_date"] = date(january.year - 14, 2, 1).isoformat()
        late = ok(world.as_("coordinator").post("/cases", body))
        body["received_on"] = january.isoformat()
        fresh = ok(world.as_("coordinator").post("/cases", body))
    assert late["reference"] == f"18-{january.year - 1}-0001"
    assert fresh["reference"] == f"18-{january.year}-0001"


def test_a_reference_finds_its_case_in_the_callers_cells_only(world: World) -> None:
    case_id = submit(world, by="police")
    reference = _reference(world, case_id)
    found = ok(world.as_("coordinator").get("/cases", params={"reference": reference}))
    assert [c["id"] for c in found["items"]] == [case_id]
    # Another cell's coordinator: nothing (existence not revealed).
    other = ok(world.as_("coordinator-19").get("/cases", params={"reference": reference}))
    assert other["items"] == []
    before = head(world)
    refused = problem(world.as_("coordinator").get("/cases", params={"reference": "Zyx*"}), 422)
    assert refused["type"] == "urn:cenomed:problem:validation-error"
    assert head(world) == before + 1  # the refusal, and nothing read


def test_closed_cases_are_the_archives_index_for_who_may_ask_an_access(world: World) -> None:
    closed = to_cell_review(world)
    reference = _reference(world, closed)
    ok(world.as_("coordinator").post(f"/cases/{closed}/review-decision", {"decision": "no_action"}))
    open_case = submit(world, by="police")
    for role in ("coordinator", "parquet"):
        listed = ok(world.as_(role).get("/cases", params={"state": "closed"}))["items"]
        assert [c["id"] for c in listed] == [closed]
        [entry] = listed
        assert entry["closure_reason"] == "no_action"
        assert entry["closed_at"] is not None
        assert entry["reference"] == reference
        assert "minor" not in entry
        assert "history" not in entry
        assert entry["withheld"] == [
            "workflow", "identity", "contact", "facts", "research", "orientation", "feedback"
        ]  # fmt: skip
    # A member, who cannot ask for an archive access, sees none; nor does anyone unfiltered.
    assert ok(world.as_("police").get("/cases", params={"state": "closed"}))["items"] == []
    listed = ok(world.as_("coordinator").get("/cases"))["items"]
    assert closed not in [c["id"] for c in listed]
    assert open_case in [c["id"] for c in listed]


def test_lists_sort_by_the_date_they_show(world: World) -> None:
    old = submit(world, by="police", received_days_ago=30)
    new = submit(world, by="police", received_days_ago=2)
    middle = submit(world, by="police", received_days_ago=10)
    coordinator = world.as_("coordinator")

    def ids(**params: str) -> list[str]:
        return [c["id"] for c in ok(coordinator.get("/cases", params=params))["items"]]

    assert ids() == [new, middle, old]  # newest received first, by default
    assert ids(sort="received_on") == [new, middle, old]
    ok(coordinator.patch(f"/cases/{old}", {"facts": "Complétés (fictif)."}))
    assert ids(sort="updated_at")[0] == old
    problem(coordinator.get("/cases", params={"sort": "name"}), 422)


def test_a_page_cursor_belongs_to_its_sort(world: World) -> None:
    for days in (3, 2, 1):
        submit(world, by="police", received_days_ago=days)
    coordinator = world.as_("coordinator")
    first = ok(coordinator.get("/cases", params={"limit": 2}))
    assert first["next_cursor"]
    rest = ok(coordinator.get("/cases", params={"limit": 2, "cursor": first["next_cursor"]}))
    assert len(rest["items"]) == 1
    assert {c["id"] for c in first["items"]}.isdisjoint({c["id"] for c in rest["items"]})
    refused = problem(
        coordinator.get(
            "/cases", params={"limit": 2, "cursor": first["next_cursor"], "sort": "updated_at"}
        ),
        422,
    )
    assert refused["type"] == "urn:cenomed:problem:invalid-cursor"


# --- the migration ------------------------------------------------------------------------------


def test_the_migration_numbers_the_cases_stored_before_it(world: World) -> None:
    """Cases stored before 0010 get references in the order they were received, per cell and
    year; the service then goes on from the last number."""
    year = today().year
    later = submit(world, by="police", received_days_ago=3)
    earlier = submit(world, by="police", received_days_ago=20)
    elsewhere = ok(world.as_("coordinator-19").post("/cases", _declared(world.other_cell.id)))["id"]
    migrate.downgrade(world.settings.database_url, "0009")
    migrate.upgrade(world.settings.database_url)
    assert _reference(world, earlier) == f"18-{year}-0001"
    assert _reference(world, later) == f"18-{year}-0002"
    assert ok(world.as_("coordinator-19").get(f"/cases/{elsewhere}"))["reference"] == (
        f"19-{year}-0001"
    )
    assert ok(world.as_("police").post("/cases", case_body(world.cell.id)))["reference"] == (
        f"18-{year}-0003"
    )


def test_the_downgrade_refuses_while_a_withdrawn_case_exists(world: World) -> None:
    case_id = submit(world, by="police")
    ok(world.as_("police").post(f"/cases/{case_id}/withdrawal", {"reason": "other"}))
    migrate.downgrade(world.settings.database_url, "0010")  # the later revisions first
    with pytest.raises(RuntimeError, match="withdrawn"):
        migrate.downgrade(world.settings.database_url, "0009")
    # Nothing was lost by the refused downgrade.
    migrate.upgrade(world.settings.database_url)
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["state"] == "withdrawn"
    with world.db() as session:
        session.execute(
            update(Case)
            .where(Case.id == uuid.UUID(case_id))
            .values(state="purged", purged_at=utcnow())
        )
    migrate.downgrade(world.settings.database_url, "0009")
    migrate.upgrade(world.settings.database_url)
