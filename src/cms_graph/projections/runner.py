"""Follows the event store's notification log and applies events to a projection's tables.

Each batch is one database transaction that applies the events and moves the projection's
position, so after a crash at any point the batch is either wholly applied or not at all:
no event is lost or applied twice. Two runners on the same projection take turns: the
position row is locked (``SELECT … FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite) for the length of the batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from cms_graph.adapters.database import Cursor, Database
from cms_graph.adapters.event_store import ComplaintEventStore

logger = logging.getLogger(__name__)

# From this many events on, a batch's end_batch runs outside the pipeline so that it can
# COPY its rows. Below it, the round trips that COPY adds cost more than it saves per row.
# NOTE: the crossover, 20 to 100 rows, was measured on one machine with PostgreSQL on
# localhost (docs/benchmarks.md). A server with longer round trips likely moves it up.
BULK_BATCH_EVENTS = 64


class Projector(Protocol):
    """Turns one domain event into changes to a projection's tables.

    A projector may also define ``begin_batch()`` and ``after_commit()``, called around
    each batch, to act only on what was committed (the escalation projector schedules
    deadlines there); ``prepare_batch(cursor, events)``, to read in one query what the
    batch's events will need; and ``end_batch(cursor)``, to write what it collected.
    ``end_batch`` runs in the batch's transaction, inside the cursor's pipeline for a
    small batch and after it for one of BULK_BATCH_EVENTS events or more.
    """

    name: str
    tables: tuple[str, ...]

    def apply(self, cursor: Cursor, event: Any, notification_id: int) -> None: ...


class ProjectionRunner:
    def __init__(
        self,
        database: Database,
        event_store: ComplaintEventStore,
        projector: Projector,
        *,
        batch_size: int = 500,
        after_event: Callable[[int], None] | None = None,
    ) -> None:
        self.database = database
        self.event_store = event_store
        self.projector = projector
        self.batch_size = batch_size
        # Called after each event inside the batch transaction; the crash test uses it.
        self._after_event = after_event
        # Threads of one process take turns here rather than at the database lock, and
        # a projector's per-batch state (see begin_batch) belongs to one batch at a time.
        self._batch_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.projector.name

    def position(self) -> int:
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT position FROM projection_positions WHERE name = :name",
                {"name": self.name},
            )
            row = cursor.fetchone()
        return int(row["position"]) if row else 0

    def lag(self, position: int | None = None) -> int:
        """Return how many notifications the projection has still to process, counted
        from ``position`` if the caller has just read it."""
        head = self.event_store.recorder.max_notification_id() or 0
        return max(0, head - (self.position() if position is None else position))

    def process_batch(self) -> int:
        """Apply the next batch of events; return how many were applied."""
        with self._batch_lock:
            return self._process_batch()[0]

    def _process_batch(self, until: int | None = None) -> tuple[int, int]:
        """Apply the next batch, unless the position already reaches ``until``.

        Return how many events were applied and the position the batch left, or read
        when nothing was applied, so that ``catch_up`` need not read it again.
        """
        # Read the events before taking the write lock: on SQLite the event store's
        # writers wait for the same file lock, and its pool holds readers back while a
        # writer waits, so reading under the lock could deadlock.
        start = self.position()
        if until is not None and start >= until:
            return 0, start
        notifications = self.event_store.recorder.select_notifications(
            start=start, limit=self.batch_size, inclusive_of_start=False
        )
        if not notifications:
            return 0, start

        begin_batch = getattr(self.projector, "begin_batch", None)
        if begin_batch is not None:
            begin_batch()
        with self.database.transaction() as cursor:
            # Another runner may have applied some of them meanwhile; skip those.
            position = self._lock_position(cursor)
            pending = [n for n in notifications if n.id > position]
            if not pending:
                return 0, position

            # A projector that works on the stored bytes (the audit chain) gets them as
            # they are; the others get decoded domain events.
            apply_notification = getattr(self.projector, "apply_notification", None)
            end_batch = getattr(self.projector, "end_batch", None)
            # Writes are pipelined on PostgreSQL. A projector reads back only rows it has not
            # seen in this batch, so most statements need no result before the next.
            events = []
            if apply_notification is None:
                events = [self.event_store.mapper.to_domain_event(n) for n in pending]
                prepare_batch = getattr(self.projector, "prepare_batch", None)
                if prepare_batch is not None:
                    prepare_batch(cursor, events)
            # A bulk batch runs end_batch after the pipeline, because psycopg rejects COPY
            # in pipeline mode.
            bulk = len(pending) >= BULK_BATCH_EVENTS
            with cursor.pipeline():
                for index, notification in enumerate(pending):
                    if apply_notification is not None:
                        apply_notification(cursor, notification)
                    else:
                        self.projector.apply(cursor, events[index], notification.id)
                    if self._after_event is not None:
                        self._after_event(notification.id)
                # In the pipeline too, so the batch costs one round trip fewer. It may
                # come before end_batch's writes because they commit together.
                new_position = pending[-1].id
                cursor.execute(
                    "UPDATE projection_positions SET position = :position, updated_at = :now"
                    " WHERE name = :name",
                    {"position": new_position, "now": datetime.now(UTC), "name": self.name},
                )
                if end_batch is not None and not bulk:
                    end_batch(cursor)
            if end_batch is not None and bulk:
                end_batch(cursor)
        after_commit = getattr(self.projector, "after_commit", None)
        if after_commit is not None:
            after_commit()
        logger.debug(
            "projection %s applied %d events, position %d",
            self.name,
            len(pending),
            new_position,
        )
        return len(pending), new_position

    def catch_up(self, until: int | None = None) -> int:
        """Process batches until the log is exhausted or ``until`` is reached."""
        total = 0
        while True:
            with self._batch_lock:
                applied, position = self._process_batch(until)
            total += applied
            if until is not None and position >= until:
                return total
            # Nothing applied can also mean another runner applied this batch first.
            if applied == 0 and self.lag(position) == 0:
                return total

    def _lock_position(self, cursor: Cursor) -> int:
        """Create the position row if missing, lock it and return its position.

        One statement: on PostgreSQL the no-op DO UPDATE locks the existing row as
        ``SELECT … FOR UPDATE`` would, waiting for another runner's batch to commit, and
        returns the position that batch left. On SQLite ``BEGIN IMMEDIATE`` already holds
        the lock.
        """
        cursor.execute(
            "INSERT INTO projection_positions (name, position, updated_at)"
            " VALUES (:name, 0, :now) ON CONFLICT (name)"
            " DO UPDATE SET position = projection_positions.position"
            " RETURNING position",
            {"name": self.name, "now": datetime.now(UTC)},
        )
        row = cursor.fetchone()
        assert row is not None
        return int(row["position"])


__all__ = ["ProjectionRunner", "Projector"]
