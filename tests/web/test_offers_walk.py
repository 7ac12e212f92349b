"""Issue 19's walk: every state a case reaches × every role, the case page offers exactly the
steps expected (a table written here from the procedure and the charter, not computed), and
each step posted from the page is accepted exactly when it was offered.

Each state is built through the API; each role reads the case page, whose offered actions are
read from the HTML (the forms' targets, their buttons, the correction link). Then every
action the pages know is posted as that role, with valid values and the second submit of an
irreversible step: an offered one must lead to a page saying it is done, on a fresh copy of
the case (the state is built again after each success); any other must be refused, leave the
case as it was and leave a refusal in the audit log.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from app.cases.models import Case
from app.clock import today
from app.vocabulary import Role
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import meeting, ok, on_day, submit, to_cell_review, to_oriented, to_research
from tests.web.browser import Browser, signed_in

ROLES = ("coordinator", "parquet", "police", "cst", "auditor", "steering", "admin")


@dataclass
class Built:
    """A case in the state asked, with what posting its steps needs."""

    case_id: str
    orientations: dict[str, str] = field(default_factory=dict)  # destination -> id
    meeting_id: str | None = None


# --- the states -------------------------------------------------------------------------------


def _submitted(world: World) -> Built:
    return Built(submit(world))  # by the police member, received 40 days ago


def _returned(world: World) -> Built:
    case_id = submit(world)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/return", {"reason": "facts_missing"}))
    return Built(case_id)


def _parquet_review(world: World) -> Built:
    case_id = submit(world)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    return Built(case_id)


def _not_retained(world: World) -> Built:
    case_id = _parquet_review(world).case_id
    decision = {"retained": False}
    ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", decision))
    return Built(case_id)


def _withdrawn(world: World) -> Built:
    case_id = submit(world)
    body = {"reason": "sent_by_mistake"}
    ok(world.as_("coordinator").post(f"/cases/{case_id}/withdrawal", body))
    return Built(case_id)


def _research(world: World) -> Built:
    # A meeting today, on whose agenda the case may be put (received 40 days ago: R7 kept).
    return Built(to_research(world), meeting_id=meeting(world))


def _cell_review(world: World) -> Built:
    return Built(to_cell_review(world))


def _cell_review_later(world: World) -> Built:
    case_id = to_research(world)
    later = meeting(world, today() + timedelta(days=10))
    ok(world.as_("coordinator").post(f"/meetings/{later}/cases", {"case_id": case_id}))
    return Built(case_id)


def _oriented(world: World) -> Built:
    case_id, ids = to_oriented(world, "social_services", "crip")
    return Built(case_id, ids)


def _informed(world: World) -> Built:
    built = _oriented(world)
    informed = {"informed_on": today().isoformat(), "means": "letter", "outcome": "informed"}
    ok(world.as_("coordinator").post(f"/cases/{built.case_id}/family-information", informed))
    return built


def _transmitted(world: World) -> Built:
    built = _informed(world)
    for orientation_id in built.orientations.values():
        ok(
            world.as_("coordinator").post(
                f"/cases/{built.case_id}/orientations/{orientation_id}/transmission"
            )
        )
    return built


def _feedback(world: World) -> Built:
    built = _transmitted(world)
    social = built.orientations["social_services"]
    ok(
        world.as_("cst").post(
            f"/cases/{built.case_id}/orientations/{social}/feedback",
            {"outcome": "support_in_place"},
        )
    )
    return built


def _closed(world: World) -> Built:
    case_id = to_research(world)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/closure", {"reason": "moved_away"}))
    return Built(case_id)


STATES: dict[str, Callable[[World], Built]] = {
    "submitted": _submitted,
    "submitted, returned to its author": _returned,
    "parquet_review": _parquet_review,
    "not_retained": _not_retained,
    "withdrawn": _withdrawn,
    "research": _research,
    "cell_review, meeting today": _cell_review,
    "cell_review, meeting to come": _cell_review_later,
    "oriented, family not informed": _oriented,
    "oriented, family informed": _informed,
    "oriented, all transmitted": _transmitted,
    "feedback, social services answered": _feedback,
    "closed": _closed,
}

# --- what each role is offered: the procedure (CPPS 2015-2020) and the charter, by hand ------

NOTHING: dict[str, set[str]] = {}
EXPECTED: dict[str, dict[str, set[str]]] = {
    "submitted": {
        # The coordinator checks the signalement, sends it back or on to the parquet (steps
        # 1-2); its author may still correct or withdraw it (R4); a minor who moved goes to
        # another cell.
        "coordinator": {
            "amend",
            "return_to_author",
            "withdraw",
            "refer_to_parquet",
            "propose_transfer",
        },
        "police": {"amend", "withdraw"},
    },
    "submitted, returned to its author": {
        # Waiting for its author's amendment: not to the parquet, not sent back twice.
        "coordinator": {"amend", "withdraw", "propose_transfer"},
        "police": {"amend", "withdraw"},
    },
    "parquet_review": {
        "coordinator": {"amend", "propose_transfer"},
        "parquet": {"retain", "not_retain"},
        "police": {"amend"},
    },
    "not_retained": NOTHING,
    "withdrawn": NOTHING,
    "research": {
        # Step 3: each member's research; the coordinator puts it on a meeting (step 4),
        # corrects the identity, or closes it for a reason of the record.
        "coordinator": {
            "amend",
            "add_research_note",
            "examine_at_meeting",
            "close",
            "propose_transfer",
        },
        "parquet": {"add_research_note"},
        "police": {"add_research_note"},
    },
    "cell_review, meeting today": {
        "coordinator": {"amend", "add_research_note", "orient", "close_without_action", "close"},
        "parquet": {"add_research_note"},
        "police": {"add_research_note"},
    },
    "cell_review, meeting to come": {
        # The cell decides at its meeting: no decision before its day.
        "coordinator": {"amend", "add_research_note", "close"},
        "parquet": {"add_research_note"},
        "police": {"add_research_note"},
    },
    "oriented, family not informed": {
        # R8: social services only once the family is informed; the CRIP at once.
        "coordinator": {
            "amend",
            "record_family_information",
            "add_orientation",
            "transmit:crip",
            "close",
        },
    },
    "oriented, family informed": {
        "coordinator": {
            "amend",
            "add_orientation",
            "transmit:social_services",
            "transmit:crip",
            "close",
        },
    },
    "oriented, all transmitted": {
        # Step 6: the CST reports on social services, the coordinator on the other services.
        "coordinator": {"amend", "add_orientation", "record_feedback:crip", "close"},
        "cst": {"record_feedback:social_services"},
    },
    "feedback, social services answered": {
        "coordinator": {"amend", "add_orientation", "record_feedback:crip", "close"},
    },
    "closed": {
        # Archived (R17): read again only through a stated, time-limited access.
        "coordinator": {"request_archive_access"},
        "parquet": {"request_archive_access"},
    },
}

# What a role is told instead of a button, where a step of theirs must wait.
EXPECTED_WAITING: dict[tuple[str, str], list[str]] = {
    ("cell_review, meeting to come", "coordinator"): [
        "La décision de la cellule pourra être saisie le jour de la réunion, le {later}."
    ],
    ("oriented, family not informed", "coordinator"): [
        "La transmission aux services sociaux sera possible une fois la famille informée.",
        "Le retour d'information (Cellule de recueil des informations préoccupantes (CRIP)) "
        "sera possible une fois l'orientation transmise.",
    ],
    ("oriented, family not informed", "cst"): [
        "Le retour d'information (Services sociaux (via la CST)) sera possible une fois "
        "l'orientation transmise."
    ],
    ("oriented, family informed", "coordinator"): [
        "Le retour d'information (Cellule de recueil des informations préoccupantes (CRIP)) "
        "sera possible une fois l'orientation transmise."
    ],
    ("oriented, family informed", "cst"): [
        "Le retour d'information (Services sociaux (via la CST)) sera possible une fois "
        "l'orientation transmise."
    ],
}

_MONTHS = (
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
).split()


def written(day: date) -> str:
    """A day as the field writes it: '12 janvier 2027', '1er février 2027'."""
    return f"{'1er' if day.day == 1 else day.day} {_MONTHS[day.month - 1]} {day.year}"


# --- reading the page -------------------------------------------------------------------------

_FORM = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_WAITING = re.compile(r'<p class="waiting">(.*?)</p>', re.S)


def offered(response: Any, built: Built) -> set[str]:
    """The actions a case page offers on its case, by the forms and links it shows."""
    prefix = f"/dossiers/{built.case_id}/"
    by_id = {v: k for k, v in built.orientations.items()}
    found: set[str] = set()
    text = response.text
    if f'href="{prefix}correction"' in text:
        found.add("amend")
    if "inscrivez-la à l'ordre du jour" in html.unescape(text):
        found.add("examine_at_meeting")
    for action, body in _FORM.findall(text):
        if not action.startswith(prefix):
            continue
        rest = action.removeprefix(prefix)
        parts = rest.split("/")
        if rest == "decision-parquet":
            if 'value="oui"' in body:
                found.add("retain")
            if 'value="non"' in body:
                found.add("not_retain")
        elif rest == "decision-cellule":
            if 'value="orient"' in body:
                found.add("orient")
            if 'value="no_action"' in body:
                found.add("close_without_action")
        elif parts[0] == "orientations" and parts[-1] in ("transmission", "retour"):
            kind = "transmit" if parts[-1] == "transmission" else "record_feedback"
            found.add(f"{kind}:{by_id[parts[1]]}")
        else:
            found.add(PAGE_ACTIONS[rest])
    return found


PAGE_ACTIONS = {
    "transmission-parquet": "refer_to_parquet",
    "note-recherche": "add_research_note",
    "information-famille": "record_family_information",
    "orientations/nouvelle": "add_orientation",
    "cloture": "close",
    "retrait": "withdraw",
    "renvoi": "return_to_author",
    "transfert": "propose_transfer",
    "acces-archive": "request_archive_access",
}


# --- posting each action ----------------------------------------------------------------------


def post(browser: Browser, world: World, built: Built, action: str) -> Any:
    """``action`` posted as a page would, with valid values and confirmed."""
    case = f"/dossiers/{built.case_id}"
    confirmed = {"confirme": "oui"}
    if action == "amend":
        # The correction form as the page fills it, the school changed.
        data: dict[str, Any] = {**_form_values(browser.get(f"{case}/correction").text)}
        data["school"] = "Collège Autre (fictif)"
        return browser.post(f"{case}/correction", data)
    if action == "examine_at_meeting":
        assert built.meeting_id is not None
        return browser.post(f"/reunions/{built.meeting_id}/situations", {"case_id": built.case_id})
    if ":" in action:
        kind, destination = action.split(":")
        orientation = f"{case}/orientations/{built.orientations[destination]}"
        if kind == "transmit":
            return browser.post(f"{orientation}/transmission", confirmed)
        return browser.post(f"{orientation}/retour", {"outcome": "support_in_place"})
    forms: dict[str, tuple[str, dict[str, str]]] = {
        "refer_to_parquet": ("transmission-parquet", {}),
        "retain": ("decision-parquet", {"retained": "oui", **confirmed}),
        "not_retain": ("decision-parquet", {"retained": "non", **confirmed}),
        "add_research_note": ("note-recherche", {"content": "Connu du service (fictif)."}),
        "orient": ("decision-cellule", {"decision": "orient", "destinations": "crip", **confirmed}),
        "close_without_action": ("decision-cellule", {"decision": "no_action", **confirmed}),
        "record_family_information": (
            "information-famille",
            {"informed_on": today().isoformat(), "means": "letter", "outcome": "informed"},
        ),
        "add_orientation": ("orientations/nouvelle", {"destination": "prevention_association"}),
        "close": ("cloture", {"reason": "moved_away", **confirmed}),
        "withdraw": ("retrait", {"reason": "sent_by_mistake", **confirmed}),
        "return_to_author": ("renvoi", {"reason": "facts_missing"}),
        "propose_transfer": ("transfert", {"cell_id": str(world.other_cell.id)}),
        "request_archive_access": (
            "acces-archive",
            {
                "reason": "Relire la situation avant la prochaine réunion de la cellule.",
                "purpose": "cell_meeting",
            },
        ),
    }
    path, data = forms[action]
    return browser.post(f"{case}/{path}", data)


class _Fields(HTMLParser):
    """The values a browser would send of a page's fields (csrf left to the browser)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, Any] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def _add(self, name: str, value: str) -> None:
        if name == "csrf":
            return
        if name in self.values:
            kept = self.values[name]
            self.values[name] = [*(kept if isinstance(kept, list) else [kept]), value]
        else:
            self.values[name] = value

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        name = found.get("name", "")
        if tag == "input" and name:
            if found.get("type") in ("radio", "checkbox") and "checked" not in found:
                return
            self._add(name, found.get("value", ""))
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in found:
            self._add(self._select, found.get("value", ""))
        elif tag == "textarea":
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def _form_values(page: str) -> dict[str, Any]:
    parser = _Fields()
    parser.feed(page)
    return parser.values


def actions_of(built: Built) -> list[str]:
    """Every action the case page may offer, for this case's orientations."""
    per_orientation = [
        f"{kind}:{destination}"
        for destination in built.orientations
        for kind in ("transmit", "record_feedback")
    ]
    return [
        "amend",
        "examine_at_meeting",
        *PAGE_ACTIONS.values(),
        "retain",
        "not_retain",
        "orient",
        "close_without_action",
        *per_orientation,
    ]


def _version(world: World, case_id: str) -> tuple[str, int]:
    with world.db() as session:
        case = session.get(Case, uuid.UUID(case_id))
        assert case is not None
        return case.state, case.version


@pytest.mark.parametrize("state", list(STATES))
def test_each_role_is_offered_exactly_what_will_succeed(world: World, state: str) -> None:
    world.add_user("steering", Role.STEERING, cells=[])
    browsers = {role: signed_in(world, role) for role in ROLES}
    build = STATES[state]
    built = build(world)
    for role in ROLES:
        browser = browsers[role]
        shown = browser.get(f"/dossiers/{built.case_id}")
        assert shown.status_code in (200, 403, 404), (role, shown.status_code)
        expected = EXPECTED[state].get(role, set())
        found = offered(shown, built)
        assert found == expected, (role, shown.status_code)
        waiting = [html.unescape(s) for s in _WAITING.findall(shown.text)]
        later = today() + timedelta(days=10)
        said = [s.format(later=written(later)) for s in EXPECTED_WAITING.get((state, role), [])]
        assert waiting == said, role
        for action in actions_of(built):
            if action == "examine_at_meeting" and built.meeting_id is None:
                continue
            before, as_it_was = head(world), _version(world, built.case_id)
            response = post(browser, world, built, action)
            accepted = response.status_code == 303 and "fait=" in response.headers["location"]
            assert accepted == (action in expected), (role, action, response.status_code)
            if accepted:
                landed = browser.get(response.headers["location"])
                assert landed.status_code == 200, (role, action)
                assert 'class="notice success" role="status"' in landed.text, (role, action)
                assert 'class="notice error"' not in landed.text, (role, action)
                built = build(world)  # a fresh copy for the next action
                continue
            assert response.status_code in (403, 404, 409, 422), (role, action)
            assert _version(world, built.case_id) == as_it_was, (role, action)
            outcomes = [e["outcome"] for e in events(world, before)]
            assert "denied" in outcomes, (role, action)


def test_the_meeting_page_says_from_when_the_cell_decides(world: World) -> None:
    """Before its day, a meeting's page offers no decision and says when it can be recorded
    (to the coordinator, who records it; not to the parquet, who never does); a decision
    posted anyway is refused on the meeting's page, nothing changed; on the day, the form."""
    case_id = to_research(world)
    day = today() + timedelta(days=10)
    meeting_id = meeting(world, day)
    ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}))
    sentence = (
        f"La décision de la cellule pourra être saisie le jour de la réunion, le {written(day)}."
    )
    page = f"/reunions/{meeting_id}"
    decision = f"{page}/situations/{case_id}/decision"
    coordinator, parquet = signed_in(world, "coordinator"), signed_in(world, "parquet")
    shown = coordinator.get(page)
    said = re.findall(r'class="hint waiting[^"]*">(.*?)</p>', shown.text)
    assert [html.unescape(s) for s in said] == [sentence]
    assert f'action="{decision}"' not in shown.text
    assert "pourra être saisie" not in html.unescape(parquet.get(page).text)

    before = head(world)
    refused = coordinator.post(
        decision, {"decision": "orient", "destinations": "crip", "confirme": "oui"}
    )
    assert refused.status_code == 409
    assert 'id="ordre-du-jour"' in refused.text  # the meeting's page again, saying why
    assert "Cette réunion n'a pas encore eu lieu." in html.unescape(refused.text)
    denied = [(e["action"], e["detail"]) for e in events(world, before) if e["outcome"] == "denied"]
    assert denied == [("review_decision", f"meeting-not-held-yet meeting:{meeting_id}")]
    assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["state"] == "cell_review"

    with on_day(world, day):
        shown = coordinator.get(page)
    assert f'action="{decision}"' in shown.text
    assert "pourra être saisie" not in html.unescape(shown.text)


def test_a_case_received_less_than_a_month_ago_says_from_when_a_meeting_may_examine_it(
    world: World,
) -> None:
    """R7's month: the coordinator, who puts cases on meetings, reads from which day a
    meeting may examine it; the members, who never do, read nothing of it."""
    received = today() - timedelta(days=10)
    case_id = to_research(world, received_days_ago=10)
    month, year = (received.month % 12) + 1, received.year + (received.month == 12)
    last_day = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    earliest = date(year, month, min(received.day, last_day))
    said = {
        role: [
            html.unescape(s)
            for s in _WAITING.findall(signed_in(world, role).get(f"/dossiers/{case_id}").text)
        ]
        for role in ("coordinator", "parquet", "police")
    }
    assert said == {
        "coordinator": [
            "La situation pourra être examinée par une réunion de la cellule tenue à partir du "
            f"{written(earliest)}, un mois après sa réception."
        ],
        "parquet": [],
        "police": [],
    }


# The meeting's page: what it offers on a case of its agenda, by hand (the coordinator runs
# the meeting; the cell decides on its day; a case comes off the agenda until then).
MEETING_EXPECTED: dict[str, dict[str, set[str]]] = {
    "today": {"coordinator": {"decide", "remove_from_agenda"}},
    "to come": {"coordinator": {"remove_from_agenda"}},
}


def _on_a_meeting(world: World, when: str) -> tuple[str, str]:
    case_id = to_research(world)
    day = today() if when == "today" else today() + timedelta(days=10)
    meeting_id = meeting(world, day)
    ok(world.as_("coordinator").post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}))
    return case_id, meeting_id


@pytest.mark.parametrize("when", list(MEETING_EXPECTED))
def test_each_role_is_offered_on_a_meeting_exactly_what_will_succeed(
    world: World, when: str
) -> None:
    world.add_user("steering", Role.STEERING, cells=[])
    case_id, meeting_id = _on_a_meeting(world, when)
    for role in ROLES:
        browser = signed_in(world, role)
        page = f"/reunions/{meeting_id}"
        line = f"{page}/situations/{case_id}"
        shown = browser.get(page)
        actions = {action for action, _ in _FORM.findall(shown.text)}
        found = {"decide"} if f"{line}/decision" in actions else set()
        found |= {"remove_from_agenda"} if f"{line}/retrait" in actions else set()
        expected = MEETING_EXPECTED[when].get(role, set())
        assert found == expected, role
        for action in ("decide", "remove_from_agenda"):
            line = f"/reunions/{meeting_id}/situations/{case_id}"
            path, data = (
                (
                    f"{line}/decision",
                    {"decision": "orient", "destinations": "crip", "confirme": "oui"},
                )
                if action == "decide"
                else (f"{line}/retrait", {})
            )
            before, as_it_was = head(world), _version(world, case_id)
            response = browser.post(path, data)
            accepted = response.status_code == 303 and "fait=" in response.headers["location"]
            assert accepted == (action in expected), (role, action, response.status_code)
            if accepted:
                landed = browser.get(response.headers["location"])
                assert 'class="notice success" role="status"' in landed.text, (role, action)
                case_id, meeting_id = _on_a_meeting(world, when)  # a fresh copy
                continue
            assert response.status_code in (403, 404, 409, 422), (role, action)
            assert _version(world, case_id) == as_it_was, (role, action)
            assert "denied" in [e["outcome"] for e in events(world, before)], (role, action)
