"""Subscriptions over graphql-transport-ws, driven by the graphql-ws npm client.

``graphql_ws_client/subscribe.mjs`` subscribes with graphql-ws (version pinned in
``package-lock.json``) and prints each message as a JSON line. The cross-process tests
start two ``cms-graph serve`` processes on one fresh PostgreSQL database: subscribers
connect to process B while the mutations go through process A, so every item has
crossed processes through the shared event log. The integrator tests serve the app in
this process, because they install a test integration directory in its container.

The first run installs the pinned packages with ``npm ci``, which needs the npm registry.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import uvicorn

from cms_graph.application.field_limits import ENVELOPE_FIELDS
from cms_graph.application.integration_directory import ActiveIntegration, IntegrationKind
from cms_graph.bootstrap import build_container
from cms_graph.domain.values import Role
from cms_graph.settings import Settings
from cms_graph.web import create_app
from tests.conftest import TEST_SECRET, make_settings
from tests.e2e.conftest import GraphQLClient, TokenMaker
from tests.e2e.node_projects import NPM_CI_TIMEOUT_SECONDS, find_tool, install_locked
from tests.e2e.test_lifecycle_http import CIRCLE, OFFICER, Desk
from tests.factories import CNIC, NAME, NORMALISED_PHONE, PHONE

CLIENT_DIR = Path(__file__).resolve().parent / "graphql_ws_client"
# Bounds on every wait for a process or a message, so a broken server fails the test.
START_TIMEOUT_SECONDS = 60.0
MESSAGE_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0
AUDIT_KEY = "test-audit-key-shared-by-both-api-processes-0123"
WRONG_PHONE = "0300-7654321"

STAFF_UPDATES = """
subscription($id: ID, $after: Int) {
  complaintUpdated(complaintId: $id, after: $after) {
    position eventType occurredAt
    complaint { id trackingNumber status version assignedOfficerId }
    publicStatus { status }
  }
}
"""
CITIZEN_UPDATES = """
subscription($number: String, $phone: String, $after: Int) {
  complaintUpdated(trackingNumber: $number, phone: $phone, after: $after) {
    position eventType occurredAt
    complaint { id assignedOfficerId }
    publicStatus {
      trackingNumber status statusText { en ur } category language lodgedAt nextDeadline
      timeline { eventType occurredAt text { en ur } }
    }
  }
}
"""
COMPLAINT_EVENTS = """
subscription($filter: ComplaintFilter, $after: Int) {
  complaintEvents(filter: $filter, after: $after) {
    position complaintId eventType occurredAt version fields
  }
}
"""


@pytest.fixture(scope="session")
def client_script() -> Path:
    """Return the client script, after ``npm ci`` if node_modules lacks the locked versions."""
    install_locked(CLIENT_DIR, ("graphql", "graphql-ws", "ws"))
    return CLIENT_DIR / "subscribe.mjs"


class Subscriber:
    """One run of the Node client; its JSON lines are read by a thread into a queue."""

    def __init__(
        self,
        script: Path,
        url: str,
        query: str,
        variables: dict[str, Any],
        *,
        token: str | None = None,
        header_token: str | None = None,
    ) -> None:
        arguments = [find_tool("node"), str(script), url, query, json.dumps(variables)]
        if token is not None:
            arguments += ["--token", token]
        if header_token is not None:
            arguments += ["--header-token", header_token]
        self.process = subprocess.Popen(  # our script and our server's URL
            arguments,
            cwd=CLIENT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def message(self) -> dict[str, Any]:
        """Return the next message other than "connected"; fail if none comes in time."""
        while True:
            try:
                line = self.lines.get(timeout=MESSAGE_TIMEOUT_SECONDS)
            except queue.Empty:
                self.kill()
                pytest.fail(f"no message within {MESSAGE_TIMEOUT_SECONDS} s", pytrace=False)
            if line is None:
                stderr = self.process.stderr.read() if self.process.stderr else ""
                pytest.fail(f"the client exited without a message: {stderr}", pytrace=False)
            if line["event"] != "connected":
                return line

    def item(self) -> dict[str, Any]:
        """Return the data of the next ``next`` message; fail on anything else."""
        line = self.message()
        assert line["event"] == "next", line
        assert "errors" not in line["payload"], line["payload"]["errors"]
        data: dict[str, Any] = line["payload"]["data"]
        (value,) = data.values()
        assert isinstance(value, dict)
        return value

    def items(self, count: int) -> list[dict[str, Any]]:
        return [self.item() for _ in range(count)]

    def error(self) -> dict[str, Any]:
        """Return the first error of a ``next`` message that carries errors."""
        line = self.message()
        assert line["event"] == "next", line
        errors: list[dict[str, Any]] = line["payload"]["errors"]
        return errors[0]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(STOP_TIMEOUT_SECONDS)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def subscribers(client_script: Path) -> Iterator[list[Subscriber]]:
    started: list[Subscriber] = []
    yield started
    for subscriber in started:
        subscriber.kill()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ApiProcess:
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def graphql_url(self) -> str:
        return self.base_url + "/graphql"

    @property
    def websocket_url(self) -> str:
        return self.graphql_url.replace("http://", "ws://", 1)


def wait_until_healthy(api: ApiProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if api.process.poll() is not None:
            pytest.fail(f"cms-graph serve exited:\n{api.log.read_text()}", pytrace=False)
        try:
            if httpx.get(api.base_url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"cms-graph serve did not start within {START_TIMEOUT_SECONDS} s", pytrace=False)


@dataclass
class ApiPair:
    a: ApiProcess
    b: ApiProcess
    desk: Desk
    tokens: TokenMaker
    http: httpx.Client = field(repr=False)


@pytest.fixture
def api_pair(postgres_url: str, tmp_path: Path) -> Iterator[ApiPair]:
    """Two ``cms-graph serve`` processes on one fresh PostgreSQL database."""
    command = [sys.executable, "-m", "cms_graph"]
    env = os.environ | {
        "CMS_DATABASE_URL": postgres_url,
        "CMS_JWT_SECRET": TEST_SECRET,
        "CMS_AUDIT_KEY": AUDIT_KEY,
        "CMS_DEMO_DATA": "false",
        "CMS_LOG_LEVEL": "WARNING",
        "CMS_MIGRATE_ON_START": "false",
    }
    env.pop("CMS_BROKER_URL", None)
    # Migrate once, so the two processes do not race to create the tables.
    subprocess.run(
        [*command, "migrate"],
        env=env | {"CMS_DATA_DIR": str(tmp_path / "migrate")},
        check=True,
        capture_output=True,
        timeout=START_TIMEOUT_SECONDS,
    )
    apis = []
    for name in ("a", "b"):
        port = free_port()
        log = tmp_path / f"serve-{name}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [*command, "serve", "--port", str(port)],
                env=env | {"CMS_DATA_DIR": str(tmp_path / name)},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        apis.append(ApiProcess(f"http://127.0.0.1:{port}", process, log))
    try:
        for api in apis:
            wait_until_healthy(api)
        tokens = TokenMaker("cms-graph")
        with httpx.Client(timeout=30.0) as http:
            desk = Desk(GraphQLClient(http, apis[0].graphql_url), tokens)
            yield ApiPair(apis[0], apis[1], desk, tokens, http)
    finally:
        for api in apis:
            api.process.terminate()
        for api in apis:
            try:
                api.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                api.process.kill()
                api.process.wait(STOP_TIMEOUT_SECONDS)


def add_note(desk: Desk, complaint_id: str, text: str, *, internal: bool = True) -> None:
    values = {"complaintId": complaint_id, "text": text, "internal": internal}
    desk.succeed("addNote", values, token=desk.sdpo)


@pytest.mark.timeout(NPM_CI_TIMEOUT_SECONDS + 240)
def test_updates_cross_processes_and_resume(
    api_pair: ApiPair, client_script: Path, subscribers: list[Subscriber]
) -> None:
    desk = api_pair.desk
    _number, complaint_id = desk.lodge_with_id()

    first = Subscriber(
        client_script,
        api_pair.b.websocket_url,
        STAFF_UPDATES,
        {"id": complaint_id, "after": 0},
        token=desk.sdpo,
    )
    subscribers.append(first)
    received = [first.item()]
    desk.succeed("acknowledgeComplaint", {"complaintId": complaint_id}, token=desk.sdpo)
    add_note(desk, complaint_id, "Called the complainant.")
    add_note(desk, complaint_id, "Asked the station for the register.", internal=False)
    received += first.items(3)
    first.kill()

    add_note(desk, complaint_id, "Written while the subscriber was away.")
    desk.succeed(
        "assignComplaint",
        {"complaintId": complaint_id, "officerId": OFFICER, "unitId": CIRCLE},
        token=desk.sdpo,
    )
    last_seen = received[-1]["position"]
    # Resumed with the token in the upgrade request's header this time.
    second = Subscriber(
        client_script,
        api_pair.b.websocket_url,
        STAFF_UPDATES,
        {"id": complaint_id, "after": last_seen},
        header_token=desk.sdpo,
    )
    subscribers.append(second)
    resumed = second.items(2)
    add_note(desk, complaint_id, "Written after the resume.")
    resumed += second.items(1)

    assert [item["eventType"] for item in received] == [
        "ComplaintLodged",
        "ComplaintAcknowledged",
        "NoteAdded",
        "NoteAdded",
    ]
    assert [item["eventType"] for item in resumed] == [
        "NoteAdded",
        "ComplaintAssigned",
        "NoteAdded",
    ]
    positions = [item["position"] for item in received + resumed]
    assert positions == sorted(set(positions)), positions
    assert resumed[0]["position"] > last_seen
    assert all(item["complaint"]["id"] == complaint_id for item in received + resumed)
    assert all(item["publicStatus"] is None for item in received + resumed)
    assert resumed[-1]["complaint"]["assignedOfficerId"] == OFFICER
    assert resumed[-1]["complaint"]["status"] == "ASSIGNED"


@pytest.mark.timeout(NPM_CI_TIMEOUT_SECONDS + 240)
def test_event_stream_cross_processes_resume(
    api_pair: ApiPair, client_script: Path, subscribers: list[Subscriber]
) -> None:
    desk = api_pair.desk
    url = api_pair.b.websocket_url
    first = Subscriber(client_script, url, COMPLAINT_EVENTS, {"after": 0}, token=desk.cell)
    subscribers.append(first)
    number_one, id_one = desk.lodge_with_id()
    number_two, id_two = desk.lodge_with_id()
    desk.succeed("acknowledgeComplaint", {"complaintId": id_one}, token=desk.sdpo)
    received = first.items(3)
    first.kill()

    number_three, id_three = desk.lodge_with_id()
    add_note(desk, id_two, "Written while the stream was closed.")
    second = Subscriber(
        client_script,
        url,
        COMPLAINT_EVENTS,
        {"after": received[-1]["position"]},
        token=desk.cell,
    )
    subscribers.append(second)
    resumed = second.items(2)
    add_note(desk, id_three, "Written after the resume.")
    resumed += second.items(1)

    events = [(item["complaintId"], item["eventType"]) for item in received + resumed]
    assert events == [
        (id_one, "ComplaintLodged"),
        (id_two, "ComplaintLodged"),
        (id_one, "ComplaintAcknowledged"),
        (id_three, "ComplaintLodged"),
        (id_two, "NoteAdded"),
        (id_three, "NoteAdded"),
    ]
    positions = [item["position"] for item in received + resumed]
    assert positions == sorted(set(positions)), positions
    numbers = [item["fields"]["trackingNumber"] for item in received + resumed]
    assert numbers == [number_one, number_two, number_one, number_three, number_two, number_three]
    # Oversight roles receive no personal fields.
    assert all("complainantName" not in item["fields"] for item in received + resumed)


@pytest.mark.timeout(NPM_CI_TIMEOUT_SECONDS + 240)
def test_citizen_sees_public_view_only(
    api_pair: ApiPair, client_script: Path, subscribers: list[Subscriber]
) -> None:
    desk = api_pair.desk
    number, complaint_id = desk.lodge_with_id()
    citizen = Subscriber(
        client_script,
        api_pair.b.websocket_url,
        CITIZEN_UPDATES,
        {"number": number, "phone": PHONE, "after": 0},
    )
    subscribers.append(citizen)
    lodged = citizen.item()

    add_note(desk, complaint_id, "Internal: the SHO is a relative of the accused.")
    desk.succeed(
        "assignComplaint",
        {"complaintId": complaint_id, "officerId": OFFICER, "unitId": CIRCLE},
        token=desk.sdpo,
    )
    assigned = citizen.item()
    text = json.dumps(assigned, ensure_ascii=False)

    assert lodged["eventType"] == "ComplaintLodged"
    assert assigned["eventType"] == "ComplaintAssigned"
    assert assigned["position"] > lodged["position"]
    assert assigned["complaint"] is None
    assert assigned["publicStatus"]["status"] == "ASSIGNED"
    assert assigned["publicStatus"]["trackingNumber"] == number
    assert [entry["eventType"] for entry in assigned["publicStatus"]["timeline"]] == [
        "ComplaintLodged",
        "ComplaintAssigned",
    ]
    assert assigned["publicStatus"]["statusText"]["ur"]
    assert OFFICER not in text
    assert "relative" not in text
    assert NAME not in text
    assert PHONE not in text
    assert NORMALISED_PHONE not in text


@pytest.mark.timeout(NPM_CI_TIMEOUT_SECONDS + 240)
def test_refused_subscriptions(
    api_pair: ApiPair, client_script: Path, subscribers: list[Subscriber]
) -> None:
    desk = api_pair.desk
    number, complaint_id = desk.lodge_with_id()
    other_circle = api_pair.tokens(Role.SDPO, "pb_lahore-c2", subject="sdpo-lahore-c2")
    integrator = api_pair.tokens(Role.INTEGRATOR, "pb", subject="psrms")
    url = api_pair.b.websocket_url

    def first_error(query: str, variables: dict[str, Any], **auth: str) -> dict[str, Any]:
        subscriber = Subscriber(client_script, url, query, variables, **auth)
        subscribers.append(subscriber)
        return subscriber.error()

    wrong_phone = first_error(CITIZEN_UPDATES, {"number": number, "phone": WRONG_PHONE})
    outside_unit = first_error(STAFF_UPDATES, {"id": complaint_id}, token=other_circle)
    anonymous_staff = first_error(STAFF_UPDATES, {"id": complaint_id})
    no_integration = first_error(COMPLAINT_EVENTS, {}, token=integrator)
    integrator_by_id = first_error(STAFF_UPDATES, {"id": complaint_id}, token=integrator)
    station_events = first_error(COMPLAINT_EVENTS, {}, token=desk.sdpo)
    bad_token = Subscriber(client_script, url, STAFF_UPDATES, {"id": complaint_id}, token="x.y.z")
    subscribers.append(bad_token)
    closed = bad_token.message()

    assert wrong_phone["extensions"]["code"] == "NOT_FOUND"
    assert wrong_phone["message"] == "no complaint matches this tracking number and phone number"
    assert outside_unit["extensions"]["code"] == "NOT_FOUND"
    assert "outside your units" in outside_unit["message"]
    assert anonymous_staff["extensions"]["code"] == "UNAUTHENTICATED"
    assert no_integration["extensions"]["code"] == "FORBIDDEN"
    assert "no active integration of kind SUBSCRIPTION" in no_integration["message"]
    assert integrator_by_id["extensions"]["code"] == "FORBIDDEN"
    assert station_events["extensions"]["code"] == "FORBIDDEN"
    assert closed["event"] == "error"
    assert closed["error"]["code"] == 4403


class SwitchableDirectory:
    """An integration directory with one integration, which a test can revoke."""

    def __init__(self, integration: ActiveIntegration) -> None:
        self.integration: ActiveIntegration | None = integration

    def active(self, *, kind: IntegrationKind | None = None) -> list[ActiveIntegration]:
        if self.integration is None or kind not in (None, self.integration.kind):
            return []
        return [self.integration]

    def active_for_principal(self, principal: str) -> ActiveIntegration | None:
        if self.integration is None or self.integration.principal != principal:
            return None
        return self.integration

    def signing_secret(self, integration_id: UUID) -> bytes | None:
        return None


INTEGRATION = ActiveIntegration(
    id=uuid4(),
    name="PSRMS",
    kind=IntegrationKind.SUBSCRIPTION,
    endpoint=None,
    event_types=frozenset({"ComplaintLodged", "ComplaintAcknowledged", "NoteAdded"}),
    allowed_fields=("trackingNumber", "status", "category"),
    principal="psrms",
)


@dataclass
class InProcessServer:
    base_url: str
    directory: SwitchableDirectory
    desk: Desk
    tokens: TokenMaker

    @property
    def websocket_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/graphql"


@pytest.fixture
def integrator_server(tmp_path: Path) -> Iterator[InProcessServer]:
    """Serve the app on SQLite in a thread, with a switchable integration directory."""
    settings: Settings = make_settings(tmp_path)
    container = build_container(settings)
    directory = SwitchableDirectory(INTEGRATION)
    container.integration_directory = directory
    app = create_app(settings, container=container)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    tokens = TokenMaker(settings.jwt_issuer)
    base_url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=30.0) as http:
            desk = Desk(GraphQLClient(http, base_url + "/graphql"), tokens)
            yield InProcessServer(base_url, directory, desk, tokens)
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_SECONDS)
        listener.close()


@pytest.mark.timeout(NPM_CI_TIMEOUT_SECONDS + 120)
def test_integrator_gets_allowed_fields(
    integrator_server: InProcessServer, client_script: Path, subscribers: list[Subscriber]
) -> None:
    desk = integrator_server.desk
    number, complaint_id = desk.lodge_with_id()
    integrator = integrator_server.tokens(Role.INTEGRATOR, "pb", subject="psrms")
    stream = Subscriber(
        client_script,
        integrator_server.websocket_url,
        COMPLAINT_EVENTS,
        {"filter": {"districtId": "pb_lahore"}, "after": 0},
        token=integrator,
    )
    subscribers.append(stream)
    lodged = stream.item()
    desk.lodge_with_id(districtId="pb_multan", stationId=None)
    desk.succeed(
        "assignComplaint",
        {"complaintId": complaint_id, "officerId": OFFICER, "unitId": CIRCLE},
        token=desk.sdpo,
    )
    add_note(desk, complaint_id, "Wanted by the integration.")
    noted = stream.item()

    assert lodged["eventType"] == "ComplaintLodged"
    assert lodged["complaintId"] == complaint_id
    assert lodged["version"] == 1
    assert lodged["fields"] == {"trackingNumber": number, "status": "LODGED", "category": "BRIBERY"}
    # The Multan complaint fails the filter; the assignment is not an event type it wants.
    assert noted["eventType"] == "NoteAdded"
    assert noted["fields"]["status"] == "ASSIGNED"
    assert set(noted["fields"]) == {"trackingNumber", "status", "category"}
    assert set(noted) == set(ENVELOPE_FIELDS) | {"fields"}
    assert noted["position"] > lodged["position"]


@pytest.mark.timeout(NPM_CI_TIMEOUT_SECONDS + 120)
def test_integrator_personal_fields_and_revocation(
    integrator_server: InProcessServer, client_script: Path, subscribers: list[Subscriber]
) -> None:
    directory = integrator_server.directory
    directory.integration = replace(
        INTEGRATION, allowed_fields=("trackingNumber", "complainantName", "complainantCnic")
    )
    desk = integrator_server.desk
    number, complaint_id = desk.lodge_with_id()
    integrator = integrator_server.tokens(Role.INTEGRATOR, "pb", subject="psrms")
    stream = Subscriber(
        client_script,
        integrator_server.websocket_url,
        COMPLAINT_EVENTS,
        {"after": 0},
        token=integrator,
    )
    subscribers.append(stream)
    lodged = stream.item()

    directory.integration = None
    add_note(desk, complaint_id, "Written after the revocation.")
    revoked = stream.error()
    ended = stream.message()

    assert lodged["fields"] == {
        "trackingNumber": number,
        "complainantName": NAME,
        "complainantCnic": CNIC,
    }
    assert revoked["extensions"]["code"] == "FORBIDDEN"
    assert ended["event"] == "complete"
