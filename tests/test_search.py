"""Finding a case by the minor's identity (issue 16, point 8): ``POST /cases/search``.

Exact after normalisation, through the blind index; only the caller's cells' cases, each as
the charter lets the caller see it; closed ones named by state and dates only; one audit event
per search with the number of results and never the terms; at most
``CENOMED_SEARCHES_PER_HOUR`` searches per account in any hour.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app import clock
from app.audit.models import AuditEvent
from app.clock import today
from app.crypto.envelope import FieldCipher
from app.crypto.models import CaseKey
from app.vocabulary import Organisation, Role
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import (
    declared_body,
    meeting,
    ok,
    problem,
    submit,
    to_cell_review,
    to_research,
)

# Invented people. The stored spelling has an accent, a hyphen and two first names.
LAST = "Zyxwavel-Dûmontier"
FIRST = "Quentinette Aude"
BORN = date(today().year - 14, 3, 9)
NAMES = {"last_name": LAST, "first_name": FIRST}


def minor(last: str = LAST, first: str = FIRST, born: date = BORN) -> dict[str, Any]:
    return {"minor": {"last_name": last, "first_name": first, "birth_date": born.isoformat()}}


def terms(last: str = LAST, first: str = FIRST, born: date = BORN) -> dict[str, str]:
    return {"last_name": last, "first_name": first, "birth_date": born.isoformat()}


def search(world: World, who: str, body: dict[str, Any]) -> Any:
    return world.as_(who).post("/cases/search", body)


def found(world: World, who: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = ok(search(world, who, body or terms()))
    assert answer["count"] == len(answer["items"])
    return answer


def ids(answer: dict[str, Any]) -> list[str]:
    return [item["id"] for item in answer["items"]]


@contextmanager
def at(world: World, instant: datetime) -> Iterator[None]:
    """The requests of this block are handled at ``instant`` (the server's clock pinned)."""
    overrides = world.client.app.dependency_overrides  # type: ignore[attr-defined]
    overrides[clock.now] = lambda: instant
    try:
        yield
    finally:
        overrides.pop(clock.now, None)


def close_without_action(world: World) -> str:
    case_id = to_cell_review(world, **minor())
    ok(
        world.as_("coordinator").post(
            f"/cases/{case_id}/review-decision", {"decision": "no_action"}
        )
    )
    return case_id


# --- matching ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "first"),
    [
        (LAST, FIRST),
        ("zyxwavel-dumontier", "quentinette aude"),  # case and accents
        ("  ZYXWAVEL   DÛMONTIER ", "Quentinette-Aude"),  # spacing, hyphen as a space
        ("Zyx\u200bwavel-Du\u0302montier", "Quen\u2060tinette\u00a0Aude"),  # invisible, NFD
        ("ＺＹＸＷＡＶＥＬ-Dumontier", "QUENTINETTE AUDE"),  # full-width letters (NFKC)
    ],
)
def test_the_whole_identity_is_found_whatever_its_spelling(
    world: World, last: str, first: str
) -> None:
    case_id = submit(world, by="coordinator", **minor())
    answer = found(world, "coordinator", terms(last, first))
    assert ids(answer) == [case_id]
    [item] = answer["items"]
    assert item["minor"]["last_name"] == LAST
    assert item["minor"]["first_name"] == FIRST


@pytest.mark.parametrize(
    "body",
    [
        terms(last="Zyxwavel"),  # one of the two words of the last name
        terms(last="Zyxwavel-Dûmontie"),  # a letter short
        terms(first="Quentinette"),  # one of the two first names
        terms(last="Zyxwavel Dûmontier Quentinette", first="Aude"),  # words moved across
        terms(last=FIRST, first=LAST),  # names swapped
        terms(born=BORN + timedelta(days=1)),  # the birth date of another day
        terms(last="Zyxwaveldumontier"),  # two words are not one
    ],
)
def test_nothing_but_the_whole_identity_matches(world: World, body: dict[str, str]) -> None:
    submit(world, by="coordinator", **minor())
    assert found(world, "coordinator", body) == {"count": 0, "items": []}


@pytest.mark.parametrize("wildcard", ["Zyx*", "Zyx%", "Zyxwave?", "Zyx_wavel"])
def test_a_wildcard_is_refused_not_matched(world: World, wildcard: str) -> None:
    submit(world, by="coordinator", **minor())
    refused = problem(search(world, "coordinator", terms(last=wildcard)), 422)
    assert refused["type"] == "urn:cenomed:problem:validation-error"
    assert [e["type"] for e in refused["errors"]] == ["wildcard_not_allowed"]
    assert refused["errors"][0]["loc"] == ["body", "last_name"]


def test_only_the_callers_cells_cases_are_found(world: World) -> None:
    ours = submit(world, by="coordinator", **minor())
    theirs_body = declared_body(world.other_cell.id, received_days_ago=3, **minor())
    theirs = ok(world.as_("coordinator-19").post("/cases", theirs_body))["id"]
    answer = search(world, "coordinator", terms())
    assert ids(ok(answer)) == [ours]
    assert theirs not in answer.text
    assert ids(found(world, "coordinator-19")) == [theirs]
    # A cell's parquet finds nothing of the other cell either.
    ok(world.as_("coordinator-19").post(f"/cases/{theirs}/parquet-referral"))
    assert ids(found(world, "parquet")) == []
    assert ids(found(world, "parquet-19")) == [theirs]


def test_several_cases_of_one_minor_come_newest_first(world: World) -> None:
    first = submit(world, by="coordinator", received_days_ago=60, **minor())
    second = submit(world, by="coordinator", received_days_ago=10, **minor())
    submit(world, by="coordinator", **minor(first="Aurélienne"))  # another minor
    assert ids(found(world, "coordinator")) == [second, first]


def test_a_search_follows_an_amended_identity(world: World) -> None:
    case_id = submit(world, by="coordinator", **minor())
    coordinator = world.as_("coordinator")
    ok(coordinator.patch(f"/cases/{case_id}", {"minor": {"first_name": "Ysoline"}}))
    assert found(world, "coordinator")["count"] == 0  # the old identity finds nothing now
    assert ids(found(world, "coordinator", terms(first="ysoline"))) == [case_id]


# --- each case as the charter lets the caller see it ------------------------------------------


def test_each_role_finds_what_the_charter_lets_it_see_at_each_step(world: World) -> None:
    case_id = submit(world, by="police", **minor())
    # Submitted: the coordinator sees everything; nobody else sees the identity (the member
    # who sent it sees their submission's workflow in their list, never matched by name).
    assert ids(found(world, "coordinator")) == [case_id]
    for role in ("parquet", "police", "teacher", "cst"):
        assert found(world, role)["count"] == 0, role

    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    [parquet_view] = found(world, "parquet")["items"]
    assert parquet_view["minor"]["last_name"] == LAST
    assert "contact" in parquet_view["withheld"]
    assert "address" not in str(parquet_view)
    for role in ("police", "teacher", "cst"):
        assert found(world, role)["count"] == 0, role

    ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": True}))
    [member_view] = found(world, "teacher")["items"]
    assert member_view["minor"]["first_name"] == FIRST
    assert set(member_view["withheld"]) >= {"contact", "orientation", "feedback"}
    assert "contact" not in member_view
    assert found(world, "cst")["count"] == 0  # R13: not during the research

    ok(world.as_("coordinator").post(f"/meetings/{meeting(world)}/cases", {"case_id": case_id}))
    [cst_view] = found(world, "cst")["items"]
    assert cst_view["minor"]["last_name"] == LAST
    assert cst_view["withheld"] == ["contact", "facts", "research", "orientation", "feedback"]
    assert "motifs" not in cst_view
    assert "facts" not in cst_view


def test_the_coordinator_finds_each_case_as_the_list_shows_it(world: World) -> None:
    case_id = to_research(world, **minor())
    [from_search] = found(world, "coordinator")["items"]
    [from_list] = ok(world.as_("coordinator").get("/cases"))["items"]
    assert from_list["id"] == case_id
    assert from_search == from_list


def test_a_closed_case_is_found_as_the_archives_index_lists_it(world: World) -> None:
    case_id = close_without_action(world)
    before = head(world)
    answer = search(world, "coordinator", terms())
    logged = [(e["action"], e["case_id"], e["blocks"], e["detail"]) for e in events(world, before)]
    assert logged == [
        ("search_cases", case_id, [], "archive_index"),
        ("search_cases", None, [], "results:1"),
    ]
    [entry] = ok(answer)["items"]
    assert entry["id"] == case_id
    assert set(entry) == {
        "id",
        "reference",
        "state",
        "cell_id",
        "version",
        "received_on",
        "submitted_at",
        "closed_at",
        "closure_reason",
        "withheld",
    }
    assert entry["state"] == "closed"
    assert entry["closure_reason"] == "no_action"
    assert set(entry["withheld"]) == {
        "workflow",
        "identity",
        "contact",
        "facts",
        "research",
        "orientation",
        "feedback",
    }
    # Exactly what the list of closed cases shows of it.
    [listed] = ok(world.as_("coordinator").get("/cases", params={"state": "closed"}))["items"]
    assert entry == listed
    assert "Zyxwavel" not in answer.text
    assert "Quentinette" not in answer.text
    assert "Absences" not in answer.text
    # The parquet may ask for the archive too; the members and the CST may not: nothing.
    assert ids(found(world, "parquet")) == [case_id]
    for role in ("police", "teacher", "cst"):
        assert found(world, role)["count"] == 0, role
    # The way to read it: a motivated, time-limited archive access (R17).
    reason = {"reason": "Relire la situation avant la réunion de la cellule du mois."}
    ok(world.as_("coordinator").post(f"/cases/{case_id}/archive-access", reason))


def test_with_an_archive_access_the_closed_case_is_shown(world: World) -> None:
    case_id = close_without_action(world)
    reason = {"reason": "Relire la situation avant la réunion de la cellule du mois."}
    ok(world.as_("coordinator").post(f"/cases/{case_id}/archive-access", reason))
    answer = found(world, "coordinator")
    assert ids(answer) == [case_id]
    assert answer["items"][0]["minor"]["last_name"] == LAST
    # Read from the archive: a high-severity read, as any archive read (R17).
    [read] = [e for e in events(world) if e["action"] == "search_cases" and e["case_id"] == case_id]
    assert read["severity"] == "high"


def test_only_the_cases_returned_are_decrypted(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    match = to_research(world, **minor())
    for n in range(3):
        submit(world, by="coordinator", **minor(first=f"Aurélienne{'e' * n}"))
    closed = close_without_action(world)
    vault = world.vault
    opened: list[uuid.UUID] = []
    original = vault.cipher_for

    def counting(case_id: uuid.UUID, key: CaseKey | None) -> FieldCipher:
        opened.append(case_id)
        return original(case_id, key)

    monkeypatch.setattr(vault, "cipher_for", counting)
    answer = found(world, "coordinator")
    assert sorted(ids(answer)) == sorted([match, closed])
    assert [str(c) for c in opened] == [match]  # the closed case is listed, never opened


# --- the audit log -------------------------------------------------------------------------------


def test_each_search_is_logged_with_its_count_and_never_its_terms(world: World) -> None:
    case_id = to_research(world, **minor())
    before = head(world)
    found(world, "teacher")
    found(world, "teacher", terms(first="Aurélienne"))
    logged = events(world, before)
    assert [(e["action"], e["case_id"], e["outcome"], e["detail"]) for e in logged] == [
        ("search_cases", case_id, "allowed", None),
        ("search_cases", None, "allowed", "results:1"),
        ("search_cases", None, "allowed", "results:0"),
    ]
    assert sorted(logged[0]["blocks"]) == ["facts", "identity", "research", "workflow"]
    assert {e["actor_id"] for e in logged} == {world.users["teacher"]}
    with world.db() as session:
        bodies = session.scalars(select(AuditEvent.body).where(AuditEvent.seq > before)).all()
    raw = b"".join(bodies).decode().casefold()
    for term in ("zyxwavel", "dûmontier", "dumontier", "quentinette", "aude", "aurélienne"):
        assert term not in raw
    assert BORN.isoformat() not in raw


def test_a_refused_search_is_logged_without_its_terms(world: World) -> None:
    before = head(world)
    refused = problem(search(world, "auditor", terms()), 403)
    assert refused["type"] == "urn:cenomed:problem:role-not-allowed"
    problem(search(world, "admin", terms()), 403)
    problem(search(world, "coordinator", {**terms(), "birth_date": "le 9 mars"}), 422)
    logged = events(world, before)
    assert [(e["action"], e["outcome"], e["detail"]) for e in logged] == [
        ("search_cases", "denied", "role-not-allowed"),
        ("search_cases", "denied", "role-not-allowed"),
        ("search_cases", "denied", "validation-error"),
    ]
    assert "zyxwavel" not in str(logged).casefold()


def test_the_charter_comes_first(world: World) -> None:
    world.add_user("new-member", Role.MEMBER, Organisation.POLICE, accept_charter=False)
    refused = problem(search(world, "new-member", terms()), 403)
    assert refused["type"] == "urn:cenomed:problem:charter-not-accepted"


# --- bad bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"last_name": LAST, "first_name": FIRST}, ["body", "birth_date"]),
        ({**terms(), "birth_date": "2012-13-40"}, ["body", "birth_date"]),
        ({**terms(), "last_name": ""}, ["body", "last_name"]),
        ({**terms(), "last_name": "\u200b\u200b"}, ["body", "last_name"]),
        ({**terms(), "first_name": "1234"}, ["body", "first_name"]),
        ({**terms(), "first_name": "Quentinette\x00"}, ["body", "first_name"]),
        ({**terms(), "last_name": "Z" * 101}, ["body", "last_name"]),
        ({**terms(), "sex": "F"}, ["body", "(unknown field)"]),
        ({**terms(), "last_name": ["Zyxwavel"]}, ["body", "last_name"]),
    ],
)
def test_a_bad_body_is_refused_and_its_values_never_echoed(
    world: World, body: dict[str, Any], where: list[str]
) -> None:
    response = search(world, "coordinator", body)
    refused = problem(response, 422)
    assert where in [e["loc"] for e in refused["errors"]]
    assert "Quentinette" not in response.text
    assert "Dûmontier" not in response.text


def test_the_terms_go_in_the_body_only(world: World) -> None:
    operation = world.client.get("/openapi.json").json()["paths"]["/api/v1/cases/search"]
    assert set(operation) == {"post"}
    assert "parameters" not in operation["post"]
    assert set(operation["post"]["responses"]) >= {"200", "401", "403", "422", "429"}


# --- at most so many searches per hour ---------------------------------------------------------


def test_the_searches_of_an_hour_are_limited_per_account(world: World) -> None:
    per_hour = world.settings.searches_per_hour
    assert per_hour == 30  # the documented default
    for _ in range(per_hour):
        found(world, "coordinator")
    before = head(world)
    refused = search(world, "coordinator", terms())
    body = problem(refused, 429)
    assert body["type"] == "urn:cenomed:problem:too-many-searches"
    assert refused.headers["Retry-After"]
    [logged] = events(world, before)
    assert (logged["action"], logged["outcome"], logged["detail"]) == (
        "search_cases",
        "denied",
        "too-many-searches",
    )
    assert logged["actor_id"] == world.users["coordinator"]
    # Another account is not held back by this one's searches.
    found(world, "parquet")

    with world.db() as session:
        first_search = session.scalars(
            select(AuditEvent.at)
            .where(
                AuditEvent.action == "search_cases",
                AuditEvent.actor_id == world.users["coordinator"],
                AuditEvent.outcome == "allowed",
            )
            .order_by(AuditEvent.seq)
        ).first()
    assert first_search is not None
    # An hour after the first search, less a microsecond: thirty still in the hour.
    with at(world, first_search + timedelta(hours=1) - timedelta(microseconds=1)):
        problem(search(world, "coordinator", terms()), 429)
    # An hour after it exactly: the first has left the hour, one more is allowed.
    with at(world, first_search + timedelta(hours=1)):
        found(world, "coordinator")
        problem(search(world, "coordinator", terms()), 429)


def test_refused_searches_do_not_count(world: World) -> None:
    for _ in range(world.settings.searches_per_hour + 5):
        problem(search(world, "coordinator", terms(last="Zyx*")), 422)
    found(world, "coordinator")
