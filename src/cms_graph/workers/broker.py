"""Choose the Dramatiq broker from settings and bind this project's actors to it."""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.brokers.stub import StubBroker

from cms_graph.settings import Settings
from cms_graph.workers.log_context import add_log_context

logger = logging.getLogger(__name__)


def create_broker(settings: Settings) -> dramatiq.Broker:
    """Return a Redis or RabbitMQ broker for ``CMS_BROKER_URL``, or an in-process one,
    with the middleware that puts message ids into worker log lines."""
    broker = _open_broker(settings.broker_url)
    add_log_context(broker)
    return broker


def _open_broker(url: str | None) -> dramatiq.Broker:
    if url is None:
        return StubBroker()
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)  # type: ignore[no-untyped-call]  # dramatiq has no hints here
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    return RabbitmqBroker(url=url)


def install_broker(broker: dramatiq.Broker) -> dramatiq.Broker:
    """Make ``broker`` the global broker and re-declare this project's actors on it.

    Actors bind to the broker that is global when their module is imported. Tests and
    the CLI choose the broker later, so the actors are moved over explicitly. A broker
    built elsewhere, such as a test's, gets the log context middleware here.
    """
    from cms_graph.workers.actors import ALL_ACTORS

    add_log_context(broker)
    dramatiq.set_broker(broker)
    for actor in ALL_ACTORS:
        actor.broker = broker
        broker.declare_actor(actor)
    logger.info("dramatiq broker %s with %d actors", type(broker).__name__, len(ALL_ACTORS))
    return broker
