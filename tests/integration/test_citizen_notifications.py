"""Complainant SMS and WhatsApp notifications, from the outbox through Dramatiq to a gateway.

The gateway is a stand-in HTTP server on 127.0.0.1 that records what it receives and
fails on purpose when a test sets it to. Workers run in-process with Dramatiq's stub broker, and
on a real Redis with PostgreSQL for the test of two workers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from pydantic import SecretStr

from cms_graph.adapters.clock import ManualClock
from cms_graph.adapters.policy_files import load_policy
from cms_graph.application.fir_conversion import ConvertToFir
from cms_graph.application.identity import Principal
from cms_graph.application.notification_texts import (
    NotificationChannel,
    NotificationStep,
    render_message,
)
from cms_graph.bootstrap import Container, build_container, build_projectors
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.ladder import Rank
from cms_graph.domain.values import Actor, Channel, ComplaintCategory, Language, Outcome
from cms_graph.projections.citizen_notifications import QueuedNotification
from cms_graph.projections.rebuild import RebuildError, rebuild
from cms_graph.settings import Settings
from cms_graph.workers.actors import ALL_ACTORS, PROJECTIONS_QUEUE
from cms_graph.workers.notification_actors import (
    NOTIFICATIONS_QUEUE,
    send_citizen_notification,
    sweep_citizen_notifications,
)
from cms_graph.workers.process import connect_broker
from cms_graph.workers.runtime import use_container
from tests.conftest import make_settings
from tests.factories import (
    CNIC,
    LAHORE_DPO,
    NAME,
    NORMALISED_PHONE,
    OFFICER,
    SDPO,
    SHO,
    lodge_command,
)
from tests.gateway_stand_in import GatewayStandIn, running_gateway

GATEWAY_TOKEN = "stand-in-gateway-token-0123456789"
JOIN_TIMEOUT_MS = 60_000
WAIT_LIMIT_SECONDS = 60
LIFECYCLE_STEPS = [
    NotificationStep.LODGED,
    NotificationStep.ASSIGNED,
    NotificationStep.ESCALATED,
    NotificationStep.RESOLVED,
    NotificationStep.CLOSED,
]


def with_gateway(settings: Settings, gateway: GatewayStandIn, **overrides: Any) -> Settings:
    """Return ``settings`` sending SMS to ``gateway``, with retries in milliseconds."""
    return settings.model_copy(
        update={
            "sms_gateway_url": gateway.url,
            "sms_gateway_token": SecretStr(GATEWAY_TOKEN),
            "notification_min_backoff_seconds": 0.01,
            "notification_max_backoff_seconds": 0.05,
        }
        | overrides
    )


@pytest.fixture
def gateway() -> Iterator[GatewayStandIn]:
    with running_gateway() as stand_in:
        yield stand_in


@contextmanager
def open_container(settings: Settings, clock: ManualClock | None = None) -> Iterator[Container]:
    container = build_container(settings, clock=clock)
    try:
        yield container
    finally:
        container.close()


@contextmanager
def in_process_workers(container: Container) -> Iterator[StubBroker]:
    """Run the actors in this process, as the embedded default does."""
    broker = StubBroker()
    broker.fail_fast_default = False
    connect_broker(container, broker)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        yield broker
    finally:
        worker.stop()
        broker.close()
        use_container(None)


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[Container, StubBroker]]:
    with open_container(settings) as container, in_process_workers(container) as broker:
        yield container, broker


def drain(broker: StubBroker) -> None:
    """Wait until the projection and notification queues, retries included, are empty.

    A catch-up can announce new rows, so the queues are joined until both stay empty.
    """
    for _ in range(5):
        broker.join(PROJECTIONS_QUEUE, timeout=JOIN_TIMEOUT_MS)
        broker.join(NOTIFICATIONS_QUEUE, timeout=JOIN_TIMEOUT_MS)
        if all(
            broker.queues[name].qsize() == 0
            for name in (PROJECTIONS_QUEUE, NOTIFICATIONS_QUEUE, f"{NOTIFICATIONS_QUEUE}.DQ")
        ):
            return


def walk_lifecycle(container: Container, language: Language) -> tuple[UUID, str]:
    """Lodge a complaint and take it through assignment, escalation, resolution, closure."""
    result = container.complaints.lodge(Principal.anonymous(), lodge_command(language=language))
    complaint_id = result.complaint_id
    container.complaints.assign(
        SDPO, complaint_id, officer_id=OFFICER.user_id, unit_id="pb_lahore-c1", reason=None
    )
    container.complaints.escalate(SDPO, complaint_id, "No reply from the station")
    container.complaints.resolve(
        LAHORE_DPO,
        complaint_id,
        outcome=Outcome.RELIEF_GRANTED,
        summary="The statement was recorded and the officer was warned.",
    )
    container.complaints.close(LAHORE_DPO, complaint_id, None)
    return complaint_id, result.tracking_number


def outbox_rows(container: Container) -> list[dict[str, Any]]:
    with container.database.read() as cursor:
        cursor.execute("SELECT * FROM citizen_notification_outbox ORDER BY complaint_id, version")
        return [dict(row) for row in cursor.fetchall()]


def test_each_step_sends_one_sms(store_settings: Settings, gateway: GatewayStandIn) -> None:
    with open_container(with_gateway(store_settings, gateway)) as container:
        with in_process_workers(container) as broker:
            urdu_id, urdu_number = walk_lifecycle(container, Language.UR)
            english_id, english_number = walk_lifecycle(container, Language.EN)
            drain(broker)
        rows = outbox_rows(container)

    accepted = gateway.accepted()
    assert len(accepted) == 10
    assert len({request.idempotency_key for request in accepted}) == 10
    expected = {
        f"{complaint_id}:{version}:SMS": (step, language, number)
        for complaint_id, language, number in (
            (urdu_id, Language.UR, urdu_number),
            (english_id, Language.EN, english_number),
        )
        for version, step in enumerate(LIFECYCLE_STEPS, start=1)
    }
    for request in accepted:
        step, language, number = expected[request.idempotency_key]
        text = render_message(step, language, NotificationChannel.SMS, {"tracking_number": number})
        assert request.body["text"] == text, request.idempotency_key
        assert request.body["language"] == language.value
        assert request.body["to"] == NORMALISED_PHONE
        assert request.body["idempotency_key"] == request.idempotency_key
        assert request.headers["authorization"] == f"Bearer {GATEWAY_TOKEN}"
    assert [row["status"] for row in rows] == ["SENT"] * 10
    assert [row["attempts"] for row in rows] == [1] * 10
    # Each complaint's steps reach the gateway in the order they happened.
    for complaint_id in (urdu_id, english_id):
        versions = [
            int(request.idempotency_key.split(":")[1])
            for request in accepted
            if request.idempotency_key.startswith(str(complaint_id))
        ]
        assert versions == sorted(versions)
    assert all(row["sent_at"] is not None for row in rows)


def test_urdu_lodging_text_has_number(sqlite_settings: Settings, gateway: GatewayStandIn) -> None:
    with serving(with_gateway(sqlite_settings, gateway)) as (container, broker):
        result = container.complaints.lodge(
            Principal.anonymous(), lodge_command(language=Language.UR)
        )
        drain(broker)

    (request,) = gateway.accepted()
    text = request.body["text"]
    assert result.tracking_number in text
    assert "آپ کی شکایت درج کر لی گئی ہے" in text
    assert "Punjab Police" not in text


def test_fir_registration_sends_fir_number(
    sqlite_settings: Settings, gateway: GatewayStandIn
) -> None:
    with serving(with_gateway(sqlite_settings, gateway)) as (container, broker):
        lodged = container.complaints.lodge(
            Principal.anonymous(), lodge_command(language=Language.UR)
        )
        converted = container.firs.convert(
            SHO,
            ConvertToFir(
                complaint_id=lodged.complaint_id,
                sections=("155-C PO",),
                offence_summary="The duty officer took money to record the statement.",
            ),
        )
        drain(broker)

    lodging, fir = gateway.accepted()
    assert fir.idempotency_key == f"{lodged.complaint_id}:2:SMS"
    assert converted.fir_number in fir.body["text"]
    assert lodged.tracking_number in fir.body["text"]
    assert "ایف آئی آر" in fir.body["text"]
    assert lodging.idempotency_key == f"{lodged.complaint_id}:1:SMS"


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def test_failure_then_recovery_sends_once(store_settings: Settings) -> None:
    with (
        running_gateway(fail_first=3) as gateway,
        serving(with_gateway(store_settings, gateway)) as (container, broker),
    ):
        result = container.complaints.lodge(
            Principal.anonymous(), lodge_command(language=Language.EN)
        )
        drain(broker)
        (row,) = outbox_rows(container)

    requests = gateway.all_requests()
    assert [request.status for request in requests] == [500, 500, 500, 200]
    assert {request.idempotency_key for request in requests} == {f"{result.complaint_id}:1:SMS"}
    assert row["status"] == "SENT"
    assert row["attempts"] == 4
    assert row["last_error"] is None


def test_retries_exhausted_mark_failed(sqlite_settings: Settings, gateway: GatewayStandIn) -> None:
    gateway.failing.set()
    settings = with_gateway(sqlite_settings, gateway, notification_max_attempts=3)
    with open_container(settings) as container:
        with in_process_workers(container) as broker:
            container.complaints.lodge(Principal.anonymous(), lodge_command())
            drain(broker)
            # The sweep leaves a failed row alone.
            sweep_citizen_notifications.send()
            drain(broker)
        (row,) = outbox_rows(container)

    assert len(gateway.all_requests()) == 3
    assert gateway.accepted() == []
    assert row["status"] == "FAILED"
    assert row["attempts"] == 3
    assert row["last_error"] == "SMS gateway returned HTTP 500"


def test_rejected_message_not_retried(sqlite_settings: Settings) -> None:
    with (
        running_gateway(fail_first=10, fail_status=400) as gateway,
        serving(with_gateway(sqlite_settings, gateway)) as (container, broker),
    ):
        container.complaints.lodge(Principal.anonymous(), lodge_command())
        drain(broker)
        (row,) = outbox_rows(container)

    assert [request.status for request in gateway.all_requests()] == [400]
    assert row["status"] == "FAILED"
    assert row["attempts"] == 1
    assert row["last_error"] == "SMS gateway returned HTTP 400"


def test_error_before_delivery_releases_claim(
    sqlite_settings: Settings, gateway: GatewayStandIn
) -> None:
    with open_container(with_gateway(sqlite_settings, gateway)) as container:
        container.complaints.lodge(Principal.anonymous(), lodge_command())
        container.catch_up_all()
        # A row whose parameters lack the tracking number cannot be rendered.
        with container.database.transaction() as cursor:
            cursor.execute("UPDATE citizen_notification_outbox SET parameters = '{}'")
        (row,) = outbox_rows(container)
        with pytest.raises(KeyError):
            container.citizen_notifications.send(f"{row['complaint_id']}:1:SMS")
        (after,) = outbox_rows(container)

    assert gateway.all_requests() == []
    assert after["status"] == "PENDING"
    assert after["attempts"] == 1
    assert after["last_error"] == "KeyError before delivery"


def test_unreachable_gateway_kept_pending(sqlite_settings: Settings) -> None:
    # A stand-in that has stopped: its port on 127.0.0.1 refuses connections.
    with running_gateway() as stopped:
        url = stopped.url
    settings = sqlite_settings.model_copy(update={"sms_gateway_url": url})
    with open_container(settings) as container:
        container.complaints.lodge(Principal.anonymous(), lodge_command())
        container.catch_up_all()
        (row,) = outbox_rows(container)
        key = f"{row['complaint_id']}:1:SMS"
        outcome = container.citizen_notifications.send(key)
        (after,) = outbox_rows(container)

    assert outcome.value == "RETRY"
    assert after["status"] == "PENDING"
    assert after["attempts"] == 1
    assert after["last_error"] == "SMS gateway unreachable: ConnectError"


def test_duplicates_and_replay_send_once(store_settings: Settings, gateway: GatewayStandIn) -> None:
    with serving(with_gateway(store_settings, gateway)) as (container, broker):
        for _ in range(2):
            container.complaints.lodge(Principal.anonymous(), lodge_command())
        drain(broker)
        keys = [request.idempotency_key for request in gateway.accepted()]

        # Duplicate messages, a sweep, and a replay of every batch from the start.
        for key in keys * 3:
            send_citizen_notification.send(key)
        sweep_citizen_notifications.send()
        with container.database.transaction() as cursor:
            cursor.execute(
                "UPDATE projection_positions SET position = 0 WHERE name = 'citizen_notifications'"
            )
        container.citizen_notification_projection.catch_up()
        drain(broker)
        rows = outbox_rows(container)

    assert len(keys) == 2
    assert len(gateway.all_requests()) == 2
    assert len(rows) == 2
    assert [row["attempts"] for row in rows] == [1, 1]


def test_sweep_sends_lost_messages(sqlite_settings: Settings, gateway: GatewayStandIn) -> None:
    clock = ManualClock(datetime.now(UTC))
    with open_container(with_gateway(sqlite_settings, gateway), clock) as container:
        # Rows announced while no broker was connected: their messages were never sent.
        result = container.complaints.lodge(Principal.anonymous(), lodge_command())
        container.catch_up_all()
        with in_process_workers(container) as broker:
            sweep_citizen_notifications.send()
            drain(broker)
            requests_before_timeout = len(gateway.all_requests())

            clock.advance(timedelta(minutes=10))
            sweep_citizen_notifications.send()
            drain(broker)
        (row,) = outbox_rows(container)

    assert requests_before_timeout == 0
    assert [request.idempotency_key for request in gateway.accepted()] == [
        f"{result.complaint_id}:1:SMS"
    ]
    assert row["status"] == "SENT"


def test_stale_claim_taken_over(store_settings: Settings, gateway: GatewayStandIn) -> None:
    with open_container(with_gateway(store_settings, gateway)) as container:
        container.complaints.lodge(Principal.anonymous(), lodge_command())
        container.catch_up_all()
        (row,) = outbox_rows(container)
        key = f"{row['complaint_id']}:1:SMS"
        now = container.clock.now()

        # A worker claimed the row a minute ago and is still within the claim timeout.
        claim(container, key, now - timedelta(minutes=1))
        fresh_outcome = container.citizen_notifications.send(key)
        # That worker died: its claim is older than the timeout.
        claim(container, key, now - timedelta(hours=1))
        stale_outcome = container.citizen_notifications.send(key)
        (after,) = outbox_rows(container)

    assert fresh_outcome.value == "NOT_CLAIMED"
    assert stale_outcome.value == "SENT"
    assert after["attempts"] == 2
    assert len(gateway.accepted()) == 1


def claim(container: Container, key: str, at: datetime) -> None:
    complaint_id, version, channel = key.split(":")
    with container.database.transaction() as cursor:
        cursor.execute(
            "UPDATE citizen_notification_outbox SET status = 'SENDING', claimed_at = :at,"
            " attempts = 1 WHERE complaint_id = :id AND version = :version"
            " AND channel = :channel",
            {"at": at, "id": complaint_id, "version": int(version), "channel": channel},
        )


def test_shredded_key_skips(store_settings: Settings, gateway: GatewayStandIn) -> None:
    with open_container(with_gateway(store_settings, gateway)) as container:
        result = container.complaints.lodge(Principal.anonymous(), lodge_command())
        container.vault.shred(result.complaint_id)
        with in_process_workers(container) as broker:
            container.catch_up_all()
            drain(broker)
        (row,) = outbox_rows(container)

    assert gateway.all_requests() == []
    assert row["status"] == "SKIPPED"
    assert row["last_error"] == "complainant's personal data was erased or never recorded"
    assert row["sent_at"] is None


def test_old_step_skipped(sqlite_settings: Settings, gateway: GatewayStandIn) -> None:
    clock = ManualClock(datetime.now(UTC))
    with open_container(with_gateway(sqlite_settings, gateway), clock) as container:
        container.complaints.lodge(Principal.anonymous(), lodge_command())
        container.catch_up_all()
        (row,) = outbox_rows(container)
        clock.advance(timedelta(hours=49))
        outcome = container.citizen_notifications.send(f"{row['complaint_id']}:1:SMS")
        (after,) = outbox_rows(container)

    assert outcome.value == "SKIPPED"
    assert after["last_error"] == "older than 48 hours"
    assert gateway.all_requests() == []


def test_outbox_holds_no_personal_data(container: Container) -> None:
    _complaint_id, tracking_number = walk_lifecycle(container, Language.UR)
    container.catch_up_all()
    dumped = []
    with container.database.read() as cursor:
        for table in ("citizen_notification_outbox", "citizen_notification_subjects"):
            cursor.execute(f"SELECT * FROM {table}")
            dumped += [json.dumps(dict(row), default=str) for row in cursor.fetchall()]
    text = "\n".join(dumped)

    assert len(dumped) == 6
    assert tracking_number in text
    assert "3001234567" not in text
    assert NAME not in text
    assert NAME.split()[0] not in text
    assert CNIC.replace("-", "")[:12] not in text
    assert CNIC not in text


def save_legacy_complaint(container: Container) -> UUID:
    """Save a complaint as the legacy importer does: no personal data, then the import."""
    at = datetime.now(UTC) - timedelta(days=1)
    complaint = Complaint.lodge(
        complaint_id=uuid4(),
        tracking_number="LHR-0000-0001",
        category=ComplaintCategory.OTHER,
        description="Imported from the old register",
        district_id="pb_lahore",
        station_id=None,
        unit_id="pb_lahore-c1",
        incident_at=None,
        language=Language.UR,
        complainant_sealed=b"",
        phone_digest="",
        deadline_plan=load_policy(None).plan_for(ComplaintCategory.OTHER),
        holder_rank=Rank.CIRCLE,
        actor=Actor.system(),
        channel=Channel.POST,
        occurred_at=at,
    )
    complaint.record_import(source="register", reference="R-1", at=datetime.now(UTC))
    system = {"actor": Actor.system(), "channel": Channel.POST}
    complaint.acknowledge(note=None, at=at, **system)
    complaint.assign(
        officer_id="legacy-1",
        unit_id="pb_lahore-c1",
        holder_rank=Rank.CIRCLE,
        reason=None,
        at=at,
        **system,
    )
    complaint.resolve(outcome=Outcome.REFERRED, summary="Referred", at=at, **system)
    complaint.close(reason=None, at=at, **system)
    container.event_store.save_complaint(complaint)
    return complaint.id


def test_legacy_import_sends_nothing(container: Container) -> None:
    save_legacy_complaint(container)
    container.catch_up_all()

    assert outbox_rows(container) == []
    with container.database.read() as cursor:
        cursor.execute("SELECT silenced FROM citizen_notification_subjects")
        assert [row["silenced"] for row in cursor.fetchall()] == [1]


def test_whatsapp_adds_bilingual_message(
    sqlite_settings: Settings, gateway: GatewayStandIn
) -> None:
    settings = with_gateway(
        sqlite_settings,
        gateway,
        whatsapp_enabled=True,
        whatsapp_gateway_url=gateway.url,
        whatsapp_gateway_token=SecretStr(GATEWAY_TOKEN),
    )
    with serving(settings) as (container, broker):
        result = container.complaints.lodge(
            Principal.anonymous(), lodge_command(language=Language.UR)
        )
        drain(broker)

    by_channel = {request.body["channel"]: request for request in gateway.accepted()}
    assert set(by_channel) == {"SMS", "WHATSAPP"}
    assert by_channel["WHATSAPP"].idempotency_key == f"{result.complaint_id}:1:WHATSAPP"
    assert "آپ کی شکایت درج کر لی گئی ہے" in by_channel["WHATSAPP"].body["text"]
    assert "your complaint is registered" in by_channel["WHATSAPP"].body["text"]
    assert "your complaint is registered" not in by_channel["SMS"].body["text"]


def test_file_gateway_when_no_url(sqlite_settings: Settings) -> None:
    with serving(sqlite_settings) as (container, broker):
        result = container.complaints.lodge(
            Principal.anonymous(), lodge_command(language=Language.EN)
        )
        drain(broker)
    lines = sqlite_settings.sent_messages_path.read_text(encoding="utf-8").splitlines()

    (message,) = [json.loads(line) for line in lines]
    assert message["to"] == NORMALISED_PHONE
    assert message["idempotency_key"] == f"{result.complaint_id}:1:SMS"
    assert result.tracking_number in message["text"]
    assert message["language"] == "EN"


# Two workers on a real Redis broker and PostgreSQL.


def notification_queue_depth(broker: RedisBroker) -> int:
    """Count messages queued or in progress, leaving out the delayed deadline messages."""
    return sum(
        broker.client.hlen(f"{broker.namespace}:{queue}.msgs")
        + broker.client.hlen(f"{broker.namespace}:{queue}.DQ.msgs")
        for queue in (NOTIFICATIONS_QUEUE, PROJECTIONS_QUEUE)
    )


def run_redis_workers(broker: RedisBroker, count: int) -> None:
    """Run ``count`` workers, each with its own broker as a separate process would."""
    brokers = [broker]
    for _ in range(count - 1):
        peer = RedisBroker(client=broker.client, namespace=broker.namespace)
        for actor in ALL_ACTORS:
            peer.declare_actor(actor)
        brokers.append(peer)
    workers = [dramatiq.Worker(b, worker_threads=2, worker_timeout=100) for b in brokers]
    for worker in workers:
        worker.start()
    try:
        for _ in range(WAIT_LIMIT_SECONDS * 10):
            if notification_queue_depth(broker) == 0:
                break
            time.sleep(0.1)
        assert notification_queue_depth(broker) == 0, "messages still queued after the wait"
    finally:
        for worker in workers:
            worker.stop()


@pytest.fixture
def redis_broker(redis_broker: RedisBroker) -> Iterator[RedisBroker]:
    """The shared broker fixture, leaving no container installed for the actors."""
    yield redis_broker
    use_container(None)


def test_two_workers_never_double_send(
    tmp_path: Path, postgres_url: str, redis_broker: RedisBroker
) -> None:
    with running_gateway(delay_seconds=0.05) as gateway:
        settings = with_gateway(make_settings(tmp_path, postgres_url), gateway)
        with open_container(settings) as container:
            connect_broker(container, redis_broker)
            for _ in range(4):
                container.complaints.lodge(Principal.anonymous(), lodge_command())
            container.catch_up_all()  # Announces the four rows: one message each.
            keys = [
                f"{row['complaint_id']}:{row['version']}:{row['channel']}"
                for row in outbox_rows(container)
            ]
            for key in keys * 3:
                send_citizen_notification.send(key)

            run_redis_workers(redis_broker, 2)
            rows = outbox_rows(container)

    accepted = [request.idempotency_key for request in gateway.all_requests()]
    assert len(keys) == 4
    assert sorted(accepted) == sorted(keys)
    assert [row["status"] for row in rows] == ["SENT"] * 4
    assert [row["attempts"] for row in rows] == [1] * 4


def test_outbox_not_rebuildable(container: Container) -> None:
    projector = build_projectors(container.settings, container.units)["citizen_notifications"]
    with pytest.raises(RebuildError) as raised:
        rebuild(
            container.database,
            container.event_store,
            projector,
            data_dir=container.settings.data_dir,
        )
    assert str(raised.value) == (
        "projection citizen_notifications cannot be rebuilt: it records which messages"
        " were sent, and a rebuild would send them all again"
    )


def test_rows_keep_correlation_ids(store_settings: Settings, gateway: GatewayStandIn) -> None:
    clock = ManualClock(datetime.now(UTC))
    with open_container(with_gateway(store_settings, gateway), clock) as container:
        announced: list[QueuedNotification] = []
        container.notification_listeners.append(announced.extend)
        lodger = Principal.anonymous().with_request(None, "lodge-1")
        complaint_id = container.complaints.lodge(lodger, lodge_command()).complaint_id
        container.complaints.assign(
            SDPO.with_request(None, "assign-2"),
            complaint_id,
            officer_id=OFFICER.user_id,
            unit_id="pb_lahore-c1",
            reason=None,
        )
        container.catch_up_all()
        clock.advance(timedelta(minutes=10))
        due = container.citizen_notifications.due_notifications()
        following = container.citizen_notifications.next_notification(announced[0].key)

    lodged = QueuedNotification(f"{complaint_id}:1:SMS", "lodge-1")
    assigned = QueuedNotification(f"{complaint_id}:2:SMS", "assign-2")
    assert announced == [lodged, assigned]
    assert due == [lodged, assigned]
    assert following == assigned
