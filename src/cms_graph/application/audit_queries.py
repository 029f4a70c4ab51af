"""The integrity unit's reads: the audit trail, and cases as they stood at any moment."""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from uuid import UUID

from cms_graph.adapters.database import Database, Row, in_clause
from cms_graph.application.identity import AccessPolicy, Principal
from cms_graph.application.queries import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from cms_graph.domain.errors import InvalidInput
from cms_graph.domain.values import Role

AUDIT_ROLES = frozenset({Role.INTEGRITY_UNIT})


@dataclass(frozen=True)
class AuditFilter:
    actor_id: str | None = None
    complaint_id: UUID | None = None
    record_types: tuple[str, ...] = ()
    recorded_after: datetime | None = None
    recorded_before: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    notification_id: int
    recorded_at: datetime
    occurred_at: datetime
    complaint_id: UUID | None
    record_type: str
    actor_kind: str
    actor_user_id: str | None
    actor_role: str | None
    actor_unit_id: str | None
    channel: str | None
    client_address: str | None
    correlation_id: str | None
    operation: str | None
    detail: str | None

    @classmethod
    def from_row(cls, row: Row) -> AuditEntry:
        values = {name: row[name] for name in cls.__dataclass_fields__}
        if row["complaint_id"] is not None:
            values["complaint_id"] = UUID(str(row["complaint_id"]))
        return cls(**values)

    def cursor(self) -> str:
        return base64.urlsafe_b64encode(str(self.notification_id).encode()).decode()


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    has_next_page: bool


def _decode(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput(
            f"after is not a cursor returned by this API: {cursor[:40]!r}", field=("after",)
        ) from None


class AuditTrailQueries:
    """Keyset pages over the audit trail, oldest first; for the integrity unit only."""

    def __init__(self, database: Database, access: AccessPolicy) -> None:
        self.database = database
        self.access = access

    def page(
        self, principal: Principal, filter: AuditFilter, *, first: int | None, after: str | None
    ) -> AuditPage:
        self.access.require_role(principal, AUDIT_ROLES, "read the audit trail")
        size = DEFAULT_PAGE_SIZE if first is None else first
        if not 0 <= size <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"first must be between 0 and {MAX_PAGE_SIZE}, got {size}", field=("first",)
            )
        start = _decode(after) if after else 0
        rows = self._select(filter, start, size + 1)
        entries = [AuditEntry.from_row(row) for row in rows[:size]]
        return AuditPage(entries, len(rows) > size)

    def export_csv(self, principal: Principal, filter: AuditFilter) -> Iterator[str]:
        """Yield the whole filtered trail as CSV text, header first, in pages."""
        self.access.require_role(principal, AUDIT_ROLES, "export the audit trail")
        names = [field.name for field in fields(AuditEntry)]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(names)
        start = 0
        while True:
            rows = self._select(filter, start, 1000)
            for row in rows:
                entry = AuditEntry.from_row(row)
                writer.writerow([_cell(getattr(entry, name)) for name in names])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(rows) < 1000:
                return
            start = int(rows[-1]["notification_id"])

    def _select(self, filter: AuditFilter, start: int, limit: int) -> list[Row]:
        conditions = ["notification_id > :start"]
        parameters: dict[str, Any] = {"start": start, "limit": limit}
        if filter.actor_id is not None:
            conditions.append("actor_user_id = :actor_id")
            parameters["actor_id"] = filter.actor_id
        if filter.complaint_id is not None:
            conditions.append("complaint_id = :complaint_id")
            parameters["complaint_id"] = str(filter.complaint_id)
        if filter.record_types:
            conditions.append(
                "record_type IN " + in_clause("type", filter.record_types, parameters)
            )
        if filter.recorded_after is not None:
            conditions.append("recorded_at >= :recorded_after")
            parameters["recorded_after"] = filter.recorded_after
        if filter.recorded_before is not None:
            conditions.append("recorded_at < :recorded_before")
            parameters["recorded_before"] = filter.recorded_before
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT * FROM audit_trail WHERE "  # noqa: S608  # fixed condition strings
                + " AND ".join(conditions)
                + " ORDER BY notification_id LIMIT :limit",
                parameters,
            )
            rows: list[Row] = cursor.fetchall()
        return rows


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


__all__ = ["AUDIT_ROLES", "AuditEntry", "AuditFilter", "AuditPage", "AuditTrailQueries"]
