"""A complaint exactly as it stood at a moment or version, for the integrity unit.

The version in force at a moment comes from the timeline's index on (complaint,
recorded time), so no event needs decoding to find it; the state is then rebuilt by
replaying the complaint's own events up to that version. "As it stood" means as the
system had recorded it: events are placed by their recorded time, and events recorded
at the same instant by their version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from cms_graph.adapters.database import Database
from cms_graph.adapters.event_store import ComplaintEventStore
from cms_graph.application.identity import PROVINCE_WIDE_ROLES, AccessPolicy, Principal
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.errors import InvalidInput, NotFound
from cms_graph.projections.complaints import event_details

HISTORY_ROLES = PROVINCE_WIDE_ROLES


@dataclass(frozen=True)
class CaseSnapshot:
    complaint_id: UUID
    tracking_number: str
    version: int
    recorded_at: datetime
    status: str
    category: str
    unit_id: str
    holder_rank: str
    assigned_officer_id: str | None
    escalation_level: int
    outcome: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    withdrawn_at: datetime | None
    feedback_satisfied: bool | None
    due_at: datetime | None
    deadline_step: str | None
    fir_number: str | None


@dataclass(frozen=True)
class HistoryEvent:
    version: int
    event_type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: dict[str, str | None]
    channel: str
    details: str
    # Why the actor acted, when the event records a reason.
    reason: str | None = None


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class CaseAt:
    snapshot: CaseSnapshot
    events: list[HistoryEvent]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def differences(before: CaseSnapshot, after: CaseSnapshot) -> list[FieldChange]:
    """Return the fields that differ between two snapshots, in declaration order."""
    old, new = asdict(before), asdict(after)
    return [
        FieldChange(name, _text(old[name]), _text(new[name]))
        for name in old
        if name not in ("version", "recorded_at") and old[name] != new[name]
    ]


class CaseHistory:
    def __init__(
        self, event_store: ComplaintEventStore, database: Database, access: AccessPolicy
    ) -> None:
        self.event_store = event_store
        self.database = database
        self.access = access

    def at(
        self,
        principal: Principal,
        complaint_id: UUID,
        *,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> CaseAt:
        self.access.require_role(principal, HISTORY_ROLES, "replay case history", complaint_id)
        if as_of is not None and version is not None:
            raise InvalidInput("pass asOf or version, not both", field=("version",))
        if as_of is not None:
            version = self._version_at(complaint_id, as_of)
        try:
            complaint = self.event_store.get_complaint(complaint_id, version=version)
        except AggregateNotFoundError:
            if version is not None:
                raise InvalidInput(
                    f"complaint {complaint_id} has no version {version}", field=("version",)
                ) from None
            raise NotFound(f"complaint {complaint_id} not found", field=("complaintId",)) from None
        if version is not None and complaint.version != version:
            raise InvalidInput(
                f"complaint {complaint_id} has {complaint.version} versions, not {version}",
                field=("version",),
            )
        events = cast(
            list[Complaint.Event],
            list(self.event_store.events.get(complaint_id, lte=complaint.version)),
        )
        return CaseAt(
            self._snapshot(complaint, events[-1].timestamp), [_history(e) for e in events]
        )

    def _version_at(self, complaint_id: UUID, as_of: datetime) -> int:
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT MAX(version) AS version FROM complaint_timeline_view"
                " WHERE complaint_id = :id AND recorded_at <= :as_of",
                {"id": str(complaint_id), "as_of": as_of},
            )
            row = cursor.fetchone()
        if row is None or row["version"] is None:
            raise InvalidInput(
                f"complaint {complaint_id} did not exist at {as_of.isoformat()}",
                field=("asOf",),
            )
        return int(row["version"])

    @staticmethod
    def _snapshot(complaint: Complaint, recorded_at: datetime) -> CaseSnapshot:
        deadline = complaint.next_deadline()
        return CaseSnapshot(
            complaint_id=complaint.id,
            tracking_number=complaint.tracking_number,
            version=complaint.version,
            recorded_at=recorded_at,
            status=complaint.status.value,
            category=complaint.category.value,
            unit_id=complaint.unit_id,
            holder_rank=complaint.holder_rank.value,
            assigned_officer_id=complaint.assigned_officer_id,
            escalation_level=complaint.escalation_level,
            outcome=complaint.outcome.value if complaint.outcome else None,
            acknowledged_at=complaint.acknowledged_at,
            resolved_at=complaint.resolved_at,
            closed_at=complaint.closed_at,
            withdrawn_at=complaint.withdrawn_at,
            feedback_satisfied=complaint.feedback_satisfied,
            due_at=deadline.due_at if deadline else None,
            deadline_step=deadline.step.value if deadline else None,
            fir_number=complaint.fir_number,
        )


def _history(event: Any) -> HistoryEvent:
    return HistoryEvent(
        version=event.originator_version,
        event_type=type(event).__name__,
        occurred_at=event.occurred_at,
        recorded_at=event.timestamp,
        actor=event.actor.to_dict(),
        channel=str(event.channel),
        details=event_details(event),
        reason=getattr(event, "reason", None),
    )


__all__ = ["CaseAt", "CaseHistory", "CaseSnapshot", "FieldChange", "HistoryEvent", "differences"]
