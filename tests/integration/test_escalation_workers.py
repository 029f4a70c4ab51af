"""Exactly one escalation per missed deadline, with real Redis workers on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

from cms_graph.adapters.clock import ManualClock
from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container, build_container
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.values import ComplaintCategory
from cms_graph.workers.actors import (
    ALL_ACTORS,
    ESCALATIONS_QUEUE,
    PROJECTIONS_QUEUE,
    escalate_overdue,
    sweep_deadlines,
)
from cms_graph.workers.process import connect_broker
from cms_graph.workers.runtime import use_container
from tests.conftest import make_settings
from tests.factories import lodge_command

ROOT = Path(__file__).resolve().parents[2]
WAIT_LIMIT_SECONDS = 60


@pytest.fixture
def namespace() -> str:
    return f"cms-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def broker(redis_server: str, namespace: str) -> Iterator[RedisBroker]:
    # Check for dead workers on every fetch and treat one second without a heartbeat as
    # dead, so a killed worker's message comes back within the test.
    redis_broker = RedisBroker(
        url=redis_server,
        namespace=namespace,
        heartbeat_timeout=1000,
        maintenance_chance=1_000_000,
    )
    yield redis_broker
    redis_broker.flush_all()
    redis_broker.close()
    use_container(None)


def escalation_count(container: Container) -> int:
    notifications = container.event_store.recorder.select_notifications(start=None, limit=10_000)
    events = [container.event_store.mapper.to_domain_event(n) for n in notifications]
    return sum(isinstance(event, Complaint.ComplaintEscalated) for event in events)


def queued(broker: RedisBroker) -> int:
    """Count messages queued or in progress, leaving out delayed ones (the next deadline)."""
    return sum(
        broker.client.hlen(f"{broker.namespace}:{queue}.msgs")
        for queue in (ESCALATIONS_QUEUE, PROJECTIONS_QUEUE)
    )


def run_workers(broker: RedisBroker, count: int) -> None:
    """Run ``count`` workers, each with its own connection as a separate process would
    have, until no message is queued or in progress."""
    brokers = [broker]
    for _ in range(count - 1):
        peer = RedisBroker(client=broker.client, namespace=broker.namespace, heartbeat_timeout=1000)
        for actor in ALL_ACTORS:
            peer.declare_actor(actor)
        brokers.append(peer)
    workers = [dramatiq.Worker(b, worker_threads=2, worker_timeout=100) for b in brokers]
    for worker in workers:
        worker.start()
    try:
        for _ in range(WAIT_LIMIT_SECONDS * 10):
            if queued(broker) == 0:
                break
            time.sleep(0.1)
        assert queued(broker) == 0, "messages still queued after the wait limit"
    finally:
        for worker in workers:
            worker.stop()


@pytest.fixture
def manual(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Container, ManualClock]]:
    clock = ManualClock(datetime(2027, 2, 27, 12, tzinfo=UTC))
    container = build_container(make_settings(tmp_path, postgres_url), clock=clock)
    yield container, clock
    container.close()


def lodge_and_pass_deadline(container: Container, clock: ManualClock) -> tuple[str, str]:
    result = container.complaints.lodge(
        Principal.anonymous(), lodge_command(category=ComplaintCategory.BRIBERY)
    )
    container.catch_up_all()
    clock.advance(timedelta(hours=9))
    (deadline,) = container.escalations.due_deadlines()
    return str(result.complaint_id), deadline.due_at.isoformat()


def test_duplicates_and_sweep_escalate_once(
    manual: tuple[Container, ManualClock], broker: RedisBroker
) -> None:
    container, clock = manual
    connect_broker(container, broker)
    complaint_id, due_at = lodge_and_pass_deadline(container, clock)
    for _ in range(3):
        escalate_overdue.send(complaint_id, "FIRST_CONTACT", due_at)
    sweep_deadlines.send()
    sweep_deadlines.send()

    run_workers(broker, 2)

    assert escalation_count(container) == 1


def test_lost_messages_caught_by_sweep(
    manual: tuple[Container, ManualClock], broker: RedisBroker
) -> None:
    container, clock = manual
    connect_broker(container, broker)
    lodge_and_pass_deadline(container, clock)
    escalate_overdue.send_with_options(
        args=("x", "FIRST_CONTACT", "2027-01-01T00:00:00+00:00"), delay=3_600_000
    )
    # A Redis restart without persistence loses every queued and delayed message.
    broker.flush_all()
    sweep_deadlines.send()

    run_workers(broker, 1)

    assert escalation_count(container) == 1


def test_scheduled_message_fires_on_time(
    tmp_path: Path, postgres_url: str, broker: RedisBroker
) -> None:
    policy = tmp_path / "fast.toml"
    policy.write_text(
        'name = "rehearsal"\n[first_contact]\ndefault = "PT2S"\n[reply]\ndefault = "PT1H"\n'
        '[escalation]\ninterval = "PT1H"\n'
    )
    container = build_container(make_settings(tmp_path, postgres_url, sla_policy=policy))
    try:
        connect_broker(container, broker)
        container.complaints.lodge(Principal.anonymous(), lodge_command())
        worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
        worker.start()
        try:
            container.catch_up_all()  # Schedules the delayed message for the deadline.
            for _ in range(WAIT_LIMIT_SECONDS * 10):
                if escalation_count(container):
                    break
                time.sleep(0.1)
        finally:
            worker.stop()
        assert escalation_count(container) == 1
    finally:
        container.close()


@pytest.mark.parametrize("mode", ["before-save", "after-save"])
def test_killed_worker_escalates_once(
    tmp_path: Path,
    postgres_url: str,
    redis_server: str,
    namespace: str,
    broker: RedisBroker,
    mode: str,
) -> None:
    policy = tmp_path / "fast.toml"
    policy.write_text(
        'name = "rehearsal"\n[first_contact]\ndefault = "PT1S"\n[reply]\ndefault = "PT1H"\n'
        '[escalation]\ninterval = "PT1H"\n'
    )
    settings = make_settings(tmp_path, postgres_url, sla_policy=policy)
    container = build_container(settings)
    marker = tmp_path / "reached-save"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.escalation_worker_process",
            str(tmp_path),
            postgres_url,
            redis_server,
            namespace,
            str(policy),
            str(marker),
            mode,
        ],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    try:
        connect_broker(container, broker)
        result = container.complaints.lodge(Principal.anonymous(), lodge_command())
        deadline = container.event_store.get_complaint(result.complaint_id).next_deadline()
        assert deadline is not None
        # Let the one-second deadline pass in real time.
        time.sleep(max(0.0, (deadline.due_at - datetime.now(UTC)).total_seconds()) + 0.1)
        escalate_overdue.send(
            str(result.complaint_id), deadline.step.value, deadline.due_at.isoformat()
        )
        for _ in range(WAIT_LIMIT_SECONDS * 10):
            if marker.exists():
                break
            time.sleep(0.1)
        assert marker.exists(), "the worker process never reached the save"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        time.sleep(1.5)  # the dead worker's heartbeat must grow older than one second

        run_workers(broker, 1)

        assert escalation_count(container) == 1
    finally:
        if process.poll() is None:
            process.kill()
        container.close()
