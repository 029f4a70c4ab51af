"""An integration receives nothing, by webhook or integrator token, until its second
approval, and nothing again once revoked.

Runs the real integrations, webhook projection and sender with in-process workers, on
SQLite and on PostgreSQL, against a stand-in receiver on 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from uuid import UUID

import pytest
from dramatiq.brokers.stub import StubBroker

from cms_graph.application.identity import Principal
from cms_graph.application.integration_directory import IntegrationKind
from cms_graph.bootstrap import Container, build_container
from cms_graph.domain.errors import Unauthenticated
from cms_graph.domain.values import Role
from cms_graph.settings import Settings
from cms_graph.workers.process import WorkerHandle, connect_broker, start_workers
from tests.factories import lodge_command
from tests.webhook_receiver import WebhookReceiver, running_receiver

REQUESTER = Principal("admin-requester", Role.ADMIN, "pb")
FIRST_APPROVER = Principal("admin-approver", Role.ADMIN, "pb", amr=("pwd", "otp"))
SECOND_APPROVER = Principal("addl-igp-approver", Role.ADDL_IGP, "pb", amr=("pwd", "otp"))
# The secret is unknown until the second approval issues it, and the receiver rejects
# any request signed with another one.
PLACEHOLDER_SECRET = b"not-yet-issued"
WAIT_LIMIT_SECONDS = 30.0


@pytest.fixture
def running(store_settings: Settings) -> Iterator[tuple[Container, WorkerHandle]]:
    container = build_container(store_settings)
    broker = connect_broker(container, StubBroker())
    handle = start_workers(container, broker)
    try:
        yield container, handle
    finally:
        handle.stop()
        container.close()


def queued_deliveries(container: Container) -> int:
    """Catch every projection up and count the webhook deliveries it queued."""
    container.catch_up_all()
    with container.database.read() as cursor:
        cursor.execute("SELECT COUNT(*) AS queued FROM webhook_deliveries")
        row = cursor.fetchone()
    assert row is not None
    return int(row["queued"])


def wait_for_requests(receiver: WebhookReceiver, expected: int) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while len(receiver.all_requests()) < expected and time.monotonic() < deadline:
        time.sleep(0.05)


def lodge(container: Container) -> UUID:
    return container.complaints.lodge(Principal.anonymous(), lodge_command()).complaint_id


def request_webhook(container: Container, receiver: WebhookReceiver) -> UUID:
    return container.integrations.request(
        REQUESTER,
        name="Safe City line 15",
        kind=IntegrationKind.WEBHOOK,
        endpoint=receiver.url,
        event_types=["ComplaintLodged"],
        allowed_fields=["trackingNumber", "status"],
    ).integration_id


def test_nothing_sent_before_second_approval(
    running: tuple[Container, WorkerHandle],
) -> None:
    container, _handle = running
    with running_receiver(PLACEHOLDER_SECRET) as receiver:
        integration_id = request_webhook(container, receiver)
        first = container.integrations.approve(FIRST_APPROVER, integration_id)
        before = lodge(container)

        assert queued_deliveries(container) == 0
        assert first.credentials is None
        assert container.integration_directory.active() == []
        assert container.integration_directory.signing_secret(integration_id) is None
        assert receiver.all_requests() == []

        second = container.integrations.approve(SECOND_APPROVER, integration_id)
        assert second.credentials is not None
        receiver.secret = second.credentials.signing_secret.encode()
        after = lodge(container)
        assert queued_deliveries(container) == 1
        wait_for_requests(receiver, expected=1)

        (delivered,) = receiver.accepted()
        assert delivered.signature_valid
        assert delivered.payload["complaintId"] == str(after)
        assert set(delivered.payload) == {
            "position",
            "complaintId",
            "eventType",
            "occurredAt",
            "version",
            "trackingNumber",
            "status",
        }
        assert str(before) not in {r.payload["complaintId"] for r in receiver.all_requests()}

        container.integrations.revoke(FIRST_APPROVER, integration_id, "Line 15 link retired")
        lodge(container)

        assert queued_deliveries(container) == 1
        assert len(receiver.all_requests()) == 1


def test_token_refused_before_second_approval(
    running: tuple[Container, WorkerHandle],
) -> None:
    container, _handle = running
    integration_id = container.integrations.request(
        REQUESTER,
        name="Citizen's Portal",
        kind=IntegrationKind.SUBSCRIPTION,
        endpoint=None,
        event_types=["ComplaintLodged"],
        allowed_fields=["trackingNumber", "status"],
    ).integration_id
    container.integrations.approve(FIRST_APPROVER, integration_id)

    with pytest.raises(Unauthenticated):
        container.integrations.issue_token(integration_id, "cmsi_guessed-key")
    assert (
        container.integration_directory.active_for_principal(f"integration:{integration_id}")
        is None
    )

    second = container.integrations.approve(SECOND_APPROVER, integration_id)
    assert second.credentials is not None
    issued = container.integrations.issue_token(integration_id, second.credentials.api_key)

    assert issued.integration_id == integration_id
    active = container.integration_directory.active_for_principal(f"integration:{integration_id}")
    assert active is not None
    assert active.allowed_fields == ("trackingNumber", "status")
