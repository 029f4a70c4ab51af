"""Dramatiq actors that send webhook deliveries. Each is safe to run twice or on two
workers at once: a delivery is claimed before it is sent and sent only while PENDING."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from uuid import UUID

import dramatiq

from cms_graph.application.webhook_delivery import DeliveryOutcome, WebhookDeliveryFailed
from cms_graph.projections.webhooks import QueuedDelivery
from cms_graph.settings import Settings
from cms_graph.workers.log_context import correlation_options
from cms_graph.workers.runtime import current_container

logger = logging.getLogger(__name__)

WEBHOOKS_QUEUE = "webhooks"


# The retry bounds here are defaults; send_deliveries sets them per message from settings.
@dramatiq.actor(
    queue_name=WEBHOOKS_QUEUE,
    max_retries=12,
    min_backoff=5_000,
    max_backoff=3_600_000,
    time_limit=120_000,
)
def deliver_webhook(delivery_id: str) -> None:
    """Send one webhook delivery; on success, send the next of the same complaint.

    Raises dramatiq.Retry after a failed attempt, so Dramatiq retries with backoff.
    The attempt count in the row decides when to stop, so messages sent again by the sweep
    do not extend the budget.
    """
    container = current_container()
    sender = container.webhook_sender
    try:
        outcome = sender.deliver(UUID(delivery_id))
    except WebhookDeliveryFailed as error:
        # An expected failure: Retry makes Dramatiq back off without logging an error.
        logger.warning("%s; retrying with backoff", error)
        raise dramatiq.Retry(str(error)) from error
    logger.debug("webhook delivery %s: %s", delivery_id, outcome.value)
    if outcome in (DeliveryOutcome.DELIVERED, DeliveryOutcome.CANCELLED):
        following = sender.next_in_line(UUID(delivery_id))
        if following is not None:
            send_deliveries(container.settings, [following])


@dramatiq.actor(queue_name=WEBHOOKS_QUEUE, max_retries=0, time_limit=600_000)
def sweep_webhooks() -> None:
    """Send every due PENDING delivery that is first in line, for lost messages."""
    container = current_container()
    due = container.webhook_sender.due()
    if due:
        logger.info("webhook sweep found %d due deliveries", len(due))
        send_deliveries(container.settings, due)


def send_deliveries(settings: Settings, deliveries: Iterable[QueuedDelivery]) -> None:
    """Send one ``deliver_webhook`` message per delivery, with the retry settings and
    the delivery's correlation id."""
    for delivery in deliveries:
        deliver_webhook.send_with_options(
            args=(str(delivery.delivery_id),),
            max_retries=settings.webhook_max_retries,
            min_backoff=settings.webhook_min_backoff_ms,
            max_backoff=settings.webhook_max_backoff_ms,
            **correlation_options(delivery.correlation_id),
        )


WEBHOOK_ACTORS = (deliver_webhook, sweep_webhooks)

__all__ = [
    "WEBHOOKS_QUEUE",
    "WEBHOOK_ACTORS",
    "deliver_webhook",
    "send_deliveries",
    "sweep_webhooks",
]
