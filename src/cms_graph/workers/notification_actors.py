"""Dramatiq actors that send complainant notifications, and the sweeper thread.

The notification projection announces each new outbox row once its batch has committed,
and ``send_notifications`` sends one ``send_citizen_notification`` message per row, with
the correlation id of the event that the row is about. The sweeper sends
``sweep_citizen_notifications`` every ``CMS_SWEEP_SECONDS``, which finds rows that no
message handled (a lost message, a worker that died) and sends them again.
"""

from __future__ import annotations

import logging

import dramatiq

from cms_graph.application.citizen_notifications import SendOutcome
from cms_graph.projections.citizen_notifications import QueuedNotification
from cms_graph.settings import Settings
from cms_graph.workers.log_context import correlation_options
from cms_graph.workers.runtime import current_container

logger = logging.getLogger(__name__)

NOTIFICATIONS_QUEUE = "notifications"


class DeliveryFailed(dramatiq.Retry):
    """Raised so that Dramatiq retries a message whose gateway failed. As a ``Retry``,
    Dramatiq does not log it as an error: the sender already logged a warning."""


@dramatiq.actor(queue_name=NOTIFICATIONS_QUEUE, max_retries=7, time_limit=60_000)
def send_citizen_notification(key: str) -> None:
    """Send the outbox row ``key`` (``complaint-id:version:channel``) once.

    A duplicate message, or one for a row already settled, finds nothing to claim. The
    retry count and backoff come from the message options that ``send_notifications``
    sets from the settings; the row's attempt count decides when to give up.
    """
    container = current_container()
    outcome = container.citizen_notifications.send(key)
    if outcome is SendOutcome.RETRY:
        raise DeliveryFailed(f"notification {key} not delivered; Dramatiq retries it")
    if outcome is not SendOutcome.NOT_CLAIMED:
        # The next step of this complaint may have been held back behind this one.
        following = container.citizen_notifications.next_notification(key)
        if following is not None:
            send_notifications(container.settings, [following])


@dramatiq.actor(queue_name=NOTIFICATIONS_QUEUE, max_retries=0, time_limit=600_000)
def sweep_citizen_notifications() -> None:
    """Send again every row that no message is handling, as the safety net."""
    container = current_container()
    failed = container.citizen_notifications.fail_abandoned()
    due = container.citizen_notifications.due_notifications()
    if failed or due:
        logger.info("notification sweep: %d resent, %d given up", len(due), failed)
    send_notifications(container.settings, due)


def send_notifications(settings: Settings, notifications: list[QueuedNotification]) -> None:
    """Send one ``send_citizen_notification`` message per row, with retry options and
    the row's correlation id."""
    for notification in notifications:
        send_citizen_notification.send_with_options(
            args=(notification.key,),
            max_retries=settings.notification_max_attempts - 1,
            min_backoff=int(settings.notification_min_backoff_seconds * 1000),
            max_backoff=int(settings.notification_max_backoff_seconds * 1000),
            **correlation_options(notification.correlation_id),
        )


NOTIFICATION_ACTORS = (send_citizen_notification, sweep_citizen_notifications)

__all__ = [
    "NOTIFICATIONS_QUEUE",
    "NOTIFICATION_ACTORS",
    "DeliveryFailed",
    "send_citizen_notification",
    "send_notifications",
    "sweep_citizen_notifications",
]
