"""GraphQL for webhook deliveries: the ``webhookDeliveries`` query and the
``replayWebhookDelivery`` mutation. The root ``Query`` and ``Mutation`` inherit these."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool

from cms_graph.application import webhook_admin
from cms_graph.application.webhook_delivery import DeliveryStatus
from cms_graph.domain.errors import DomainError, InvalidInput, Unauthenticated
from cms_graph.graphql.context import Info
from cms_graph.graphql.enums import UserErrorCode
from cms_graph.graphql.integrations import integration_key
from cms_graph.graphql.types import PageInfo, UserError, to_global_id

# Registers the application's enum in place, as enums.py does for the domain's.
strawberry.enum(
    DeliveryStatus,
    name="WebhookDeliveryStatus",
    description=(
        "PENDING: waiting to be sent or retried. DELIVERED: the receiver answered 2xx."
        " FAILED: retries ran out or the receiver rejected it; replayWebhookDelivery sends"
        " it again. CANCELLED: the integration was revoked before it was sent."
    ),
)


@strawberry.type(description="One complaint event queued for one webhook integration.")
class WebhookDelivery:
    id: strawberry.ID
    integration_id: strawberry.ID = strawberry.field(
        description="The integration's global id, as the integrations query returns it."
    )
    complaint_id: strawberry.ID
    position: int = strawberry.field(
        description="The event's place in the event log. The receiver's Idempotency-Key is"
        " the integration's UUID and this position, joined by a colon."
    )
    event_type: str
    status: DeliveryStatus
    attempts: int = strawberry.field(description="Attempts since it was queued or replayed.")
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed: the HTTP status line or the transport error."
    )
    last_http_status: int | None
    created_at: datetime = strawberry.field(description="When the event was recorded.")
    next_attempt_at: datetime | None = strawberry.field(
        description="Latest time the next retry is expected; null unless PENDING."
    )
    last_attempt_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def of(cls, record: webhook_admin.DeliveryRecord) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(str(record.delivery_id)),
            integration_id=to_global_id("Integration", record.integration_id),
            complaint_id=to_global_id("Complaint", record.complaint_id),
            position=record.position,
            event_type=record.event_type,
            status=record.status,
            attempts=record.attempts,
            last_error=record.last_error,
            last_http_status=record.last_http_status,
            created_at=record.created_at,
            next_attempt_at=record.next_attempt_at,
            last_attempt_at=record.last_attempt_at,
            delivered_at=record.delivered_at,
        )


@strawberry.type
class WebhookDeliveryEdge:
    cursor: str
    node: WebhookDelivery


@strawberry.type
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo
    total_count: int


@strawberry.input
class ReplayWebhookDeliveryInput:
    delivery_id: strawberry.ID


@strawberry.type
class ReplayWebhookDeliveryPayload:
    delivery: WebhookDelivery | None = strawberry.field(
        description="The delivery, PENDING again; null when it was not replayed."
    )
    user_errors: list[UserError]


def _uuid(value: str, field: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInput(
            f"{field} {value[:60]!r} is not a webhook id returned by this API", field=(field,)
        ) from None


@strawberry.type
class WebhookQueries:
    @strawberry.field(
        description="Webhook deliveries, newest event first; ADMIN, ADDL_IGP, IGP and"
        " INTEGRITY_UNIT only. Payloads are not shown."
    )
    async def webhook_deliveries(
        self,
        info: Info,
        integration_id: strawberry.ID | None = None,
        status: list[DeliveryStatus] | None = None,
        first: Annotated[int | None, strawberry.argument(description="At most 100.")] = None,
        after: str | None = None,
    ) -> WebhookDeliveryConnection:
        principal = info.context.principal
        admin = info.context.container.webhook_admin
        criteria = webhook_admin.DeliveryFilter(
            integration_id=integration_key(integration_id) if integration_id else None,
            statuses=tuple(DeliveryStatus(value) for value in status or ()),
        )
        page = await run_in_threadpool(
            lambda: admin.page(principal, criteria, first=first, after=after)
        )
        edges = [
            WebhookDeliveryEdge(cursor=record.cursor(), node=WebhookDelivery.of(record))
            for record in page.records
        ]
        return WebhookDeliveryConnection(
            edges=edges,
            page_info=PageInfo.of(
                [edge.cursor for edge in edges],
                has_next=page.has_next_page,
                has_previous=after is not None,
            ),
            total_count=page.total_count,
        )


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description="Send a FAILED webhook delivery again; ADMIN and ADDL_IGP only. The"
        " replay is recorded as a WebhookDeliveryReplayed event."
    )
    async def replay_webhook_delivery(
        self, info: Info, input: ReplayWebhookDeliveryInput
    ) -> ReplayWebhookDeliveryPayload:
        principal = info.context.principal
        admin = info.context.container.webhook_admin
        try:
            delivery_id = _uuid(str(input.delivery_id), "deliveryId")
            record = await run_in_threadpool(lambda: admin.replay(principal, delivery_id))
        except Unauthenticated:
            raise
        except DomainError as error:
            return ReplayWebhookDeliveryPayload(
                delivery=None,
                user_errors=[
                    UserError(
                        field=["input", *error.field] if error.field else None,
                        message=error.message,
                        code=UserErrorCode(error.code),
                    )
                ],
            )
        return ReplayWebhookDeliveryPayload(delivery=WebhookDelivery.of(record), user_errors=[])


__all__ = ["WebhookDelivery", "WebhookMutations", "WebhookQueries"]
