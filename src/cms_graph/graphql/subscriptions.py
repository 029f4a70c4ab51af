"""Subscriptions, served over WebSocket /graphql with the graphql-transport-ws protocol.

Every item carries ``position``, the event's place in the log. A client that reconnects
passes the last position it received as ``after`` and receives every later matching
event exactly once, first from the log and then live.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, cast

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.scalars import JSON

from cms_graph.application import field_limits
from cms_graph.application.subscriptions import (
    ComplaintChange,
    ComplaintWatch,
    StreamedEvent,
)
from cms_graph.domain.errors import InvalidInput
from cms_graph.graphql import inputs
from cms_graph.graphql.context import Info
from cms_graph.graphql.queries import _filter as complaint_filter
from cms_graph.graphql.types import (
    Complaint,
    PublicComplaintStatus,
    from_global_id,
    public_status,
    to_global_id,
)

AFTER_DESCRIPTION = (
    "Resume after this position: the last position you received. Omit it to receive"
    " only events from now on."
)


@strawberry.type(description="A change to a complaint: the event and the complaint after it.")
class ComplaintUpdate:
    position: int = strawberry.field(
        description="The event's position in the event log; pass it as after to resume."
    )
    event_type: str
    occurred_at: datetime
    complaint: Complaint | None = strawberry.field(
        description="The complaint as it is when the item is sent (at least as new as the event),"
        " for staff; null for complainants."
    )
    public_status: PublicComplaintStatus | None = strawberry.field(
        description="What the complainant may see, for complainants; null for staff."
    )

    @classmethod
    def of(cls, change: ComplaintChange) -> ComplaintUpdate:
        item = change.item
        staff = change.public_timeline is None
        return cls(
            position=item.position,
            event_type=item.event_type,
            occurred_at=item.occurred_at,
            complaint=Complaint.of(change.record) if staff else None,
            public_status=(
                None
                if change.public_timeline is None
                else public_status(change.record, change.public_timeline)
            ),
        )


@strawberry.type(description="A complaint event with the complaint fields you may receive.")
class ComplaintEvent:
    position: int = strawberry.field(
        description="The event's position in the event log; pass it as after to resume."
    )
    complaint_id: strawberry.ID
    event_type: str
    occurred_at: datetime
    version: int = strawberry.field(description="The complaint's version after this event.")
    fields: JSON = strawberry.field(
        description="The complaint's fields that your integration allows, by name."
    )

    @classmethod
    def of(cls, streamed: StreamedEvent) -> ComplaintEvent:
        item = streamed.item
        fields = {
            name: value
            for name, value in streamed.fields.items()
            if name not in field_limits.ENVELOPE_FIELDS
        }
        return cls(
            position=item.position,
            complaint_id=to_global_id("Complaint", item.complaint_id),
            event_type=item.event_type,
            occurred_at=item.occurred_at,
            version=item.version,
            fields=cast(JSON, fields),
        )


def _check_after(after: int | None) -> None:
    if after is not None and after < 0:
        raise InvalidInput(f"after must be 0 or more, got {after}", field=("after",))


async def _watch(
    info: Info,
    complaint_id: strawberry.ID | None,
    tracking_number: str | None,
    phone: str | None,
) -> ComplaintWatch:
    subscriptions = info.context.container.subscriptions
    if complaint_id is not None:
        if tracking_number is not None or phone is not None:
            raise InvalidInput(
                "pass complaintId, or trackingNumber with phone, not both",
                field=("complaintId",),
            )
        type_name, key = from_global_id(complaint_id, "complaintId")
        if type_name != "Complaint":
            raise InvalidInput("complaintId names no complaint", field=("complaintId",))
        principal = info.context.principal
        return await run_in_threadpool(subscriptions.watch_as_staff, principal, key)
    if tracking_number is None or phone is None:
        missing = "phone" if tracking_number is not None else "trackingNumber"
        raise InvalidInput(
            "pass complaintId (staff), or trackingNumber with phone (the complainant)",
            field=(missing,),
        )
    principal = info.context.principal_or_anonymous
    return await run_in_threadpool(
        subscriptions.watch_as_complainant, principal, tracking_number, phone
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Each change to one complaint. Staff pass complaintId; the complainant"
        " passes trackingNumber and phone and receives the public view."
    )
    async def complaint_updated(
        self,
        info: Info,
        complaint_id: strawberry.ID | None = None,
        tracking_number: str | None = None,
        phone: str | None = None,
        after: Annotated[int | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
    ) -> AsyncGenerator[ComplaintUpdate, None]:
        _check_after(after)
        watch = await _watch(info, complaint_id, tracking_number, phone)
        container = info.context.container
        async for item in container.event_feed.stream(after=after, wanted=watch.wants):
            change = await run_in_threadpool(container.subscriptions.change, watch, item)
            # A WebSocket's context lives as long as the connection; drop cached timelines.
            info.context.loaders.clear()
            yield ComplaintUpdate.of(change)

    @strawberry.subscription(
        description="Every new complaint event, for integrators (limited to the fields"
        " their integration allows) and province-wide oversight roles."
    )
    async def complaint_events(
        self,
        info: Info,
        filter: inputs.ComplaintFilter | None = None,
        after: Annotated[int | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
    ) -> AsyncGenerator[ComplaintEvent, None]:
        _check_after(after)
        container = info.context.container
        stream = await run_in_threadpool(
            container.subscriptions.open_event_stream,
            info.context.principal,
            complaint_filter(filter),
        )
        async for item in container.event_feed.stream(after=after, wanted=lambda _item: True):
            streamed = await run_in_threadpool(container.subscriptions.streamed_event, stream, item)
            if streamed is not None:
                yield ComplaintEvent.of(streamed)


__all__ = ["ComplaintEvent", "ComplaintUpdate", "Subscription"]
