"""The escalation projection, built by the workers: each complaint's next deadline and
when it fires (``escalation_view``), every escalation (``escalations_log``), and one
notification per escalation for the new holder (``notification_outbox``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from cms_graph.adapters.database import Cursor, in_clause
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.deadlines import DeadlineStep
from cms_graph.domain.ladder import RANK_ROLE, Rank, next_holder
from cms_graph.domain.units import UnitHierarchy
from cms_graph.projections.deadline_state import (
    DEADLINE_COLUMNS,
    DeadlineState,
    complaints_to_read,
)


@dataclass(frozen=True)
class ScheduledDeadline:
    """A deadline whose escalation should fire at ``due_at``, with the correlation id of
    the event that started its clock (None when that event had none)."""

    complaint_id: UUID
    step: DeadlineStep
    due_at: datetime
    correlation_id: str | None = None


def clock_correlation_id(
    before: DeadlineState | None, after: DeadlineState, event: Complaint.Event, kept: str | None
) -> str | None:
    """Return the correlation id of the event that started the clock of ``after``'s
    deadline. That is ``event``'s id when ``event`` set a new deadline, and otherwise
    ``kept``, the id stored with the deadline that was already pending."""
    deadline = after.deadline()
    if deadline is None:
        return None
    if before is not None and before.deadline() == deadline:
        return kept
    return event.actor.correlation_id


class EscalationProjector:
    name = "escalations"
    tables: tuple[str, ...] = ("escalation_view", "escalations_log", "notification_outbox")

    def __init__(
        self,
        units: UnitHierarchy,
        schedule: Callable[[list[ScheduledDeadline]], None] | None = None,
    ) -> None:
        self.units = units
        self._schedule = schedule
        # Per batch: the latest deadline of each complaint the batch touched.
        self._pending: dict[str, ScheduledDeadline] = {}
        # Per batch: state and row of complaints already seen, to skip reading them again.
        self._seen: dict[str, tuple[DeadlineState, dict[str, Any]]] = {}

    def set_schedule(self, schedule: Callable[[list[ScheduledDeadline]], None]) -> None:
        self._schedule = schedule

    # Batch hooks called by ProjectionRunner. Deadlines are scheduled only once the batch
    # that set them has committed; a lost schedule is caught by the periodic sweep.

    def begin_batch(self) -> None:
        self._pending = {}
        self._seen = {}

    def prepare_batch(self, cursor: Cursor, events: list[Any]) -> None:
        """Read every complaint the batch changes, in one query."""
        keys = complaints_to_read(events, self._seen)
        if not keys:
            return
        parameters: dict[str, Any] = {}
        ids = in_clause("id", keys, parameters)
        cursor.execute(
            f"SELECT complaint_id, {DEADLINE_COLUMNS}, tracking_number, unit_id,"  # noqa: S608
            " escalation_level, deadline_correlation_id FROM escalation_view"
            f" WHERE complaint_id IN {ids}",
            parameters,
        )
        for row in cursor.fetchall():
            self._seen[str(row["complaint_id"])] = (
                DeadlineState.from_row(row),
                {
                    "tracking_number": row["tracking_number"],
                    "unit_id": row["unit_id"],
                    "escalation_level": row["escalation_level"],
                    "deadline_correlation_id": row["deadline_correlation_id"],
                },
            )

    def after_commit(self) -> None:
        pending, self._pending = list(self._pending.values()), {}
        if pending and self._schedule is not None:
            self._schedule(pending)

    def apply(self, cursor: Cursor, event: Any, notification_id: int) -> None:
        if not isinstance(event, Complaint.Event):
            return
        key = str(event.originator_id)
        if isinstance(event, Complaint.ComplaintLodged):
            state = DeadlineState.lodged(event)
            row: dict[str, Any] = {
                "tracking_number": event.tracking_number,
                "unit_id": event.unit_id,
                "escalation_level": 0,
                "deadline_correlation_id": clock_correlation_id(None, state, event, None),
            }
            self._write(cursor, event, state, row, insert=True)
            self._seen[key] = (state, row)
            return

        if key in self._seen:
            previous, seen_row = self._seen[key]
            row = dict(seen_row)
        else:
            previous, row = self._read(cursor, key)
        state = previous.after(event)
        row["deadline_correlation_id"] = clock_correlation_id(
            previous, state, event, row["deadline_correlation_id"]
        )
        if isinstance(event, Complaint.ComplaintAssigned):
            row["unit_id"] = event.unit_id
        if isinstance(event, Complaint.ComplaintEscalated):
            row["unit_id"] = event.to_unit_id
            row["escalation_level"] = event.to_level
            self._log_escalation(cursor, event, notification_id, row["tracking_number"])
        self._write(cursor, event, state, row, insert=False)
        self._seen[key] = (state, row)

    def _read(self, cursor: Cursor, key: str) -> tuple[DeadlineState, dict[str, Any]]:
        """Return the stored state of complaint ``key`` and its other columns."""
        cursor.execute(
            f"SELECT {DEADLINE_COLUMNS}, tracking_number, unit_id, escalation_level,"  # noqa: S608
            " deadline_correlation_id FROM escalation_view WHERE complaint_id = :id",
            {"id": key},
        )
        current = cursor.fetchone()
        if current is None:
            raise LookupError(f"complaint {key} has no row in escalation_view")
        row = {
            "tracking_number": current["tracking_number"],
            "unit_id": current["unit_id"],
            "escalation_level": current["escalation_level"],
            "deadline_correlation_id": current["deadline_correlation_id"],
        }
        return DeadlineState.from_row(current), row

    def _fire_at(self, state: DeadlineState, unit_id: str) -> datetime | None:
        deadline = state.deadline()
        if deadline is None or unit_id not in self.units:
            return None
        if next_holder(self.units, unit_id, state.holder_rank) is None:
            return None  # The IGP holds it: there is no higher rank to escalate to.
        return deadline.due_at

    def _write(
        self,
        cursor: Cursor,
        event: Complaint.Event,
        state: DeadlineState,
        row: dict[str, Any],
        *,
        insert: bool,
    ) -> None:
        fire_at = self._fire_at(state, row["unit_id"])
        values = (
            state.columns()
            | row
            | {
                "id": str(event.originator_id),
                "unit_path": self.units.path(row["unit_id"])
                if row["unit_id"] in self.units
                else f"/unknown/{row['unit_id']}/",
                "fire_at": fire_at,
                "version": event.originator_version,
            }
        )
        if insert:
            cursor.execute(
                "INSERT INTO escalation_view (complaint_id, tracking_number, status, unit_id,"
                " unit_path, holder_rank, escalation_level, opened_at, acknowledged_at,"
                " escalation_anchor, deadline_plan, deadline_step, due_at, fire_at, version,"
                " deadline_correlation_id)"
                " VALUES (:id, :tracking_number, :status, :unit_id, :unit_path, :holder_rank,"
                " :escalation_level, :opened_at, :acknowledged_at, :escalation_anchor,"
                " :deadline_plan, :deadline_step, :due_at, :fire_at, :version,"
                " :deadline_correlation_id)",
                values,
            )
        else:
            cursor.execute(
                "UPDATE escalation_view SET status = :status, unit_id = :unit_id,"
                " unit_path = :unit_path, holder_rank = :holder_rank,"
                " escalation_level = :escalation_level, opened_at = :opened_at,"
                " acknowledged_at = :acknowledged_at, escalation_anchor = :escalation_anchor,"
                " deadline_plan = :deadline_plan, deadline_step = :deadline_step,"
                " due_at = :due_at, fire_at = :fire_at, version = :version,"
                " deadline_correlation_id = :deadline_correlation_id"
                " WHERE complaint_id = :id",
                values,
            )
        if fire_at is not None and values["deadline_step"] is not None:
            self._pending[values["id"]] = ScheduledDeadline(
                UUID(values["id"]),
                DeadlineStep(values["deadline_step"]),
                fire_at,
                values["deadline_correlation_id"],
            )
        else:
            self._pending.pop(values["id"], None)

    def _log_escalation(
        self,
        cursor: Cursor,
        event: Complaint.ComplaintEscalated,
        notification_id: int,
        tracking_number: str,
    ) -> None:
        to_path = (
            self.units.path(event.to_unit_id)
            if event.to_unit_id in self.units
            else f"/unknown/{event.to_unit_id}/"
        )
        cursor.execute(
            "INSERT INTO escalations_log (complaint_id, version, notification_id,"
            " tracking_number, occurred_at, deadline_step, missed_due_at, from_level, to_level,"
            " from_unit_id, to_unit_id, to_unit_path, from_rank, to_rank, actor_kind,"
            " actor_user_id, reason) VALUES (:id, :version, :notification_id,"
            " :tracking_number, :occurred_at, :deadline_step, :missed_due_at, :from_level,"
            " :to_level, :from_unit_id, :to_unit_id, :to_unit_path, :from_rank, :to_rank,"
            " :actor_kind, :actor_user_id, :reason)",
            {
                "id": str(event.originator_id),
                "version": event.originator_version,
                "notification_id": notification_id,
                "tracking_number": tracking_number,
                "occurred_at": event.occurred_at,
                "deadline_step": str(event.deadline) if event.deadline else None,
                "missed_due_at": event.missed_due_at,
                "from_level": event.from_level,
                "to_level": event.to_level,
                "from_unit_id": event.from_unit_id,
                "to_unit_id": event.to_unit_id,
                "to_unit_path": to_path,
                "from_rank": str(event.from_rank),
                "to_rank": str(event.to_rank),
                "actor_kind": str(event.actor.kind),
                "actor_user_id": event.actor.user_id,
                "reason": event.reason,
            },
        )
        payload = {
            "tracking_number": tracking_number,
            "escalation_level": event.to_level,
            "deadline": str(event.deadline) if event.deadline else None,
            "missed_due_at": event.missed_due_at.isoformat() if event.missed_due_at else None,
            "from_unit_id": event.from_unit_id,
            "reason": event.reason,
        }
        cursor.execute(
            "INSERT INTO notification_outbox (complaint_id, version, kind, recipient_unit_id,"
            " recipient_role, payload, created_at) VALUES (:id, :version, 'ESCALATION',"
            " :unit_id, :role, :payload, :created_at)"
            " ON CONFLICT (complaint_id, version, kind) DO NOTHING",
            {
                "id": str(event.originator_id),
                "version": event.originator_version,
                "unit_id": event.to_unit_id,
                "role": RANK_ROLE[Rank(event.to_rank)].value,
                "payload": json.dumps(payload, sort_keys=True),
                "created_at": event.timestamp,
            },
        )


__all__ = ["EscalationProjector", "ScheduledDeadline"]
