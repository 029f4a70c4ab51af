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
from cms_graph.projections.complaint_changes import event_changes, lodged_fields
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


# Every column of complaints_view. A new row gets all of them: the lodging's values, NULL
# or 0 for what later events set, and the deadline columns from its DeadlineState.
VIEW_COLUMNS = (
    "complaint_id",
    "tracking_number",
    "status",
    "category",
    "channel",
    "description",
    "language",
    "district_id",
    "station_id",
    "unit_id",
    "unit_path",
    "assigned_officer_id",
    "escalation_level",
    "incident_at",
    "lodged_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
    "withdrawn_at",
    "due_at",
    "outcome",
    "feedback_satisfied",
    "complainant_sealed",
    "phone_digest",
    "version",
    "updated_at",
    "holder_rank",
    "opened_at",
    "escalation_anchor",
    "deadline_plan",
    "deadline_step",
    "fir_number",
    "fir_registered_at",
    "legacy_reference",
)
TIMELINE_COLUMNS = (
    "complaint_id",
    "version",
    "notification_id",
    "event_type",
    "occurred_at",
    "recorded_at",
    "actor_kind",
    "actor_user_id",
    "actor_role",
    "actor_unit_id",
    "channel",
    "reason",
    "internal",
    "details",
)


class ComplaintViewProjector:
    """Projector of complaints_view and its timeline that writes each complaint once per batch.

    ``apply`` only collects the row of a complaint lodged in the batch, or the columns
    that the batch's events change in an existing row, and one timeline row per event.
    ``end_batch`` writes them with the values after the batch, so a complaint with five
    events in a batch costs one statement, not five.
    """

    name = "complaints"
    tables: tuple[str, ...] = ("complaints_view", "complaint_timeline_view")

    def __init__(self, units: UnitHierarchy) -> None:
        self.units = units
        # Per batch: the deadline state of every complaint seen, the new rows and the
        # changed columns of existing rows, each by complaint id, and the timeline rows.
        self._states: dict[str, DeadlineState] = {}
        self._new_rows: dict[str, dict[str, Any]] = {}
        self._changed_rows: dict[str, dict[str, Any]] = {}
        self._timeline_rows: list[tuple[Any, ...]] = []

    def begin_batch(self) -> None:
        self._states = {}
        self._new_rows = {}
        self._changed_rows = {}
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
        self._collect_view(cursor, event)
        self._append_timeline(event, notification_id)

    def _collect_view(self, cursor: Cursor, event: Complaint.Event) -> None:
        key = str(event.originator_id)
        if isinstance(event, Complaint.ComplaintLodged):
            self._states[key] = DeadlineState.lodged(event)
            self._new_rows[key] = (
                dict.fromkeys(VIEW_COLUMNS)
                | lodged_fields(event)
                | {
                    "complaint_id": key,
                    "unit_path": self.unit_path(event.unit_id),
                    "complainant_sealed": event.complainant_sealed,
                    "phone_digest": event.phone_digest,
                    "version": event.originator_version,
                    "updated_at": event.timestamp,
                }
            )
            return

        state = self._states.get(key)
        if state is None:
            # prepare_batch has read every existing row, so this runs only for a projector
            # used without it, or to report a complaint that has no row.
            cursor.execute(
                f"SELECT {DEADLINE_COLUMNS} FROM complaints_view WHERE complaint_id = :id",  # noqa: S608
                {"id": key},
            )
            row = cursor.fetchone()
            if row is None:
                raise LookupError(f"complaint {key} has no row in complaints_view")
            state = DeadlineState.from_row(row)
        self._states[key] = state.after(event)
        changes = self._changes_for(event) | {
            "version": event.originator_version,
            "updated_at": event.timestamp,
        }
        row = self._new_rows.get(key)
        if row is None:
            row = self._changed_rows.setdefault(key, {})
        row.update(changes)

    def _changes_for(self, event: Complaint.Event) -> dict[str, Any]:
        """Return the view columns an event changes besides the deadline state."""
        changes = event_changes(event)
        if "unit_id" in changes:
            changes["unit_path"] = self.unit_path(changes["unit_id"])
        return changes

    def _append_timeline(self, event: Complaint.Event, notification_id: int) -> None:
        actor = event.actor
        self._timeline_rows.append(
            (
                str(event.originator_id),
                event.originator_version,
                notification_id,
                type(event).__name__,
                event.occurred_at,
                event.timestamp,
                str(actor.kind),
                actor.user_id,
                str(actor.role) if actor.role else None,
                actor.unit_id,
                str(event.channel),
                getattr(event, "reason", None),
                bool(getattr(event, "internal", False)),
                event_details(event),
            )
        )

    def end_batch(self, cursor: Cursor) -> None:
        """Write the batch's new rows, changed rows and timeline rows."""
        if self._new_rows:
            rows = []
            for key, row in self._new_rows.items():
                values = row | self._states[key].columns()
                rows.append(tuple(values[column] for column in VIEW_COLUMNS))
            cursor.insert_rows("complaints_view", VIEW_COLUMNS, rows)
        self._update_changed_rows(cursor)
        if self._timeline_rows:
            cursor.insert_rows("complaint_timeline_view", TIMELINE_COLUMNS, self._timeline_rows)
        self._new_rows = {}
        self._changed_rows = {}
        self._timeline_rows = []

    def _update_changed_rows(self, cursor: Cursor) -> None:
        """UPDATE the changed rows with one executemany for each set of changed columns."""
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for key, changes in self._changed_rows.items():
            values = self._states[key].columns() | changes
            by_columns.setdefault(tuple(sorted(values)), []).append(values | {"complaint_id": key})
        for columns, rows in by_columns.items():
            assignments = ", ".join(f"{column} = :{column}" for column in columns)
            cursor.executemany(
                # The column names are fixed keys of event_changes and DeadlineState, never input.
                f"UPDATE complaints_view SET {assignments}"  # noqa: S608
                " WHERE complaint_id = :complaint_id",
                rows,
            )


__all__ = ["TIMELINE_COLUMNS", "VIEW_COLUMNS", "ComplaintViewProjector", "event_details"]
