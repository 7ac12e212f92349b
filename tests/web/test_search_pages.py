"""The search form (issue 16): reached from the list, posted with its anti-forgery token,
validated by the API's schema, its errors on their fields with what was typed, its results as
the list shows them, the terms never in an address or the audit log."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.clock import today
from tests.audit.log import events, head
from tests.conftest import World
from tests.scenario import ok, submit, to_cell_review, to_research
from tests.web.browser import signed_in, title_of

LAST = "Zyxwavel-Dûmontier"
FIRST = "Quentinette"
BORN = date(today().year - 14, 3, 9)


def minor() -> dict[str, dict[str, str]]:
    return {"minor": {"last_name": LAST, "first_name": FIRST, "birth_date": BORN.isoformat()}}


def form(**overrides: str) -> dict[str, str]:
    return {
        "last_name": "zyxwavel dumontier",
        "first_name": "QUENTINETTE",
        "birth_date": BORN.isoformat(),
        **overrides,
    }


def test_the_list_leads_to_the_search_form(world: World) -> None:
    browser = signed_in(world, "teacher")
    listing = browser.get("/dossiers")
    assert 'href="/dossiers/recherche"' in listing.text
    page = browser.get("/dossiers/recherche")
    assert page.status_code == 200
    assert title_of(page) == "Retrouver une situation – CENOMED"
    assert 'method="post" action="/dossiers/recherche"' in page.text
    for name in ("last_name", "first_name", "birth_date"):
        assert f'<label for="{name}">' in page.text
    assert 'name="csrf"' in page.text


def test_a_search_shows_the_cases_as_the_list_does(world: World) -> None:
    case_id = to_research(world, **minor())
    browser = signed_in(world, "teacher")
    browser.get("/dossiers/recherche")
    before = head(world)
    page = browser.post("/dossiers/recherche", form())
    assert page.status_code == 200
    assert f'href="/dossiers/{case_id}"' in page.text
    assert f"{LAST} {FIRST}" in page.text  # the identity, as the list shows it
    assert "1 situation trouvée" in page.text
    assert LAST not in title_of(page)
    logged = events(world, before)
    assert [(e["action"], e["case_id"], e["detail"]) for e in logged] == [
        ("search_cases", case_id, None),
        ("search_cases", None, "results:1"),
    ]
    assert "zyxwavel" not in str(logged).casefold()


def test_nothing_found_says_so(world: World) -> None:
    to_research(world, **minor())
    browser = signed_in(world, "teacher")
    browser.get("/dossiers/recherche")
    page = browser.post("/dossiers/recherche", form(last_name="Zyxwavel"))  # partial
    assert page.status_code == 200
    assert "Aucune situation de vos cellules" in page.text
    assert not re.findall(r'href="/dossiers/[0-9a-f-]{36}"', page.text)


def test_a_closed_case_is_named_with_the_way_to_its_archive(world: World) -> None:
    case_id = to_cell_review(world, **minor())
    decision = {"decision": "no_action"}
    ok(world.as_("coordinator").post(f"/cases/{case_id}/review-decision", decision))
    browser = signed_in(world, "coordinator")
    browser.get("/dossiers/recherche")
    page = browser.post("/dossiers/recherche", form())
    assert page.status_code == 200
    assert "Une situation close est archivée" in page.text
    assert f'href="/dossiers/{case_id}"' in page.text
    assert "Zyxwavel" not in page.text.replace('value="zyxwavel dumontier"', "")
    archive = browser.get(f"/dossiers/{case_id}")
    assert archive.status_code == 403
    assert "acces-archive" in archive.text


def test_errors_are_shown_on_their_fields_with_what_was_typed(world: World) -> None:
    browser = signed_in(world, "coordinator")
    browser.get("/dossiers/recherche")
    before = head(world)
    typed = {"last_name": "Zyx*", "first_name": "", "birth_date": "2012-13-40"}
    page = browser.post("/dossiers/recherche", typed)
    assert page.status_code == 422
    assert 'value="Zyx*"' in page.text
    assert 'value="2012-13-40"' in page.text
    assert 'id="last_name-erreur"' in page.text
    assert "sans caractère joker" in page.text
    assert 'id="first_name-erreur"' in page.text
    assert 'id="birth_date-erreur"' in page.text
    assert 'aria-invalid="true"' in page.text
    [logged] = events(world, before)
    assert (logged["action"], logged["outcome"], logged["detail"]) == (
        "search_cases",
        "denied",
        "validation-error",
    )
    with world.db() as session:
        bodies = session.scalars(select(AuditEvent.body).where(AuditEvent.seq > before)).all()
    assert b"Zyx" not in b"".join(bodies)


def test_the_form_needs_its_anti_forgery_token(world: World) -> None:
    submit(world, by="coordinator", **minor())
    browser = signed_in(world, "coordinator")
    browser.get("/dossiers/recherche")
    refused = browser.post("/dossiers/recherche", {**form(), "csrf": "forged"})
    assert refused.status_code == 403
    assert LAST not in refused.text


def test_the_hourly_limit_is_the_apis(world: World) -> None:
    browser = signed_in(world, "coordinator")
    browser.get("/dossiers/recherche")
    for _ in range(world.settings.searches_per_hour):
        assert browser.post("/dossiers/recherche", form()).status_code == 200
    before = head(world)
    refused = browser.post("/dossiers/recherche", form())
    assert refused.status_code == 429
    assert "nombre maximal de recherches" in refused.text
    # The search page again (issue 19), what was typed kept, the refusal logged.
    assert 'action="/dossiers/recherche"' in refused.text
    assert f'value="{BORN.isoformat()}"' in refused.text
    assert refused.headers["retry-after"] == "60"
    assert [(e["action"], e["outcome"], e["detail"]) for e in events(world, before)] == [
        ("search_cases", "denied", "too-many-searches")
    ]
    # The API counts the same searches: the account's limit is one.
    api = world.as_("coordinator").post(
        "/cases/search",
        {"last_name": LAST, "first_name": FIRST, "birth_date": BORN.isoformat()},
    )
    assert api.status_code == 429


def test_a_role_that_may_not_search_is_refused_the_form(world: World) -> None:
    auditor = signed_in(world, "auditor")
    before = head(world)
    assert auditor.get("/dossiers/recherche").status_code == 403
    [logged] = events(world, before)
    assert (logged["action"], logged["outcome"], logged["detail"]) == (
        "search_cases",
        "denied",
        "role-not-allowed",
    )
