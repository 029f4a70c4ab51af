"""Records read from the projections, as the query side hands them to the API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from cms_graph.adapters.database import Row


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _uuid(value: Any) -> UUID:
    # psycopg returns uuid columns as UUID already, but SQLite stores them as text.
    return value if isinstance(value, UUID) else UUID(str(value))


@dataclass(frozen=True)
class ComplaintRecord:
    id: UUID
    tracking_number: str
    status: str
    category: str
    channel: str
    description: str
    language: str
    district_id: str
    station_id: str | None
    unit_id: str
    unit_path: str
    assigned_officer_id: str | None
    escalation_level: int
    incident_at: datetime | None
    lodged_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    withdrawn_at: datetime | None
    due_at: datetime | None
    outcome: str | None
    feedback_satisfied: bool | None
    complainant_sealed: bytes
    phone_digest: str
    version: int
    holder_rank: str
    deadline_step: str | None
    fir_number: str | None
    fir_registered_at: datetime | None
    # "<source>:<legacy id>" of an imported complaint, or None for one lodged here.
    legacy_reference: str | None = None

    @classmethod
    def from_row(cls, row: Row) -> ComplaintRecord:
        values = {name: row[name] for name in _COMPLAINT_COLUMNS}
        values["complainant_sealed"] = bytes(row["complainant_sealed"])
        values["feedback_satisfied"] = _flag(row["feedback_satisfied"])
        return cls(id=_uuid(row["complaint_id"]), **values)


# The fields read from columns of the same name; ``id`` comes from ``complaint_id``.
_COMPLAINT_COLUMNS = tuple(name for name in ComplaintRecord.__dataclass_fields__ if name != "id")


@dataclass(frozen=True)
class TimelineRecord:
    complaint_id: UUID
    version: int
    notification_id: int
    event_type: str
    occurred_at: datetime
    recorded_at: datetime
    actor_kind: str
    actor_user_id: str | None
    actor_role: str | None
    actor_unit_id: str | None
    channel: str
    reason: str | None
    internal: bool
    details: dict[str, Any]

    @classmethod
    def from_row(cls, row: Row) -> TimelineRecord:
        values = {name: row[name] for name in cls.__dataclass_fields__}
        values["complaint_id"] = _uuid(row["complaint_id"])
        values["internal"] = bool(row["internal"])
        values["details"] = json.loads(row["details"])
        return cls(**values)


@dataclass(frozen=True)
class Page:
    records: list[ComplaintRecord]
    has_next_page: bool
    has_previous_page: bool
    # None when the caller passed count_total=False.
    total_count: int | None


__all__ = ["ComplaintRecord", "Page", "TimelineRecord"]
