"""Prometheus metrics of the API process, served at ``GET /metrics``.

Each app gets a registry of its own, so tests can build several apps in one process.
Request counts and request latency accumulate in this process. Everything else (projection
lag, escalations, unsent messages, queue depths, heartbeats) is read from the database and
the broker at scrape time by custom collectors, so no background thread keeps it fresh,
and every API process reports the same values for it. Those reads give up after
CMS_PROBE_TIMEOUT_SECONDS, so a scrape returns even when a server is down.

NOTE: uvicorn runs one process here. With several worker processes, each would count
only its own requests: prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``
set before start, a ``MultiProcessCollector`` in the registry that serves the scrape and
``mark_process_dead`` when a process exits) would be needed to sum them. The scrape-time
collectors would then be registered once, beside the ``MultiProcessCollector``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from cms_graph.bootstrap import Container
from cms_graph.domain.deadlines import DeadlineStep
from cms_graph.health.broker import BrokerProbe
from cms_graph.health.store import (
    read_escalation_counts,
    read_failed_webhooks,
    read_store_progress,
    read_unsent_notifications,
)

logger = logging.getLogger(__name__)

# Fixed values of the ``operation`` label: no operation could be determined (the body did
# not parse, the document was invalid and unnamed, or the GraphiQL page was requested),
# and a name beyond the first MAX_OPERATION_LABELS distinct ones.
UNKNOWN_OPERATION = "unknown"
OTHER_OPERATION = "other"
MAX_OPERATION_LABELS = 200
MAX_OPERATION_NAME_LENGTH = 100

_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_DATABASE_ERRORS = (psycopg.Error, sqlite3.Error)
_DATABASE_UP_HELP = (
    "1 when this scrape read the database within CMS_PROBE_TIMEOUT_SECONDS, else 0."
    " At 0 the other database families have no samples."
)


class OperationLabels:
    """Bounded set of ``operation`` label values, taken from GraphQL operation names.

    Clients choose operation names freely, so only the first ``limit`` distinct names get
    a label of their own. Later ones share ``other``.

    NOTE: a client that sends many distinct names early can use up the limit, after which
    new names, also legitimate ones, are counted as ``other`` until the process restarts.
    """

    def __init__(self, limit: int = MAX_OPERATION_LABELS) -> None:
        self._limit = limit
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def label(self, name: str | None) -> str:
        if name is None:
            return UNKNOWN_OPERATION
        if len(name) > MAX_OPERATION_NAME_LENGTH:
            return OTHER_OPERATION
        with self._lock:
            if name in self._known:
                return name
            if len(self._known) >= self._limit:
                return OTHER_OPERATION
            self._known.add(name)
            return name


@dataclass
class StoreFamilies:
    """The metric families that StoreCollector fills from the database."""

    up: GaugeMetricFamily = field(
        default_factory=lambda: GaugeMetricFamily("cms_database_up", _DATABASE_UP_HELP)
    )
    position: GaugeMetricFamily = field(
        default_factory=lambda: GaugeMetricFamily(
            "cms_projection_position",
            "Notification id of the last event the projection applied.",
            labels=["projection"],
        )
    )
    lag_events: GaugeMetricFamily = field(
        default_factory=lambda: GaugeMetricFamily(
            "cms_projection_lag_events",
            "Events in the event log that the projection has not applied yet.",
            labels=["projection"],
        )
    )
    lag_seconds: GaugeMetricFamily = field(
        default_factory=lambda: GaugeMetricFamily(
            "cms_projection_lag_seconds",
            "Seconds since the oldest event the projection has not applied was recorded,"
            " or 0 when it has applied every event.",
            labels=["projection"],
        )
    )
    escalations: CounterMetricFamily = field(
        default_factory=lambda: CounterMetricFamily(
            "cms_escalations_recorded",
            "Escalations for a missed deadline in the escalation log, by deadline step,"
            " made by any process. Every API process reports the same total.",
            labels=["deadline"],
        )
    )
    unsent: GaugeMetricFamily = field(
        default_factory=lambda: GaugeMetricFamily(
            "cms_citizen_notifications_unsent",
            "Messages to complainants that will never be sent, by channel and outbox"
            " status: FAILED after the last attempt, SKIPPED when too old or the"
            " complainant's data was erased.",
            labels=["channel", "status"],
        )
    )
    failed_webhooks: GaugeMetricFamily = field(
        default_factory=lambda: GaugeMetricFamily(
            "cms_webhook_deliveries_failed",
            "Webhook deliveries that used up their retries and wait for a replay.",
        )
    )

    def all(self) -> list[Metric]:
        return [
            self.up,
            self.position,
            self.lag_events,
            self.lag_seconds,
            self.escalations,
            self.unsent,
            self.failed_webhooks,
        ]


class StoreCollector(Collector):
    """Collector of the database's state, read at scrape time on one probe connection.

    When the database cannot be read within CMS_PROBE_TIMEOUT_SECONDS, the scrape still
    succeeds: ``cms_database_up`` is 0 and the other families have no samples.
    """

    def __init__(self, container: Container) -> None:
        self._container = container
        self._was_down = False

    def describe(self) -> Iterator[Metric]:
        yield from StoreFamilies().all()

    def collect(self) -> Iterator[Metric]:
        families = StoreFamilies()
        database = self._container.database
        try:
            with database.probe(self._container.settings.probe_timeout_seconds) as cursor:
                progress = read_store_progress(
                    cursor,
                    self._container.event_store,
                    database.dialect,
                    [runner.name for runner in self._container.projections],
                    datetime.now(UTC),
                )
                escalations = read_escalation_counts(cursor)
                unsent = read_unsent_notifications(cursor)
                failed_webhooks = read_failed_webhooks(cursor)
        except _DATABASE_ERRORS as error:
            # Logged once per outage, not at every scrape.
            if not self._was_down:
                logger.warning("metrics: reading the database failed: %s", error)
            self._was_down = True
            families.up.add_metric([], 0)
            yield families.up
            return
        if self._was_down:
            logger.info("metrics: the database is readable again")
        self._was_down = False

        families.up.add_metric([], 1)
        for entry in progress:
            families.position.add_metric([entry.name], entry.position)
            families.lag_events.add_metric([entry.name], entry.lag_events)
            families.lag_seconds.add_metric([entry.name], entry.lag_seconds)
        for step in DeadlineStep:
            families.escalations.add_metric([step.value], escalations.get(step.value, 0))
        for (channel, status), count in sorted(unsent.items()):
            families.unsent.add_metric([channel, status], count)
        families.failed_webhooks.add_metric([], failed_webhooks)
        yield from families.all()


class BrokerCollector(Collector):
    """Collector of the broker's state: reachability, queue depths and heartbeats."""

    def __init__(self, probe: BrokerProbe) -> None:
        self._probe = probe

    def describe(self) -> Iterator[Metric]:
        yield from self._families().values()

    def collect(self) -> Iterator[Metric]:
        families = self._families()
        reading = self._probe.read()
        if reading is not None:
            families["cms_broker_up"].add_metric([], 1 if reading.up else 0)
            for (queue, kind), depth in sorted(reading.depths.items()):
                families["cms_queue_depth_messages"].add_metric([queue, kind.value], depth)
            if reading.heartbeat_age_seconds is not None:
                families["cms_dramatiq_heartbeat_age_seconds"].add_metric(
                    [], reading.heartbeat_age_seconds
                )
            if reading.live_processes is not None:
                families["cms_dramatiq_live_processes"].add_metric([], reading.live_processes)
        yield from families.values()

    @staticmethod
    def _families() -> dict[str, GaugeMetricFamily]:
        families = [
            GaugeMetricFamily(
                "cms_broker_up",
                "1 when this scrape read the broker within CMS_PROBE_TIMEOUT_SECONDS, else 0."
                " It has no sample on RabbitMQ or before the app has started.",
            ),
            GaugeMetricFamily(
                "cms_queue_depth_messages",
                "Messages in each Dramatiq queue by kind: ready (waiting for a worker or"
                " being processed), delayed (deadline timers not yet due) and dead (failed"
                " after the last retry).",
                labels=["queue", "kind"],
            ),
            GaugeMetricFamily(
                "cms_dramatiq_heartbeat_age_seconds",
                "Seconds since the latest Dramatiq heartbeat on Redis from another process."
                " Workers record one at every fetch, API processes at every send.",
            ),
            GaugeMetricFamily(
                "cms_dramatiq_live_processes",
                "Other processes with a Dramatiq heartbeat on Redis within the broker's"
                " heartbeat timeout (60 s by default): workers, and API processes that sent"
                " a message.",
            ),
        ]
        return {family.name: family for family in families}


class Metrics:
    """The metrics of one app and the ``/metrics`` endpoint that serves them."""

    def __init__(self, container: Container, broker: BrokerProbe) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.operation_labels = OperationLabels()
        self.graphql_duration = Histogram(
            "cms_graphql_request_duration_seconds",
            "Time to answer an HTTP request to /graphql, by GraphQL operation name.",
            ["operation"],
            registry=self.registry,
        )
        self.http_requests = Counter(
            "cms_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.registry.register(StoreCollector(container))
        self.registry.register(BrokerCollector(broker))

    def count_request(self, method: str, route: str, status: int) -> None:
        method_label = method if method in _HTTP_METHODS else "other"
        self.http_requests.labels(method=method_label, route=route, status=str(status)).inc()

    def observe_graphql(self, operation_name: str | None, seconds: float) -> None:
        label = self.operation_labels.label(operation_name)
        self.graphql_duration.labels(operation=label).observe(seconds)

    async def endpoint(self, request: Request) -> Response:
        """Serve the registry in the text format, or in OpenMetrics when the Accept header
        requests it."""
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        # The collectors query the database and the broker, so they run off the event loop.
        body = await run_in_threadpool(encode, self.registry)
        return Response(body, headers={"Content-Type": content_type})


__all__ = [
    "OTHER_OPERATION",
    "UNKNOWN_OPERATION",
    "Metrics",
    "OperationLabels",
]
