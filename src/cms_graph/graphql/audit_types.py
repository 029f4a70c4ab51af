"""GraphQL types for the integrity unit: the audit trail and case history."""

from __future__ import annotations

import json
from datetime import datetime
from typing import cast
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.scalars import JSON

from cms_graph.application import case_history as history
from cms_graph.application.audit_queries import AuditEntry as AuditEntryRecord
from cms_graph.domain.values import ActorKind, Channel, Role
from cms_graph.graphql.context import Info
from cms_graph.graphql.types import EventActor, PageInfo, to_global_id


@strawberry.type(description="One complaint event or access record, as the audit trail keeps it.")
class AuditEntry:
    position: int = strawberry.field(description="Place in the event log's global order.")
    recorded_at: datetime
    occurred_at: datetime
    complaint_id: strawberry.ID | None
    record_type: str = strawberry.field(
        description=(
            "An event type such as ComplaintAssigned, or PersonalDataViewed or AccessDenied."
        )
    )
    actor: EventActor
    channel: Channel | None
    client_address: str | None
    correlation_id: str | None
    operation: str | None = strawberry.field(
        description="For access records: what was read or tried."
    )
    detail: str | None = strawberry.field(description="The reason given, where there is one.")

    @classmethod
    def of(cls, entry: AuditEntryRecord) -> AuditEntry:
        return cls(
            position=entry.notification_id,
            recorded_at=entry.recorded_at,
            occurred_at=entry.occurred_at,
            complaint_id=to_global_id("Complaint", entry.complaint_id)
            if entry.complaint_id
            else None,
            record_type=entry.record_type,
            actor=EventActor(
                kind=ActorKind(entry.actor_kind),
                user_id=entry.actor_user_id,
                role=Role(entry.actor_role) if entry.actor_role else None,
                unit_id=entry.actor_unit_id,
            ),
            channel=Channel(entry.channel) if entry.channel else None,
            client_address=entry.client_address,
            correlation_id=entry.correlation_id,
            operation=entry.operation,
            detail=entry.detail,
        )


@strawberry.type
class AuditEntryEdge:
    cursor: str
    node: AuditEntry


@strawberry.type
class AuditTrailConnection:
    edges: list[AuditEntryEdge]
    page_info: PageInfo


@strawberry.type(description="A complaint's fields as they stood at one version.")
class CaseSnapshot:
    complaint_id: strawberry.ID
    tracking_number: str
    version: int
    recorded_at: datetime = strawberry.field(description="When that version was recorded.")
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

    @classmethod
    def of(cls, snapshot: history.CaseSnapshot) -> CaseSnapshot:
        values = {name: getattr(snapshot, name) for name in snapshot.__dataclass_fields__}
        values["complaint_id"] = to_global_id("Complaint", snapshot.complaint_id)
        return cls(**values)


@strawberry.type
class HistoryEvent:
    version: int
    event_type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: EventActor
    channel: str
    details: JSON
    reason: str | None = strawberry.field(
        default=None, description="Why the actor acted, when the event records a reason."
    )

    @classmethod
    def of(cls, event: history.HistoryEvent) -> HistoryEvent:
        role = event.actor.get("role")
        return cls(
            version=event.version,
            event_type=event.event_type,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            actor=EventActor(
                kind=ActorKind(event.actor["kind"] or ""),
                user_id=event.actor.get("user_id"),
                role=Role(role) if role else None,
                unit_id=event.actor.get("unit_id"),
            ),
            channel=event.channel,
            reason=event.reason,
            details=cast(JSON, json.loads(event.details)),
        )


@strawberry.type
class FieldChange:
    field: str
    before: str | None
    after: str | None


@strawberry.type(description="A complaint exactly as it stood then, with the events up to then.")
class CaseHistory:
    complaint: CaseSnapshot
    events: list[HistoryEvent]
    complaint_key: strawberry.Private[UUID]
    snapshot: strawberry.Private[history.CaseSnapshot]

    @strawberry.field(description="What changed between an earlier point and this one.")
    async def changes_since(
        self, info: Info, as_of: datetime | None = None, version: int | None = None
    ) -> list[FieldChange]:
        service = info.context.container.case_history
        principal = info.context.principal
        earlier = await run_in_threadpool(
            lambda: service.at(principal, self.complaint_key, as_of=as_of, version=version)
        )
        return [
            FieldChange(field=c.field, before=c.before, after=c.after)
            for c in history.differences(earlier.snapshot, self.snapshot)
        ]

    @classmethod
    def of(cls, case: history.CaseAt) -> CaseHistory:
        return cls(
            complaint=CaseSnapshot.of(case.snapshot),
            events=[HistoryEvent.of(event) for event in case.events],
            complaint_key=case.snapshot.complaint_id,
            snapshot=case.snapshot,
        )
