"""The complaint read model (``complaints_view``) and timeline (``complaint_timeline_view``)."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from enum import Enum
from typing import Any

from cms_graph.adapters.database import Cursor, in_clause
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.deadlines import DeadlinePlan
from cms_graph.domain.units import UnitHierarchy
from cms_graph.projections.complaint_changes import event_changes
from cms_graph.projections.deadline_state import (
    DEADLINE_COLUMNS,
    DeadlineState,
    complaints_to_read,
)

logger = logging.getLogger(__name__)

# Event fields that have their own timeline columns, or must not be copied at all:
# the sealed personal data and phone digest stay out of the timeline.
_NOT_IN_DETAILS = frozenset(
    {
        "originator_id",
        "originator_version",
        "originator_topic",
        "timestamp",
        "actor",
        "channel",
        "occurred_at",
        "reason",
        "complainant_sealed",
        "phone_digest",
        "description",
    }
)


def _json_value(value: Any) -> Any:
    if isinstance(value, DeadlinePlan):
        return value.to_dict()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def event_details(event: Complaint.Event) -> str:
    details = {
        key: _json_value(value) for key, value in vars(event).items() if key not in _NOT_IN_DETAILS
    }
    return json.dumps(details, ensure_ascii=False, sort_keys=True)


class ComplaintViewProjector:
    name = "complaints"
    tables: tuple[str, ...] = ("complaints_view", "complaint_timeline_view")

    def __init__(self, units: UnitHierarchy) -> None:
        self.units = units
        # Per batch: the deadline state of complaints already seen, and timeline rows to
        # write at the end. A rebuild meets a complaint's events close together, so most
        # events need no read of their row.
        self._states: dict[str, DeadlineState] = {}
        self._timeline_rows: list[dict[str, Any]] = []

    def begin_batch(self) -> None:
        self._states = {}
        self._timeline_rows = []

    def prepare_batch(self, cursor: Cursor, events: list[Any]) -> None:
        """Read the deadline state of every complaint the batch changes, in one query."""
        keys = complaints_to_read(events, self._states)
        if not keys:
            return
        parameters: dict[str, Any] = {}
        ids = in_clause("id", keys, parameters)
        cursor.execute(
            f"SELECT complaint_id, {DEADLINE_COLUMNS} FROM complaints_view"  # noqa: S608
            f" WHERE complaint_id IN {ids}",
            parameters,
        )
        for row in cursor.fetchall():
            self._states[str(row["complaint_id"])] = DeadlineState.from_row(row)

    def unit_path(self, unit_id: str) -> str:
        if unit_id in self.units:
            return self.units.path(unit_id)
        # The unit left the configured hierarchy; keep the row reachable by province staff.
        logger.warning("unit %s is not in the unit hierarchy; filed under /unknown/", unit_id)
        return f"/unknown/{unit_id}/"

    def apply(self, cursor: Cursor, event: Any, notification_id: int) -> None:
        if not isinstance(event, Complaint.Event):
            return
        self._update_view(cursor, event)
        self._append_timeline(cursor, event, notification_id)

    def _update_view(self, cursor: Cursor, event: Complaint.Event) -> None:
        key = str(event.originator_id)
        common: dict[str, Any] = {
            "id": key,
            "version": event.originator_version,
            "now": event.timestamp,
        }
        if isinstance(event, Complaint.ComplaintLodged):
            self._states[key] = DeadlineState.lodged(event)
            cursor.execute(
                "INSERT INTO complaints_view (complaint_id, tracking_number, status, category,"
                " channel, description, language, district_id, station_id, unit_id, unit_path,"
                " escalation_level, incident_at, lodged_at, complainant_sealed, phone_digest,"
                " version, updated_at, opened_at, acknowledged_at, escalation_anchor,"
                " holder_rank, deadline_plan, deadline_step, due_at) VALUES (:id,"
                " :tracking_number, :status, :category, :channel, :description, :language,"
                " :district_id, :station_id, :unit_id, :unit_path, 0, :incident_at, :lodged_at,"
                " :sealed, :phone_digest, :version, :now, :opened_at, :acknowledged_at,"
                " :escalation_anchor, :holder_rank, :deadline_plan, :deadline_step, :due_at)",
                common
                | DeadlineState.lodged(event).columns()
                | {
                    "tracking_number": event.tracking_number,
                    "category": str(event.category),
                    "channel": str(event.channel),
                    "description": event.description,
                    "language": str(event.language),
                    "district_id": event.district_id,
                    "station_id": event.station_id,
                    "unit_id": event.unit_id,
                    "unit_path": self.unit_path(event.unit_id),
                    "incident_at": event.incident_at,
                    "lodged_at": event.occurred_at,
                    "sealed": event.complainant_sealed,
                    "phone_digest": event.phone_digest,
                },
            )
            return

        state = self._states.get(key)
        if state is None:
            cursor.execute(
                f"SELECT {DEADLINE_COLUMNS} FROM complaints_view WHERE complaint_id = :id",  # noqa: S608
                {"id": common["id"]},
            )
            row = cursor.fetchone()
            if row is None:
                raise LookupError(f"complaint {common['id']} has no row in complaints_view")
            state = DeadlineState.from_row(row)
        state = state.after(event)
        self._states[key] = state
        values = state.columns() | self._changes_for(event)
        assignments = "".join(f"{column} = :{column}, " for column in values)
        cursor.execute(
            # The column names come from fixed keys in this module, never from input.
            f"UPDATE complaints_view SET {assignments}version = :version,"  # noqa: S608
            " updated_at = :now WHERE complaint_id = :id",
            common | values,
        )

    def _changes_for(self, event: Complaint.Event) -> dict[str, Any]:
        """Return the view columns an event changes besides the deadline state."""
        changes = event_changes(event)
        if isinstance(event, Complaint.LegacyRecordImported):
            changes["legacy_reference"] = f"{event.source}:{event.reference}"
        if "unit_id" in changes:
            changes["unit_path"] = self.unit_path(changes["unit_id"])
        return changes

    def _append_timeline(
        self, cursor: Cursor, event: Complaint.Event, notification_id: int
    ) -> None:
        actor = event.actor
        self._timeline_rows.append(
            {
                "id": str(event.originator_id),
                "version": event.originator_version,
                "notification_id": notification_id,
                "event_type": type(event).__name__,
                "occurred_at": event.occurred_at,
                "recorded_at": event.timestamp,
                "actor_kind": str(actor.kind),
                "actor_user_id": actor.user_id,
                "actor_role": str(actor.role) if actor.role else None,
                "actor_unit_id": actor.unit_id,
                "channel": str(event.channel),
                "reason": getattr(event, "reason", None),
                "internal": bool(getattr(event, "internal", False)),
                "details": event_details(event),
            },
        )

    def end_batch(self, cursor: Cursor) -> None:
        """Write the batch's timeline rows in one round of statements."""
        if self._timeline_rows:
            cursor.executemany(
                "INSERT INTO complaint_timeline_view (complaint_id, version, notification_id,"
                " event_type, occurred_at, recorded_at, actor_kind, actor_user_id, actor_role,"
                " actor_unit_id, channel, reason, internal, details) VALUES (:id, :version,"
                " :notification_id, :event_type, :occurred_at, :recorded_at, :actor_kind,"
                " :actor_user_id, :actor_role, :actor_unit_id, :channel, :reason, :internal,"
                " :details)",
                self._timeline_rows,
            )
        self._timeline_rows = []


__all__ = ["ComplaintViewProjector", "event_details"]
