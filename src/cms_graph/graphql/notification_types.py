"""The staff view of the SMS and WhatsApp messages sent to a complainant."""

from __future__ import annotations

from datetime import datetime

import strawberry
from starlette.concurrency import run_in_threadpool

from cms_graph.application.citizen_notifications import DeliveryStatus, NotificationRecord
from cms_graph.application.notification_texts import NotificationChannel, NotificationStep
from cms_graph.graphql.context import Info
from cms_graph.graphql.enums import Language
from cms_graph.graphql.types import from_global_id, to_global_id

strawberry.enum(
    NotificationStep, description="A complaint step that the complainant receives a message about."
)
strawberry.enum(NotificationChannel)
strawberry.enum(DeliveryStatus, name="NotificationDeliveryStatus")


@strawberry.type(description="One message to the complainant; the phone number is not shown.")
class CitizenNotification:
    complaint_id: strawberry.ID
    version: int = strawberry.field(description="The complaint version of the step's event.")
    step: NotificationStep
    channel: NotificationChannel
    language: Language
    status: DeliveryStatus
    attempts: int
    created_at: datetime = strawberry.field(description="When the step's event was recorded.")
    sent_at: datetime | None
    error: str | None = strawberry.field(description="Why the last attempt failed or was skipped.")

    @classmethod
    def of(cls, record: NotificationRecord) -> CitizenNotification:
        return cls(
            complaint_id=to_global_id("Complaint", record.complaint_id),
            version=record.version,
            step=record.step,
            channel=record.channel,
            language=record.language,
            status=record.status,
            attempts=record.attempts,
            created_at=record.created_at,
            sent_at=record.sent_at,
            error=record.last_error,
        )


@strawberry.type
class NotificationQueries:
    """Root query fields of this module, mixed into ``Query``."""

    @strawberry.field(
        description="Messages sent or due to the complainant, oldest step first; empty when"
        " the complaint is not visible to you."
    )
    async def citizen_notifications(
        self, info: Info, complaint_id: strawberry.ID
    ) -> list[CitizenNotification]:
        queries = info.context.container.citizen_notification_queries
        principal = info.context.principal
        type_name, key = from_global_id(complaint_id, "complaintId")
        if type_name != "Complaint":
            return []
        records = await run_in_threadpool(queries.for_complaint, principal, key)
        return [CitizenNotification.of(record) for record in records or []]


__all__ = ["CitizenNotification", "NotificationQueries"]
