"""Read operations. Every resolver reads projections through ``ComplaintQueries``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from starlette.concurrency import run_in_threadpool

from cms_graph.application.audit_queries import AuditFilter
from cms_graph.application.escalation_queries import EscalationFilter
from cms_graph.application.queries import ComplaintFilter, encode_cursor
from cms_graph.domain.errors import InvalidInput
from cms_graph.graphql import fir, inputs
from cms_graph.graphql.audit_types import (
    AuditEntry,
    AuditEntryEdge,
    AuditTrailConnection,
    CaseHistory,
)
from cms_graph.graphql.context import Info
from cms_graph.graphql.notification_types import NotificationQueries
from cms_graph.graphql.selection import selects
from cms_graph.graphql.types import (
    Complaint,
    ComplaintConnection,
    ComplaintEdge,
    Escalation,
    EscalationConnection,
    EscalationEdge,
    Node,
    PageInfo,
    PublicComplaintStatus,
    from_global_id,
    public_status,
)
from cms_graph.graphql.webhooks import WebhookQueries


def _filter(value: inputs.ComplaintFilter | None) -> ComplaintFilter:
    if value is None:
        return ComplaintFilter()
    return ComplaintFilter(
        statuses=tuple(status.value for status in value.status or ()),
        categories=tuple(category.value for category in value.category or ()),
        channels=tuple(channel.value for channel in value.channel or ()),
        district_id=str(value.district_id) if value.district_id else None,
        unit_id=str(value.unit_id) if value.unit_id else None,
        overdue=value.overdue,
        escalation_level=value.escalation_level,
        lodged_after=value.lodged_after,
        lodged_before=value.lodged_before,
    )


def _escalation_filter(value: inputs.EscalationFilter | None) -> EscalationFilter:
    if value is None:
        return EscalationFilter()
    complaint_id = None
    if value.complaint_id is not None:
        type_name, complaint_id = from_global_id(value.complaint_id, "complaintId")
        if type_name != "Complaint":
            raise InvalidInput("complaintId names no complaint", field=("complaintId",))
    return EscalationFilter(
        complaint_id=complaint_id,
        unit_id=str(value.unit_id) if value.unit_id else None,
        deadlines=tuple(step.value for step in value.deadline or ()),
        automatic=value.automatic,
        occurred_after=value.occurred_after,
        occurred_before=value.occurred_before,
    )


@strawberry.type
class Query(NotificationQueries, WebhookQueries):
    @strawberry.field(
        description=(
            "One complaint by global id, tracking number or legacy reference, if visible to you."
        )
    )
    async def complaint(
        self,
        info: Info,
        id: strawberry.ID | None = None,
        tracking_number: str | None = None,
        legacy_reference: Annotated[
            str | None,
            strawberry.argument(
                description="An imported complaint's source and legacy id: 'copa:2019-0000001'."
            ),
        ] = None,
    ) -> Complaint | None:
        principal = info.context.principal
        queries = info.context.container.queries
        lookups = [value for value in (id, tracking_number, legacy_reference) if value is not None]
        if len(lookups) != 1:
            raise InvalidInput(
                "pass exactly one of id, trackingNumber or legacyReference", field=("id",)
            )
        if id is not None:
            type_name, key = from_global_id(id)
            if type_name != "Complaint":
                return None
            record = await run_in_threadpool(queries.get, principal, key)
        elif tracking_number is not None:
            record = await run_in_threadpool(
                queries.get_by_tracking_number, principal, tracking_number
            )
        else:
            assert legacy_reference is not None
            record = await run_in_threadpool(
                queries.get_by_legacy_reference, principal, legacy_reference
            )
        return Complaint.of(record) if record else None

    @strawberry.field(description="Complaints visible to you, newest first, with keyset cursors.")
    async def complaints(
        self,
        info: Info,
        filter: inputs.ComplaintFilter | None = None,
        first: Annotated[int | None, strawberry.argument(description="At most 100.")] = None,
        after: str | None = None,
        last: Annotated[int | None, strawberry.argument(description="At most 100.")] = None,
        before: str | None = None,
    ) -> ComplaintConnection:
        principal = info.context.principal
        queries = info.context.container.queries
        count_total = selects(info, "totalCount")
        page = await run_in_threadpool(
            lambda: queries.page(
                principal,
                _filter(filter),
                first=first,
                after=after,
                last=last,
                before=before,
                count_total=count_total,
            )
        )
        records = page.records
        # PageInfo needs only the first and last cursor, and each edge encodes its own
        # cursor only when the query selects it.
        end_cursors = [encode_cursor(records[0]), encode_cursor(records[-1])] if records else []
        return ComplaintConnection(
            edges=[ComplaintEdge(node=Complaint.of(record)) for record in records],
            page_info=PageInfo.of(
                end_cursors,
                has_next=page.has_next_page,
                has_previous=page.has_previous_page,
            ),
            total=page.total_count,
        )

    @strawberry.field(description="Escalations visible to you, newest first.")
    async def escalations(
        self,
        info: Info,
        filter: inputs.EscalationFilter | None = None,
        first: Annotated[int | None, strawberry.argument(description="At most 100.")] = None,
        after: str | None = None,
    ) -> EscalationConnection:
        principal = info.context.principal
        queries = info.context.container.escalation_queries
        criteria = _escalation_filter(filter)
        page = await run_in_threadpool(
            lambda: queries.page(principal, criteria, first=first, after=after)
        )
        edges = [EscalationEdge(cursor=r.cursor(), node=Escalation.of(r)) for r in page.records]
        return EscalationConnection(
            edges=edges,
            page_info=PageInfo.of(
                [edge.cursor for edge in edges],
                has_next=page.has_next_page,
                has_previous=after is not None,
            ),
            total_count=page.total_count,
        )

    @strawberry.field(description="The audit trail, oldest first; integrity unit only.")
    async def audit_trail(
        self,
        info: Info,
        filter: inputs.AuditTrailFilter | None = None,
        first: Annotated[int | None, strawberry.argument(description="At most 100.")] = None,
        after: str | None = None,
    ) -> AuditTrailConnection:
        principal = info.context.principal
        queries = info.context.container.audit_queries
        criteria = AuditFilter()
        if filter is not None:
            complaint_id = None
            if filter.complaint_id is not None:
                complaint_id = from_global_id(filter.complaint_id, "complaintId")[1]
            criteria = AuditFilter(
                actor_id=filter.actor_id,
                complaint_id=complaint_id,
                record_types=tuple(filter.record_type or ()),
                recorded_after=filter.recorded_after,
                recorded_before=filter.recorded_before,
            )
        page = await run_in_threadpool(
            lambda: queries.page(principal, criteria, first=first, after=after)
        )
        edges = [AuditEntryEdge(cursor=e.cursor(), node=AuditEntry.of(e)) for e in page.entries]
        return AuditTrailConnection(
            edges=edges,
            page_info=PageInfo.of(
                [edge.cursor for edge in edges],
                has_next=page.has_next_page,
                has_previous=after is not None,
            ),
        )

    @strawberry.field(
        description="A complaint as it stood at asOf or version (the latest when neither)."
    )
    async def case_history(
        self,
        info: Info,
        complaint_id: strawberry.ID,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> CaseHistory:
        service = info.context.container.case_history
        principal = info.context.principal
        key = from_global_id(complaint_id, "complaintId")[1]
        case = await run_in_threadpool(
            lambda: service.at(principal, key, as_of=as_of, version=version)
        )
        return CaseHistory.of(case)

    @strawberry.field(
        description="A complainant's view of their complaint; needs the lodging phone."
    )
    async def track_complaint(
        self, info: Info, tracking_number: str, phone: str
    ) -> PublicComplaintStatus:
        queries = info.context.container.queries
        record = await run_in_threadpool(
            queries.track, tracking_number, phone, info.context.principal_or_anonymous
        )
        timeline = await run_in_threadpool(queries.timelines, [record.id], include_internal=False)
        return public_status(record, timeline[record.id])

    possible_duplicates = fir.possible_duplicates_field

    @strawberry.field(description="Any object by its global id, if visible to you.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, key = from_global_id(id)
        if type_name != "Complaint":
            return None
        record = await run_in_threadpool(
            info.context.container.queries.get, info.context.principal, key
        )
        return Complaint.of(record) if record else None
