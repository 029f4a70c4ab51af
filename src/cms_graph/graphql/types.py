"""GraphQL object types. Resolvers read projections through the context's queries."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, cast
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.scalars import JSON

from cms_graph.application import citizen_texts
from cms_graph.application.escalation_queries import EscalationRecord
from cms_graph.application.queries import encode_cursor
from cms_graph.application.views import ComplaintRecord, TimelineRecord
from cms_graph.domain.errors import InvalidInput
from cms_graph.domain.values import OPEN_STATUSES
from cms_graph.graphql.context import Info
from cms_graph.graphql.enums import (
    ActorKind,
    Channel,
    ComplaintCategory,
    ComplaintStatus,
    DeadlineStep,
    Language,
    Outcome,
    Rank,
    Role,
    UserErrorCode,
)


def to_global_id(type_name: str, key: UUID) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode())


def from_global_id(global_id: str, argument: str = "id") -> tuple[str, UUID]:
    """Split a global id into its type name and key; a bare UUID counts as a Complaint."""
    try:
        return "Complaint", UUID(global_id)
    except ValueError:
        pass
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, key = base64.urlsafe_b64decode(padded).decode().partition(":")
        return type_name, UUID(key)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput(
            f"{argument} {global_id[:60]!r} is not an id returned by this API",
            field=(argument,),
        ) from None


@strawberry.interface(description="An object with a global id, fetchable with node(id).")
class Node:
    id: strawberry.ID


@strawberry.type
class UserError:
    field: list[str] | None
    message: str
    code: UserErrorCode


@strawberry.type(description="Text shown to a complainant, in English and Urdu.")
class LocalizedText:
    en: str
    ur: str

    @classmethod
    def of(cls, text: citizen_texts.LocalizedText) -> LocalizedText:
        return cls(en=text.en, ur=text.ur)


@strawberry.type(description="Who performed an action.")
class EventActor:
    kind: ActorKind
    user_id: str | None
    role: Role | None
    unit_id: str | None


@strawberry.type(description="One event in a complaint's history.")
class TimelineEntry:
    version: int
    event_type: str
    occurred_at: datetime = strawberry.field(description="When the action happened.")
    recorded_at: datetime = strawberry.field(description="When the event was stored.")
    actor: EventActor
    channel: Channel
    reason: str | None
    internal: bool = strawberry.field(description="True for notes hidden from the complainant.")
    details: JSON = strawberry.field(description="The event's other fields, by name.")

    @classmethod
    def of(cls, record: TimelineRecord) -> TimelineEntry:
        return cls(
            version=record.version,
            event_type=record.event_type,
            occurred_at=record.occurred_at,
            recorded_at=record.recorded_at,
            actor=EventActor(
                kind=ActorKind(record.actor_kind),
                user_id=record.actor_user_id,
                role=Role(record.actor_role) if record.actor_role else None,
                unit_id=record.actor_unit_id,
            ),
            channel=Channel(record.channel),
            reason=record.reason,
            internal=record.internal,
            details=cast(JSON, record.details),
        )


@strawberry.type(description="The complainant's details; masked unless your role may see them.")
class ComplainantInfo:
    name: str
    cnic: str | None
    phone: str
    address: str | None
    masked: bool


def is_overdue(record: ComplaintRecord, now: datetime) -> bool:
    return (
        record.due_at is not None
        and record.due_at < now
        and record.status in {status.value for status in OPEN_STATUSES}
    )


@strawberry.type
class Complaint(Node):
    id: strawberry.ID
    tracking_number: str
    status: ComplaintStatus
    category: ComplaintCategory
    channel: Channel
    description: str
    language: Language
    district_id: str
    station_id: str | None
    unit_id: str
    assigned_officer_id: str | None
    escalation_level: int
    holder_rank: Rank = strawberry.field(description="The rung of the ladder holding it now.")
    deadline_step: DeadlineStep | None = strawberry.field(
        description="The step whose deadline dueAt is; null when nothing is pending."
    )
    incident_at: datetime | None
    lodged_at: datetime
    acknowledged_at: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    withdrawn_at: datetime | None
    outcome: Outcome | None
    feedback_satisfied: bool | None
    fir_number: str | None = strawberry.field(
        description="The number of the FIR registered in PSRMS on this complaint, if any."
    )
    fir_registered_at: datetime | None = strawberry.field(
        description="When PSRMS registered the FIR."
    )
    legacy_reference: str | None = strawberry.field(
        description=(
            "For an imported complaint, the import source and its id there, such as"
            " 'copa:2019-0000001'; null for a complaint lodged here."
        )
    )
    version: int
    record: strawberry.Private[ComplaintRecord]

    @classmethod
    def of(cls, record: ComplaintRecord) -> Complaint:
        return cls(
            id=to_global_id("Complaint", record.id),
            tracking_number=record.tracking_number,
            status=ComplaintStatus(record.status),
            category=ComplaintCategory(record.category),
            channel=Channel(record.channel),
            description=record.description,
            language=Language(record.language),
            district_id=record.district_id,
            station_id=record.station_id,
            unit_id=record.unit_id,
            assigned_officer_id=record.assigned_officer_id,
            escalation_level=record.escalation_level,
            holder_rank=Rank(record.holder_rank),
            deadline_step=DeadlineStep(record.deadline_step) if record.deadline_step else None,
            incident_at=record.incident_at,
            lodged_at=record.lodged_at,
            acknowledged_at=record.acknowledged_at,
            due_at=record.due_at,
            resolved_at=record.resolved_at,
            closed_at=record.closed_at,
            withdrawn_at=record.withdrawn_at,
            outcome=Outcome(record.outcome) if record.outcome else None,
            feedback_satisfied=record.feedback_satisfied,
            fir_number=record.fir_number,
            fir_registered_at=record.fir_registered_at,
            legacy_reference=record.legacy_reference,
            version=record.version,
            record=record,
        )

    @strawberry.field(description="True when the next deadline has passed on an open complaint.")
    def overdue(self, info: Info) -> bool:
        return is_overdue(self.record, info.context.container.clock.now())

    @strawberry.field(
        description=(
            "The complaint's events, oldest first by version, the order they were recorded."
            " An imported complaint's events keep the other system's dates in occurredAt,"
            " and its LegacyRecordImported event the time of the import."
        )
    )
    async def timeline(
        self,
        info: Info,
        include_internal: Annotated[
            bool, strawberry.argument(description="Include internal notes.")
        ] = True,
    ) -> list[TimelineEntry]:
        records = await info.context.timeline_loader(include_internal).load(self.record.id)
        return [TimelineEntry.of(record) for record in records]

    @strawberry.field(description="Null when the complainant's key was deleted.")
    async def complainant(self, info: Info) -> ComplainantInfo | None:
        principal = info.context.principal
        queries = info.context.container.queries
        details = await run_in_threadpool(
            queries.complainant, principal, self.record, "Complaint.complainant"
        )
        if details is None:
            return None
        return ComplainantInfo(
            name=details.name,
            cnic=details.cnic,
            phone=details.phone,
            address=details.address,
            masked=not queries.access.can_see_personal_data(principal),
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, cursors: list[str], *, has_next: bool, has_previous: bool) -> PageInfo:
        return cls(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )


def _edge_cursor(root: ComplaintEdge) -> str:
    return encode_cursor(root.node.record)


@strawberry.type
class ComplaintEdge:
    # Encoded only when selected, because many pages ask for pageInfo's cursors alone.
    cursor: str = strawberry.field(resolver=_edge_cursor)
    node: Complaint


@strawberry.type
class ComplaintConnection:
    edges: list[ComplaintEdge]
    page_info: PageInfo
    # None unless the query selects totalCount, because counting reads every match.
    total: strawberry.Private[int | None]

    @strawberry.field
    def total_count(self) -> int:
        if self.total is None:
            raise RuntimeError("totalCount was not counted although the query selects it")
        return self.total


@strawberry.type(description="One step of a complaint as the complainant sees it.")
class PublicTimelineEntry:
    event_type: str
    occurred_at: datetime
    text: LocalizedText


@strawberry.type(description="What a complainant may see: no officer or internal data.")
class PublicComplaintStatus:
    tracking_number: str
    status: ComplaintStatus
    status_text: LocalizedText
    category: ComplaintCategory
    language: Language
    lodged_at: datetime
    next_deadline: datetime | None
    fir_number: str | None = strawberry.field(
        description="The number of the FIR registered on the complaint, if any."
    )
    timeline: list[PublicTimelineEntry]


def public_status(record: ComplaintRecord, timeline: list[TimelineRecord]) -> PublicComplaintStatus:
    entries = [
        PublicTimelineEntry(
            event_type=entry.event_type,
            occurred_at=entry.occurred_at,
            text=LocalizedText.of(citizen_texts.EVENT_TEXTS[entry.event_type]),
        )
        for entry in timeline
        if entry.event_type in citizen_texts.PUBLIC_EVENT_TYPES
    ]
    return PublicComplaintStatus(
        tracking_number=record.tracking_number,
        status=ComplaintStatus(record.status),
        status_text=LocalizedText.of(citizen_texts.STATUS_TEXTS[record.status]),
        category=ComplaintCategory(record.category),
        language=Language(record.language),
        lodged_at=record.lodged_at,
        next_deadline=record.due_at,
        fir_number=record.fir_number,
        timeline=entries,
    )


@strawberry.type(description="One move up the ladder, automatic or by hand.")
class Escalation:
    complaint_id: strawberry.ID
    tracking_number: str
    version: int
    occurred_at: datetime
    deadline: DeadlineStep | None = strawberry.field(
        description="The deadline that passed; null for a manual escalation."
    )
    missed_due_at: datetime | None
    from_level: int
    to_level: int
    from_unit_id: str
    to_unit_id: str
    from_rank: Rank
    to_rank: Rank
    actor: EventActor
    reason: str | None

    @classmethod
    def of(cls, record: EscalationRecord) -> Escalation:
        return cls(
            complaint_id=to_global_id("Complaint", record.complaint_id),
            tracking_number=record.tracking_number,
            version=record.version,
            occurred_at=record.occurred_at,
            deadline=DeadlineStep(record.deadline_step) if record.deadline_step else None,
            missed_due_at=record.missed_due_at,
            from_level=record.from_level,
            to_level=record.to_level,
            from_unit_id=record.from_unit_id,
            to_unit_id=record.to_unit_id,
            from_rank=Rank(record.from_rank),
            to_rank=Rank(record.to_rank),
            actor=EventActor(
                kind=ActorKind(record.actor_kind),
                user_id=record.actor_user_id,
                role=None,
                unit_id=None,
            ),
            reason=record.reason,
        )


@strawberry.type
class EscalationEdge:
    cursor: str
    node: Escalation


@strawberry.type
class EscalationConnection:
    edges: list[EscalationEdge]
    page_info: PageInfo
    total_count: int
