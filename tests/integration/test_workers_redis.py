"""Dramatiq workers on a real Redis bring projections up to date."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from cms_graph.adapters.policy_files import load_policy
from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.ladder import Rank
from cms_graph.domain.values import Actor, Channel, ComplaintCategory, Language
from cms_graph.workers.actors import PROJECTIONS_QUEUE, catch_up_projections
from cms_graph.workers.process import connect_broker
from cms_graph.workers.runtime import use_container
from tests.factories import lodge_command


def store_without_projection(container: Container, count: int) -> None:
    """Save complaints straight into the event store, as another process would."""
    for index in range(count):
        complaint = Complaint.lodge(
            complaint_id=uuid4(),
            tracking_number=f"LHR-0000-00{index:02d}",
            category=ComplaintCategory.OTHER,
            description="Saved without the API",
            district_id="pb_lahore",
            station_id=None,
            unit_id="pb_lahore",
            incident_at=None,
            language=Language.EN,
            complainant_sealed=b"",
            phone_digest="",
            deadline_plan=load_policy(None).plan_for(ComplaintCategory.OTHER),
            holder_rank=Rank.DISTRICT,
            actor=Actor.system(),
            channel=Channel.SYSTEM,
            occurred_at=datetime.now(UTC),
        )
        container.event_store.save_complaint(complaint)


def run_workers(broker: RedisBroker, count: int) -> None:
    workers = [dramatiq.Worker(broker, worker_threads=2, worker_timeout=100) for _ in range(count)]
    for worker in workers:
        worker.start()
    try:
        broker.join(PROJECTIONS_QUEUE, timeout=60_000)
    finally:
        for worker in workers:
            worker.stop()


def test_worker_catches_up_other_writers(container: Container, redis_broker: RedisBroker) -> None:
    connect_broker(container, redis_broker)
    store_without_projection(container, 4)
    assert container.complaint_projection.lag() == 4

    catch_up_projections.send(4)
    run_workers(redis_broker, 1)

    assert container.complaint_projection.lag() == 0
    use_container(None)


def test_two_workers_duplicate_messages(container: Container, redis_broker: RedisBroker) -> None:
    connect_broker(container, redis_broker)
    store_without_projection(container, 9)
    for _ in range(6):
        catch_up_projections.send(9)
    run_workers(redis_broker, 2)

    assert container.complaint_projection.position() == 9
    with container.database.read() as cursor:
        cursor.execute("SELECT COUNT(*) AS n FROM complaint_timeline_view")
        row = cursor.fetchone()
    assert row is not None and row["n"] == 9
    use_container(None)


def test_commit_sends_catch_up_message(container: Container, redis_broker: RedisBroker) -> None:
    connect_broker(container, redis_broker)
    container.complaints.lodge(Principal.anonymous(), lodge_command())
    queue_key = f"{redis_broker.namespace}:{PROJECTIONS_QUEUE}.msgs"
    assert redis_broker.client.hlen(queue_key) == 1
    run_workers(redis_broker, 1)
    assert redis_broker.client.hlen(queue_key) == 0
    use_container(None)
