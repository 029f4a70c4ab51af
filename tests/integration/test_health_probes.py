"""/readyz and /metrics when a server is down, a worker has stopped or messages failed.

PostgreSQL is reached through a TCP proxy on 127.0.0.1 that each test starts and then
closes or stalls, and an unreachable Redis is a port where nothing listens, so the shared
servers keep running. The HTTP client's timeout is far below the minutes that the
event store's retries took, so a probe that hangs fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dramatiq
import eventsourcing.domain
import httpx
import pytest
from dramatiq.brokers.redis import RedisBroker

from cms_graph.adapters.clock import ManualClock
from cms_graph.application.citizen_notifications import SendOutcome
from cms_graph.bootstrap import build_container
from cms_graph.health.broker import BrokerProbe, BrokerReading
from cms_graph.web import create_app
from tests.conftest import make_settings
from tests.integration.test_operations import lodge, sample, scrape, serving

PROBE_TIMEOUT_SECONDS = 2
# Far below the 5 minutes the event store's retries took, above a 2 s probe timeout.
CLIENT_TIMEOUT_SECONDS = 20.0
WAIT_LIMIT_SECONDS = 30.0


class TcpProxy:
    """A TCP forwarder from ``listen_port`` of 127.0.0.1 (a free one for 0) to
    ``target_port``, on its own event loop.

    ``close()`` stops listening and drops every connection, as a proxy that was killed.
    ``stall()`` also drops every connection but keeps accepting new ones without
    forwarding a byte, as a server that no longer responds.
    """

    def __init__(self, target_port: int, listen_port: int = 0) -> None:
        self._target_port = target_port
        self._listen_port = listen_port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy")
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._stalled = False
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        self._server = self._run(asyncio.start_server(self._handle, "127.0.0.1", self._listen_port))
        self.port = self._server.sockets[0].getsockname()[1]

    def stall(self) -> None:
        self._stalled = True
        self._run(self._drop_connections())

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._run(self._server.wait_closed())
            self._server = None
        self._run(self._drop_connections())

    def stop(self) -> None:
        self.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _drop_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self._stalled:
            return  # keep the connection open and never respond
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self._target_port
            )
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(upstream_writer)
        await asyncio.gather(
            self._pipe(reader, upstream_writer),
            self._pipe(upstream_reader, writer),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self._stalled:
                    return
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()


@pytest.fixture
def postgres_proxy(postgres_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """Yield a started proxy to the test's PostgreSQL database and the URL through it."""
    parts = urlsplit(postgres_url)
    proxy = TcpProxy(parts.port or 5432)
    proxy.start()
    user = f"{parts.username}@" if parts.username else ""
    yield proxy, f"postgresql://{user}127.0.0.1:{proxy.port}{parts.path}"
    proxy.stop()


def free_port() -> int:
    """Return a port of 127.0.0.1 where nothing listens once this returns."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def patient_client(client: httpx.Client) -> Iterator[httpx.Client]:
    """Use ``client`` with the hang-detecting timeout."""
    previous = client.timeout
    client.timeout = httpx.Timeout(CLIENT_TIMEOUT_SECONDS)
    try:
        yield client
    finally:
        client.timeout = previous


@pytest.mark.parametrize("failure", ["closed", "stalled"])
def test_probes_return_when_database_lost(
    tmp_path: Path, postgres_proxy: tuple[TcpProxy, str], failure: str
) -> None:
    proxy, url = postgres_proxy
    settings = make_settings(tmp_path, url, probe_timeout_seconds=PROBE_TIMEOUT_SECONDS)
    app = create_app(settings, container=build_container(settings), run_workers=False)
    with serving(app) as client, patient_client(client):
        lodge(client)
        ready = client.get("/readyz")
        up = scrape(client)
        if failure == "closed":
            proxy.close()
        else:
            proxy.stall()
        # The second probe is the one that waited for the event store's retries before.
        first = client.get("/readyz")
        second = client.get("/readyz")
        down = scrape(client)

    body = second.json()
    assert ready.status_code == 200
    assert sample(up, "cms_database_up") == 1.0
    assert first.status_code == 503
    assert second.status_code == 503
    assert body["checks"]["eventStore"].startswith("failed: ")
    assert body["projections"]["complaints"]["lagSeconds"] is None
    assert sample(down, "cms_database_up") == 0.0
    assert sample(down, "cms_projection_lag_events", projection="complaints") is None
    assert sample(down, "process_cpu_seconds_total") is not None
    count = "cms_graphql_request_duration_seconds_count"
    assert sample(down, count, operation="Lodge") == 1.0


def test_broker_down_reported(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, probe_timeout_seconds=PROBE_TIMEOUT_SECONDS)
    broker = RedisBroker(url=f"redis://127.0.0.1:{free_port()}/9", namespace="cms-ops-down")
    app = create_app(
        settings, container=build_container(settings), run_workers=False, broker=broker
    )
    with serving(app) as client, patient_client(client):
        ready = client.get("/readyz")
        samples = scrape(client)

    body = ready.json()
    depths = [name for name, _labels in samples if name == "cms_queue_depth_messages"]
    assert ready.status_code == 503
    assert body["checks"]["broker"] == "failed: ConnectionError"
    assert body["checks"]["eventStore"] == "ok"
    assert sample(samples, "cms_broker_up") == 0.0
    assert depths == []
    assert sample(samples, "cms_database_up") == 1.0


def test_broker_outage_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    broker = RedisBroker(url=f"redis://127.0.0.1:{free_port()}/9", namespace="cms-ops-down")
    probe = BrokerProbe(lambda: broker, PROBE_TIMEOUT_SECONDS)
    with caplog.at_level(logging.WARNING, logger="cms_graph.health.broker"):
        first = probe.read()
        second = probe.read()
    probe.close()

    failures = [
        record
        for record in caplog.records
        if "reading the Redis broker failed" in record.getMessage()
    ]
    assert first == BrokerReading(up=False)
    assert second == BrokerReading(up=False)
    assert len(failures) == 1


@pytest.fixture
def hour_old_events(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Make every new event record a timestamp one hour in the past."""
    recorded_at = datetime.now(UTC) - timedelta(hours=1)
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", lambda: recorded_at)
    return recorded_at


@pytest.mark.usefixtures("hour_old_events")
def test_readyz_503_on_lag_age(tmp_path: Path, postgres_url: str) -> None:
    settings = make_settings(tmp_path, postgres_url, ready_max_lag_seconds=60)
    container = build_container(settings)
    with serving(create_app(settings, container=container, run_workers=False)) as client:
        lodge(client)
        behind = client.get("/readyz")
        lagging = scrape(client)
        container.catch_up_all()
        caught_up = client.get("/readyz")
        current = scrape(client)

    body = behind.json()
    lag_seconds = "cms_projection_lag_seconds"
    assert behind.status_code == 503
    assert body["checks"]["eventStore"] == "ok"
    assert body["checks"]["projectionLag"].startswith(
        "failed: oldest unapplied event older than 60 s in escalations "
    )
    assert "audit_trail" in body["checks"]["projectionLag"]
    # The API applies each commit to the complaint view before it responds.
    assert "complaints " not in body["checks"]["projectionLag"]
    assert body["projections"]["audit_trail"]["lagSeconds"] >= 3600
    assert body["projections"]["complaints"]["lagSeconds"] == 0.0
    assert (sample(lagging, lag_seconds, projection="audit_trail") or 0) >= 3600
    assert caught_up.status_code == 200
    assert caught_up.json()["checks"]["projectionLag"] == "ok"
    assert sample(current, lag_seconds, projection="audit_trail") == 0.0


@pytest.mark.usefixtures("hour_old_events")
def test_lag_check_off_at_zero(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ready_max_lag_seconds=0)
    container = build_container(settings)
    with serving(create_app(settings, container=container, run_workers=False)) as client:
        lodge(client)
        response = client.get("/readyz")

    body = response.json()
    assert response.status_code == 200
    assert body["checks"]["projectionLag"] == "off"
    assert body["projections"]["audit_trail"]["lagSeconds"] >= 3600


def test_unsent_messages_counted(tmp_path: Path, postgres_url: str) -> None:
    settings = make_settings(tmp_path, postgres_url, notification_max_age_hours=1)
    clock = ManualClock(datetime.now(UTC))
    container = build_container(settings, clock=clock)
    with serving(create_app(settings, container=container, run_workers=False)) as client:
        lodge(client)
        container.catch_up_all()
        before = scrape(client)
        clock.advance(timedelta(hours=2))
        outcomes = [
            container.citizen_notifications.send(due.key)
            for due in container.citizen_notifications.due_notifications()
        ]
        after = scrape(client)

    unsent = "cms_citizen_notifications_unsent"
    assert outcomes == [SendOutcome.SKIPPED]
    assert sample(before, unsent, channel="SMS", status="SKIPPED") == 0.0
    assert sample(after, unsent, channel="SMS", status="SKIPPED") == 1.0
    assert sample(after, unsent, channel="SMS", status="FAILED") == 0.0
    assert sample(after, unsent, channel="WHATSAPP", status="SKIPPED") == 0.0
    assert sample(after, "cms_webhook_deliveries_failed") == 0.0


def always_fails() -> None:
    raise RuntimeError("this actor always fails")


def wait_for_sample(client: httpx.Client, name: str, value: float, **labels: str) -> float | None:
    """Scrape until the sample has ``value``, for at most WAIT_LIMIT_SECONDS, and return
    the last value seen."""
    seen = None
    for _ in range(int(WAIT_LIMIT_SECONDS * 10)):
        seen = sample(scrape(client), name, **labels)
        if seen == value:
            break
        threading.Event().wait(0.1)
    return seen


def test_dead_letters_counted(tmp_path: Path, redis_broker: RedisBroker) -> None:
    settings = make_settings(tmp_path)
    app = create_app(
        settings, container=build_container(settings), run_workers=False, broker=redis_broker
    )
    with serving(app) as client:
        failing = dramatiq.actor(
            always_fails,
            actor_name="ops_always_fails",
            queue_name="ops_failing",
            max_retries=0,
            broker=redis_broker,
        )
        before = scrape(client)
        failing.send()
        worker = dramatiq.Worker(redis_broker, worker_threads=1, worker_timeout=100)
        worker.start()
        try:
            dead = wait_for_sample(
                client, "cms_queue_depth_messages", 1.0, queue="ops_failing", kind="dead"
            )
        finally:
            worker.stop()

    depth = "cms_queue_depth_messages"
    assert sample(before, depth, queue="ops_failing", kind="dead") == 0.0
    assert dead == 1.0


def test_worker_heartbeat_seen(tmp_path: Path, redis_broker: RedisBroker) -> None:
    settings = make_settings(tmp_path)
    app = create_app(
        settings, container=build_container(settings), run_workers=False, broker=redis_broker
    )
    # A second broker acts as a worker process, because its heartbeats carry another id.
    worker_broker = RedisBroker(client=redis_broker.client, namespace=redis_broker.namespace)
    worker_broker.declare_queue("projections")
    with serving(app) as client:
        lodge(client)  # this process's own send records a heartbeat that is left out
        before = scrape(client)
        worker = dramatiq.Worker(worker_broker, worker_threads=1, worker_timeout=100)
        worker.start()
        try:
            live = wait_for_sample(client, "cms_dramatiq_live_processes", 1.0)
            during = scrape(client)
        finally:
            worker.stop()

    assert sample(before, "cms_dramatiq_live_processes") == 0.0
    assert sample(before, "cms_dramatiq_heartbeat_age_seconds") is None
    assert live == 1.0
    assert sample(during, "cms_dramatiq_heartbeat_age_seconds") is not None
