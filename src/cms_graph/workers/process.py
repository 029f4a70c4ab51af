"""Start and stop the Dramatiq worker threads and the projection follower of a process."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import partial

import dramatiq
from dramatiq.brokers.stub import StubBroker

from cms_graph.bootstrap import Container
from cms_graph.projections.escalations import ScheduledDeadline
from cms_graph.workers.actors import catch_up_projections, escalate_overdue, sweep_deadlines
from cms_graph.workers.broker import create_broker, install_broker
from cms_graph.workers.follower import ProjectionFollower
from cms_graph.workers.log_context import correlation_options
from cms_graph.workers.notification_actors import send_notifications, sweep_citizen_notifications
from cms_graph.workers.runtime import use_container
from cms_graph.workers.webhook_actors import send_deliveries, sweep_webhooks

logger = logging.getLogger(__name__)


@dataclass
class WorkerHandle:
    broker: dramatiq.Broker
    worker: dramatiq.Worker | None
    follower: ProjectionFollower | None
    sweeps: list[PeriodicSweep] = field(default_factory=list)

    def stop(self) -> None:
        for sweep in self.sweeps:
            sweep.stop()
        if self.follower is not None:
            self.follower.stop()
        if self.worker is not None:
            self.worker.stop(timeout=10_000)
        self.broker.close()
        use_container(None)
        logger.info("workers stopped")


def send_catch_up(notification_id: int) -> None:
    catch_up_projections.send(notification_id)


def schedule_escalations(container: Container, deadlines: list[ScheduledDeadline]) -> None:
    """Send one delayed message per deadline, due when the deadline passes, with the
    correlation id of the event that started the deadline's clock."""
    now = container.clock.now()
    for deadline in deadlines:
        delay_ms = max(0, int((deadline.due_at - now).total_seconds() * 1000))
        escalate_overdue.send_with_options(
            args=(str(deadline.complaint_id), deadline.step.value, deadline.due_at.isoformat()),
            delay=delay_ms,
            **correlation_options(deadline.correlation_id),
        )


class PeriodicSweep:
    """A thread that sends one sweep actor's message every ``interval`` seconds until
    stopped: the safety net for deadlines, messages and deliveries whose message was lost."""

    def __init__(self, interval: float, sweep: dramatiq.Actor[[], None]) -> None:
        self._interval = interval
        self._sweep = sweep
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=sweep.actor_name.replace("_", "-"), daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self._sweep.send()
            except dramatiq.errors.ConnectionError as error:
                logger.warning(
                    "could not send %s, retrying next time: %s", self._sweep.actor_name, error
                )


def connect_broker(container: Container, broker: dramatiq.Broker | None = None) -> dramatiq.Broker:
    """Install the broker and send a catch-up message after every commit."""
    broker = install_broker(broker or create_broker(container.settings))
    use_container(container)
    container.commit_listeners.append(send_catch_up)
    container.deadline_listeners.append(partial(schedule_escalations, container))
    container.notification_listeners.append(partial(send_notifications, container.settings))
    container.webhook_listeners.append(partial(send_deliveries, container.settings))
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
    sweeps = []
    if follow:
        settings = container.settings
        sweeps = [
            PeriodicSweep(settings.sweep_seconds, sweep_deadlines),
            PeriodicSweep(settings.sweep_seconds, sweep_citizen_notifications),
            PeriodicSweep(settings.webhook_sweep_seconds, sweep_webhooks),
        ]
    for sweep in sweeps:
        sweep.start()
    mode = "in-process" if isinstance(broker, StubBroker) else type(broker).__name__
    logger.info("workers started: %s broker, %d threads", mode, threads)
    return WorkerHandle(broker, worker, follower, sweeps)


__all__ = ["WorkerHandle", "connect_broker", "start_workers"]
