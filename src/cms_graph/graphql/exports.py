"""GraphQL for ``exportComplaints``: complaints as CSV, limited to the allowed fields."""

from __future__ import annotations

import strawberry
from starlette.concurrency import run_in_threadpool

from cms_graph.graphql import inputs
from cms_graph.graphql.context import Info
from cms_graph.graphql.queries import _filter as complaint_filter
from cms_graph.graphql.types import to_global_id


@strawberry.type(description="Complaints as CSV (RFC 4180), with a header row of the fields.")
class ComplaintExport:
    csv: str = strawberry.field(
        description="Cells that a spreadsheet would run as a formula (starting with = + - @)"
        " carry a leading apostrophe."
    )
    fields: list[str]
    row_count: int
    export_id: strawberry.ID = strawberry.field(
        description="The id of the stored ComplaintsExported record of this export."
    )


@strawberry.type
class ExportQuery:
    @strawberry.field(
        description="Export the complaints that complaints(filter) would list, as CSV. Staff"
        " may name the fields in CMS_EXPORT_FIELDS, personal ones only if their role may see"
        " personal data; an integrator only its EXPORT integration's allowed fields. Every"
        " export is recorded."
    )
    async def export_complaints(
        self,
        info: Info,
        fields: list[str],
        filter: inputs.ComplaintFilter | None = None,
    ) -> ComplaintExport:
        service = info.context.container.exports
        principal = info.context.principal
        criteria = complaint_filter(filter)
        export = await run_in_threadpool(lambda: service.export(principal, criteria, fields))
        return ComplaintExport(
            csv=export.csv,
            fields=list(export.fields),
            row_count=export.row_count,
            export_id=to_global_id("ComplaintExport", export.export_id),
        )


__all__ = ["ComplaintExport", "ExportQuery"]
