"""Webhook delivery end to end: projection, Dramatiq actors, a stand-in receiver, GraphQL.

Each test runs on SQLite with the in-process broker, and on PostgreSQL with Redis.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from cms_graph.application.identity import Principal
from cms_graph.application.integration_directory import ActiveIntegration, IntegrationKind
from cms_graph.bootstrap import Container, build_container
from cms_graph.domain.values import Role
from cms_graph.domain.webhook_replay import WebhookReplay
from cms_graph.graphql.context import Context
from cms_graph.graphql.schema import build_schema
from cms_graph.graphql.types import to_global_id
from cms_graph.workers.actors import PROJECTIONS_QUEUE
from cms_graph.workers.process import connect_broker
from cms_graph.workers.runtime import use_container
from cms_graph.workers.webhook_actors import WEBHOOKS_QUEUE, deliver_webhook, sweep_webhooks
from tests.conftest import log_lines, make_settings
from tests.factories import CNIC, NAME, SDPO, lodge_command
from tests.webhook_receiver import WebhookReceiver, running_receiver

SECRET = b"receiver-secret-0123456789abcdef"
ADMIN = Principal("admin-1", Role.ADMIN, "pb")
ADDL_IGP = Principal("addl-igp-1", Role.ADDL_IGP, "pb")
IGP = Principal("igp-1", Role.IGP, "pb")
LIFECYCLE = frozenset({"ComplaintLodged", "ComplaintAcknowledged", "ComplaintAssigned"})
# Backoffs of milliseconds keep the retries quick; three attempts in all.
WEBHOOK_SETTINGS: dict[str, object] = {
    "webhook_max_retries": 2,
    "webhook_min_backoff_ms": 10,
    "webhook_max_backoff_ms": 100,
    "webhook_timeout_seconds": 5,
}
# A bound on waiting for the workers, so a hung worker fails the test instead of hanging it.
SETTLE_LIMIT_SECONDS = 60


@dataclass
class StaticDirectory:
    """Integrations given by the test; ``revoked`` ones are neither active nor signable."""

    integrations: list[ActiveIntegration] = field(default_factory=list)
    secrets: dict[UUID, bytes] = field(default_factory=dict)
    revoked: set[UUID] = field(default_factory=set)

    def active(self, *, kind: IntegrationKind | None = None) -> list[ActiveIntegration]:
        return [
            integration
            for integration in self.integrations
            if integration.id not in self.revoked and (kind is None or integration.kind == kind)
        ]

    def active_for_principal(self, principal: str) -> ActiveIntegration | None:
        return next((i for i in self.active() if i.principal == principal), None)

    def signing_secret(self, integration_id: UUID) -> bytes | None:
        if integration_id in self.revoked:
            return None
        return self.secrets.get(integration_id)


@dataclass
class Rig:
    container: Container
    broker: dramatiq.Broker
    directory: StaticDirectory
    worker: dramatiq.Worker | None = None

    def add_integration(
        self,
        receiver: WebhookReceiver,
        allowed_fields: tuple[str, ...] = ("status", "category", "unitId"),
        event_types: frozenset[str] = LIFECYCLE,
    ) -> ActiveIntegration:
        integration = ActiveIntegration(
            id=uuid4(),
            name="PSRMS",
            kind=IntegrationKind.WEBHOOK,
            endpoint=receiver.url,
            event_types=event_types,
            allowed_fields=allowed_fields,
            principal=f"integrator-{uuid4().hex[:6]}",
        )
        self.directory.integrations.append(integration)
        self.directory.secrets[integration.id] = receiver.secret
        return integration

    def lodge_and_handle(self) -> UUID:
        """Lodge a complaint, then acknowledge and assign it: three events."""
        complaints = self.container.complaints
        complaint_id = complaints.lodge(Principal.anonymous(), lodge_command()).complaint_id
        # Project the lodging alone first, so later payloads must come from the
        # projection's own state as of each event.
        self.container.catch_up_all()
        complaints.acknowledge(SDPO, complaint_id, "Called the complainant")
        complaints.assign(
            SDPO, complaint_id, officer_id="inspector-7", unit_id="pb_lahore-c1", reason=None
        )
        self.container.catch_up_all()
        return complaint_id

    def start_worker(self) -> None:
        if self.worker is None:
            self.worker = dramatiq.Worker(self.broker, worker_threads=2, worker_timeout=50)
            self.worker.start()

    def settle(self) -> None:
        """Run the worker until no message is queued, delayed or in progress."""
        self.start_worker()
        assert self.worker is not None
        if isinstance(self.broker, StubBroker):
            # Projection catch-ups send webhook messages, never the reverse. The worker
            # itself is not joined, because it keeps the deadlines' delayed escalations.
            for queue in (PROJECTIONS_QUEUE, WEBHOOKS_QUEUE):
                self.broker.join(queue, timeout=SETTLE_LIMIT_SECONDS * 1000)
            return
        assert isinstance(self.broker, RedisBroker)
        deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
        while time.monotonic() < deadline:
            if self._redis_queued() == 0:
                return
            time.sleep(0.05)
        raise AssertionError("messages still queued after the wait limit")

    def _redis_queued(self) -> int:
        assert isinstance(self.broker, RedisBroker)
        names = [
            f"{queue}{suffix}"
            for queue in (PROJECTIONS_QUEUE, WEBHOOKS_QUEUE)
            for suffix in ("", ".DQ")
        ]
        return sum(
            self.broker.client.hlen(f"{self.broker.namespace}:{name}.msgs") for name in names
        )

    def deliveries(self, integration: ActiveIntegration | None = None) -> list[dict[str, Any]]:
        with self.container.database.read() as cursor:
            if integration is None:
                cursor.execute("SELECT * FROM webhook_deliveries ORDER BY position")
            else:
                cursor.execute(
                    "SELECT * FROM webhook_deliveries WHERE integration_id = :id ORDER BY position",
                    {"id": str(integration.id)},
                )
            return [dict(row) for row in cursor.fetchall()]

    def graphql(
        self, principal: Principal, query: str, variables: dict[str, Any] | None = None
    ) -> Any:
        context = Context(self.container, None, _principal=principal)
        result = asyncio.run(
            build_schema().execute(query, variable_values=variables, context_value=context)
        )
        assert result.errors is None, result.errors
        return result.data


@pytest.fixture(params=["sqlite", "postgres"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    broker: dramatiq.Broker
    if request.param == "sqlite":
        settings = make_settings(tmp_path, **WEBHOOK_SETTINGS)
        broker = StubBroker()
        broker.emit_after("process_boot")
    else:
        postgres_url = request.getfixturevalue("postgres_url")
        settings = make_settings(tmp_path, postgres_url, **WEBHOOK_SETTINGS)
        broker = RedisBroker(
            url=request.getfixturevalue("redis_server"),
            namespace=f"cms-test-{uuid.uuid4().hex[:8]}",
        )
    container = build_container(settings)
    directory = StaticDirectory()
    container.integration_directory = directory
    connect_broker(container, broker)
    built = Rig(container, broker, directory)
    yield built
    if built.worker is not None:
        built.worker.stop()
    if isinstance(broker, RedisBroker):
        broker.flush_all()
    broker.close()
    use_container(None)
    container.close()


def keys_by_complaint(receiver: WebhookReceiver) -> dict[str, list[int]]:
    positions: dict[str, list[int]] = {}
    for request in receiver.accepted():
        payload = request.payload
        positions.setdefault(payload["complaintId"], []).append(payload["position"])
    return positions


def test_deliveries_arrive_in_order_signed(rig: Rig) -> None:
    with running_receiver(SECRET) as receiver:
        integration = rig.add_integration(receiver)
        first = rig.lodge_and_handle()
        second = rig.lodge_and_handle()
        rig.settle()

        accepted = receiver.accepted()
        assert len(accepted) == 6
        assert len(receiver.all_requests()) == 6
        assert all(request.signature_valid for request in accepted)
        assert all(request.content_type == "application/json" for request in accepted)
        for request in accepted:
            assert request.idempotency_key == f"{integration.id}:{request.payload['position']}"
        order = keys_by_complaint(receiver)
        assert set(order) == {str(first), str(second)}
        for positions in order.values():
            assert positions == sorted(positions)
        statuses = [
            (request.payload["eventType"], request.payload["status"])
            for request in accepted
            if request.payload["complaintId"] == str(first)
        ]
        assert statuses == [
            ("ComplaintLodged", "LODGED"),
            ("ComplaintAcknowledged", "ACKNOWLEDGED"),
            ("ComplaintAssigned", "ASSIGNED"),
        ]
        rows = rig.deliveries()
        assert [row["status"] for row in rows] == ["DELIVERED"] * 6
        assert [row["attempts"] for row in rows] == [1] * 6


def test_failing_receiver_retried_until_recovered(rig: Rig) -> None:
    with running_receiver(SECRET) as receiver:
        receiver.fail_first = 2
        integration = rig.add_integration(receiver)
        complaint_id = rig.lodge_and_handle()
        rig.settle()

        requests = receiver.all_requests()
        assert [request.status for request in requests] == [500, 500, 204, 204, 204]
        first_key = requests[0].idempotency_key
        assert [request.idempotency_key for request in requests[:3]] == [first_key] * 3
        assert all(request.signature_valid for request in requests)
        assert keys_by_complaint(receiver)[str(complaint_id)] == [
            row["position"] for row in rig.deliveries(integration)
        ]
        first = rig.deliveries(integration)[0]
        assert first["status"] == "DELIVERED"
        assert first["attempts"] == 3
        assert first["last_http_status"] == 204


def test_rejecting_receiver_fails_at_once(rig: Rig) -> None:
    with running_receiver(SECRET) as receiver:
        receiver.fail_first = 1
        receiver.fail_status = 404
        integration = rig.add_integration(receiver, event_types=frozenset({"ComplaintLodged"}))
        rig.lodge_and_handle()
        rig.settle()

        (row,) = rig.deliveries(integration)
        assert row["status"] == "FAILED"
        assert row["attempts"] == 1
        assert row["last_http_status"] == 404
        assert row["last_error"] == "HTTP 404 Not Found"


DELIVERIES_QUERY = """
query($status: [WebhookDeliveryStatus!], $integrationId: ID) {
  webhookDeliveries(status: $status, integrationId: $integrationId, first: 10) {
    totalCount
    edges { node { id integrationId complaintId eventType status attempts lastError lastHttpStatus
                   createdAt lastAttemptAt deliveredAt nextAttemptAt } }
  }
}
"""
REPLAY_MUTATION = """
mutation($id: ID!) {
  replayWebhookDelivery(input: {deliveryId: $id}) {
    delivery { id status attempts }
    userErrors { field message code }
  }
}
"""


def test_failed_delivery_replayed_through_graphql(rig: Rig) -> None:
    with running_receiver(SECRET) as receiver:
        integration = rig.add_integration(receiver)
        broken = rig.lodge_and_handle()
        healthy = rig.lodge_and_handle()
        receiver.failing_complaints = {str(broken)}
        rig.settle()

        # The broken complaint's first delivery failed; its later ones wait behind it.
        by_complaint = {str(row["complaint_id"]): [] for row in rig.deliveries(integration)}
        for row in rig.deliveries(integration):
            by_complaint[str(row["complaint_id"])].append(row["status"])
        assert by_complaint[str(broken)] == ["FAILED", "PENDING", "PENDING"]
        assert by_complaint[str(healthy)] == ["DELIVERED"] * 3

        data = rig.graphql(
            IGP,
            DELIVERIES_QUERY,
            {"status": ["FAILED"], "integrationId": to_global_id("Integration", integration.id)},
        )
        listing = data["webhookDeliveries"]
        assert listing["totalCount"] == 1
        failed = listing["edges"][0]["node"]
        assert failed["integrationId"] == to_global_id("Integration", integration.id)
        assert failed["eventType"] == "ComplaintLodged"
        assert failed["attempts"] == 3
        assert failed["lastHttpStatus"] == 500
        assert failed["lastError"] == "HTTP 500 Internal Server Error"
        assert failed["lastAttemptAt"] is not None
        assert failed["deliveredAt"] is None

        rejected = rig.graphql(IGP, REPLAY_MUTATION, {"id": failed["id"]})
        assert rejected["replayWebhookDelivery"]["delivery"] is None
        assert rejected["replayWebhookDelivery"]["userErrors"][0]["code"] == "FORBIDDEN"

        receiver.failing_complaints = set()
        replayed = rig.graphql(ADDL_IGP, REPLAY_MUTATION, {"id": failed["id"]})
        assert replayed["replayWebhookDelivery"]["userErrors"] == []
        assert replayed["replayWebhookDelivery"]["delivery"]["status"] == "PENDING"
        assert replayed["replayWebhookDelivery"]["delivery"]["attempts"] == 0
        rig.settle()

        assert [row["status"] for row in rig.deliveries(integration)] == ["DELIVERED"] * 6
        positions = [
            row["position"]
            for row in rig.deliveries(integration)
            if str(row["complaint_id"]) == str(broken)
        ]
        assert keys_by_complaint(receiver)[str(broken)] == positions

        again = rig.graphql(ADMIN, REPLAY_MUTATION, {"id": failed["id"]})
        error = again["replayWebhookDelivery"]["userErrors"][0]
        assert error["code"] == "INVALID_TRANSITION"
        assert error["field"] == ["input", "deliveryId"]
        assert error["message"] == (
            f"webhook delivery {failed['id']} is DELIVERED: only a FAILED delivery can be replayed"
        )


def test_deliveries_hidden_from_station_staff(rig: Rig) -> None:
    context = Context(rig.container, None, _principal=SDPO)
    result = asyncio.run(
        build_schema().execute(
            DELIVERIES_QUERY, variable_values={"status": ["FAILED"]}, context_value=context
        )
    )
    assert result.data is None
    assert result.errors is not None
    assert result.errors[0].extensions is not None
    assert result.errors[0].extensions["code"] == "FORBIDDEN"


def test_replay_recorded_as_event(rig: Rig) -> None:
    with running_receiver(SECRET) as receiver:
        receiver.failing = True
        integration = rig.add_integration(receiver, event_types=frozenset({"ComplaintLodged"}))
        complaint_id = rig.lodge_and_handle()
        rig.settle()
        (row,) = rig.deliveries(integration)
        receiver.failing = False

        rig.container.webhook_admin.replay(ADMIN, UUID(str(row["delivery_id"])))
        rig.settle()

        notifications = rig.container.event_store.recorder.select_notifications(
            start=None, limit=1000
        )
        events = [rig.container.event_store.mapper.to_domain_event(n) for n in notifications]
        (replay,) = [e for e in events if isinstance(e, WebhookReplay.WebhookDeliveryReplayed)]
        assert replay.delivery_id == UUID(str(row["delivery_id"]))
        assert replay.complaint_id == complaint_id
        assert replay.actor.user_id == "admin-1"
        rig.container.catch_up_all()
        with rig.container.database.read() as cursor:
            cursor.execute(
                "SELECT operation, detail FROM audit_trail"
                " WHERE record_type = 'WebhookDeliveryReplayed'"
            )
            (trail,) = cursor.fetchall()
        assert trail["operation"] == "replayWebhookDelivery"
        assert NAME not in trail["detail"]
        assert rig.deliveries(integration)[0]["status"] == "DELIVERED"


def test_duplicate_messages_send_once(rig: Rig) -> None:
    with running_receiver(SECRET) as receiver:
        rig.add_integration(receiver)
        rig.lodge_and_handle()
        rows = rig.deliveries()
        # Three more copies of every message, queued before any worker runs.
        for _ in range(3):
            for row in rows:
                deliver_webhook.send(str(row["delivery_id"]))
        rig.settle()

        keys = [request.idempotency_key for request in receiver.all_requests()]
        assert len(keys) == 3
        assert len(set(keys)) == 3

        for row in rows:
            deliver_webhook.send(str(row["delivery_id"]))
        sweep_webhooks.send()
        rig.settle()
        assert len(receiver.all_requests()) == 3


def test_payload_holds_only_allowed_fields(rig: Rig) -> None:
    with running_receiver(SECRET) as plain, running_receiver(SECRET) as personal:
        rig.add_integration(
            plain, allowed_fields=("status", "category"), event_types=frozenset({"ComplaintLodged"})
        )
        rig.add_integration(
            personal,
            allowed_fields=("status", "complainantName"),
            event_types=frozenset({"ComplaintLodged"}),
        )
        kept = rig.lodge_and_handle()
        shredded = rig.lodge_and_handle()
        rig.container.vault.shred(shredded)
        rig.settle()

        envelope = {"position", "complaintId", "eventType", "occurredAt", "version"}
        for request in plain.accepted():
            assert set(request.payload) == envelope | {"status", "category"}
            assert "description" not in request.payload
            assert NAME.encode() not in request.body
            assert CNIC.encode() not in request.body
            assert b"1234567" not in request.body
        assert len(plain.accepted()) == 2

        by_complaint = {r.payload["complaintId"]: r.payload for r in personal.accepted()}
        assert by_complaint[str(kept)]["complainantName"] == NAME
        assert set(by_complaint[str(kept)]) == envelope | {"status", "complainantName"}
        assert "complainantPhone" not in by_complaint[str(kept)]
        assert "complainantName" not in by_complaint[str(shredded)]
        assert "category" not in by_complaint[str(kept)]

        for row in rig.deliveries():
            assert NAME not in row["payload"]


def test_inactive_integration_receives_nothing(rig: Rig) -> None:
    with running_receiver(SECRET) as active, running_receiver(SECRET) as revoked:
        kept = rig.add_integration(active)
        gone = rig.add_integration(revoked)
        rig.directory.revoked.add(gone.id)
        rig.lodge_and_handle()

        # Revoked after its deliveries were queued, before any was sent.
        rig.directory.revoked.add(kept.id)
        rig.settle()

        assert revoked.all_requests() == []
        assert rig.deliveries(gone) == []
        assert active.all_requests() == []
        assert [row["status"] for row in rig.deliveries(kept)] == ["CANCELLED"] * 3


def test_sweep_sends_lost_deliveries(rig: Rig) -> None:
    with running_receiver(SECRET) as receiver:
        rig.add_integration(receiver)
        # As if every message after the projection's commit were lost.
        rig.container.webhook_listeners.clear()
        rig.lodge_and_handle()
        rig.settle()
        assert receiver.all_requests() == []

        # Not yet overdue by the grace period: the sweep leaves them to their messages.
        sweep_webhooks.send()
        rig.settle()
        assert receiver.all_requests() == []

        rig.container.webhook_sender.sweep_grace = timedelta(0)
        sweep_webhooks.send()
        rig.settle()
        assert len(receiver.accepted()) == 3
        assert [row["status"] for row in rig.deliveries()] == ["DELIVERED"] * 3


def test_embedded_workers_deliver(tmp_path: Path) -> None:
    """The embedded default: in-process broker, workers and follower started as by serve."""
    from cms_graph.workers.process import start_workers

    container = build_container(make_settings(tmp_path, **WEBHOOK_SETTINGS))
    directory = StaticDirectory()
    container.integration_directory = directory
    broker = connect_broker(container, StubBroker())
    handle = start_workers(container, broker)
    try:
        with running_receiver(SECRET) as receiver:
            Rig(container, broker, directory).add_integration(receiver)
            container.complaints.lodge(Principal.anonymous(), lodge_command())
            deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
            while not receiver.accepted() and time.monotonic() < deadline:
                time.sleep(0.05)
            (request,) = receiver.accepted()
            assert request.signature_valid
            assert request.payload["eventType"] == "ComplaintLodged"
    finally:
        handle.stop()
        container.close()


def delivery_lines(stream: io.StringIO, delivery_id: object) -> list[dict[str, Any]]:
    """Return the worker's lines on the outcome of each message for ``delivery_id``."""
    return [
        line
        for line in log_lines(stream)
        if line["logger"] == "cms_graph.workers.webhook_actors"
        and line["event"].startswith(f"webhook delivery {delivery_id}:")
    ]


def test_delivery_messages_carry_correlation_ids(rig: Rig, log_output: io.StringIO) -> None:
    with running_receiver(SECRET) as receiver:
        integration = rig.add_integration(receiver)
        complaints = rig.container.complaints
        lodger = Principal.anonymous().with_request(None, "lodge-1")
        complaint_id = complaints.lodge(lodger, lodge_command()).complaint_id
        rig.container.catch_up_all()
        complaints.acknowledge(SDPO.with_request(None, "ack-2"), complaint_id, None)
        complaints.assign(
            SDPO.with_request(None, "assign-3"),
            complaint_id,
            officer_id="inspector-7",
            unit_id="pb_lahore-c1",
            reason=None,
        )
        receiver.failing_complaints = {str(complaint_id)}
        rig.container.catch_up_all()
        rig.settle()
        failed, *waiting = rig.deliveries(integration)

        receiver.failing_complaints = set()
        replayer = ADDL_IGP.with_request(None, "replay-9")
        rig.container.webhook_admin.replay(replayer, UUID(str(failed["delivery_id"])))
        rig.settle()
        rows = rig.deliveries(integration)

    expected = ["lodge-1", "ack-2", "assign-3"]
    assert [row["correlation_id"] for row in rows] == expected
    assert [row["status"] for row in rows] == ["DELIVERED"] * 3
    # Each failed attempt of the first delivery, then its replay.
    attempts = delivery_lines(log_output, failed["delivery_id"])
    retried = [line for line in log_lines(log_output) if "retrying with backoff" in line["event"]]
    # Dramatiq's Retries middleware logs after the actor returned.
    rescheduled = [
        line for line in log_lines(log_output) if line["event"].startswith("Retrying message")
    ]
    assert len(attempts) > 1
    for line in attempts[:-1]:
        assert line["correlation_id"] == "lodge-1", line
    assert attempts[-1]["correlation_id"] == "replay-9"
    assert len(retried) == 2
    assert len(rescheduled) == 2
    for line in retried + rescheduled:
        assert line["correlation_id"] == "lodge-1", line
        assert line["message_id"], line
    # The later deliveries waited behind the first and went out after the replay.
    for row, correlation_id in zip(waiting, expected[1:], strict=True):
        lines = delivery_lines(log_output, row["delivery_id"])
        assert lines, row
        for line in lines:
            assert line["correlation_id"] == correlation_id, line
            assert line["message_id"], line
