"""A CST and a member each see, in the browser, exactly the blocks the charter allows: the
case page's shown and withheld blocks are the API's for the same person and case, and agree
with every unconditional cell of the committed matrix (``policies/MATRIX.md``); a case the
charter hides whole is refused as the API refuses it, without a name on the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.clock import today
from app.policy.visibility import Block
from tests.browser import axe
from tests.browser.conftest import Site
from tests.scenario import FIRST_NAME, LAST_NAME, meeting, ok, submit, to_cell_review, to_research

MATRIX = Path(__file__).resolve().parents[2] / "policies" / "MATRIX.md"
BLOCKS = [block.value for block in Block]
NOTE = "Élève suivie par la vie scolaire (exemple fictif)."
# What each block puts on the page when it is shown (the invented case of tests.scenario).
MARKS = {
    "identity": FIRST_NAME,
    "contact": "rue Imaginaire",
    "facts": "Absences répétées",
    "research": "suivie par la vie scolaire",
}
ROLES = {"cst": "cst", "police": "member", "teacher": "member"}


def _matrix() -> dict[str, dict[str, dict[str, str]]]:
    """role -> state -> block -> the matrix's cell ("✓", "·" or a condition)."""
    tables: dict[str, dict[str, dict[str, str]]] = {}
    role = ""
    for line in MATRIX.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"## (\w+)", line)
        if heading:
            role = heading.group(1)
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if role and len(cells) == 1 + len(BLOCKS) and cells[0] not in ("state", "---"):
            tables.setdefault(role, {})[cells[0]] = dict(zip(BLOCKS, cells[1:], strict=True))
    return tables


@pytest.fixture(scope="module")
def cases(site: Site) -> dict[str, str]:
    """One invented case (submitted by ``police``) in each state a CST or a member may meet,
    made through the API: state -> case id. The oriented case is oriented to the CRIP only,
    the one with feedback to social services and the CRIP."""
    world = site.world
    coordinator = world.as_("coordinator")
    made = {"submitted": submit(world), "research": to_research(world)}
    ok(world.as_("teacher").post(f"/cases/{made['research']}/research-notes", {"content": NOTE}))
    made["cell_review"] = to_cell_review(world)
    ok(world.as_("teacher").post(f"/cases/{made['cell_review']}/research-notes", {"content": NOTE}))
    for state, destinations in (
        ("feedback", ["social_services", "crip"]),
        ("oriented", ["crip"]),
    ):
        case_id = to_research(world)
        ok(world.as_("teacher").post(f"/cases/{case_id}/research-notes", {"content": NOTE}))
        ok(coordinator.post(f"/meetings/{meeting(world)}/cases", {"case_id": case_id}))
        oriented = coordinator.post(
            f"/cases/{case_id}/review-decision",
            {"decision": "orient", "orientations": [{"destination": d} for d in destinations]},
        )
        ids = {o["destination"]: o["id"] for o in ok(oriented)["orientations"]}
        informed = {"informed_on": today().isoformat(), "means": "letter", "outcome": "informed"}
        ok(coordinator.post(f"/cases/{case_id}/family-information", informed))
        for orientation_id in ids.values():
            ok(coordinator.post(f"/cases/{case_id}/orientations/{orientation_id}/transmission"))
        if "social_services" in ids:
            path = f"/cases/{case_id}/orientations/{ids['social_services']}/feedback"
            ok(world.as_("cst").post(path, {"outcome": "support_in_place"}))
        made[state] = case_id
    return made


def _blocks(page: Page) -> tuple[list[str], list[str]]:
    """(shown, withheld) blocks of the case page, by their sections."""
    ids = "els => els.map(e => e.getAttribute('aria-labelledby').replace('bloc-', ''))"
    shown: list[str] = page.locator("section.block:not(.withheld-block)").evaluate_all(ids)
    withheld: list[str] = page.locator("section.withheld-block").evaluate_all(ids)
    return shown, withheld


@pytest.mark.parametrize("username", ["cst", "police", "teacher"])
def test_each_sees_exactly_the_blocks_the_charter_allows(
    site: Site, cases: dict[str, str], username: str
) -> None:
    matrix = _matrix()[ROLES[username]]
    page = site.page_of(username)
    with site.api(username) as api:
        for state, case_id in cases.items():
            row = matrix[state]
            answer = api.get(f"/cases/{case_id}")
            response = page.goto(f"/dossiers/{case_id}")
            assert response is not None
            assert response.status == answer.status_code, (state, answer.status_code)
            html = page.content()
            if answer.status_code != 200:
                # Hidden whole: the same refusal, and nothing of the case on the page.
                expect(page.get_by_role("alert")).to_be_visible()
                assert LAST_NAME not in html, state
                assert all(mark not in html for mark in MARKS.values()), state
                assert "✓" not in row.values(), state
                axe.check(page, f"/dossiers/{{id}} ({username}, refused)")
                continue
            case = answer.json()
            assert case["state"] == state
            shown, withheld = _blocks(page)
            assert withheld == case["withheld"], state
            assert set(shown) == set(BLOCKS) - set(case["withheld"]), state
            for block, mark in MARKS.items():
                # Shown: what the API gives this person is on the page; withheld: nothing.
                assert (mark in html) == (mark in answer.text), (state, block)
                assert block in shown or mark not in html, (state, block)
            if username == "cst" and "orientation" in shown:
                # R9: the CST sees the orientation to social services, and only that one.
                orientation = page.get_by_role("region", name="Orientation")
                expect(orientation).to_contain_text("Services sociaux")
                expect(orientation).not_to_contain_text("CRIP")
            for block in BLOCKS:
                if row[block] == "✓":
                    assert block in shown, (state, block)
                elif row[block] == "·":
                    assert block not in shown, (state, block)
            axe.check(page, f"/dossiers/{{id}} ({username}, {state})")
