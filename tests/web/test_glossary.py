"""One term per notion on every page (issue 19): each role's pages, reached by following the
links from their home, use the field's words (``labels.GLOSSARY``), never a variant, and show
no rule's code except in a ``title``.

The pages are crawled rather than listed, so a new page is checked without being named here.
The oracle is the glossary's hand-written list of variants, not the templates.
"""

from __future__ import annotations

from collections import deque
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from app.clock import today
from app.vocabulary import Role
from app.web import labels
from app.web.labels import misused_terms, rule_title, without_rule_codes
from tests.conftest import World
from tests.scenario import meeting, ok, submit, to_oriented, to_research
from tests.web.browser import signed_in

# Visible text: what is between tags, and the attributes a reader sees or hears.
SHOWN_ATTRIBUTES = frozenset({"placeholder", "aria-label", "alt", "value"})
# Links not to follow: files, the API's documentation, actions.
NOT_PAGES = ("/static/", "/docs", "/api/", "/deconnexion", "/metrics")
MAX_PAGES = 80


class _Text(HTMLParser):
    """The text a reader sees on a page, and the same-site links it offers."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        values = dict(attrs)
        if tag == "a" and (values.get("href") or "").startswith("/"):
            self.links.append(values["href"] or "")
        if not (tag == "input" and values.get("type") in ("submit", "button", "reset")):
            values.pop("value", None)  # a value sent, not shown (an option's, a hidden token)
        self.parts += [v for k, v in values.items() if k in SHOWN_ATTRIBUTES and v]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _crawl(world: World, username: str) -> dict[str, list[tuple[str, str]]]:
    """Each page reached from the home, with the misused words it shows."""
    browser = signed_in(world, username)
    seen: set[str] = set()
    waiting = deque(["/"])
    misused: dict[str, list[tuple[str, str]]] = {}
    while waiting and len(seen) < MAX_PAGES:
        path = waiting.popleft()
        page_path = urlsplit(path).path
        if path in seen or page_path.startswith(NOT_PAGES) or page_path.endswith((".pdf", ".csv")):
            continue
        seen.add(path)
        response = browser.client.get(path, follow_redirects=True)
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        parser = _Text()
        parser.feed(response.text)
        found = misused_terms(" ".join(" ".join(parser.parts).split()))
        if found:
            misused[path] = found
        waiting.extend(link.split("#")[0] for link in parser.links)
    assert len(seen) > 3, f"{username} reached only {sorted(seen)}"
    return misused


@pytest.fixture
def cell_at_work(world: World) -> World:
    """A cell with a situation at each step, a meeting, a feedback and a closure."""
    world.add_user("comite-paris", Role.STEERING, cells=[])
    submit(world)
    to_research(world)
    case_id, ids = to_oriented(world, "social_services", "crip")
    coordinator = world.as_("coordinator")
    informed = {"informed_on": today().isoformat(), "means": "letter", "outcome": "informed"}
    ok(coordinator.post(f"/cases/{case_id}/family-information", informed))
    for orientation_id in ids.values():
        ok(coordinator.post(f"/cases/{case_id}/orientations/{orientation_id}/transmission"))
    ok(
        world.as_("cst").post(
            f"/cases/{case_id}/orientations/{ids['social_services']}/feedback",
            {"outcome": "support_in_place"},
        )
    )
    refused = submit(world)
    ok(coordinator.post(f"/cases/{refused}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{refused}/parquet-decision", {"retained": False}))
    meeting(world, today())
    return world


@pytest.mark.parametrize(
    "username", ["coordinator", "parquet", "police", "cst", "auditor", "comite-paris", "admin"]
)
def test_every_page_speaks_the_field_s_words(cell_at_work: World, username: str) -> None:
    misused = _crawl(cell_at_work, username)
    assert misused == {}


def _sentences(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _sentences(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _sentences(item)]
    return []


def test_every_sentence_of_the_labels_module_speaks_the_field_s_words() -> None:
    """What the pages can show without a crawl reaching it (a refusal, a confirmation's
    lines once rule codes are taken out, a field's error): every text of the labels module."""
    texts = [
        text
        for name, value in vars(labels).items()
        if name.isupper() and name not in ("GLOSSARY", "RULE_CODE")
        for text in _sentences(value)
    ]
    assert len(texts) > 300
    misused = {text: found for text in texts if (found := misused_terms(without_rule_codes(text)))}
    assert misused == {}


def test_a_rule_code_goes_to_the_title_and_leaves_the_sentence() -> None:
    sentence = "Présentée en cellule (« non retenue » seulement, R7), puis détruite (R18)."
    assert without_rule_codes(sentence) == (
        "Présentée en cellule (« non retenue » seulement), puis détruite."
    )
    assert rule_title(sentence) == "Charte : règles R7, R18"
    assert rule_title("Les valeurs remplacées (R10).") == "Charte : règle R10"
    assert rule_title("Rien à signaler.") == ""
    # A situation's number is not a rule's code.
    assert misused_terms("Situation R18-2026-0007") == []
    assert misused_terms("Voir R18.") == [("un title pour le code de la règle", "R18")]
