"""Dramatiq actors. Each is safe to run twice or on two workers at once."""

from __future__ import annotations

import logging

import dramatiq

from cms_graph.workers.runtime import current_container

logger = logging.getLogger(__name__)

PROJECTIONS_QUEUE = "projections"


@dramatiq.actor(queue_name=PROJECTIONS_QUEUE, max_retries=5, min_backoff=200, time_limit=300_000)
def catch_up_projections(notification_id: int = 0) -> None:
    """Bring every projection up to the head of the notification log.

    ``notification_id`` is the commit that triggered the message, kept for the logs. A
    duplicate or late delivery finds nothing new and does nothing.
    """
    container = current_container()
    applied = container.catch_up_all()
    logger.debug("catch-up after notification %d applied %d events", notification_id, applied)


ALL_ACTORS = (catch_up_projections,)
