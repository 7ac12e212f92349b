"""Prometheus metrics: counted right, labelled with closed sets, served to operators only."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from ipaddress import ip_network

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from app.cases.models import CasePersonal
from app.clock import today
from app.db import make_sessionmaker
from app.main import create_app
from app.retention.service import purge
from tests.audit.log import head
from tests.conftest import World
from tests.scenario import case_body, ok, problem, submit, through_the_six_steps
from tests.server import free_port, running_server

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def operator(world: World) -> Iterator[TestClient]:
    """A client on the loopback, as Prometheus on the same host would be."""
    with TestClient(world.client.app, client=("127.0.0.1", 40000)) as client:
        yield client


def scrape(operator: TestClient) -> Samples:
    response = operator.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def test_requests_refusals_and_audit_appends_are_counted(
    world: World, operator: TestClient
) -> None:
    before, events_before = scrape(operator), head(world)
    case_id = submit(world)
    for _ in range(3):
        ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    problem(world.as_("cst").post("/cases", case_body(world.cell.id)), 403)
    problem(world.as_("coordinator-19").get(f"/cases/{case_id}"), 404)
    after, events_after = scrape(operator), head(world)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = "/api/v1/cases/{case_id}"
    assert grew("cenomed_http_requests_total", method="GET", route=route, status="200") == 3
    assert grew("cenomed_http_requests_total", method="GET", route=route, status="404") == 1
    assert grew("cenomed_http_request_duration_seconds_count", method="GET", route=route) == 4
    assert grew("cenomed_refusals_total", status="403", kind="role-not-allowed") == 1
    assert grew("cenomed_refusals_total", status="404", kind="case-not-found") == 1
    # Every event the chain gained was counted once, by outcome.
    allowed = grew("cenomed_audit_events_appended_total", outcome="allowed")
    denied = grew("cenomed_audit_events_appended_total", outcome="denied")
    assert (allowed, denied) == (5, 2)  # submitted and shown back, read thrice; two refusals
    assert allowed + denied == events_after - events_before


def test_labels_never_carry_an_id_or_a_path_the_client_chose(
    world: World, operator: TestClient
) -> None:
    case_id = submit(world)
    ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    world.client.get(f"/api/v1/{uuid.uuid4()}/nothing-here")
    text = operator.get("/metrics").text
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", text)
    assert "nothing-here" not in text
    assert 'route="(unmatched)"' in text


def test_a_failed_decryption_is_counted(world: World, operator: TestClient) -> None:
    case_id = submit(world)
    before = scrape(operator)
    with world.db() as session:
        session.execute(
            update(CasePersonal)
            .where(CasePersonal.case_id == uuid.UUID(case_id))
            .values(last_name_enc=b"damaged")
        )
    problem(world.as_("coordinator").get(f"/cases/{case_id}"), 500)
    after = scrape(operator)
    name = "cenomed_decryption_failures_total"
    assert value(after, name, kind="field") - value(before, name, kind="field") == 1


def test_purged_cases_are_read_from_the_database(world: World, operator: TestClient) -> None:
    assert value(scrape(operator), "cenomed_last_purge_timestamp_seconds") == 0
    through_the_six_steps(world)
    sessions = make_sessionmaker(world.client.app.state.engine)  # type: ignore[attr-defined]
    report = purge(sessions, world.vault, as_of=today() + timedelta(days=1096))
    [rule] = report.by_rule
    samples = scrape(operator)
    assert value(samples, "cenomed_cases_purged", rule=rule) == 1
    assert value(samples, "cenomed_last_purge_timestamp_seconds") > 0


@pytest.mark.parametrize("address", ["testclient", "10.1.2.3", "2001:db8::1"])
def test_metrics_are_not_found_outside_the_operators_networks(world: World, address: str) -> None:
    with TestClient(world.client.app, client=(address, 40000)) as client:
        response = client.get("/metrics")
    problem(response, 404)
    assert "cenomed_" not in response.text


def test_the_operators_network_is_a_setting(world: World) -> None:
    settings = world.settings.model_copy(
        update={"metrics_allowed_networks": [ip_network("10.0.0.0/8")]}
    )
    app = create_app(settings)
    with TestClient(app, client=("10.1.2.3", 40000)) as inside:
        assert inside.get("/metrics").status_code == 200
    with TestClient(app, client=("127.0.0.1", 40000)) as loopback:
        assert loopback.get("/metrics").status_code == 404


def test_metrics_are_not_in_the_partners_api_document(world: World) -> None:
    assert "/metrics" not in world.client.get("/openapi.json").json()["paths"]


def test_several_workers_add_up_to_one_count(world: World) -> None:
    """The real server with two workers: whichever answers a scrape reports every worker's
    requests."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token = world.token("coordinator")
    with running_server(world, port, workers=2), httpx.Client(base_url=base) as client:
        for _ in range(40):
            # A new connection each time, so that both workers take some.
            response = httpx.get(
                f"{base}/api/v1/cases", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200
        scrapes = [parse(client.get("/metrics").text) for _ in range(4)]
    for samples in scrapes:
        counted = value(
            samples,
            "cenomed_http_requests_total",
            method="GET",
            route="/api/v1/cases",
            status="200",
        )
        assert counted == 40
