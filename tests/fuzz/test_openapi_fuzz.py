"""Schema fuzzing (issue 7, item 2): schemathesis against the OpenAPI document, as each role.

Every operation of the application's own ``/openapi.json`` is fuzzed in process (schemathesis'
ASGI transport) with the Hypothesis strategies schemathesis derives from the document: values
the document allows (positive mode) and values it refuses (negative mode), as each role in
turn: the coordinator, a police member, the CST, the parquet, the auditor, the steering
committee, a member who has not accepted the charter yet, a forged token and no token at all.
The token is the role's; schemathesis does not generate one (``with-security-parameters``
off), so the fuzzing is about what each role sends, not about the token (the last two roles
are).

Before the fuzzing, cases are seeded in every state of the procedure (and one destroyed by the
retention rules, one in another cell), with meetings and orientations. In positive mode, half
the cases of an operation with a case, meeting or orientation in its path take the id from that
data, and half the bodies and queries naming a cell, a case or a user name a real one, so that
the fuzzing reaches the procedure (its answers and its 403, 409, 410) and not only 404s. The
seeded cases move as the fuzzing steps them (a coordinator's closure is a closure).

Checked on every response: no 5xx (``not_a_server_error``), a status the operation declares
(``status_code_conformance``), the declared content type and schema
(``content_type_conformance``, ``response_schema_conformance``); every 4xx is
``application/problem+json`` with ``type``, ``title``, ``status`` and ``detail``, echoes no
value sent in the body or the query, and every response carries an ``X-Request-ID``.

Bounded: ``CENOMED_FUZZ_OPENAPI_EXAMPLES`` examples per operation, mode and role (default 20).
The authenticated roles' runs are marked ``slow`` (``-m "not slow"`` leaves the unauthenticated
ones). With ``CENOMED_FUZZ_REPORT`` set, the counts of the run go to
``bench/results/fuzz-openapi.json`` (one entry per database engine).
"""

from __future__ import annotations

import base64
import json
import os
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from app.clock import today
from app.db import make_engine, make_sessionmaker, unit_of_work
from app.http_hardening import AuthFailureLimiter
from app.main import create_app
from app.retention.service import purge
from app.vocabulary import Organisation, Role
from tests.conftest import (
    POSTGRES_URL,
    World,
    copy_sqlite_template,
    empty_postgres_database,
    make_settings,
    make_world,
)
from tests.scenario import (
    case_body,
    declared_body,
    meeting,
    meeting_body,
    ok,
    submit,
    to_cell_review,
    to_oriented,
    to_research,
)

EXAMPLES = int(os.environ.get("CENOMED_FUZZ_OPENAPI_EXAMPLES", "20"))
REPORT = Path(__file__).resolve().parents[2] / "bench" / "results" / "fuzz-openapi.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
PROBLEM_JSON = "application/problem+json"
# A value sent and found again in an error must be long enough not to be there by chance.
ECHO_MIN_LENGTH = 12

# (role, whether the run is long): the authenticated roles reach the procedure and take longest.
ROLES = [
    ("coordinator", True),
    ("police", True),
    ("cst", True),
    ("parquet", True),
    ("auditor", True),
    ("steering", True),
    ("newcomer", True),
    ("forged", False),
    ("anonymous", False),
]


@dataclass
class Seeded:
    """Ids that exist, for the path parameters, bodies and queries of part of the fuzzing."""

    cases: list[str]
    orientations: list[tuple[str, str]]
    meetings: list[str]
    cells: list[int]
    users: list[int]


@dataclass
class Tally:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    by_role: dict[str, Counter[int]] = field(default_factory=dict)
    by_operation: dict[str, Counter[int]] = field(default_factory=dict)
    problem_types: Counter[str] = field(default_factory=Counter)
    seconds_by_role: dict[str, float] = field(default_factory=dict)

    def add(self, role: str, operation: str, status: int, problem_type: str | None) -> None:
        self.requests += 1
        self.by_status[status] += 1
        self.by_role.setdefault(role, Counter())[status] += 1
        self.by_operation.setdefault(operation, Counter())[status] += 1
        if problem_type:
            self.problem_types[problem_type.removeprefix("urn:cenomed:problem:")] += 1


@dataclass
class Fuzz:
    app: FastAPI
    world: World
    schema: Any  # schemathesis' OpenApiSchema
    seeded: Seeded
    tokens: dict[str, str]
    # The document and every problem answered so far (see _assert_problem).
    known_texts: set[str]
    tally: Tally = field(default_factory=Tally)


# --- the set-up ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz(migrated_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    directory = tmp_path_factory.mktemp("fuzz-openapi")
    url = migrated_template if POSTGRES_URL else copy_sqlite_template(migrated_template, directory)
    settings = make_settings(directory, url)
    app = create_app(settings)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            world = make_world(client, settings, lambda: unit_of_work(sessions))
            world.add_user("steering", Role.STEERING, cells=[])
            world.add_user("newcomer", Role.MEMBER, Organisation.POLICE, accept_charter=False)
            seeded = _seed(world, sessions)
            tokens = {
                name: f"Bearer {world.token(name)}"
                for name, _ in ROLES
                if name not in ("forged", "anonymous")
            }
            tokens["forged"] = f"Bearer {_forged(world.token('coordinator'))}"
            # The token is each role's, never generated: see the module's docstring.
            config = schemathesis.Config.from_dict(
                {"generation": {"with-security-parameters": False}}
            )
            schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
            document = json.dumps(app.openapi(), ensure_ascii=False)
            state = Fuzz(app, world, schema, seeded, tokens, {document})
            started = time.perf_counter()
            yield state
            if os.environ.get("CENOMED_FUZZ_REPORT"):
                _write_report(state, time.perf_counter() - started)
    finally:
        engine.dispose()
        if POSTGRES_URL:
            empty_postgres_database(url)


def _seed(world: World, sessions: Any) -> Seeded:
    """Cases in every state (and a destroyed one, one of another cell), meetings, orientations."""
    coordinator = world.as_("coordinator")
    # First, alone, so that the purge destroys it and nothing else: a not-retained situation
    # three months on.
    destroyed = submit(world)
    ok(coordinator.post(f"/cases/{destroyed}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{destroyed}/parquet-decision", {"retained": False}))
    report = purge(sessions, world.vault, as_of=today() + timedelta(days=100))
    assert report.purged == 1, report
    submitted = submit(world)
    in_review = submit(world)
    ok(coordinator.post(f"/cases/{in_review}/parquet-referral"))
    not_retained = submit(world, by="coordinator")
    ok(coordinator.post(f"/cases/{not_retained}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{not_retained}/parquet-decision", {"retained": False}))
    research = to_research(world)
    ok(world.as_("police").post(f"/cases/{research}/research-notes", {"content": "Connu."}))
    cell_review = to_cell_review(world)
    oriented, oriented_to = to_oriented(world, "social_services", "crip")
    ok(
        coordinator.post(
            f"/cases/{oriented}/family-information",
            {"informed_on": today().isoformat(), "means": "letter", "outcome": "informed"},
        )
    )
    with_feedback, feedback_to = to_oriented(world, "prevention_association")
    orientation = feedback_to["prevention_association"]
    ok(coordinator.post(f"/cases/{with_feedback}/orientations/{orientation}/transmission"))
    ok(
        coordinator.post(
            f"/cases/{with_feedback}/orientations/{orientation}/feedback",
            {"outcome": "support_in_place"},
        )
    )
    closed = to_cell_review(world)
    ok(coordinator.post(f"/cases/{closed}/review-decision", {"decision": "no_action"}))
    elsewhere = world.as_("coordinator-19").post(
        "/cases", case_body(world.other_cell.id) | {"origin": "police", "received_via": "letter"}
    )
    assert elsewhere.status_code == 201, elsewhere.text
    meetings = [
        meeting(world),
        meeting(world, held_on=today() + timedelta(days=30)),
        str(
            ok(
                world.as_("coordinator-19").post(
                    "/meetings",
                    meeting_body(world.other_cell.id, today()),
                )
            )["id"]
        ),
    ]
    cases = [
        destroyed,
        submitted,
        in_review,
        not_retained,
        research,
        cell_review,
        oriented,
        with_feedback,
        closed,
        str(elsewhere.json()["id"]),
    ]
    orientations = [(oriented, o) for o in oriented_to.values()]
    # The last pair does not match (an orientation of another case): 404.
    orientations += [(with_feedback, orientation), (closed, orientation)]
    return Seeded(
        cases=cases,
        orientations=orientations,
        meetings=meetings,
        cells=[world.cell.id, world.other_cell.id],
        users=sorted(world.users.values()),
    )


def _forged(token: str) -> str:
    """The token with another account in its claims and the original signature."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


# --- the fuzzing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role",
    [pytest.param(name, marks=[pytest.mark.slow] if long else [], id=name) for name, long in ROLES],
)
def test_every_operation_as_role(fuzz: Fuzz, role: str) -> None:
    # Each role starts with a clean failed-authentication count (the forged token's run fills
    # it: its 429s are part of what is checked).
    fuzz.app.state.auth_limiter = AuthFailureLimiter(fuzz.world.settings.auth_failures_per_minute)
    headers = {"Authorization": fuzz.tokens[role]} if role in fuzz.tokens else {}
    failures: list[str] = []
    started = time.perf_counter()
    operations = [result.ok() for result in fuzz.schema.get_all_operations()]
    assert len(operations) >= 20
    # The charter's acceptance last: the newcomer fuzzes everything else before accepting it.
    operations.sort(key=lambda operation: operation.label == "POST /api/v1/me/charter-acceptance")
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
                continue  # nothing to make invalid
            try:
                _fuzz_operation(fuzz, role, headers, operation, mode)
            # Every operation is fuzzed and every failure reported (schemathesis' FailureGroup
            # is a BaseExceptionGroup).
            except (Exception, BaseExceptionGroup) as error:
                failures.append(
                    f"{role}, {operation.label}, {mode.value}:\n"
                    + "".join(traceback.format_exception_only(error))
                )
    fuzz.tally.seconds_by_role[role] = round(time.perf_counter() - started, 1)
    assert not failures, "\n\n".join(failures)


def _has_inputs(operation: Any) -> bool:
    return any(
        len(parameters) for parameters in (operation.path_parameters, operation.query)
    ) or bool(len(operation.body))


def _fuzz_operation(
    fuzz: Fuzz, role: str, headers: dict[str, str], operation: Any, mode: GenerationMode
) -> None:
    strategy = operation.as_strategy(mode)
    if mode is GenerationMode.POSITIVE:
        seeded = _seeded(fuzz, operation)
        if seeded is not None:
            strategy = st.one_of(strategy, seeded)

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(case=strategy, data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        if mode is GenerationMode.POSITIVE:
            _name_real_things(case, data, fuzz.seeded)
        try:
            response = case.call(headers=headers)
        except Exception:
            # The app answered 500 and re-raised (Starlette's ServerErrorMiddleware), which
            # schemathesis' ASGI client passes on: a failure, counted as the 500 it was.
            fuzz.tally.add(role, operation.label, 500, None)
            raise
        body = _problem_of(response)
        fuzz.tally.add(role, operation.label, response.status_code, (body or {}).get("type"))
        case.validate_response(response, checks=CHECKS, headers=headers)
        assert _header(response, "x-request-id"), "no X-Request-ID"
        if response.status_code >= 400:
            _assert_problem(response, body, case, fuzz.known_texts)

    run()


def _seeded(fuzz: Fuzz, operation: Any) -> Any:
    """Cases of ``operation`` on seeded things (its path's ids) with a body the procedure may
    accept: schemathesis generates the rest."""
    paths = _seeded_path_parameters(fuzz.seeded, operation.path)
    make_body = VALID_BODIES.get(operation.label)
    if paths is None and make_body is None:
        return None
    bodies = make_body(fuzz) if make_body is not None else st.just(None)

    def generate(path: dict[str, str] | None, body: Any) -> Any:
        fixed: dict[str, Any] = {"path_parameters": path}
        if body is not None:
            fixed["body"] = body
        return operation.as_strategy(GenerationMode.POSITIVE, **fixed)

    return st.tuples(paths if paths is not None else st.just(None), bodies).flatmap(
        lambda drawn: generate(*drawn)
    )


def _seeded_path_parameters(seeded: Seeded, path: str) -> Any:
    if "{orientation_id}" in path:
        return st.sampled_from(seeded.orientations).map(
            lambda pair: {"case_id": pair[0], "orientation_id": pair[1]}
        )
    if "{case_id}" in path:
        return st.sampled_from(seeded.cases).map(lambda case_id: {"case_id": case_id})
    if "{meeting_id}" in path:
        return st.sampled_from(seeded.meetings).map(lambda meeting_id: {"meeting_id": meeting_id})
    return None


def _days_from_today(low: int, high: int) -> Any:
    return st.integers(low, high).map(lambda days: (today() + timedelta(days=days)).isoformat())


# Bodies the procedure may accept (the document cannot say everything: a reason of four words,
# a date not in the future), for the seeded part of the positive fuzzing.
VALID_BODIES: dict[str, Any] = {
    "POST /api/v1/me/charter-acceptance": lambda fuzz: st.just(
        {"version": fuzz.world.settings.charter_version}
    ),
    "POST /api/v1/cases": lambda fuzz: st.one_of(
        # A member's: received the day it is sent; the coordinator's: declared, and how.
        st.builds(case_body, st.sampled_from(fuzz.seeded.cells)),
        st.builds(
            lambda cell, days, via: declared_body(cell, received_days_ago=days, received_via=via),
            st.sampled_from(fuzz.seeded.cells),
            st.integers(-1, 100),
            st.sampled_from(["letter", "email", "phone", "meeting", "in_person"]),
        ),
    ),
    "POST /api/v1/cases/{case_id}/parquet-decision": lambda _: st.fixed_dictionaries(
        {"retained": st.booleans()}
    ),
    "POST /api/v1/cases/{case_id}/research-notes": lambda _: st.just(
        {"content": "Connu du service depuis la rentrée (exemple fictif)."}
    ),
    "POST /api/v1/cases/{case_id}/review-decision": lambda _: st.one_of(
        st.just({"decision": "no_action"}),
        st.lists(
            st.sampled_from(["social_services", "crip", "prevention_association", "school_head"]),
            min_size=1,
            max_size=3,
            unique=True,
        ).map(
            lambda destinations: {
                "decision": "orient",
                "orientations": [{"destination": d} for d in destinations],
            }
        ),
    ),
    "POST /api/v1/cases/{case_id}/family-information": lambda _: st.fixed_dictionaries(
        {
            "informed_on": _days_from_today(-60, 0),
            "means": st.sampled_from(["letter", "meeting", "phone", "email"]),
            "outcome": st.sampled_from(["informed", "objects", "unreachable"]),
        }
    ),
    "POST /api/v1/cases/{case_id}/orientations/{orientation_id}/feedback": lambda _: st.one_of(
        st.just({"outcome": "support_in_place"}),
        st.just({"outcome": "support_not_possible"}),
        st.just({"outcome": "reoriented", "reoriented_to": "social"}),
    ),
    "POST /api/v1/cases/{case_id}/closure": lambda _: st.fixed_dictionaries(
        {
            "reason": st.sampled_from(
                [
                    "feedback_received",
                    "moved_away",
                    "aged_out",
                    "judicial_follow_up",
                    "family_unreachable",
                ]
            )
        }
    ),
    "POST /api/v1/cases/{case_id}/archive-access": lambda _: st.just(
        {"reason": "Demande écrite du juge des enfants pour une audience prochaine."}
    ),
    "POST /api/v1/meetings": lambda fuzz: st.fixed_dictionaries(
        {
            "cell_id": st.sampled_from(fuzz.seeded.cells),
            "held_on": _days_from_today(-60, 60),
            "starts_at": st.sampled_from(["07:00", "09:30", "14:00", "21:00", "06:59", "21:01"]),
            "place": st.sampled_from(["Mairie du 18e", "Salle 2"]),
        }
    ),
    "POST /api/v1/meetings/{meeting_id}/cases": lambda fuzz: st.fixed_dictionaries(
        {"case_id": st.sampled_from(fuzz.seeded.cases)}
    ),
}


def _name_real_things(case: Any, data: st.DataObject, seeded: Seeded) -> None:
    """Half the time, a body's or query's cell, case or user is one that exists."""
    choices = {
        "cell_id": seeded.cells,
        "case_id": seeded.cases,
        "actor_id": seeded.users,
    }
    for container in (case.body, case.query):
        if not isinstance(container, dict):
            continue
        for name, values in choices.items():
            if name in container and data.draw(st.booleans(), label=f"real {name}"):
                container[name] = data.draw(st.sampled_from(values), label=name)


def _header(response: Any, name: str) -> str:
    """A header of schemathesis' response (lower-case names, lists of values)."""
    return ", ".join(response.headers.get(name, []))


def _problem_of(response: Any) -> dict[str, Any] | None:
    if not _header(response, "content-type").startswith(PROBLEM_JSON):
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _assert_problem(
    response: Any, body: dict[str, Any] | None, case: Any, known_texts: set[str]
) -> None:
    status = response.status_code
    content_type = _header(response, "content-type")
    assert content_type.startswith(PROBLEM_JSON), f"{status} answered as {content_type!r}"
    assert body is not None, f"{status}: not a JSON object"
    assert isinstance(body.get("type"), str), body
    assert body["type"].startswith("urn:cenomed:problem:"), body
    assert body.get("status") == status, body
    for name in ("title", "detail"):
        assert isinstance(body.get(name), str), body
        assert body[name].strip(), body
    # No value sent is echoed. Schemathesis learns strings from the document and from earlier
    # answers and sends them back: a value that was already in one of those is the service's
    # own text (a title, a problem type, a value of a closed list), not an echo.
    said = _strings({name: value for name, value in body.items() if name != "instance"})
    for value in _strings(case.body) + _strings(case.query):
        if len(value) >= ECHO_MIN_LENGTH and any(value in text for text in said):
            assert any(value in known for known in known_texts), (
                f"{status} echoes a value sent: {value!r}"
            )
    known_texts.update(said)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


# --- what the fuzzing found, and the document ---------------------------------------------------


def test_a_body_that_is_not_utf8_is_a_422(fuzz: Fuzz) -> None:
    """Found by the fuzzing: FastAPI answered 400 (undeclared) to a JSON body it cannot decode."""
    response = fuzz.world.client.post(
        "/api/v1/me/charter-acceptance",
        content=b'{"version": "\xb0"}',
        headers={"Content-Type": "application/json", "Authorization": fuzz.tokens["coordinator"]},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["type"] == "urn:cenomed:problem:validation-error"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        (
            "post",
            "/meetings",
            {"cell_id": 2**63, "held_on": "2026-01-01", "starts_at": "10:00", "place": "Salle"},
        ),
        ("post", "/cases", case_body(1) | {"cell_id": 2**63}),
        ("get", "/cases?cell_id=9223372036854775808", None),
    ],
)
def test_a_cell_id_beyond_the_database_is_a_422(
    fuzz: Fuzz, method: str, path: str, body: Any
) -> None:
    """Found by the fuzzing: a cell id past 64 bits overflowed in the database driver (500)."""
    coordinator = fuzz.world.as_("coordinator")
    response = coordinator.post(path, body) if method == "post" else coordinator.get(path)
    assert response.status_code == 422, response.text


def test_a_note_on_a_destroyed_case_is_a_declared_410(fuzz: Fuzz) -> None:
    """Found by the fuzzing: the note is sealed with the case's key, destroyed: 410, declared."""
    destroyed = fuzz.seeded.cases[0]
    response = fuzz.world.as_("coordinator").post(
        f"/cases/{destroyed}/research-notes", {"content": "Connu."}
    )
    assert response.status_code == 410, response.text
    document = fuzz.app.openapi()
    assert "410" in document["paths"]["/api/v1/cases/{case_id}/research-notes"]["post"]["responses"]


def test_the_document_declares_the_problems_of_every_operation(fuzz: Fuzz) -> None:
    document = fuzz.app.openapi()
    assert "HTTPValidationError" not in json.dumps(document)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            declared = operation["responses"]
            expected = set()
            if operation.get("security"):
                expected |= {"401", "429"}
            if method == "post":
                expected.add("413")
            if operation.get("parameters") or operation.get("requestBody"):
                expected.add("422")
            if "{case_id}" in path or "{meeting_id}" in path:
                expected.add("404")
            assert expected <= set(declared), (method, path, sorted(declared))
            for status, response in declared.items():
                if int(status) >= 400:
                    assert list(response["content"]) == [PROBLEM_JSON], (method, path, status)


# --- the checks bite ---------------------------------------------------------------------------

A_PROBLEM = {"type": "urn:cenomed:problem:case-not-found", "title": "Not found", "detail": "No."}


@pytest.mark.parametrize(
    ("status", "content_type", "body", "failure"),
    [
        (418, PROBLEM_JSON, A_PROBLEM | {"status": 418}, "UndefinedStatusCode"),
        (500, PROBLEM_JSON, A_PROBLEM | {"status": 500}, "ServerError"),
        (200, "application/json", {"id": 3}, "JsonSchemaError"),
        (404, "text/plain", A_PROBLEM | {"status": 404}, "UndefinedContentType"),
        (404, PROBLEM_JSON, {"title": "Not found"}, "JsonSchemaError"),
    ],
)
def test_the_checks_refuse_a_wrong_answer(
    fuzz: Fuzz, status: int, content_type: str, body: dict[str, Any], failure: str
) -> None:
    """The fuzzing passes because the answers are right, not because the checks are idle."""
    case = _case_to_read_a_case(fuzz)
    with pytest.raises(BaseExceptionGroup) as raised:
        case.validate_response(_answer(case, status, content_type, body), checks=CHECKS)
    assert failure in {type(error).__name__ for error in raised.value.exceptions}


def test_the_problem_check_refuses_a_bare_error_or_an_echo(fuzz: Fuzz) -> None:
    case = _case_to_read_a_case(fuzz)
    right = A_PROBLEM | {"status": 404}
    _assert_problem(_answer(case, 404, PROBLEM_JSON, right), right, case, set())
    with pytest.raises(AssertionError, match="answered as"):
        _assert_problem(_answer(case, 404, "application/json", right), right, case, set())
    bare = {"detail": "Not found"}
    with pytest.raises(AssertionError):
        _assert_problem(_answer(case, 404, PROBLEM_JSON, bare), bare, case, set())
    case.query = {"cursor": "Quentinette Zyxwavel"}
    echo = right | {"detail": "No case for Quentinette Zyxwavel."}
    with pytest.raises(AssertionError, match="echoes"):
        _assert_problem(_answer(case, 404, PROBLEM_JSON, echo), echo, case, set())


def _case_to_read_a_case(fuzz: Fuzz) -> Any:
    operation = fuzz.schema["/api/v1/cases/{case_id}"]["GET"]
    return operation.Case(path_parameters={"case_id": fuzz.seeded.cases[1]})


def _answer(case: Any, status: int, content_type: str, body: dict[str, Any]) -> Any:
    request = requests.Request("GET", f"http://testserver{case.formatted_path}").prepare()
    return schemathesis.Response(
        status_code=status,
        headers={"content-type": [content_type], "x-request-id": ["1"]},
        content=json.dumps(body).encode(),
        request=request,
        elapsed=0.01,
        verify=True,
    )


# --- the figures --------------------------------------------------------------------------------


def _write_report(state: Fuzz, seconds: float) -> None:
    tally = state.tally
    engine = "postgresql" if POSTGRES_URL else "sqlite"
    existing: dict[str, Any] = json.loads(REPORT.read_text()) if REPORT.exists() else {}

    def counts(counter: Counter[Any]) -> dict[str, int]:
        return {str(key): value for key, value in sorted(counter.items())}

    existing[engine] = {
        "schemathesis": schemathesis.__version__,
        "examples_per_operation_mode_role": EXAMPLES,
        "modes": ["positive", "negative"],
        "operations": len(tally.by_operation),
        "roles": sorted(tally.by_role),
        "requests": tally.requests,
        "responses_5xx": sum(n for status, n in tally.by_status.items() if status >= 500),
        "responses_by_status": counts(tally.by_status),
        "responses_by_role": {role: counts(c) for role, c in sorted(tally.by_role.items())},
        "responses_by_operation": {
            label: counts(c) for label, c in sorted(tally.by_operation.items())
        },
        "problem_types": counts(tally.problem_types),
        "seconds": round(seconds, 1),
        "seconds_by_role": tally.seconds_by_role,
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
