"""The event feed's access to the event store: reading the log, and LISTEN on PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg

from cms_graph.adapters.event_store import EVENTS_TABLE, ComplaintEventStore
from cms_graph.application.event_feed import FeedItem, LogBatch
from cms_graph.domain.complaint import Complaint

logger = logging.getLogger(__name__)


class StoreNotificationLog:
    """Reads and decodes the event store's notification log."""

    def __init__(self, event_store: ComplaintEventStore) -> None:
        self._store = event_store

    def head(self) -> int:
        return self._store.recorder.max_notification_id() or 0

    def read_after(self, position: int, limit: int, stop: int | None = None) -> LogBatch:
        notifications = self._store.recorder.select_notifications(
            start=position, limit=limit, stop=stop, inclusive_of_start=False
        )
        items = []
        for notification in notifications:
            event = self._store.mapper.to_domain_event(notification)
            if not isinstance(event, Complaint.Event):
                continue
            items.append(
                FeedItem(
                    position=notification.id,
                    complaint_id=event.originator_id,
                    event_type=type(event).__name__,
                    occurred_at=event.occurred_at,
                    version=event.originator_version,
                )
            )
        last = notifications[-1].id if notifications else position
        return LogBatch(items, last)


class PostgresCommitListener:
    """LISTENs on the channel the event store NOTIFYs after each commit, from any process.

    Reconnects after a lost connection; the feed's polling covers the time in between.
    """

    def __init__(self, database_url: str, *, retry_seconds: float) -> None:
        self._database_url = database_url
        self._retry_seconds = retry_seconds

    async def run(self, wake: Callable[[], None]) -> None:
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(
                    self._database_url, autocommit=True
                )
                async with connection:
                    await connection.execute(f'LISTEN "{EVENTS_TABLE}"')
                    logger.info("event feed listens for commits on %s", EVENTS_TABLE)
                    # A commit may have happened before LISTEN took effect.
                    wake()
                    async for _notify in connection.notifies():
                        wake()
            except psycopg.OperationalError as error:
                logger.warning(
                    "event feed lost its LISTEN connection, retrying in %.1f s: %s",
                    self._retry_seconds,
                    error,
                )
                await asyncio.sleep(self._retry_seconds)


__all__ = ["PostgresCommitListener", "StoreNotificationLog"]
