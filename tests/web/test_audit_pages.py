"""The auditor's screen over the audit service: filtered events, the verification verdict,
who looked at a file; each read of the log is itself logged, and only auditors get in."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest

from app.clock import today
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import FIRST_NAME, LAST_NAME, ok, submit, to_cell_review
from tests.web.browser import signed_in, title_of


def _rows(page: str) -> list[dict[str, Any]]:
    """The events a page lists: sequence number, the cells of the row as text."""
    rows = []
    for seq, cells in re.findall(r'<tr[^>]*>\s*<th scope="row">(\d+)</th>(.*?)</tr>', page, re.S):
        texts = [
            html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)
        ]
        rows.append({"seq": int(seq), "cells": [" ".join(words) for words in texts]})
    return rows


def _no_name(page: Any) -> None:
    assert LAST_NAME not in page.text
    assert FIRST_NAME not in page.text
    assert LAST_NAME not in title_of(page)


def test_the_auditor_finds_the_reads_of_a_case_made_through_its_page(world: World) -> None:
    case_id = to_cell_review(world)
    cst = signed_in(world, "cst")
    assert cst.get(f"/dossiers/{case_id}").status_code == 200
    reads = [
        e
        for e in events(world)
        if (e["action"], e["case_id"], e["outcome"]) == ("read_case", case_id, "allowed")
    ]
    by_cst = [e for e in reads if e["actor_id"] == world.users["cst"]]
    assert len(by_cst) == 1

    auditor = signed_in(world, "auditor")
    before = head(world)
    page = auditor.get(f"/audit?action=read_case&dossier={case_id}")
    assert page.status_code == 200
    _no_name(page)
    rows = _rows(page.text)
    assert [row["seq"] for row in rows] == [e["seq"] for e in reads]
    [row] = [r for r in rows if r["seq"] == by_cst[0]["seq"]]
    assert row["cells"][1].startswith(
        f"n° {world.users['cst']} Coordinateur ou coordinatrice sociale"
    )
    assert row["cells"][2] == "Consultation d'une situation"
    assert row["cells"][5] == "Autorisée"
    # Reading the log is itself logged, as through the API.
    [logged] = events(world, before)
    assert (logged["action"], logged["actor_id"], logged["case_id"]) == (
        "read_audit_events",
        world.users["auditor"],
        case_id,
    )


def test_the_filters_narrow_the_events_as_the_api_does(world: World) -> None:
    case_id = to_cell_review(world)
    assert signed_in(world, "coordinator-19").get(f"/dossiers/{case_id}").status_code == 404
    auditor = signed_in(world, "auditor")
    actor = world.users["coordinator-19"]
    query = f"resultat=denied&acteur={actor}&du={today().isoformat()}&au={today().isoformat()}"
    page = auditor.get(f"/audit?{query}")
    api = ok(world.as_("auditor").get(f"/audit/events?outcome=denied&actor_id={actor}"))
    assert [row["seq"] for row in _rows(page.text)] == [e["seq"] for e in api["items"]]
    assert len(api["items"]) == 1
    assert "Refusée" in page.text
    assert "case-not-found" in page.text  # the refusal's code, never a value

    tomorrow = (today() + timedelta(days=1)).isoformat()
    page = auditor.get(f"/audit?du={tomorrow}")
    assert _rows(page.text) == []
    assert "Aucun événement ne correspond" in page.text
    page = auditor.get("/audit?gravite=high&action=read_case&resultat=allowed")
    assert _rows(page.text) == []


def test_the_events_come_a_page_at_a_time(world: World) -> None:
    for _ in range(6):
        to_cell_review(world)
    assert head(world) > 55
    auditor = signed_in(world, "auditor")
    first = auditor.get("/audit")
    seqs = [row["seq"] for row in _rows(first.text)]
    assert seqs == list(range(1, 51))
    found = re.search(r'<a href="([^"]+)">Événements suivants</a>', first.text)
    assert found is not None
    second = auditor.get(html.unescape(found.group(1)))
    assert [row["seq"] for row in _rows(second.text)][:1] == [51]
    assert auditor.get("/audit?suite=pas-un-curseur").status_code == 422


def test_wrong_filters_say_which_and_read_nothing(world: World) -> None:
    auditor = signed_in(world, "auditor")
    before = head(world)
    page = auditor.get("/audit?acteur=abc&dossier=42&du=hier&action=tout")
    assert page.status_code == 422
    for name in ("acteur", "dossier", "du", "action"):
        assert f'id="{name}-erreur"' in page.text, name
    assert 'aria-invalid="true"' in page.text
    assert head(world) == before


@pytest.mark.parametrize("username", ["police", "coordinator", "steering"])
def test_only_auditors_get_the_audit_screen(world: World, username: str) -> None:
    if username == "steering":
        from app.vocabulary import Role

        world.add_user("steering", Role.STEERING, cells=[])
    case_id = to_cell_review(world)
    browser = signed_in(world, username)
    assert 'href="/audit"' not in browser.get("/charte").text  # not in the menu either
    before = head(world)
    for path, action in [
        ("/audit", "read_audit_events"),
        ("/audit?acteur=abc", "read_audit_events"),
        ("/audit/verification", "verify_audit_log"),
    ]:
        page = browser.get(path)
        assert page.status_code == 403, path
        assert "Action non permise" in page.text
        [refusal] = events(world, before)
        assert (refusal["action"], refusal["outcome"], refusal["actor_id"]) == (
            action,
            "denied",
            world.users[username],
        )
        before = head(world)
    # "Who looked at this file": its coordinator may (R23), a member may not, and to whoever
    # is not of its cell the case does not exist.
    page = browser.get(f"/audit/dossiers/{case_id}")
    assert page.status_code == {"coordinator": 200, "police": 403, "steering": 404}[username]


def test_the_verification_verdict_is_the_api_one_and_is_logged(world: World) -> None:
    to_cell_review(world)
    auditor = signed_in(world, "auditor")
    before = head(world)
    page = auditor.get("/audit/verification")
    assert page.status_code == 200
    assert "Le journal est intact" in page.text
    assert f"<dt>Événements vérifiés</dt><dd>{before}</dd>" in page.text
    [logged] = events(world, before)
    assert (logged["action"], logged["detail"]) == ("verify_audit_log", "valid")
    api = ok(world.as_("auditor").get("/audit/verification"))
    assert api["valid"] is True
    assert api["events"] == before + 1
    assert auditor.get("/audit").text.count('href="/audit/verification"') == 1


def test_who_looked_at_a_file(world: World) -> None:
    case_id = to_cell_review(world)
    signed_in(world, "teacher").get(f"/dossiers/{case_id}")
    auditor = signed_in(world, "auditor")
    response = auditor.get(f"/audit/dossiers?dossier={case_id}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/audit/dossiers/{case_id}"
    page = auditor.get(response.headers["location"])
    assert page.status_code == 200
    _no_name(page)
    shown = [row["seq"] for row in _rows(page.text)]
    # The API's access log, read after: the same events, and the page's own read of it.
    api = ok(world.as_("auditor").get(f"/cases/{case_id}/access-log"))
    [page_read] = [e for e in api["items"] if e["seq"] not in shown]
    assert (page_read["action"], page_read["actor_id"]) == (
        "read_access_log",
        world.users["auditor"],
    )
    assert shown == [e["seq"] for e in api["items"] if e["seq"] != page_read["seq"]]
    teacher_reads = [
        r
        for r in _rows(page.text)
        if r["cells"][1].startswith(f"n° {world.users['teacher']} ")
        and r["cells"][2] == "Consultation d'une situation"
    ]
    assert len(teacher_reads) == 1
    assert auditor.get("/audit/dossiers?dossier=pas-un-numero").status_code == 422
    other = signed_in(world, "coordinator-19").get(f"/audit/dossiers/{case_id}")
    assert other.status_code == 404


def test_the_auditor_finds_a_case_by_its_reference(world: World) -> None:
    """Issue 16: people speak of a case by its reference; the auditor's forms take it."""
    case_id = submit(world, by="police")
    reference = ok(world.as_("coordinator").get(f"/cases/{case_id}"))["reference"]
    auditor = signed_in(world, "auditor")
    found = auditor.get("/audit/dossiers", params={"dossier": reference})
    assert found.status_code == 303
    assert found.headers["location"] == f"/audit/dossiers/{case_id}"
    assert auditor.get("/audit/dossiers", params={"dossier": "18-1999-0001"}).status_code == 404
    filtered = auditor.get("/audit", params={"dossier": reference.lower()})
    assert filtered.status_code == 200
    assert case_id[:8] in filtered.text  # the case's events, by their case's id
    nothing = auditor.get("/audit", params={"dossier": "18-1999-0001"})
    assert case_id[:8] not in nothing.text
