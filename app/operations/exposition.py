"""What a Prometheus scrape reads: every worker's counters, and figures kept in the database.

With several worker processes, ``cenomed serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at an
empty directory before the workers start; each worker writes its samples there and a scrape,
whichever worker answers it, adds them all up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.cases.models import Case
from app.clock import now
from app.notifications.repository import outbox_figures

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


class PurgedCases(Collector):
    """The cases destroyed by each retention rule, read from the database at each scrape:
    the purge runs in another process (a timer), and the database is where the truth is."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        purged = GaugeMetricFamily(
            "cenomed_cases_purged",
            "Cases destroyed by the purge, by retention rule",
            labels=["rule"],
        )
        last = GaugeMetricFamily(
            "cenomed_last_purge_timestamp_seconds",
            "When the most recent case was destroyed (0 if none ever was)",
        )
        with self.sessions() as session:
            rows = session.execute(
                select(Case.purge_rule, func.count(), func.max(Case.purged_at))
                .where(Case.purged_at.is_not(None))
                .group_by(Case.purge_rule)
            ).all()
        for rule, count, _latest in rows:
            purged.add_metric([str(rule)], float(count))
        latest = max((row[2] for row in rows if row[2] is not None), default=None)
        last.add_metric([], latest.timestamp() if latest else 0.0)
        yield purged
        yield last


class Outbox(Collector):
    """The e-mail notifications waiting, the age of the oldest, and the failed attempts: read
    from the database, since the sender may run in another worker or a cron job."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        with self.sessions() as session:
            depth, oldest, failures = outbox_figures(session)
        waiting = GaugeMetricFamily(
            "cenomed_notifications_waiting", "E-mail notifications not delivered yet"
        )
        waiting.add_metric([], float(depth))
        age = GaugeMetricFamily(
            "cenomed_notifications_oldest_waiting_seconds",
            "Age of the oldest notification not delivered yet (0 if none)",
        )
        age.add_metric([], max((now() - oldest).total_seconds(), 0.0) if oldest else 0.0)
        failed = GaugeMetricFamily(
            "cenomed_notification_delivery_failures",
            "Delivery attempts the SMTP server did not accept, since the start",
        )
        failed.add_metric([], float(failures))
        yield waiting
        yield age
        yield failed


def exposition(sessions: sessionmaker[Session]) -> tuple[bytes, str]:
    """The text a scrape receives: every worker's samples, and the database's own figures."""
    if os.environ.get(MULTIPROCESS_DIR_ENV):
        workers = CollectorRegistry()
        MultiProcessCollector(workers)  # type: ignore[no-untyped-call]
    else:
        workers = REGISTRY
    database = CollectorRegistry()
    database.register(PurgedCases(sessions))
    database.register(Outbox(sessions))
    return generate_latest(workers) + generate_latest(database), CONTENT_TYPE_LATEST
