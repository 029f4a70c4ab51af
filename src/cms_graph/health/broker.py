"""Readings of the Dramatiq broker that /readyz and /metrics report.

On Redis they use a client of their own with socket timeouts and no retries. The broker's
client, built from a URL, has no socket timeout, so on a server that accepts connections
and never responds a probe would wait without end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, q_name, xq_name
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)


class QueueKind(StrEnum):
    """Kind of the messages counted for a queue, by what they wait for."""

    # Sent and not yet acknowledged: waiting for a worker, or being processed.
    READY = "ready"
    # Sent with a delay (deadline timers): held until due, then moved to the ready queue.
    DELAYED = "delayed"
    # Failed after the last retry. Dramatiq 2.2's Redis broker keeps them 7 days by default.
    DEAD = "dead"


@dataclass
class BrokerReading:
    """State of the broker as one scrape read it."""

    up: bool
    # Messages by (queue name without suffix, kind); empty when the broker is not measured.
    depths: dict[tuple[str, QueueKind], int] = field(default_factory=dict)
    # Dramatiq heartbeats on Redis of other processes: seconds since the latest one, and
    # how many processes sent one within the broker's heartbeat timeout.
    heartbeat_age_seconds: float | None = None
    live_processes: int | None = None


class BrokerProbe:
    """Reads the state of the app's broker, each reading bounded by ``timeout_seconds``.

    ``broker`` returns the broker once the app has started, and None before.
    """

    def __init__(
        self, broker: Callable[[], dramatiq.Broker | None], timeout_seconds: float
    ) -> None:
        self._broker = broker
        self._timeout = timeout_seconds
        # A broker and the client to its Redis server, built on first use.
        self._redis: tuple[RedisBroker, redis.Redis] | None = None
        self._lock = threading.Lock()
        self._read_failed = False

    def status(self) -> str:
        """Return ``ok``, ``not started`` or ``failed: <error type>`` for /readyz."""
        broker = self._broker()
        if broker is None:
            return "not started"
        try:
            if isinstance(broker, RedisBroker):
                self._client(broker).ping()
            elif not isinstance(broker, StubBroker) and hasattr(broker, "connection"):
                # NOTE: RabbitMQ is checked with the broker's own connection of this
                # thread, so its timeouts are pika's and not CMS_PROBE_TIMEOUT_SECONDS.
                broker.connection  # noqa: B018  # opening the connection is the check
            return "ok"
        except Exception as error:
            logger.warning("readiness: broker unreachable: %s", error)
            return f"failed: {type(error).__name__}"

    def read(self) -> BrokerReading | None:
        """Return queue depths and heartbeats, or None when the broker is not measured:
        before start, and on RabbitMQ."""
        broker = self._broker()
        if isinstance(broker, StubBroker):
            return BrokerReading(up=True, depths=_stub_depths(broker))
        if isinstance(broker, RedisBroker):
            try:
                reading = self._read_redis(broker)
            except redis.RedisError as error:
                # Logged once per outage, not at every scrape.
                if not self._read_failed:
                    logger.warning("metrics: reading the Redis broker failed: %s", error)
                self._read_failed = True
                return BrokerReading(up=False)
            if self._read_failed:
                logger.info("metrics: the Redis broker is readable again")
            self._read_failed = False
            return reading
        # NOTE: RabbitMQ queues are not measured. RabbitMQ reports a queue's size only
        # through a passive queue declaration, and Dramatiq's RabbitmqBroker opens one
        # connection per thread for that, so scrapes from the thread pool would leave
        # connections open.
        return None

    def _read_redis(self, broker: RedisBroker) -> BrokerReading:
        """Read every depth and the heartbeats in one pipeline, one round trip."""
        queues = sorted(_base_queues(broker))
        delayed = broker.get_declared_delay_queues()
        keys: list[tuple[str, QueueKind]] = []
        pipeline = self._client(broker).pipeline(transaction=False)
        for queue in queues:
            keys.append((queue, QueueKind.READY))
            pipeline.hlen(f"{broker.namespace}:{queue}.msgs")
            if dq_name(queue) in delayed:
                keys.append((queue, QueueKind.DELAYED))
                pipeline.hlen(f"{broker.namespace}:{dq_name(queue)}.msgs")
            keys.append((queue, QueueKind.DEAD))
            pipeline.hlen(f"{broker.namespace}:{xq_name(queue)}.msgs")
        pipeline.zrange(f"{broker.namespace}:__heartbeats__", 0, -1, withscores=True)
        *counts, heartbeats = pipeline.execute()

        # Every Dramatiq command records a heartbeat: a worker's fetches, and also the
        # sends of API processes. This process's own are left out.
        now_ms = time.time() * 1000
        others = [score for member, score in heartbeats if _text(member) != broker.broker_id]
        timeout_ms = broker.heartbeat_timeout
        return BrokerReading(
            up=True,
            depths=dict(zip(keys, (int(count) for count in counts), strict=True)),
            heartbeat_age_seconds=max(0.0, (now_ms - max(others)) / 1000) if others else None,
            live_processes=sum(1 for score in others if now_ms - score <= timeout_ms),
        )

    def _client(self, broker: RedisBroker) -> redis.Redis:
        """Return a client to the broker's Redis server with timeouts and no retries."""
        with self._lock:
            if self._redis is not None and self._redis[0] is broker:
                return self._redis[1]
            if self._redis is not None:
                self._redis[1].close()
            pool = broker.client.connection_pool
            options: dict[str, Any] = {
                **pool.connection_kwargs,
                "socket_timeout": self._timeout,
                "socket_connect_timeout": self._timeout,
                "retry": Retry(NoBackoff(), 0),
            }
            client = redis.Redis(
                connection_pool=redis.ConnectionPool(
                    connection_class=pool.connection_class, max_connections=4, **options
                )
            )
            self._redis = (broker, client)
            return client

    def close(self) -> None:
        """Close the Redis client of the probe, if it has opened one."""
        with self._lock:
            if self._redis is not None:
                self._redis[1].close()
            self._redis = None


def _base_queues(broker: dramatiq.Broker) -> set[str]:
    return {name for name in broker.get_declared_queues() if q_name(name) == name}


def _stub_depths(broker: StubBroker) -> dict[tuple[str, QueueKind], int]:
    """Count the messages no in-process worker has taken yet, and the dead letters."""
    depths = {}
    for queue in sorted(_base_queues(broker)):
        depths[(queue, QueueKind.READY)] = broker.queues[queue].qsize()
        if dq_name(queue) in broker.queues:
            depths[(queue, QueueKind.DELAYED)] = broker.queues[dq_name(queue)].qsize()
        # The consumer of a delay queue files its dead letters under the delay queue.
        dead = broker.dead_letters_by_queue.get(queue, [])
        dead_delayed = broker.dead_letters_by_queue.get(dq_name(queue), [])
        depths[(queue, QueueKind.DEAD)] = len(dead) + len(dead_delayed)
    return depths


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


__all__ = ["BrokerProbe", "BrokerReading", "QueueKind"]
