"""Dramatiq actors. Each is safe to run twice or on two workers at once."""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

import dramatiq

from cms_graph.application.escalations import EscalationOutcome
from cms_graph.domain.deadlines import DeadlineStep
from cms_graph.workers.log_context import correlation_options, message_correlation_id
from cms_graph.workers.notification_actors import NOTIFICATION_ACTORS
from cms_graph.workers.runtime import current_container

logger = logging.getLogger(__name__)

PROJECTIONS_QUEUE = "projections"
ESCALATIONS_QUEUE = "escalations"


@dramatiq.actor(queue_name=PROJECTIONS_QUEUE, max_retries=5, min_backoff=200, time_limit=300_000)
def catch_up_projections(notification_id: int = 0) -> None:
    """Bring every projection up to the head of the notification log.

    ``notification_id`` is the commit that triggered the message, kept for the logs. A
    duplicate or late delivery finds nothing new and does nothing. The message carries
    no correlation id, because one catch-up applies the events of many requests. The
    messages it leads to carry the id of the event each one is about.
    """
    container = current_container()
    applied = container.catch_up_all()
    logger.debug("catch-up after notification %d applied %d events", notification_id, applied)


@dramatiq.actor(queue_name=ESCALATIONS_QUEUE, max_retries=20, min_backoff=1000, time_limit=60_000)
def escalate_overdue(complaint_id: str, step: str, due_at: str) -> None:
    """Escalate a complaint whose deadline (``step``, ``due_at``) passed, if it still is
    pending. A message that arrives early is sent again for the time left.

    The message's correlation id, that of the event that started the deadline's clock,
    goes into the escalation's actor and into the message sent again.
    """
    container = current_container()
    due = datetime.fromisoformat(due_at)
    correlation_id = message_correlation_id()
    outcome = container.escalations.escalate_if_due(
        UUID(complaint_id), DeadlineStep(step), due, correlation_id
    )
    if outcome is EscalationOutcome.NOT_DUE_YET:
        remaining = due - container.clock.now()
        delay_ms = max(0, int(remaining.total_seconds() * 1000))
        escalate_overdue.send_with_options(
            args=(complaint_id, step, due_at),
            delay=delay_ms,
            **correlation_options(correlation_id),
        )
    logger.debug("deadline %s %s of %s: %s", step, due_at, complaint_id, outcome.value)


@dramatiq.actor(queue_name=ESCALATIONS_QUEUE, max_retries=0, time_limit=600_000)
def sweep_deadlines() -> None:
    """Escalate every deadline that passed, as the safety net for lost or late messages."""
    current_container().escalations.sweep()


# Imported here so that ALL_ACTORS lists them; they live in their own module.
from cms_graph.workers.webhook_actors import WEBHOOK_ACTORS  # noqa: E402

ALL_ACTORS = (
    catch_up_projections,
    escalate_overdue,
    sweep_deadlines,
    *NOTIFICATION_ACTORS,
    *WEBHOOK_ACTORS,
)
