"""Readings of the database that /readyz and /metrics report.

Callers run them on a cursor from ``Database.probe``, a connection of their own that gives
up within CMS_PROBE_TIMEOUT_SECONDS and is never retried. The event store's recorder is
not used here, because eventsourcing retries ``max_notification_id`` ten times, and each
attempt may wait 30 s for a pooled connection. Each function runs one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Mapper, StoredEvent

from cms_graph.adapters.database import Cursor, Dialect, Row
from cms_graph.adapters.event_store import ComplaintEventStore
from cms_graph.application.notification_texts import NotificationChannel

# The notification id of an event: a column on PostgreSQL, the row id on SQLite.
_NOTIFICATION_ID = {"postgres": "notification_id", "sqlite": "rowid"}


@dataclass(frozen=True)
class EventLogTable:
    """The event store's table and its notification id column, as the library named them."""

    table: str
    id_column: str

    @classmethod
    def of(cls, event_store: ComplaintEventStore, dialect: Dialect) -> EventLogTable:
        # eventsourcing 9.5 names it complaints_events on PostgreSQL, stored_events on SQLite.
        table: str = getattr(event_store.recorder, "events_table_name")  # noqa: B009
        return cls(table=table, id_column=_NOTIFICATION_ID[dialect])


# Outbox statuses after which a message to a complainant will never be sent.
UNSENT_STATUSES = ("FAILED", "SKIPPED")


@dataclass(frozen=True)
class ProjectionProgress:
    """How far one projection has applied the event log."""

    name: str
    position: int
    lag_events: int
    # Seconds since the oldest event the projection has not applied was recorded, by
    # the event's own timestamp. It is 0 when the projection has applied every event.
    lag_seconds: float


def read_head(cursor: Cursor, log: EventLogTable) -> int:
    """Return the notification id of the newest event, or 0 for an empty log."""
    # The names come from this module and the library, not from input.
    cursor.execute(f"SELECT max({log.id_column}) AS head FROM {log.table}")  # noqa: S608
    row = cursor.fetchone()
    return int(row["head"]) if row and row["head"] is not None else 0


def read_progress(
    cursor: Cursor,
    log: EventLogTable,
    mapper: Mapper[Any],
    names: Iterable[str],
    head: int,
    now: datetime,
) -> list[ProjectionProgress]:
    """Return the position, lag and lag age of each named projection.

    One query reads every position row together with the first event after it. The
    extra row with position 0 is used for projections that have no position row yet,
    because their runner has not finished a batch.
    """
    column, table = log.id_column, log.table
    cursor.execute(
        f"SELECT p.name, p.position, e.{column} AS next_id, e.originator_id,"  # noqa: S608
        " e.originator_version, e.topic, e.state"
        " FROM (SELECT name, position FROM projection_positions"
        "       UNION ALL SELECT '' AS name, 0 AS position) AS p"
        f" LEFT JOIN {table} AS e ON e.{column} = ("
        f"   SELECT min(n.{column}) FROM {table} AS n WHERE n.{column} > p.position)"
    )
    rows = {row["name"]: row for row in cursor.fetchall()}
    unstarted = rows[""]
    progress = []
    for name in names:
        row = rows.get(name, unstarted)
        position = int(row["position"])
        lag_seconds = 0.0
        if row["next_id"] is not None:
            recorded_at = _recorded_at(mapper, row)
            lag_seconds = max(0.0, (now - recorded_at).total_seconds())
        progress.append(
            ProjectionProgress(
                name=name,
                position=position,
                lag_events=max(0, head - position),
                lag_seconds=lag_seconds,
            )
        )
    return progress


def read_store_progress(
    cursor: Cursor,
    event_store: ComplaintEventStore,
    dialect: Dialect,
    names: Iterable[str],
    now: datetime,
) -> list[ProjectionProgress]:
    """Read the head of the event store's log, then each named projection's progress."""
    log = EventLogTable.of(event_store, dialect)
    head = read_head(cursor, log)
    return read_progress(cursor, log, event_store.mapper, names, head, now)


def _recorded_at(mapper: Mapper[Any], row: Row) -> datetime:
    """Return the library timestamp of the stored event in ``row``: when it was recorded."""
    stored = StoredEvent(
        originator_id=row["originator_id"],
        originator_version=int(row["originator_version"]),
        topic=str(row["topic"]),
        state=bytes(row["state"]),
    )
    timestamp: datetime = mapper.to_domain_event(stored).timestamp  # type: ignore[attr-defined]
    return timestamp


def read_escalation_counts(cursor: Cursor) -> dict[str, int]:
    """Return the escalations for a missed deadline in the escalation log, by step.

    The escalations projection writes the log from the event log, so the counts include
    escalations made in any process, as far as that projection has applied.
    """
    cursor.execute(
        "SELECT deadline_step, count(*) AS escalations FROM escalations_log"
        " WHERE deadline_step IS NOT NULL GROUP BY deadline_step"
    )
    return {row["deadline_step"]: int(row["escalations"]) for row in cursor.fetchall()}


def read_unsent_notifications(cursor: Cursor) -> dict[tuple[str, str], int]:
    """Return the outbox rows that will never be sent, by channel and status, with a
    zero for each combination that has none."""
    counts = {
        (channel.value, status): 0 for channel in NotificationChannel for status in UNSENT_STATUSES
    }
    # The statuses are literals, not parameters, so that the planner can match the query
    # to the predicate of the partial index citizen_notification_outbox_unsent.
    cursor.execute(
        "SELECT channel, status, count(*) AS messages FROM citizen_notification_outbox"
        " WHERE status IN ('FAILED', 'SKIPPED') GROUP BY channel, status"
    )
    for row in cursor.fetchall():
        counts[(row["channel"], row["status"])] = int(row["messages"])
    return counts


def read_failed_webhooks(cursor: Cursor) -> int:
    """Return the webhook deliveries that used up their retries."""
    cursor.execute("SELECT count(*) AS deliveries FROM webhook_deliveries WHERE status = 'FAILED'")
    row = cursor.fetchone()
    return int(row["deliveries"]) if row else 0


__all__ = [
    "UNSENT_STATUSES",
    "EventLogTable",
    "ProjectionProgress",
    "read_escalation_counts",
    "read_failed_webhooks",
    "read_head",
    "read_progress",
    "read_store_progress",
    "read_unsent_notifications",
]
