"""R1 charter acceptance and R17 archive access, over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.cases.models import ArchiveAccess
from app.vocabulary import Organisation, Role
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import case_body, meeting, ok, problem, submit, to_cell_review

REASON = {"reason": "Demande du juge des enfants sur la suite donnée au signalement."}


def test_me_tells_the_charter_in_force_and_acceptance_records_it(world: World) -> None:
    world.add_user("newcomer", Role.MEMBER, Organisation.MAIRIE, accept_charter=False)
    newcomer = world.as_("newcomer")
    charter = ok(newcomer.get("/me"))["charter"]
    assert charter == {"current_version": world.settings.charter_version, "accepted": False}
    wrong = problem(newcomer.post("/me/charter-acceptance", {"version": "1999"}), 409)
    assert world.settings.charter_version in wrong["detail"]
    accepted = ok(newcomer.post("/me/charter-acceptance", {"version": charter["current_version"]}))
    assert accepted["charter"]["accepted"] is True
    assert ok(newcomer.get("/me"))["charter"]["accepted"] is True
    # Idempotent.
    ok(newcomer.post("/me/charter-acceptance", {"version": charter["current_version"]}))


def test_without_the_charter_every_case_action_is_refused_with_what_to_do(world: World) -> None:
    case_id = submit(world)
    meeting_id = meeting(world)
    world.add_user("newcomer", Role.COORDINATOR, accept_charter=False)
    newcomer = world.as_("newcomer")
    for response in (
        newcomer.get(f"/cases/{case_id}"),
        newcomer.get("/cases"),
        newcomer.post("/cases", case_body(world.cell.id)),
        newcomer.post(f"/cases/{case_id}/parquet-referral"),
        newcomer.get(f"/meetings/{meeting_id}"),
    ):
        body = problem(response, 403)
        assert body["type"] == "urn:cenomed:problem:charter-not-accepted"
        assert "charter-acceptance" in body["detail"]


def test_a_new_charter_version_must_be_accepted_again(world: World) -> None:
    case_id = submit(world)
    world.settings.charter_version = "2027-v2"
    try:
        assert ok(world.as_("coordinator").get("/me"))["charter"]["accepted"] is False
        problem(world.as_("coordinator").get(f"/cases/{case_id}"), 403)
        world.accept_charter("coordinator")
        assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["id"] == case_id
    finally:
        world.settings.charter_version = Settings_default()


def Settings_default() -> str:
    from app.config import Settings

    return str(Settings.model_fields["charter_version"].default)


def _closed_case(world: World) -> str:
    case_id = to_cell_review(world)
    ok(
        world.as_("coordinator").post(
            f"/cases/{case_id}/review-decision", {"decision": "no_action"}
        )
    )
    return case_id


@pytest.mark.parametrize("who", ["coordinator", "parquet"])
def test_archive_access_opens_a_closed_case_for_a_few_hours(world: World, who: str) -> None:
    case_id = _closed_case(world)
    body = problem(world.as_(who).get(f"/cases/{case_id}"), 403)
    assert body["type"].endswith("archive-access-required")
    granted = world.as_(who).post(f"/cases/{case_id}/archive-access", REASON)
    assert granted.status_code == 201, granted.text
    expires = datetime.fromisoformat(granted.json()["expires_at"])
    hours = (expires - datetime.fromisoformat(granted.json()["granted_at"])).total_seconds() / 3600
    assert hours == pytest.approx(world.settings.archive_access_hours)
    assert "minor" in ok(world.as_(who).get(f"/cases/{case_id}"))
    # Another user of the cell does not share the access.
    other = "parquet" if who == "coordinator" else "coordinator"
    problem(world.as_(other).get(f"/cases/{case_id}"), 403)


def test_an_expired_archive_access_opens_nothing(world: World) -> None:
    case_id = _closed_case(world)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/archive-access", REASON))
    with world.db() as session:
        session.execute(
            update(ArchiveAccess).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    problem(world.as_("coordinator").get(f"/cases/{case_id}"), 403)


@pytest.mark.parametrize("who", ["teacher", "cst"])
def test_only_the_coordinator_and_the_parquet_open_the_archive(world: World, who: str) -> None:
    case_id = _closed_case(world)
    problem(world.as_(who).post(f"/cases/{case_id}/archive-access", REASON), 403)


@pytest.mark.parametrize("reason", ["", "parce que", "x" * 30, "a b c"])
def test_an_archive_access_needs_a_reason_in_a_sentence(world: World, reason: str) -> None:
    case_id = _closed_case(world)
    problem(
        world.as_("coordinator").post(f"/cases/{case_id}/archive-access", {"reason": reason}), 422
    )


def test_an_open_case_needs_no_archive_access(world: World) -> None:
    case_id = submit(world)
    body = problem(world.as_("coordinator").post(f"/cases/{case_id}/archive-access", REASON), 409)
    assert body["type"].endswith("not-archived")


def test_the_archive_reason_is_stored_encrypted(world: World) -> None:
    case_id = _closed_case(world)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/archive-access", REASON))
    with world.db() as session:
        from sqlalchemy import select

        [stored] = session.scalars(select(ArchiveAccess.reason_enc))
    assert REASON["reason"].encode() not in stored


def test_simultaneous_acceptances_are_one(world: World) -> None:
    import threading

    world.add_user("twice", Role.MEMBER, Organisation.MAIRIE, accept_charter=False)
    version = world.settings.charter_version
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def accept() -> None:
        barrier.wait()
        statuses.append(
            world.as_("twice").post("/me/charter-acceptance", {"version": version}).status_code
        )

    threads = [threading.Thread(target=accept) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 4
    assert ok(world.as_("twice").get("/me"))["charter"]["accepted"] is True


@pytest.mark.parametrize(
    ("asked", "recorded"),
    [({"purpose": "judicial_request"}, "judicial_request"), ({}, "other")],
)
def test_an_archive_access_records_its_purpose_in_the_log(
    world: World, asked: dict[str, str], recorded: str
) -> None:
    """R17 and R23's "why": the purpose, from a closed list, is in the access and in its
    audit event, for the auditor; without one (an older client), it is "other"."""
    case_id = _closed_case(world)
    before = head(world)
    granted = ok(
        world.as_("coordinator").post(f"/cases/{case_id}/archive-access", {**REASON, **asked})
    )
    assert granted["purpose"] == recorded
    with world.db() as session:
        [access] = session.scalars(select(ArchiveAccess))
    assert access.purpose == recorded
    [event] = [e for e in events(world, before) if e["action"] == "request_archive_access"]
    assert event["detail"] == f"archive_access:{access.id} purpose:{recorded}"
    assert event["severity"] == "high"


def test_an_archive_access_with_a_purpose_off_the_list_is_refused_and_logged(
    world: World,
) -> None:
    case_id = _closed_case(world)
    before = head(world)
    body = problem(
        world.as_("coordinator").post(
            f"/cases/{case_id}/archive-access", {**REASON, "purpose": "curiosity"}
        ),
        422,
    )
    assert body["type"].endswith("validation-error")
    [refusal] = events(world, before)
    assert (refusal["action"], refusal["outcome"], refusal["case_id"]) == (
        "request_archive_access",
        "denied",
        case_id,
    )
    with world.db() as session:
        assert session.scalars(select(ArchiveAccess)).all() == []
