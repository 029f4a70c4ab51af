"""Lifecycle mutations. Rule violations come back as ``userErrors``, never half-done."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool

from cms_graph.application.commands import (
    CommandResult,
    ComplainantDetails,
    ComplainantProof,
    LodgeComplaint,
)
from cms_graph.domain import values
from cms_graph.domain.errors import DomainError, InvalidInput, Unauthenticated
from cms_graph.graphql import fir, inputs
from cms_graph.graphql.context import Info
from cms_graph.graphql.enums import UserErrorCode
from cms_graph.graphql.types import (
    Complaint,
    PublicComplaintStatus,
    UserError,
    from_global_id,
    public_status,
)
from cms_graph.graphql.webhooks import WebhookMutations


@strawberry.type
class ComplaintPayload:
    complaint: Complaint | None = strawberry.field(
        description=(
            "The changed complaint; null when nothing changed, when the caller has no token,"
            " or when the change moved it out of the caller's sight (an escalation above"
            " their unit)."
        )
    )
    user_errors: list[UserError]


@strawberry.type
class CitizenComplaintPayload(ComplaintPayload):
    tracked_complaint: PublicComplaintStatus | None = strawberry.field(
        description="The complaint as its complainant sees it."
    )


@strawberry.type
class LodgeComplaintPayload(CitizenComplaintPayload):
    tracking_number: str | None


@strawberry.type
class AcknowledgeComplaintPayload(ComplaintPayload):
    pass


@strawberry.type
class AssignComplaintPayload(ComplaintPayload):
    pass


@strawberry.type
class AddNotePayload(ComplaintPayload):
    pass


@strawberry.type
class EscalateComplaintPayload(ComplaintPayload):
    pass


@strawberry.type
class ResolveComplaintPayload(ComplaintPayload):
    pass


@strawberry.type
class RecordFeedbackPayload(CitizenComplaintPayload):
    pass


@strawberry.type
class ReopenComplaintPayload(CitizenComplaintPayload):
    pass


@strawberry.type
class CloseComplaintPayload(ComplaintPayload):
    pass


@strawberry.type
class WithdrawComplaintPayload(CitizenComplaintPayload):
    pass


PayloadT = TypeVar("PayloadT", bound=ComplaintPayload)


def complaint_key(global_id: str) -> UUID:
    type_name, key = from_global_id(global_id, "complaintId")
    if type_name != "Complaint":
        raise InvalidInput(
            f"complaintId names a {type_name}, not a Complaint", field=("complaintId",)
        )
    return key


def _user_error(error: DomainError) -> UserError:
    return UserError(
        field=["input", *error.field] if error.field else None,
        message=error.message,
        code=UserErrorCode(error.code),
    )


async def _run(
    info: Info, payload: type[PayloadT], command: Callable[[], CommandResult]
) -> PayloadT:
    """Run a use case in a worker thread and build its payload.

    Raises Unauthenticated as a GraphQL error: that is about the request, not the input.
    """
    extra: dict[str, object] = {}
    if issubclass(payload, CitizenComplaintPayload):
        extra["tracked_complaint"] = None
    if issubclass(payload, LodgeComplaintPayload):
        extra["tracking_number"] = None
    try:
        result = await run_in_threadpool(command)
    except Unauthenticated:
        raise
    except DomainError as error:
        return payload(complaint=None, user_errors=[_user_error(error)], **extra)

    container = info.context.container
    principal = info.context.principal
    complaint = None
    if principal.is_authenticated:
        record = await run_in_threadpool(
            lambda: container.queries.get(principal, result.complaint_id, record_denial=False)
        )
        complaint = Complaint.of(record) if record else None
    if issubclass(payload, CitizenComplaintPayload):
        record = await run_in_threadpool(container.queries.get_record, result.complaint_id)
        timeline = await run_in_threadpool(
            container.queries.timelines, [result.complaint_id], include_internal=False
        )
        extra["tracked_complaint"] = public_status(record, timeline[result.complaint_id])
    if issubclass(payload, LodgeComplaintPayload):
        extra["tracking_number"] = result.tracking_number
    return payload(complaint=complaint, user_errors=[], **extra)


@strawberry.type
class Mutation(WebhookMutations):
    @strawberry.mutation(description="Lodge a complaint. Staff channels need a staff token.")
    async def lodge_complaint(
        self, info: Info, input: inputs.LodgeComplaintInput
    ) -> LodgeComplaintPayload:
        details = input.complainant
        command = LodgeComplaint(
            channel=values.Channel(input.channel),
            category=values.ComplaintCategory(input.category),
            description=input.description,
            district_id=str(input.district_id),
            station_id=str(input.station_id) if input.station_id else None,
            incident_at=input.incident_at,
            language=values.Language(input.language),
            complainant=ComplainantDetails(
                name=details.name, phone=details.phone, cnic=details.cnic, address=details.address
            ),
        )
        service = info.context.container.complaints
        return await _run(
            info, LodgeComplaintPayload, lambda: service.lodge(info.context.principal, command)
        )

    @strawberry.mutation(description="Record first contact with the complainant.")
    async def acknowledge_complaint(
        self, info: Info, input: inputs.AcknowledgeComplaintInput
    ) -> AcknowledgeComplaintPayload:
        service = info.context.container.complaints
        return await _run(
            info,
            AcknowledgeComplaintPayload,
            lambda: service.acknowledge(
                info.context.principal, complaint_key(input.complaint_id), input.note
            ),
        )

    @strawberry.mutation(description="Mark (or re-mark) the complaint to an officer.")
    async def assign_complaint(
        self, info: Info, input: inputs.AssignComplaintInput
    ) -> AssignComplaintPayload:
        service = info.context.container.complaints
        return await _run(
            info,
            AssignComplaintPayload,
            lambda: service.assign(
                info.context.principal,
                complaint_key(input.complaint_id),
                officer_id=str(input.officer_id),
                unit_id=str(input.unit_id),
                reason=input.reason,
            ),
        )

    @strawberry.mutation
    async def add_note(self, info: Info, input: inputs.AddNoteInput) -> AddNotePayload:
        service = info.context.container.complaints
        return await _run(
            info,
            AddNotePayload,
            lambda: service.add_note(
                info.context.principal,
                complaint_key(input.complaint_id),
                text=input.text,
                internal=input.internal,
            ),
        )

    @strawberry.mutation(description="Escalate to the next unit up, with a reason.")
    async def escalate_complaint(
        self, info: Info, input: inputs.EscalateComplaintInput
    ) -> EscalateComplaintPayload:
        service = info.context.container.complaints
        return await _run(
            info,
            EscalateComplaintPayload,
            lambda: service.escalate(
                info.context.principal, complaint_key(input.complaint_id), input.reason
            ),
        )

    @strawberry.mutation
    async def resolve_complaint(
        self, info: Info, input: inputs.ResolveComplaintInput
    ) -> ResolveComplaintPayload:
        service = info.context.container.complaints
        return await _run(
            info,
            ResolveComplaintPayload,
            lambda: service.resolve(
                info.context.principal,
                complaint_key(input.complaint_id),
                outcome=values.Outcome(input.outcome),
                summary=input.summary,
            ),
        )

    @strawberry.mutation(description="The complainant's verdict on a resolution.")
    async def record_feedback(
        self, info: Info, input: inputs.RecordFeedbackInput
    ) -> RecordFeedbackPayload:
        service = info.context.container.complaints
        proof = ComplainantProof(input.tracking_number, input.phone)
        return await _run(
            info,
            RecordFeedbackPayload,
            lambda: service.record_feedback(
                proof,
                satisfied=input.satisfied,
                comment=input.comment,
                requester=info.context.principal,
            ),
        )

    @strawberry.mutation
    async def reopen_complaint(
        self, info: Info, input: inputs.ReopenComplaintInput
    ) -> ReopenComplaintPayload:
        service = info.context.container.complaints

        def reopen() -> CommandResult:
            if input.complaint_id is not None:
                return service.reopen_as_staff(
                    info.context.principal, complaint_key(input.complaint_id), input.reason
                )
            if input.tracking_number and input.phone:
                proof = ComplainantProof(input.tracking_number, input.phone)
                return service.reopen_as_complainant(proof, input.reason, info.context.principal)
            raise InvalidInput(
                "pass complaintId, or trackingNumber and phone", field=("complaintId",)
            )

        return await _run(info, ReopenComplaintPayload, reopen)

    @strawberry.mutation
    async def close_complaint(
        self, info: Info, input: inputs.CloseComplaintInput
    ) -> CloseComplaintPayload:
        service = info.context.container.complaints
        return await _run(
            info,
            CloseComplaintPayload,
            lambda: service.close(
                info.context.principal, complaint_key(input.complaint_id), input.reason
            ),
        )

    @strawberry.mutation
    async def withdraw_complaint(
        self, info: Info, input: inputs.WithdrawComplaintInput
    ) -> WithdrawComplaintPayload:
        service = info.context.container.complaints
        proof = ComplainantProof(input.tracking_number, input.phone)
        return await _run(
            info,
            WithdrawComplaintPayload,
            lambda: service.withdraw(proof, input.reason, info.context.principal),
        )

    convert_to_fir = fir.convert_to_fir_field
