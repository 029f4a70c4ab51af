"""Prometheus metrics of the API process, served at ``GET /metrics``.

Each app gets a registry of its own, so tests can build several apps in one process.
Request counts, request latency and escalations accumulate in this process, while the
projection lag and the queue depths are read from the database and the broker at scrape
time by custom collectors, so no background thread keeps them fresh.

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
from collections.abc import Callable, Iterator

import dramatiq
import psycopg
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from eventsourcing.persistence import PersistenceError
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from cms_graph.bootstrap import Container
from cms_graph.domain.deadlines import DeadlineStep

logger = logging.getLogger(__name__)

# Fixed values of the ``operation`` label: no operation could be determined (the body did
# not parse, the document was invalid and unnamed, or the GraphiQL page was requested),
# and a name beyond the first MAX_OPERATION_LABELS distinct ones.
UNKNOWN_OPERATION = "unknown"
OTHER_OPERATION = "other"
MAX_OPERATION_LABELS = 200
MAX_OPERATION_NAME_LENGTH = 100

_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_DATABASE_ERRORS = (PersistenceError, psycopg.Error, sqlite3.Error)


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


class ProjectionCollector(Collector):
    """Collector of each projection's position and lag behind the event log, read at scrape
    time."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        lag, position = self._families()
        try:
            head = self._container.event_store.recorder.max_notification_id() or 0
            positions = [(runner.name, runner.position()) for runner in self._container.projections]
        except _DATABASE_ERRORS as error:
            # The scrape still succeeds without these samples, and /readyz reports the cause.
            logger.warning("metrics: cannot read projection positions: %s", error)
            positions = []
            head = 0
        for name, applied in positions:
            position.add_metric([name], applied)
            lag.add_metric([name], max(0, head - applied))
        yield lag
        yield position

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        lag = GaugeMetricFamily(
            "cms_projection_lag_events",
            "Events in the event log that the projection has not applied yet.",
            labels=["projection"],
        )
        position = GaugeMetricFamily(
            "cms_projection_position",
            "Notification id of the last event the projection applied.",
            labels=["projection"],
        )
        return lag, position


def queue_depths(broker: dramatiq.Broker) -> dict[str, int]:
    """Return the number of messages in each declared queue of ``broker``, by queue name.

    Delay queues are included under Dramatiq's names for them (``escalations.DQ``). On
    Redis a queue's depth is the size of its message hash, which contains each message from
    enqueue until a worker acknowledges it. The in-process broker counts the messages no
    worker has taken yet. Other brokers return no depths.
    """
    if isinstance(broker, StubBroker):
        return {name: queue.qsize() for name, queue in broker.queues.items()}
    if isinstance(broker, RedisBroker):
        names = sorted(broker.get_declared_queues() | broker.get_declared_delay_queues())
        pipeline = broker.client.pipeline(transaction=False)
        for name in names:
            pipeline.hlen(f"{broker.namespace}:{name}.msgs")
        return dict(zip(names, pipeline.execute(), strict=True))
    # NOTE: RabbitMQ queues are not measured. RabbitMQ reports a queue's size only through
    # a passive queue declaration, and Dramatiq's RabbitmqBroker opens one connection per
    # thread for that, so scrapes from the thread pool would leave connections open.
    return {}


class QueueDepthCollector(Collector):
    """Collector of the depth of each Dramatiq queue, read from the broker at scrape time."""

    def __init__(self, broker: Callable[[], dramatiq.Broker | None]) -> None:
        self._broker = broker

    def describe(self) -> Iterator[Metric]:
        yield self._family()

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        broker = self._broker()
        depths: dict[str, int] = {}
        if broker is not None:
            try:
                depths = queue_depths(broker)
            except redis.RedisError as error:
                logger.warning("metrics: cannot read queue depths from Redis: %s", error)
        for name, depth in sorted(depths.items()):
            family.add_metric([name], depth)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "cms_queue_depth_messages",
            "Messages waiting or in progress in each Dramatiq queue; delay queues end in .DQ.",
            labels=["queue"],
        )


class Metrics:
    """The metrics of one app and the ``/metrics`` endpoint that serves them."""

    def __init__(self, container: Container, broker: Callable[[], dramatiq.Broker | None]) -> None:
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
        self.escalations = Counter(
            "cms_escalations",
            "Automatic escalations for a missed deadline, by deadline step.",
            ["deadline"],
            registry=self.registry,
        )
        # Both series exist from the start, so a rate over them never lacks its first sample.
        for step in DeadlineStep:
            self.escalations.labels(deadline=step.value)
        self.registry.register(ProjectionCollector(container))
        self.registry.register(QueueDepthCollector(broker))

    def count_request(self, method: str, route: str, status: int) -> None:
        method_label = method if method in _HTTP_METHODS else "other"
        self.http_requests.labels(method=method_label, route=route, status=str(status)).inc()

    def observe_graphql(self, operation_name: str | None, seconds: float) -> None:
        label = self.operation_labels.label(operation_name)
        self.graphql_duration.labels(operation=label).observe(seconds)

    def count_escalation(self, step: DeadlineStep) -> None:
        self.escalations.labels(deadline=step.value).inc()

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
    "queue_depths",
]
