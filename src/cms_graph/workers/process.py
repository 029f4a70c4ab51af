"""Start and stop the Dramatiq worker threads and the projection follower of a process."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dramatiq
from dramatiq.brokers.stub import StubBroker

from cms_graph.bootstrap import Container
from cms_graph.workers.actors import catch_up_projections
from cms_graph.workers.broker import create_broker, install_broker
from cms_graph.workers.follower import ProjectionFollower
from cms_graph.workers.runtime import use_container

logger = logging.getLogger(__name__)


@dataclass
class WorkerHandle:
    broker: dramatiq.Broker
    worker: dramatiq.Worker | None
    follower: ProjectionFollower | None

    def stop(self) -> None:
        if self.follower is not None:
            self.follower.stop()
        if self.worker is not None:
            self.worker.stop(timeout=10_000)
        self.broker.close()
        use_container(None)
        logger.info("workers stopped")


def send_catch_up(notification_id: int) -> None:
    catch_up_projections.send(notification_id)


def connect_broker(container: Container, broker: dramatiq.Broker | None = None) -> dramatiq.Broker:
    """Install the broker and send a catch-up message after every commit."""
    broker = install_broker(broker or create_broker(container.settings))
    use_container(container)
    container.commit_listeners.append(send_catch_up)
    return broker


def start_workers(
    container: Container,
    broker: dramatiq.Broker,
    *,
    threads: int = 2,
    follow: bool = True,
) -> WorkerHandle:
    """Consume the broker's queues in this process, and follow the event log if asked."""
    use_container(container)
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=200)
    worker.start()
    follower = None
    if follow:
        follower = ProjectionFollower(
            container.catch_up_all,
            database_url=container.settings.database_url,
            poll_seconds=container.settings.projection_poll_seconds,
        )
        follower.start()
    mode = "in-process" if isinstance(broker, StubBroker) else type(broker).__name__
    logger.info("workers started: %s broker, %d threads", mode, threads)
    return WorkerHandle(broker, worker, follower)


__all__ = ["WorkerHandle", "connect_broker", "start_workers"]
