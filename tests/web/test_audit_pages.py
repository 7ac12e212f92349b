"""The auditor's home over the audit service: the chain's last verdict at the top, the events
newest first with their actors named, filters, who looked at a file, a period's export; each
read of the log is itself logged, and only auditors get in (a case's coordinator reads its
access log, from the case page)."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from app.audit import trail
from app.audit.checkpoint import checkpoint_now
from app.clock import today
from app.vocabulary import Organisation, Role
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import (
    FIRST_NAME,
    LAST_NAME,
    ok,
    submit,
    through_the_six_steps,
    to_cell_review,
)
from tests.web.browser import signed_in, title_of

_ROW = re.compile(r'<tr[^>]*>\s*<th scope="row">(\d+)</th>(.*?)</tr>', re.S)
_CELL = re.compile(r'<td data-label="([^"]+)">(.*?)</td>', re.S)


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _rows(page: str) -> list[dict[str, Any]]:
    """The events a page lists: their seq, and each cell's text by its column's header."""
    return [
        {"seq": int(seq), **{name: _text(cell) for name, cell in _CELL.findall(cells)}}
        for seq, cells in _ROW.findall(page)
    ]


def _no_name(page: Any) -> None:
    assert LAST_NAME not in page.text
    assert FIRST_NAME not in page.text
    assert LAST_NAME not in title_of(page)


def _reference(world: World, case_id: str) -> str:
    return str(ok(world.as_("coordinator").get(f"/cases/{case_id}"))["reference"])


def test_the_auditor_finds_the_reads_of_a_case_made_through_its_page(world: World) -> None:
    case_id = to_cell_review(world)
    reference = _reference(world, case_id)
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
    # Newest first.
    assert [row["seq"] for row in rows] == sorted((e["seq"] for e in reads), reverse=True)
    [row] = [r for r in rows if r["seq"] == by_cst[0]["seq"]]
    # The actor by account name, role and organisation; the case by its reference.
    assert row["Compte"] == (
        f"cst (n° {world.users['cst']}) "
        "Coordinateur ou coordinatrice sociale de territoire (CST) DASES"
    )
    assert row["Action"] == "Consultation d'une situation"
    assert row["Situation"] == reference
    assert row["Résultat"] == "Autorisée"
    # Every cell carries its column's header, for a phone's stacked rows.
    assert re.findall(r"<td(?![^>]*data-label=)[^>]*>", page.text) == []
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
    query = f"resultat=denied&compte=coordinator-19&du={today()}&au={today()}"
    page = auditor.get(f"/audit?{query}")
    api = ok(world.as_("auditor").get(f"/audit/events?outcome=denied&actor_id={actor}"))
    assert [row["seq"] for row in _rows(page.text)] == [e["seq"] for e in api["items"]]
    assert len(api["items"]) == 1
    [row] = _rows(page.text)
    assert row["Compte"].startswith(f"coordinator-19 (n° {actor}) Coordinateur")
    assert row["Résultat"] == "Refusée"
    assert row["Détail"] == "case-not-found"  # the refusal's code, never a value

    # By account: every event of the teacher, and only theirs.
    signed_in(world, "teacher").get(f"/dossiers/{case_id}")
    teachers = [e["seq"] for e in events(world) if e["actor_id"] == world.users["teacher"]]
    page = auditor.get("/audit?compte=teacher")
    assert [row["seq"] for row in _rows(page.text)] == sorted(teachers, reverse=True)
    assert {row["Compte"].split()[0] for row in _rows(page.text)} == {"teacher"}
    assert 'href="/audit?compte=teacher"' in page.text  # each actor leads to their events

    tomorrow = (today() + timedelta(days=1)).isoformat()
    page = auditor.get(f"/audit?du={tomorrow}")
    assert _rows(page.text) == []
    assert "Aucun événement ne correspond" in page.text
    page = auditor.get("/audit?gravite=high&action=read_case&resultat=allowed")
    assert _rows(page.text) == []


def test_the_events_come_newest_first_a_page_at_a_time(world: World) -> None:
    for _ in range(6):
        to_cell_review(world)
    auditor = signed_in(world, "auditor")
    last = head(world)
    assert last > 55
    first = auditor.get("/audit")
    assert [row["seq"] for row in _rows(first.text)] == list(range(last, last - 50, -1))
    found = re.search(r'<a href="([^"]+)">Événements plus anciens</a>', first.text)
    assert found is not None
    second = auditor.get(html.unescape(found.group(1)))
    # The journal's own reads come after: the older page goes on where the first stopped.
    assert [row["seq"] for row in _rows(second.text)] == list(
        range(last - 50, max(last - 100, 0), -1)
    )
    assert auditor.get("/audit?suite=pas-un-curseur").status_code == 422
    # A cursor of the API's order (oldest first) does not continue the journal's.
    api = ok(world.as_("auditor").get("/audit/events", params={"limit": 2}))
    assert auditor.get("/audit", params={"suite": api["next_cursor"]}).status_code == 422


def test_wrong_filters_say_which_and_read_nothing(world: World) -> None:
    auditor = signed_in(world, "auditor")
    before = head(world)
    page = auditor.get("/audit?compte=personne&dossier=42&du=hier&action=tout")
    assert page.status_code == 422
    for name in ("compte", "dossier", "du", "action"):
        assert f'id="{name}-erreur"' in page.text, name
    assert "Aucun compte ne porte cet identifiant de connexion." in page.text
    assert 'aria-invalid="true"' in page.text
    assert head(world) == before


@pytest.mark.parametrize("username", ["police", "coordinator", "steering"])
def test_only_auditors_get_the_audit_screen(world: World, username: str) -> None:
    if username == "steering":
        world.add_user("steering", Role.STEERING, cells=[])
    case_id = to_cell_review(world)
    browser = signed_in(world, username)
    assert 'href="/audit"' not in browser.get("/charte").text  # not in the menu either
    before = head(world)
    today_ = today().isoformat()
    for path, action in [
        ("/audit", "read_audit_events"),
        ("/audit?compte=abc", "read_audit_events"),
        ("/audit/verification", "verify_audit_log"),
        (f"/audit/export.csv?du={today_}&au={today_}", "export_audit_events"),
        ("/audit/export.csv?du=hier", "export_audit_events"),
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
        assert refusal["detail"] == "role-not-allowed"
        before = head(world)
    # "Who looked at this file": its coordinator may (R23), a member may not, and to whoever
    # is not of its cell the case does not exist.
    page = browser.get(f"/audit/dossiers/{case_id}")
    assert page.status_code == {"coordinator": 200, "police": 403, "steering": 404}[username]


def test_the_home_says_the_last_verdict_and_a_button_runs_a_new_one(
    world: World, engine_name: str
) -> None:
    to_cell_review(world)
    auditor = signed_in(world, "auditor")
    home = auditor.get("/audit")
    assert "Le journal n'a pas encore été vérifié." in home.text
    assert "aucun pour l'instant" in home.text  # no checkpoint yet
    assert home.text.count('href="/audit/verification"') == 1
    # The home is cheap: showing it does not verify the log.
    assert "verify_audit_log" not in {e["action"] for e in events(world)}

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

    with world.db() as session:
        checkpoint_now(session, world.client.app.state.audit_signer)
    size = head(world)
    home = auditor.get("/audit")
    verdict = home.text.split('id="verdict"')[1].split("</section>")[0]
    assert "Intact à la dernière vérification" in verdict
    assert f"<dt>Événements au journal</dt><dd>{size}</dd>" in verdict
    assert f"à l'événement n° {size}, le " in verdict

    # An event edited in the database: the next verification finds it, and the home says where.
    target = 3
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
    assert "Le journal n'est pas intact" in auditor.get("/audit/verification").text
    assert events(world)[-1]["detail"] == f"invalid:{target}"
    verdict = auditor.get("/audit").text.split('id="verdict"')[1].split("</section>")[0]
    assert "Rompu à la dernière vérification" in verdict
    assert f"le premier événement en défaut est le n° {target}." in verdict


def test_who_looked_at_a_file(world: World) -> None:
    case_id = to_cell_review(world)
    reference = _reference(world, case_id)
    signed_in(world, "teacher").get(f"/dossiers/{case_id}")
    auditor = signed_in(world, "auditor")
    response = auditor.get(f"/audit/dossiers?dossier={case_id}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/audit/dossiers/{case_id}"
    page = auditor.get(response.headers["location"])
    assert page.status_code == 200
    _no_name(page)
    assert f"<h1>Qui a consulté la situation {reference}</h1>" in page.text
    shown = [row["seq"] for row in _rows(page.text)]
    # The API's access log, read after: the same events (newest first on the page), and the
    # page's own read of it.
    api = ok(world.as_("auditor").get(f"/cases/{case_id}/access-log"))
    [page_read] = [e for e in api["items"] if e["seq"] not in shown]
    assert (page_read["action"], page_read["actor_id"]) == (
        "read_access_log",
        world.users["auditor"],
    )
    assert shown == [e["seq"] for e in reversed(api["items"]) if e["seq"] != page_read["seq"]]
    teacher_reads = [
        r
        for r in _rows(page.text)
        if r["Compte"].startswith(f"teacher (n° {world.users['teacher']}) ")
        and r["Action"] == "Consultation d'une situation"
    ]
    assert len(teacher_reads) == 1
    assert auditor.get("/audit/dossiers?dossier=pas-un-numero").status_code == 422
    other = signed_in(world, "coordinator-19").get(f"/audit/dossiers/{case_id}")
    assert other.status_code == 404


def test_the_auditor_finds_a_case_by_its_reference(world: World) -> None:
    """Issue 16: people speak of a case by its reference; the auditor's forms take it."""
    case_id = submit(world, by="police")
    reference = _reference(world, case_id)
    auditor = signed_in(world, "auditor")
    found = auditor.get("/audit/dossiers", params={"dossier": reference})
    assert found.status_code == 303
    assert found.headers["location"] == f"/audit/dossiers/{case_id}"
    assert auditor.get("/audit/dossiers", params={"dossier": "18-1999-0001"}).status_code == 404
    filtered = auditor.get("/audit", params={"dossier": reference.lower()})
    assert filtered.status_code == 200
    assert {row["Situation"] for row in _rows(filtered.text)} == {reference}
    nothing = auditor.get("/audit", params={"dossier": "18-1999-0001"})
    assert _rows(nothing.text) == []


def test_an_archive_access_shows_its_window_never_its_reason(world: World) -> None:
    """The reason is nominative free text sealed with the case (R17): the auditor sees that it
    was given, by whom and for how long, not what it says (R2)."""
    case_id = through_the_six_steps(world)  # closed, then opened with a reason naming the minor
    reference = _reference(world, case_id)
    [granted] = [e for e in events(world) if e["action"] == "request_archive_access"]
    auditor = signed_in(world, "auditor")
    page = auditor.get("/audit?action=request_archive_access")
    _no_name(page)
    assert "Relire le dossier" not in page.text
    [row] = _rows(page.text)
    assert row["seq"] == granted["seq"]
    assert row["Compte"].startswith(f"coordinator (n° {world.users['coordinator']}) ")
    assert row["Situation"] == reference
    assert row["Gravité"] == "Élevée"
    assert row["Détail"].startswith("Accès à l'archive du ")
    assert "chiffré avec la situation" in row["Détail"]
    # The purpose the event recorded: the scenario's client gave none, so "other".
    assert "Motif déclaré : Autre motif, précisé dans le texte." in row["Détail"]
    assert granted["detail"] in row["Détail"]  # the access's id, to follow it further
    # The reads it opened are high-severity events of the same case.
    page = auditor.get(f"/audit/dossiers/{case_id}")
    _no_name(page)
    assert "Relire le dossier" not in page.text


def test_the_coordinator_reaches_a_cases_access_log_from_its_page(world: World) -> None:
    case_id = to_cell_review(world)
    coordinator = signed_in(world, "coordinator")
    link = f'href="/audit/dossiers/{case_id}"'
    assert link in coordinator.get(f"/dossiers/{case_id}").text
    page = coordinator.get(f"/audit/dossiers/{case_id}")
    assert page.status_code == 200
    assert f'href="/dossiers/{case_id}"' in page.text  # and back
    assert 'href="/audit?compte=' not in page.text  # the journal is not theirs
    # Members of the cell see the case, not who else looked at it: no link to a refusal.
    for username in ("police", "teacher", "parquet", "cst"):
        browser = signed_in(world, username)
        case_page = browser.get(f"/dossiers/{case_id}")
        assert case_page.status_code == 200, username
        assert link not in case_page.text, username


def test_the_auditor_and_the_steering_committee_land_on_their_homes(world: World) -> None:
    world.add_user("steering", Role.STEERING, cells=[])
    to_cell_review(world)
    for username, home, title in [
        ("auditor", "/audit", "Journal d'audit"),
        ("steering", "/indicateurs", "Indicateurs"),
    ]:
        browser = signed_in(world, username)
        page = browser.follow("/")
        assert page.status_code == 200, username
        assert str(page.url).endswith(home), username
        assert title_of(page).startswith(title), username
        assert "Vous n'êtes membre d'aucune cellule" not in page.text
        # The menu offers only what they may open.
        for path in ("/a-faire", "/dossiers", "/reunions"):
            assert f'href="{path}"' not in page.text, (username, path)
        assert ('href="/audit"' in page.text) is (username == "auditor")
        assert 'href="/indicateurs"' in page.text
    # The steering committee's figures: Paris, over the last year, by default.
    page = signed_in(world, "steering").get("/indicateurs")
    assert '<option value="paris" selected>' in page.text
    assert f"Paris (toutes les cellules), du {today().day}" in page.text or today().day == 1
    assert f"{today().year - 1} au " in page.text
    assert "Réunions tenues" in page.text
    # Every figure carries its column's header, for a phone's stacked rows.
    assert re.findall(r"<td(?![^>]*data-label=)[^>]*>", page.text) == []


def test_the_export_is_a_periods_events_without_a_name(world: World) -> None:
    writer = world.add_user("jeanne.dupont", Role.MEMBER, Organisation.EDUCATION)
    case_id = submit(world, by="jeanne.dupont", received_days_ago=0)
    reference = _reference(world, case_id)
    auditor = signed_in(world, "auditor")
    day = today().isoformat()
    before = head(world)
    response = auditor.get(f"/audit/export.csv?du={day}&au={day}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="journal-audit-{day}-{day}.csv"'
    )
    lines = response.text.splitlines()
    assert lines[0] == (
        "seq,at,actor_id,actor_role,actor_organisation,action,case_id,case_reference,blocks,"
        "outcome,severity,detail,hash,unreadable"
    )
    # Every event up to the export, its own excluded; the teacher's submission as written.
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, before + 1))
    [submitted] = [line for line in lines if ",submit_case," in line]
    fields = submitted.split(",")
    assert fields[2:9] == [
        str(writer),
        "member",
        "education",
        "submit_case",
        case_id,
        reference,
        "",  # a write: no block shown
    ]
    assert fields[9:11] == ["allowed", "info"]
    assert re.fullmatch(r"[0-9a-f]{64}", fields[12])
    # Nothing nominative: neither the minor's names nor an account's name.
    for value in (LAST_NAME, FIRST_NAME, "jeanne", "dupont"):
        assert value not in response.text, value
    # The export is itself logged, naming what it exported.
    [logged] = events(world, before)
    assert (logged["action"], logged["actor_id"], logged["detail"]) == (
        "export_audit_events",
        world.users["auditor"],
        f"up_to:{before}",
    )
    tomorrow = (today() + timedelta(days=1)).isoformat()
    empty = auditor.get(f"/audit/export.csv?du={tomorrow}&au={tomorrow}")
    assert empty.text.splitlines() == lines[:1]


def test_an_export_is_streamed_a_batch_at_a_time(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.audit import service

    monkeypatch.setattr(service, "EXPORT_BATCH", 3)
    submit(world)
    auditor = signed_in(world, "auditor")
    before = head(world)
    day = today().isoformat()
    lines = auditor.get(f"/audit/export.csv?du={day}&au={day}").text.splitlines()
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, before + 1))


def test_a_wrong_period_is_said_next_to_the_export_form(world: World) -> None:
    auditor = signed_in(world, "auditor")
    before = head(world)
    for query in ("du=2026-12-02&au=2026-12-01", "du=hier&au=2026-12-01", "au=2026-12-01"):
        page = auditor.get(f"/audit/export.csv?{query}")
        assert page.status_code == 422, query
        assert 'id="export-erreur"' in page.text
        assert "Saisissez les deux dates de la période à exporter" in page.text
    assert head(world) == before


def test_a_page_names_its_actors_and_cases_in_one_query_each(world: World) -> None:
    """The directory and the cases are asked once per page, however many actors and cases its
    events name (not once per row)."""
    first = to_cell_review(world)
    submit(world)
    for username in ("teacher", "cst", "parquet"):
        signed_in(world, username).get(f"/dossiers/{first}")
    auditor = signed_in(world, "auditor")
    engine = world.client.app.state.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(" ".join(str(args[2]).split()))

    def statements(path: str) -> tuple[int, int, int]:
        seen.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            page = auditor.get(path)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert page.status_code == 200
        names = {row["Compte"].split()[0] for row in _rows(page.text)}
        cases = {row["Situation"] for row in _rows(page.text) if row["Situation"]}
        usernames = [
            s for s in seen if s.startswith("SELECT user_account.id, user_account.username FROM")
        ]
        references = [
            s for s in seen if s.startswith("SELECT case_file.id, case_file.reference FROM")
        ]
        return len(names) + len(cases), len(usernames), len(references)

    many, usernames, references = statements("/audit")
    assert many >= 7  # several accounts and both cases on the page
    assert (usernames, references) == (1, 1)
    one, usernames, references = statements(f"/audit?compte=teacher&dossier={first}")
    assert one == 2  # one account, one case: the same single query each
    assert (usernames, references) == (1, 1)


def test_an_archive_access_shows_the_purpose_its_event_recorded(world: World) -> None:
    """The auditor reads why a closed case was opened (R17, R23) from the log itself; an
    access logged before purposes were asked says so rather than guessing."""
    case_id = through_the_six_steps(world)
    ok(
        world.as_("parquet").post(
            f"/cases/{case_id}/archive-access",
            {"reason": "Vérifier la suite donnée avant l'audience.", "purpose": "judicial_request"},
        )
    )
    with world.db() as session:
        trail.record(
            session,
            trail.OPERATOR,
            trail.Action.REQUEST_ARCHIVE_ACCESS,
            case_id=uuid.UUID(case_id),
            detail=f"archive_access:{uuid.uuid4()}",
        )
    page = signed_in(world, "auditor").get("/audit?action=request_archive_access")
    _no_name(page)
    details = [row["Détail"] for row in _rows(page.text)]
    assert len(details) == 3
    assert "Motif déclaré : Non demandé (accès antérieur)." in details[0]  # newest first
    assert "Motif déclaré : Une demande du parquet ou d'un juge." in details[1]
    assert "Motif déclaré : Autre motif, précisé dans le texte." in details[2]


def test_a_visitor_without_an_account_is_named_so(world: World) -> None:
    """A refusal logged against no account (a password link the service never gave) reads
    as such in the journal, not as a raw code."""
    with world.db() as session:
        trail.record_refusal(
            session,
            trail.ANONYMOUS,
            trail.Action.RESET_PASSWORD,
            status=404,
            slug="reset-link-unknown",
            case_id=None,
        )
    page = signed_in(world, "auditor").get("/audit?action=reset_password")
    [row] = _rows(page.text)
    assert "Visiteur sans compte" in row["Compte"]
    assert "anonymous" not in row["Compte"]
