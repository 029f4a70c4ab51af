"""Operations over real HTTP: /metrics, request logs, correlation ids and /readyz.

Each test serves an app from ``create_app`` with uvicorn on 127.0.0.1 and a free port.
The app gets a container (and, for Redis, a broker) that the test built and runs no
workers, so projections and queues move only when the test moves them.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dramatiq
import httpx
import psycopg
import pytest
import uvicorn
from dramatiq.brokers.redis import RedisBroker
from prometheus_client.parser import text_string_to_metric_families

from cms_graph.adapters.clock import ManualClock
from cms_graph.adapters.tokens import TokenService
from cms_graph.application.escalations import EscalationOutcome
from cms_graph.bootstrap import Container, build_container
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.values import Role
from cms_graph.settings import Settings
from cms_graph.web import create_app
from cms_graph.workers.runtime import use_container
from tests.conftest import TEST_SECRET, log_lines, make_settings

STARTUP_TIMEOUT_SECONDS = 30.0
SHUTDOWN_TIMEOUT_SECONDS = 30.0
START = datetime(2026, 6, 1, 8, tzinfo=UTC)

# Personal data that no log line may contain, in the forms the complainant typed and the
# forms the application stores.
NAME = "Zarghuna Qizilbash"
PHONE = "0321-9876543"
NORMALISED_PHONE = "+923219876543"
CNIC = "35202-7654321-9"
ADDRESS = "House 77, Mohalla Qizilbash, Lahore"
PERSONAL_DATA = (NAME, PHONE, NORMALISED_PHONE, "03219876543", CNIC, "3520276543219", ADDRESS)

LODGE = """
mutation Lodge($input: LodgeComplaintInput!) {
  lodgeComplaint(input: $input) { complaint { id } userErrors { message } }
}
"""
TRACK = """
query Track($number: String!, $phone: String!) {
  trackComplaint(trackingNumber: $number, phone: $phone) { status }
}
"""
# Loggers of the test's own HTTP client, which logs request URLs. They are not the server's.
CLIENT_LOGGERS = ("httpx", "httpcore")
STAFF_LIST = """
query Staff($first: Int) {
  complaints(first: $first) { edges { node { trackingNumber complainant { name cnic phone } } } }
}
"""
LODGE_INPUT: dict[str, Any] = {
    "channel": "WEB_PORTAL",
    "category": "BRIBERY",
    "description": "The duty officer asked for money to record my statement.",
    "districtId": "pb_lahore",
    "stationId": "pb_lahore-c1-ps1",
    "language": "UR",
    "complainant": {"name": NAME, "cnic": CNIC, "phone": PHONE, "address": ADDRESS},
}


@contextlib.contextmanager
def serving(app: Any) -> Iterator[httpx.Client]:
    """Serve ``app`` on a free port of 127.0.0.1 and yield a client for it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="ops-uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(SHUTDOWN_TIMEOUT_SECONDS)
            listener.close()
            pytest.fail("uvicorn did not start; see the log above", pytrace=False)
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT_SECONDS)
        listener.close()
        use_container(None)
    assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def container(settings: Settings, clock: ManualClock) -> Container:
    """A SQLite container on a manual clock, closed by the app's shutdown."""
    return build_container(settings, clock=clock)


@pytest.fixture
def client(settings: Settings, container: Container) -> Iterator[httpx.Client]:
    with serving(create_app(settings, container=container, run_workers=False)) as http:
        yield http


def graphql(
    client: httpx.Client,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return client.post("/graphql", json=body, headers=headers or {})


def lodge(client: httpx.Client, headers: dict[str, str] | None = None) -> httpx.Response:
    response = graphql(client, LODGE, {"input": LODGE_INPUT}, headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["lodgeComplaint"]["userErrors"] == []
    return response


def scrape(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Return every sample of /metrics, keyed by sample name and sorted labels."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def sample(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def request_line(stream: io.StringIO, path: str) -> dict[str, Any]:
    """Return the one request log line for ``path``."""
    lines = [
        line
        for line in log_lines(stream)
        if line["event"] == "request"
        and line["logger"] == "cms_graph.http"
        and line["path"] == path
    ]
    assert len(lines) == 1, lines
    return lines[0]


def test_histogram_named_operation(client: httpx.Client) -> None:
    lodge(client)

    samples = scrape(client)

    count = "cms_graphql_request_duration_seconds_count"
    bucket = "cms_graphql_request_duration_seconds_bucket"
    assert sample(samples, count, operation="Lodge") == 1.0
    assert sample(samples, bucket, operation="Lodge", le="+Inf") == 1.0


def test_histogram_unnamed_uses_first_field(client: httpx.Client) -> None:
    graphql(client, '{ trackComplaint(trackingNumber: "LHR-0000-0001", phone: "1") { status } }')

    samples = scrape(client)

    count = "cms_graphql_request_duration_seconds_count"
    assert sample(samples, count, operation="trackComplaint") == 1.0


def test_histogram_collapses_unknown(client: httpx.Client) -> None:
    graphql(client, "{ complaints(first: ")
    graphql(client, "{ noSuchField }")
    graphql(client, "query ($id: ID!) { complaint(id: $id) { id } }", {"id": "LHR-secret-id"})

    samples = scrape(client)

    count = "cms_graphql_request_duration_seconds_count"
    operations = {dict(labels)["operation"] for name, labels in samples if name == count}
    assert sample(samples, count, operation="unknown") == 2.0
    assert "noSuchField" not in operations
    assert operations == {"unknown", "complaint"}


def test_http_counter_by_route(client: httpx.Client) -> None:
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no/such/page/35202")

    samples = scrape(client)

    total = "cms_http_requests_total"
    assert sample(samples, total, method="GET", route="/healthz", status="200") == 2.0
    assert sample(samples, total, method="GET", route="unmatched", status="404") == 1.0


def test_lag_gauge_per_projection(client: httpx.Client, container: Container) -> None:
    lodge(client)

    before = scrape(client)
    container.catch_up_all()
    after = scrape(client)

    lag = "cms_projection_lag_events"
    assert sample(before, lag, projection="complaints") == 0.0
    assert sample(before, lag, projection="audit_trail") == 1.0
    assert sample(before, lag, projection="escalations") == 1.0
    assert sample(after, lag, projection="audit_trail") == 0.0
    assert sample(after, lag, projection="escalations") == 0.0
    assert sample(after, "cms_projection_position", projection="audit_trail") == 1.0


def test_escalation_counter(client: httpx.Client, container: Container, clock: ManualClock) -> None:
    lodge(client)
    container.catch_up_all()
    clock.advance(timedelta(hours=8, seconds=1))

    outcomes = container.escalations.sweep()
    before_projection = scrape(client)
    container.catch_up_all()
    samples = scrape(client)

    total = "cms_escalations_recorded_total"
    assert outcomes == {EscalationOutcome.ESCALATED: 1}
    # The count comes from the escalation log, which the escalations projection writes.
    assert sample(before_projection, total, deadline="FIRST_CONTACT") == 0.0
    assert sample(samples, total, deadline="FIRST_CONTACT") == 1.0
    assert sample(samples, total, deadline="REPLY") == 0.0


def test_escalation_counter_other_process(tmp_path: Path, postgres_url: str) -> None:
    settings = make_settings(tmp_path, postgres_url)
    api = build_container(settings)
    # A second container on the same database acts as a 'cms-graph worker' process.
    worker_clock = ManualClock(datetime.now(UTC))
    worker = build_container(settings, clock=worker_clock)
    try:
        with serving(create_app(settings, container=api, run_workers=False)) as client:
            lodge(client)
            worker.catch_up_all()
            worker_clock.advance(timedelta(hours=8, seconds=1))
            outcomes = worker.escalations.sweep()
            worker.catch_up_all()
            samples = scrape(client)
    finally:
        worker.close()

    assert outcomes == {EscalationOutcome.ESCALATED: 1}
    assert sample(samples, "cms_escalations_recorded_total", deadline="FIRST_CONTACT") == 1.0


def test_queue_depth_in_process(client: httpx.Client) -> None:
    lodge(client)

    samples = scrape(client)

    depth = "cms_queue_depth_messages"
    # The commit sent one catch-up message, and no worker runs to take it.
    assert sample(samples, depth, queue="projections", kind="ready") == 1.0
    assert sample(samples, depth, queue="escalations", kind="ready") == 0.0
    assert sample(samples, depth, queue="escalations", kind="delayed") == 0.0
    assert sample(samples, depth, queue="escalations", kind="dead") == 0.0
    assert sample(samples, "cms_broker_up") == 1.0


def test_queue_depth_on_redis(
    settings: Settings, container: Container, redis_broker: RedisBroker
) -> None:
    app = create_app(settings, container=container, run_workers=False, broker=redis_broker)
    with serving(app) as client:
        lodge(client)
        lodged = scrape(client)
        # The escalation projection schedules the first-contact deadline: a delayed message.
        container.catch_up_all()
        scheduled = scrape(client)

    depth = "cms_queue_depth_messages"
    assert sample(lodged, depth, queue="projections", kind="ready") == 1.0
    assert sample(lodged, depth, queue="escalations", kind="delayed") == 0.0
    assert sample(scheduled, depth, queue="escalations", kind="delayed") == 1.0
    assert sample(scheduled, depth, queue="escalations", kind="ready") == 0.0
    assert sample(scheduled, depth, queue="escalations", kind="dead") == 0.0
    assert sample(scheduled, depth, queue="escalations.DQ", kind="ready") is None
    assert sample(scheduled, "cms_broker_up") == 1.0


def test_log_lines_carry_request_ids(client: httpx.Client, log_output: io.StringIO) -> None:
    lodge(client, headers={"X-Correlation-ID": "desk-42"})

    line = request_line(log_output, "/graphql")
    lodged = [entry for entry in log_lines(log_output) if "lodged" in entry["event"]]

    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
    assert line["correlation_id"] == "desk-42"
    assert line["level"] == "info"
    assert line["method"] == "POST"
    assert line["status"] == 200
    assert line["operation"] == "Lodge"
    assert line["duration_ms"] > 0
    assert "timestamp" in line
    assert len(lodged) == 1
    assert lodged[0]["request_id"] == line["request_id"]
    assert lodged[0]["correlation_id"] == "desk-42"


def test_correlation_header_round_trips(client: httpx.Client) -> None:
    response = client.get("/healthz", headers={"X-Correlation-ID": "desk-42"})

    assert response.headers["X-Correlation-ID"] == "desk-42"


def test_malformed_correlation_header_replaced(
    client: httpx.Client, log_output: io.StringIO
) -> None:
    supplied = 'bad id "quoted" <x>'
    response = client.get("/healthz", headers={"X-Correlation-ID": supplied})

    replacement = response.headers["X-Correlation-ID"]
    server_lines = [
        line for line in log_lines(log_output) if not line["logger"].startswith(CLIENT_LOGGERS)
    ]
    invalid = [line for line in server_lines if "is invalid" in line["event"]]
    assert re.fullmatch(r"[0-9a-f]{32}", replacement)
    assert len(invalid) == 1, server_lines
    assert invalid[0]["level"] == "info"
    assert invalid[0]["correlation_id"] == replacement
    assert invalid[0]["event"] == (
        f"X-Correlation-ID of {len(supplied)} characters is invalid and was replaced by"
        f" {replacement}. A valid id matches [A-Za-z0-9._:/-]{{1,100}}"
    )
    assert request_line(log_output, "/healthz")["correlation_id"] == replacement
    for line in server_lines:
        assert "quoted" not in json.dumps(line), line


def test_correlation_header_validity(client: httpx.Client, log_output: io.StringIO) -> None:
    valid_ids = ["trace-1/span-2", "a", "A.b_c:d-e/f", "x" * 100]
    invalid_ids = ["", "x" * 101, "two words", "café", "id;drop"]

    valid_echoes = [
        client.get("/healthz", headers={"X-Correlation-ID": value}).headers["X-Correlation-ID"]
        for value in valid_ids
    ]
    invalid_echoes = [
        client.get("/healthz", headers={"X-Correlation-ID": value.encode()}).headers[
            "X-Correlation-ID"
        ]
        for value in invalid_ids
    ]

    invalid_lines = [line for line in log_lines(log_output) if "is invalid" in line["event"]]
    assert valid_echoes == valid_ids
    for value, echo in zip(invalid_ids, invalid_echoes, strict=True):
        assert re.fullmatch(r"[0-9a-f]{32}", echo), value
    assert len(invalid_lines) == len(invalid_ids)


def test_generated_correlation_id_is_recorded(client: httpx.Client, container: Container) -> None:
    response = lodge(client)

    stored = container.event_store.recorder.select_notifications(start=1, limit=1)
    event = container.event_store.mapper.to_domain_event(stored[0])

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Correlation-ID"])
    assert event.actor.correlation_id == response.headers["X-Correlation-ID"]


def test_logs_hold_no_personal_data(
    client: httpx.Client, container: Container, log_output: io.StringIO
) -> None:
    token = TokenService(TEST_SECRET, issuer="cms-graph", units=container.units).issue(
        subject="cell-1", role=Role.COMPLAINT_CELL, unit_id="pb", lifetime=timedelta(hours=1)
    )
    lodge(client)
    staff = graphql(
        client,
        STAFF_LIST,
        {"first": 5},
        headers={"Authorization": f"Bearer {token}"},
    )
    node = staff.json()["data"]["complaints"]["edges"][0]["node"]
    proof = {"number": node["trackingNumber"], "phone": PHONE}
    tracked = graphql(client, TRACK, proof)
    wrong_phone = graphql(client, TRACK, {**proof, "phone": "0300-0000000"})
    by_get = client.get("/graphql", params={"query": TRACK, "variables": json.dumps(proof)})

    server_lines = [
        line for line in log_lines(log_output) if not line["logger"].startswith(CLIENT_LOGGERS)
    ]
    output = "\n".join(json.dumps(line, ensure_ascii=False) for line in server_lines)
    assert node["complainant"]["name"] == NAME
    assert tracked.json()["data"]["trackComplaint"]["status"] == "LODGED"
    assert wrong_phone.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert by_get.json()["data"]["trackComplaint"]["status"] == "LODGED"
    assert len([line for line in server_lines if line["event"] == "request"]) == 5
    for value in PERSONAL_DATA:
        assert value not in output, f"{value!r} is in the log"
    assert token not in output


WORKER_WAIT_LIMIT_SECONDS = 60
UUID_TEXT = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def outbox_statuses(container: Container) -> list[tuple[str, str, str | None]]:
    with container.database.read() as cursor:
        cursor.execute(
            "SELECT step, status, correlation_id FROM citizen_notification_outbox ORDER BY version"
        )
        return [(row["step"], row["status"], row["correlation_id"]) for row in cursor.fetchall()]


def escalations_of(container: Container) -> list[Complaint.ComplaintEscalated]:
    notifications = container.event_store.recorder.select_notifications(start=None, limit=100)
    events = [container.event_store.mapper.to_domain_event(n) for n in notifications]
    return [event for event in events if isinstance(event, Complaint.ComplaintEscalated)]


def run_worker_until_sent(container: Container, broker: RedisBroker) -> None:
    """Run one Redis worker until the lodging and escalation SMS are settled."""
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        for _ in range(WORKER_WAIT_LIMIT_SECONDS * 10):
            statuses = [status for _step, status, _id in outbox_statuses(container)]
            if len(statuses) == 2 and "PENDING" not in statuses and "SENDING" not in statuses:
                break
            time.sleep(0.1)
    finally:
        worker.stop()


def test_worker_lines_carry_correlation_id(
    settings: Settings,
    container: Container,
    clock: ManualClock,
    redis_broker: RedisBroker,
    log_output: io.StringIO,
) -> None:
    app = create_app(settings, container=container, run_workers=False, broker=redis_broker)
    with serving(app) as client:
        lodge(client, headers={"X-Correlation-ID": "desk-42"})
        # The first-contact deadline has passed when the worker schedules it, so its
        # message is due at once.
        clock.advance(timedelta(hours=8, seconds=1))
        run_worker_until_sent(container, redis_broker)
        (escalation,) = escalations_of(container)
        with container.database.read() as cursor:
            cursor.execute(
                "SELECT correlation_id FROM audit_trail WHERE record_type = 'ComplaintEscalated'"
            )
            audit_rows = [row["correlation_id"] for row in cursor.fetchall()]
        outbox = outbox_statuses(container)

    lines = log_lines(log_output)
    sent = [line for line in lines if "sent on attempt" in line["event"]]
    escalated = [
        line
        for line in lines
        if line["logger"] == "cms_graph.application.escalations" and "escalated to" in line["event"]
    ]
    server_lines = [line for line in lines if not line["logger"].startswith(CLIENT_LOGGERS)]
    output = "\n".join(json.dumps(line, ensure_ascii=False) for line in server_lines)

    assert outbox == [("LODGED", "SENT", "desk-42"), ("ESCALATED", "SENT", "desk-42")]
    assert escalation.actor.kind == "SYSTEM"
    assert escalation.actor.correlation_id == "desk-42"
    assert audit_rows == ["desk-42"]
    assert len(sent) == 2
    for line in sent:
        assert line["correlation_id"] == "desk-42", line
        assert re.fullmatch(UUID_TEXT, line["message_id"]), line
    assert len(escalated) == 1
    assert escalated[0]["correlation_id"] == "desk-42"
    assert re.fullmatch(UUID_TEXT, escalated[0]["message_id"])
    assert "request_id" not in escalated[0]
    for value in PERSONAL_DATA:
        assert value not in output, f"{value!r} is in the log"


def test_readyz_ok(client: httpx.Client) -> None:
    lodge(client)

    response = client.get("/readyz")

    body = response.json()
    assert response.status_code == 200
    assert body["ready"] is True
    assert body["checks"]["eventStore"] == "ok"
    assert body["checks"]["projectionLag"] == "ok"
    assert body["projections"]["complaints"] == {"position": 1, "lag": 0, "lagSeconds": 0.0}
    assert body["projections"]["audit_trail"]["position"] == 0
    assert body["projections"]["audit_trail"]["lag"] == 1
    assert body["projections"]["audit_trail"]["lagSeconds"] >= 0


def test_readyz_503_without_database(
    tmp_path: Path, postgres_url: str, postgres_server: str
) -> None:
    settings = make_settings(tmp_path, postgres_url)
    app = create_app(settings, container=build_container(settings), run_workers=False)
    with serving(app) as client:
        ready = client.get("/readyz")
        name = postgres_url.rpartition("/")[2]
        with psycopg.connect(postgres_server, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        unready = client.get("/readyz")

    body = unready.json()
    assert ready.status_code == 200
    assert unready.status_code == 503
    assert body["ready"] is False
    assert body["checks"]["eventStore"].startswith("failed: ")
    assert body["checks"]["projectionLag"] == "unknown: the event store is unreachable"
    assert body["projections"]["complaints"] == {
        "position": None,
        "lag": None,
        "lagSeconds": None,
    }
