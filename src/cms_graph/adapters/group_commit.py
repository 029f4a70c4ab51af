"""Group commit for the PostgreSQL event store: concurrent saves share one transaction.

The eventsourcing 9.5.6 recorder takes ``LOCK TABLE … IN EXCLUSIVE MODE`` and sends a
``NOTIFY`` in every transaction that inserts events. The lock makes commit order equal
notification-id order, so a reader tailing the log never passes an id that a transaction
still running fills in later. It also lets only one transaction at a time insert into
the table. ``GroupCommitRecorder`` keeps the lock and the NOTIFY but pays for them once per
group: the threads of one process that save at the same time queue their events, one of
them (the leader) writes the queue in a single transaction, and each caller gets back its
own notification ids or its own error.

What each caller gets back:

- A version conflict fails only that caller, with ``IntegrityError``. The conflict is an
  event at the same version in the table or from an earlier caller of the same group.
  The caller's events are left out and the rest of the group commits. Under the table
  lock the check is exact, and the rejected events draw no ids from the sequence.
- Any other database error fails every caller of the group, unlike separate saves, and
  the group writes nothing.
- Connection errors are retried, as the library retries them, by each caller on its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from cms_graph.adapters.pool_checks import ReadableSocketCheck

logger = logging.getLogger(__name__)

# A bound on the events of one group, so one transaction and its statement stay small.
# A caller whose events would pass it waits for the next group.
MAX_GROUP_EVENTS = 1000


class SaveRequest:
    """One caller's events, waiting in the queue, and then the outcome of its group."""

    __slots__ = ("done", "error", "notification_ids", "stored_events", "woken")

    def __init__(self, stored_events: Sequence[StoredEvent]) -> None:
        self.stored_events = stored_events
        self.done = False
        self.notification_ids: list[int] = []
        self.error: Exception | None = None
        # Set when the request is done, or when its caller is to lead the next group.
        self.woken = threading.Event()


class GroupCommitRecorder(PostgresApplicationRecorder):
    """An application recorder whose concurrent ``insert_events`` calls commit together.

    Selected through the library's ``APPLICATION_RECORDER_TOPIC`` setting. Groups are
    formed within one process; writers in other processes still take the table lock in
    turn, once per group.
    """

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        # The library offers only a full check on every checkout (POSTGRES_PRE_PING), so
        # its pool gets the cheaper one here. psycopg_pool reads _check at each checkout.
        datastore.pool._check = ReadableSocketCheck(datastore.pool)
        # The name identifies this pool in psycopg_pool's log lines and in ours.
        datastore.pool.name = "event-store"
        self._queue: list[SaveRequest] = []
        self._leader_active = False
        self._mutex = threading.Lock()
        table = SQL("{0}.{1}").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name)
        )
        id_type = Identifier(self.datastore.originator_id_type)
        # Events of a caller with any event already in the table are left out, so they
        # reach neither the table nor the sequence; RETURNING shows who was written.
        self.group_insert_statement = SQL(
            "WITH batch AS MATERIALIZED ("
            " SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[],"
            " %s::int[]) AS b(originator_id, originator_version, topic, state, caller)),"
            " rejected AS ("
            " SELECT batch.caller FROM batch JOIN {table} AS stored"
            " ON stored.originator_id = batch.originator_id"
            " AND stored.originator_version = batch.originator_version)"
            " INSERT INTO {table} (originator_id, originator_version, topic, state)"
            " SELECT originator_id, originator_version, topic, state FROM batch"
            " WHERE caller NOT IN (SELECT caller FROM rejected)"
            " RETURNING originator_id, originator_version, notification_id"
        ).format(id_type=id_type, table=table)
        self.notify_statement = SQL("NOTIFY {0}").format(Identifier(self.channel_name))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Queue the events for the next group commit and return their notification ids.

        Raises IntegrityError when an event's aggregate version is taken, and the
        library's error for any other failure of the group's transaction.
        """
        if not stored_events:
            return None
        request = SaveRequest(stored_events)
        with self._mutex:
            self._queue.append(request)
            leading = not self._leader_active
            self._leader_active = True
        if not leading:
            # A waiter is woken when its group is done, or to lead the next group.
            request.woken.wait()
        while not request.done:
            self._lead_one_group(request)
            if not request.done:
                request.woken.wait()
        if request.error is not None:
            raise _own_copy(request.error) from request.error
        return request.notification_ids

    def _lead_one_group(self, own: SaveRequest) -> None:
        """Commit the next group, wake its callers, then hand the lead on or drop it.

        ``own`` is the leading caller's request. The lead goes to the first caller in
        the queue, so ``own`` is always in the group it leads. If it were ever left for a
        later group, its caller would wait until the lead came back to it.
        """
        with self._mutex:
            group = self._take_group()
        try:
            self.commit_group(group)
        finally:
            for member in group:
                if not member.done:  # commit_group was interrupted
                    member.error = InterfaceError("the group commit was interrupted")
                    member.done = True
                member.woken.set()
            with self._mutex:
                if not own.done:
                    own.woken.clear()
                if self._queue:
                    # The caller first in the queue leads next, and it may be ``own``.
                    self._queue[0].woken.set()
                else:
                    self._leader_active = False

    def _take_group(self) -> list[SaveRequest]:
        group: list[SaveRequest] = []
        events = 0
        while self._queue:
            size = len(self._queue[0].stored_events)
            if group and events + size > MAX_GROUP_EVENTS:
                break
            group.append(self._queue.pop(0))
            events += size
        return group

    def commit_group(self, group: Sequence[SaveRequest]) -> None:
        """Write the group's events in one transaction and set each request's outcome.

        Raises no ``Exception``: a failure of the transaction becomes the error of every
        request.
        """
        try:
            written, duplicates = self._write(group)
        except Exception as error:
            logger.warning("group commit of %d saves failed, none written: %s", len(group), error)
            for request in group:
                request.error = error
                request.done = True
            return

        for caller, request in enumerate(group):
            keys = [(e.originator_id, e.originator_version) for e in request.stored_events]
            if caller not in duplicates and all(key in written for key in keys):
                request.notification_ids = [written[key] for key in keys]
            else:
                versions = ", ".join(f"{key[0]} v{key[1]}" for key in keys)
                request.error = IntegrityError(
                    f"version conflict: another save stored one of {versions} first"
                )
            request.done = True

    def _write(
        self, group: Sequence[SaveRequest]
    ) -> tuple[dict[tuple[UUID | str, int], int], set[int]]:
        """Insert the events of every caller without a version conflict.

        Return the notification id of each event written, by originator id and version,
        and the positions in ``group`` of the callers left out because an earlier caller
        of the group saves the same version.
        """
        columns: tuple[list[Any], ...] = ([], [], [], [], [])
        seen: set[tuple[UUID | str, int]] = set()
        duplicates: set[int] = set()
        for caller, request in enumerate(group):
            keys = {(e.originator_id, e.originator_version) for e in request.stored_events}
            if keys & seen:
                # An earlier caller in this group saves the same version: it wins.
                # NOTE: the later caller fails even when the earlier one is then rejected
                # by the table. Only a save of several aggregates can meet this, and it
                # gets a conflict that a retry resolves.
                duplicates.add(caller)
                continue
            seen |= keys
            for event in request.stored_events:
                columns[0].append(event.originator_id)
                columns[1].append(event.originator_version)
                columns[2].append(event.topic)
                columns[3].append(event.state)
                columns[4].append(caller)
        if not columns[0]:
            return {}, duplicates

        with self.datastore.get_connection() as connection:
            with connection.pipeline(), connection.transaction():
                cursor = connection.cursor()
                for statement in self.lock_table_statements:
                    cursor.execute(statement, prepare=True)
                cursor.execute(self.notify_statement, prepare=True)
                cursor.execute(self.group_insert_statement, columns, prepare=True)
            rows = cursor.fetchall()
        written = {
            (row["originator_id"], row["originator_version"]): row["notification_id"]
            for row in rows
        }
        return written, duplicates


def _own_copy(error: Exception) -> Exception:
    """Return a new exception like ``error``, so that each caller of a failed group
    raises its own instance rather than sharing one traceback across threads."""
    try:
        return type(error)(*error.args)
    except Exception:
        return PersistenceError(f"{type(error).__name__}: {error}")


__all__ = ["MAX_GROUP_EVENTS", "GroupCommitRecorder", "SaveRequest"]
