"""Complaint exports as CSV, limited to the fields the caller may take out of the system.

Staff may export the fields in ``CMS_EXPORT_FIELDS``; personal fields among them only when
their role may see personal data. An integrator exports through its active EXPORT
integration and only that integration's allowed fields. Rows are the complaints the same
caller would see with the ``complaints`` query and the same filter. Every export is stored
as a ``ComplaintsExported`` event naming who exported which fields of which complaints.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from uuid import UUID

from cms_graph.adapters.clock import Clock
from cms_graph.adapters.event_store import ComplaintEventStore
from cms_graph.adapters.integration_store import save_aggregate
from cms_graph.adapters.vault import PersonalDataVault
from cms_graph.application.field_limits import (
    PERSONAL_FIELDS,
    complaint_fields,
    includes_personal_data,
    validate_fields,
)
from cms_graph.application.identity import AccessPolicy, Principal
from cms_graph.application.integration_directory import IntegrationDirectory, IntegrationKind
from cms_graph.application.queries import (
    MAX_PAGE_SIZE,
    ComplaintFilter,
    ComplaintQueries,
    encode_cursor,
)
from cms_graph.application.views import ComplaintRecord
from cms_graph.domain.errors import Forbidden, InvalidInput
from cms_graph.domain.export_record import ExportRecord
from cms_graph.domain.values import Role

logger = logging.getLogger(__name__)

OPERATION = "exportComplaints"
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection), so
# such cells get a leading apostrophe. Phone numbers in international form (+92…) get
# one too; spreadsheets hide it.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ComplaintExport:
    csv: str
    fields: tuple[str, ...]
    row_count: int
    export_id: UUID


def safe_cell(value: Any) -> str:
    """Return ``value`` as CSV cell text that no spreadsheet runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def filter_summary(criteria: ComplaintFilter) -> dict[str, str | list[str]]:
    """Return the filter's set values as strings, for the export record."""
    summary: dict[str, str | list[str]] = {}
    for field in fields(criteria):
        value = getattr(criteria, field.name)
        if value is None or value == ():
            continue
        if isinstance(value, tuple):
            summary[field.name] = [str(item) for item in value]
        elif isinstance(value, datetime):
            summary[field.name] = value.isoformat()
        else:
            summary[field.name] = str(value)
    return summary


class ExportService:
    def __init__(
        self,
        *,
        queries: ComplaintQueries,
        access: AccessPolicy,
        vault: PersonalDataVault,
        directory: IntegrationDirectory,
        event_store: ComplaintEventStore,
        clock: Clock,
        staff_fields: tuple[str, ...],
        max_rows: int,
        page_size: int = MAX_PAGE_SIZE,
        after_commit: Callable[[int], None] = lambda _notification_id: None,
    ) -> None:
        self.queries = queries
        self.access = access
        self.vault = vault
        self.directory = directory
        self.event_store = event_store
        self.clock = clock
        self.staff_fields = staff_fields
        self.max_rows = max_rows
        self.page_size = page_size
        self.after_commit = after_commit

    def export(
        self, principal: Principal, criteria: ComplaintFilter, requested: list[str]
    ) -> ComplaintExport:
        """Return the matching complaints as CSV with a header row of ``requested``.

        Raises InvalidInput for an unknown field or too many rows, and Forbidden for a
        field the caller may not export. Both messages name the field and the valid ones.
        """
        self.access.require_authenticated(principal, OPERATION)
        chosen = validate_fields(requested, field=("fields",))
        allowed, integration_id = self._allowed_fields(principal)
        self.check_fields_allowed(principal, chosen, allowed)

        records = list(self._records(principal, criteria))
        with_personal_data = includes_personal_data(chosen)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(chosen)
        for record in records:
            complainant = (
                self.vault.open(record.id, record.complainant_sealed)
                if with_personal_data
                else None
            )
            values = complaint_fields(record, complainant)
            writer.writerow([safe_cell(values.get(name)) for name in chosen])

        # The export is stored before the CSV is handed out, so none leaves unrecorded.
        export = ExportRecord.exported(
            actor=principal.as_actor(),
            at=self.clock.now(),
            filter=filter_summary(criteria),
            fields=list(chosen),
            complaint_ids=[record.id for record in records],
            integration_id=integration_id,
        )
        self.after_commit(save_aggregate(self.event_store, export))
        logger.info(
            "export %s by %s: %d rows, %d fields%s",
            export.id,
            principal.user_id,
            len(records),
            len(chosen),
            ", with personal data" if with_personal_data else "",
        )
        return ComplaintExport(buffer.getvalue(), chosen, len(records), export.id)

    def _allowed_fields(self, principal: Principal) -> tuple[tuple[str, ...], UUID | None]:
        """Return the fields the caller may export and the integration it exports through."""
        if principal.role is not Role.INTEGRATOR:
            if self.access.can_see_personal_data(principal):
                return self.staff_fields, None
            allowed = tuple(name for name in self.staff_fields if name not in PERSONAL_FIELDS)
            return allowed, None

        assert principal.user_id is not None
        integration = self.directory.active_for_principal(principal.user_id)
        if integration is None or integration.kind is not IntegrationKind.EXPORT:
            error = Forbidden(
                f"integrator {principal.user_id} has no active EXPORT integration; an export"
                " needs one approved by two administrators"
            )
            self.access.deny(principal, None, OPERATION, error.message)
            raise error
        return integration.allowed_fields, integration.id

    def check_fields_allowed(
        self, principal: Principal, chosen: tuple[str, ...], allowed: tuple[str, ...]
    ) -> None:
        refused = [name for name in chosen if name not in allowed]
        if not refused:
            return
        listed = ", ".join(allowed) or "none"
        name = refused[0]
        is_staff = principal.role is not Role.INTEGRATOR
        if is_staff and name in PERSONAL_FIELDS and name in self.staff_fields:
            reason = f"role {principal.role} may not export personal data such as {name!r}"
        else:
            reason = f"{name!r} is not allowed in exports"
        error = Forbidden(f"fields: {reason}; allowed fields are {listed}", field=("fields",))
        self.access.deny(principal, None, OPERATION, error.message)
        raise error

    def _records(
        self, principal: Principal, criteria: ComplaintFilter
    ) -> Iterator[ComplaintRecord]:
        """Yield every complaint the ``complaints`` query would list, newest first."""
        after: str | None = None
        first_page = True
        while True:
            page = self.queries.page(
                principal,
                criteria,
                first=self.page_size,
                after=after,
                for_integration=principal.role is Role.INTEGRATOR,
                count_total=first_page,
            )
            if page.total_count is not None and page.total_count > self.max_rows:
                raise InvalidInput(
                    f"the filter matches {page.total_count} complaints, but an export may"
                    f" contain at most {self.max_rows} (CMS_EXPORT_MAX_ROWS): narrow the"
                    " filter, for example with lodgedAfter and lodgedBefore",
                    field=("filter",),
                )
            first_page = False
            yield from page.records
            if not page.has_next_page or not page.records:
                return
            after = encode_cursor(page.records[-1])


__all__ = ["ComplaintExport", "ExportService", "filter_summary", "safe_cell"]
