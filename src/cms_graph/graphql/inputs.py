"""GraphQL input types, one per mutation plus the complaint filter."""

from __future__ import annotations

from datetime import datetime

import strawberry

from cms_graph.graphql.enums import (
    Channel,
    ComplaintCategory,
    ComplaintStatus,
    DeadlineStep,
    Language,
    Outcome,
)


@strawberry.input
class ComplainantInput:
    name: str
    phone: str = strawberry.field(description="Pakistani mobile: 03XX-XXXXXXX or +92 3XX XXXXXXX.")
    cnic: str | None = strawberry.field(default=None, description="#####-#######-#")
    address: str | None = None


@strawberry.input
class LodgeComplaintInput:
    channel: Channel
    category: ComplaintCategory
    description: str
    district_id: strawberry.ID
    complainant: ComplainantInput
    station_id: strawberry.ID | None = None
    incident_at: datetime | None = None
    language: Language = Language.UR


@strawberry.input
class AcknowledgeComplaintInput:
    complaint_id: strawberry.ID
    note: str | None = None


@strawberry.input
class AssignComplaintInput:
    complaint_id: strawberry.ID
    officer_id: strawberry.ID
    unit_id: strawberry.ID
    reason: str | None = None


@strawberry.input
class AddNoteInput:
    complaint_id: strawberry.ID
    text: str
    internal: bool = True


@strawberry.input
class EscalateComplaintInput:
    complaint_id: strawberry.ID
    reason: str


@strawberry.input
class ResolveComplaintInput:
    complaint_id: strawberry.ID
    outcome: Outcome
    summary: str


@strawberry.input
class RecordFeedbackInput:
    tracking_number: str
    phone: str
    satisfied: bool
    comment: str | None = None


@strawberry.input(
    description="Staff pass complaintId; a complainant passes trackingNumber and phone."
)
class ReopenComplaintInput:
    reason: str
    complaint_id: strawberry.ID | None = None
    tracking_number: str | None = None
    phone: str | None = None


@strawberry.input
class CloseComplaintInput:
    complaint_id: strawberry.ID
    reason: str | None = None


@strawberry.input
class WithdrawComplaintInput:
    tracking_number: str
    phone: str
    reason: str | None = None


@strawberry.input
class ComplaintFilter:
    status: list[ComplaintStatus] | None = None
    category: list[ComplaintCategory] | None = None
    channel: list[Channel] | None = None
    district_id: strawberry.ID | None = None
    unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="The unit and every unit below it."
    )
    overdue: bool | None = None
    escalation_level: int | None = None
    lodged_after: datetime | None = None
    lodged_before: datetime | None = None


@strawberry.input
class EscalationFilter:
    complaint_id: strawberry.ID | None = None
    unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="Escalations to this unit or any unit below it."
    )
    deadline: list[DeadlineStep] | None = None
    automatic: bool | None = strawberry.field(
        default=None, description="True for deadline escalations, false for manual ones."
    )
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None


@strawberry.input
class AuditTrailFilter:
    actor_id: str | None = None
    complaint_id: strawberry.ID | None = None
    record_type: list[str] | None = strawberry.field(
        default=None, description="Event types, or PersonalDataViewed and AccessDenied."
    )
    recorded_after: datetime | None = None
    recorded_before: datetime | None = None
