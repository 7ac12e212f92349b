"""A meeting's printed documents (issue 17, points 5 and 6): the agenda and the minutes as
PDFs, each showing a reader exactly what the charter shows them of each case and nothing of
any other case, every page with the confidentiality banner and its number, the download an
audited read of each case shown; kept readable for the record once a case is closed.

The expectations are written by hand from the charter (R10, R12, R13, R7): the coordinator
sees every case; a member sees the case in cell review and the not-retained situation the
parquet presents on the meeting's day, not the oriented case; the CST sees the identity of the
case in cell review (and the presented situation), never an oriented case that is not its own
and never facts."""

from __future__ import annotations

import html
import io
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.cases.models import Case
from app.clock import today
from app.meetings import documents
from app.meetings.schemas import AgendaItem, FeedbackItem, MeetingRead, NotRetainedItem
from app.policy.visibility import Block
from app.vocabulary import MeetingStatus
from app.workflow.states import CaseState
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import case_body, declared_body, meeting, ok, problem, submit
from tests.web.browser import signed_in

# Invented people, one per case, so that each case's values can be told apart in the text.
REVIEWED = ("Brindeloup", "Albertine")  # on the agenda, in cell review
ORIENTED = ("Crapotier", "Bénédicte")  # on the agenda, oriented to the CRIP, feedback received
PRESENTED = ("Dormesault", "Clothilde")  # not retained, presented by the parquet
ELSEWHERE = ("Estrangin", "Doriane")  # the other cell's case
NOT_LISTED = ("Fauxpatte", "Eulalie")  # the cell's case in research, on no agenda
SERVICE = "CRIP 75 Imaginaire"
FACTS = "Absences répétées et présence nocturne signalées (exemple fictif)."


@dataclass
class Meeting:
    id: str
    reviewed: str
    oriented: str
    presented: str
    elsewhere: str
    references: dict[str, str]  # case id -> reference


def _person(last: str, first: str, *, cell_id: int) -> dict[str, Any]:
    minor = case_body(cell_id)["minor"]
    return {**minor, "last_name": last, "first_name": first}


def _case(world: World, who: tuple[str, str], *, retained: bool = True) -> str:
    case_id = submit(world, minor=_person(*who, cell_id=world.cell.id))
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    decision = {"retained": retained}
    ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", decision))
    return case_id


def _reference(world: World, case_id: str) -> str:
    with world.db() as session:
        found = session.scalar(select(Case.reference).where(Case.id == uuid.UUID(case_id)))
    assert found is not None
    return found


def _build(world: World) -> Meeting:
    """A meeting of today: a case in cell review, a case oriented to the CRIP's named service
    (transmitted, feedback received), a not-retained situation presented; and two cases that
    are on no agenda of it (one of another cell)."""
    coordinator = world.as_("coordinator")
    crip = ok(
        coordinator.post(
            f"/cells/{world.cell.id}/services", {"name": SERVICE, "destination": "crip"}
        )
    )
    meeting_id = meeting(world)
    reviewed = _case(world, REVIEWED)
    oriented = _case(world, ORIENTED)
    for case_id in (reviewed, oriented):
        ok(coordinator.post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}))
    decided = coordinator.post(
        f"/cases/{oriented}/review-decision",
        {"decision": "orient", "orientations": [{"destination": "crip", "service_id": crip["id"]}]},
    )
    [orientation] = ok(decided)["orientations"]
    path = f"/cases/{oriented}/orientations/{orientation['id']}"
    ok(coordinator.post(f"{path}/transmission"))
    ok(coordinator.post(f"{path}/feedback", {"outcome": "support_in_place"}))
    presented = _case(world, PRESENTED, retained=False)
    _case(world, NOT_LISTED)
    body = declared_body(
        world.other_cell.id,
        received_days_ago=40,
        minor=_person(*ELSEWHERE, cell_id=world.other_cell.id),
    )
    elsewhere = str(ok(world.as_("coordinator-19").post("/cases", body))["id"])
    references = {c: _reference(world, c) for c in (reviewed, oriented, presented, elsewhere)}
    return Meeting(meeting_id, reviewed, oriented, presented, elsewhere, references)


def _pages(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def _download(world: World, reader: str, path: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The document's pages as text, and the audit events its download recorded."""
    before = head(world)
    response = world.as_(reader).get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    return _pages(response.content), events(world, before)


def _check_pages(pages: list[str], reader: str) -> None:
    """Every page carries the banner with the reader's account and the day, and n / N."""
    day = today()
    months = "janvier février mars avril mai juin juillet août septembre octobre novembre"
    month = (months + " décembre").split()[day.month - 1]
    # The day is the instant's in Paris, which is today's Paris day (or, just after midnight
    # UTC, the next one: today() is Paris's day too).
    stamp = f"Confidentiel — document nominatif — {reader} — {day.day} {month} {day.year} à "
    for number, text in enumerate(pages, start=1):
        flat = " ".join(text.split())
        assert stamp in flat, (reader, number, flat[:300])
        assert re.search(stamp + r"\d\d:\d\d", flat)
        assert f"Page {number} / {len(pages)}" in flat


# What each reader's documents show: the cases' last names, and the blocks read of each case.
# The police submitted the cases of the cell: R12 shows them their own submissions' workflow
# block always (the oriented case's reference and decision), not its identity or orientation.
EXPECTED_NAMES = {
    "coordinator": {REVIEWED[0], ORIENTED[0], PRESENTED[0]},
    "police": {REVIEWED[0], PRESENTED[0]},
    "cst": {REVIEWED[0]},
}
ALL_NAMES = {REVIEWED[0], ORIENTED[0], PRESENTED[0], ELSEWHERE[0], NOT_LISTED[0]}
EXPECTED_READS = {
    "coordinator": {
        "reviewed": {"identity", "workflow"},
        "oriented": {"identity", "workflow", "orientation", "feedback"},
        "presented": {"identity", "workflow"},
    },
    "police": {
        "reviewed": {"identity", "workflow"},
        "oriented": {"workflow"},
        "presented": {"identity", "workflow"},
    },
    "cst": {"reviewed": {"identity", "workflow"}},
}


@pytest.mark.parametrize("document", ["agenda", "minutes"])
@pytest.mark.parametrize("reader", ["coordinator", "police", "cst"])
def test_each_reader_s_document_shows_what_the_charter_shows_them(
    world: World, reader: str, document: str
) -> None:
    built = _build(world)
    pages, logged = _download(world, reader, f"/meetings/{built.id}/{document}.pdf")
    _check_pages(pages, reader)
    text = " ".join(" ".join(pages).split())
    title = "Ordre du jour" if document == "agenda" else "Relevé de décisions"
    assert f"{title} — Réunion du" in text
    assert "CENOMED 18e" in text
    assert "Salle du conseil, mairie d'arrondissement" in text
    assert "Situations non retenues présentées par le parquet" in text
    assert "Retours attendus des services" in text
    # Exactly the minors the charter lets this reader see, no other case's values.
    assert {name for name in ALL_NAMES if name in text} == EXPECTED_NAMES[reader]
    assert FACTS[:20] not in text
    assert built.references[built.elsewhere] not in text
    ids = {"reviewed": built.reviewed, "oriented": built.oriented, "presented": built.presented}
    for key, case_id in ids.items():
        assert (built.references[case_id] in text) == (key in EXPECTED_READS[reader]), key
    if reader == "police":
        # Their own submission: its reference and the cell's decision, never its minor.
        assert f"{built.references[built.oriented]} masqué par la charte" in text
    # The participants: accounts, never a minor.
    assert "police Membre de la cellule Police" in text
    oriented_shown = ORIENTED[0] in text
    if document == "minutes" and oriented_shown:
        # The decision, the orientation with its named service, and the feedback received.
        assert "Orienter" in text
        assert (
            "Cellule de recueil des informations préoccupantes (CRIP) — CRIP 75 Imaginaire" in text
        )
        assert "Un accompagnement a pu être mis en place" in text
    if not oriented_shown:
        assert SERVICE not in text
        assert "Un accompagnement a pu être mis en place" not in text
    # One audited read per case shown, of the blocks shown, under the document's action.
    action = f"print_{document}"
    reads = {e["case_id"]: set(e["blocks"]) for e in logged if e["action"] == action}
    assert reads == {ids[key]: blocks for key, blocks in EXPECTED_READS[reader].items()}
    assert all(e["outcome"] == "allowed" for e in logged if e["action"] == action)
    # The same as the reader's own read of the meeting.
    before = head(world)
    ok(world.as_(reader).get(f"/meetings/{built.id}"))
    seen = {e["case_id"]: set(e["blocks"]) for e in events(world, before)}
    assert seen == reads


def test_the_document_is_named_after_the_meeting_s_day(world: World) -> None:
    meeting_id = meeting(world)
    day = today().isoformat()
    coordinator = world.as_("coordinator")
    agenda = coordinator.get(f"/meetings/{meeting_id}/agenda.pdf")
    minutes = coordinator.get(f"/meetings/{meeting_id}/minutes.pdf")
    assert (
        agenda.headers["content-disposition"] == f'attachment; filename="ordre-du-jour-{day}.pdf"'
    )
    assert minutes.headers["content-disposition"] == (
        f'attachment; filename="releve-de-decisions-{day}.pdf"'
    )
    assert agenda.content.startswith(b"%PDF-")
    assert "Aucune situation." in " ".join(_pages(agenda.content))


@pytest.mark.parametrize(
    ("document", "action"), [("agenda", "print_agenda"), ("minutes", "print_minutes")]
)
def test_another_cell_s_member_gets_a_404_and_the_probe_is_logged(
    world: World, document: str, action: str
) -> None:
    meeting_id = meeting(world)
    before = head(world)
    response = world.as_("coordinator-19").get(f"/meetings/{meeting_id}/{document}.pdf")
    assert problem(response, 404)["type"].endswith(":meeting-not-found")
    [refusal] = events(world, before)
    assert (refusal["action"], refusal["outcome"], refusal["detail"], refusal["severity"]) == (
        action,
        "denied",
        f"meeting-not-found meeting:{meeting_id}",
        "high",
    )


def test_the_minutes_exist_from_the_meeting_s_day_on(world: World) -> None:
    meeting_id = meeting(world, held_on=today() + timedelta(days=3))
    before = head(world)
    response = world.as_("coordinator").get(f"/meetings/{meeting_id}/minutes.pdf")
    assert problem(response, 409)["type"].endswith(":meeting-not-held-yet")
    [refusal] = events(world, before)
    assert (refusal["action"], refusal["outcome"], refusal["detail"]) == (
        "print_minutes",
        "denied",
        f"meeting-not-held-yet meeting:{meeting_id}",
    )
    # The agenda, before the meeting: yes.
    assert world.as_("coordinator").get(f"/meetings/{meeting_id}/agenda.pdf").status_code == 200


def test_a_cancelled_meeting_has_no_agenda(world: World) -> None:
    meeting_id = meeting(world, held_on=today() + timedelta(days=3))
    ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/cancellation"))
    before = head(world)
    response = world.as_("coordinator").get(f"/meetings/{meeting_id}/agenda.pdf")
    assert problem(response, 409)["type"].endswith(":meeting-cancelled")
    [refusal] = events(world, before)
    assert (refusal["action"], refusal["detail"]) == (
        "print_agenda",
        f"meeting-cancelled meeting:{meeting_id}",
    )


def test_a_case_closed_since_is_its_reference_and_cloturee(world: World) -> None:
    built = _build(world)
    coordinator = world.as_("coordinator")
    ok(coordinator.post(f"/cases/{built.oriented}/closure", {"reason": "feedback_received"}))
    pages, logged = _download(world, "coordinator", f"/meetings/{built.id}/minutes.pdf")
    text = " ".join(" ".join(pages).split())
    reference = built.references[built.oriented]
    # On the agenda, and in the feedback received: the reference and "clôturée", nothing else.
    assert f"{reference} — clôturée" in text
    assert f"{reference} clôturée" in text
    assert ORIENTED[0] not in text
    assert SERVICE not in text
    records = [e for e in logged if e["case_id"] == built.oriented]
    assert [(e["action"], e["blocks"], e["detail"]) for e in records] == [
        ("print_minutes", [], "record_line")
    ]


def test_the_web_documents_follow_the_same_rules(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    built = _build(world)
    caplog.set_level(logging.DEBUG)
    browser = signed_in(world, "police")
    for path, action in (
        (f"/reunions/{built.id}/ordre-du-jour.pdf", "print_agenda"),
        (f"/reunions/{built.id}/releve-de-decisions.pdf", "print_minutes"),
    ):
        before = head(world)
        response = browser.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-disposition"].startswith("attachment; filename=")
        pages = _pages(response.content)
        _check_pages(pages, "police")
        text = " ".join(" ".join(pages).split())
        assert {name for name in ALL_NAMES if name in text} == {REVIEWED[0], PRESENTED[0]}
        reads = {e["case_id"]: set(e["blocks"]) for e in events(world, before)}
        assert reads == {
            built.reviewed: {"identity", "workflow"},
            built.oriented: {"workflow"},
            built.presented: {"identity", "workflow"},
        }, action
        assert {e["action"] for e in events(world, before)} == {action}
    # Nothing nominative in any log, whatever printed it.
    for value in (*REVIEWED, *PRESENTED, SERVICE):
        assert value not in caplog.text
    # Another cell's member: the page's 404, logged under the document's action.
    outsider = signed_in(world, "coordinator-19")
    before = head(world)
    refused = outsider.get(f"/reunions/{built.id}/releve-de-decisions.pdf")
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("text/html")
    [refusal] = events(world, before)
    assert (refusal["action"], refusal["outcome"], refusal["detail"]) == (
        "print_minutes",
        "denied",
        f"meeting-not-found meeting:{built.id}",
    )


def test_cases_destroyed_since_are_their_reference_and_detruite() -> None:
    """Point 6: after the meeting, a case destroyed since (on the agenda, presented, or with
    feedback) is its reference and "détruite"; one closed since, "clôturée" (as
    ``meeting_read`` lists them for the record: no block of the case)."""
    withheld = [Block.WORKFLOW, Block.IDENTITY, Block.ORIENTATION, Block.FEEDBACK]
    held = MeetingRead(
        id=uuid.uuid4(),
        cell_id=1,
        held_on=date(2026, 11, 5),
        starts_at=time(14, 30),
        place="Salle fictive",
        status=MeetingStatus.HELD,
        agenda=[
            AgendaItem(
                case_id=uuid.uuid4(),
                reference="18-2026-0101",
                state=CaseState.PURGED,
                minor=None,
                withheld=withheld,
            ),
            AgendaItem(
                case_id=uuid.uuid4(),
                reference="18-2026-0102",
                state=CaseState.CLOSED,
                minor=None,
                withheld=withheld,
            ),
        ],
        not_retained=[
            NotRetainedItem(
                case_id=uuid.uuid4(),
                reference="18-2026-0103",
                minor=None,
                destroyed=True,
                withheld=[Block.IDENTITY],
            )
        ],
        feedback=[
            FeedbackItem(
                case_id=uuid.uuid4(),
                reference="18-2026-0104",
                state=CaseState.PURGED,
                orientation=None,
                withheld=withheld,
            )
        ],
        participants=[],
        attendance_recorded=False,
    )
    at = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
    for template in documents.TEMPLATES.values():
        pages = _pages(documents.render(template, held, "jdupont", "CENOMED 18e", at))
        text = " ".join(" ".join(pages).split())
        assert "Réunion du 5 novembre 2026 à 14:30" in text
        assert "Statut tenue" in text
        assert "18-2026-0101 — détruite" in text
        assert "18-2026-0102 — clôturée" in text
        assert "18-2026-0103 détruite" in text
        assert "18-2026-0104 détruite" in text
        assert "masqué par la charte" not in text
        assert "Confidentiel — document nominatif — jdupont — 7 décembre 2026 à 09:30" in text


def test_the_web_minutes_of_a_meeting_to_come_are_a_refusal_page(world: World) -> None:
    meeting_id = meeting(world, held_on=today() + timedelta(days=3))
    browser = signed_in(world, "coordinator")
    before = head(world)
    refused = browser.get(f"/reunions/{meeting_id}/releve-de-decisions.pdf")
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("text/html")
    assert "Cette réunion n'a pas encore eu lieu." in html.unescape(refused.text)
    [refusal] = events(world, before)
    assert (refusal["action"], refusal["outcome"], refusal["detail"]) == (
        "print_minutes",
        "denied",
        f"meeting-not-held-yet meeting:{meeting_id}",
    )
    agenda = browser.get(f"/reunions/{meeting_id}/ordre-du-jour.pdf")
    assert (agenda.status_code, agenda.headers["content-type"]) == (200, "application/pdf")
