"""Read the escalations log, newest first, scoped like complaints."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from cms_graph.adapters.database import Database, Row, in_clause
from cms_graph.application.identity import AccessPolicy, Principal
from cms_graph.application.queries import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, subtree_condition
from cms_graph.domain.errors import InvalidInput


@dataclass(frozen=True)
class EscalationFilter:
    complaint_id: UUID | None = None
    unit_id: str | None = None
    deadlines: tuple[str, ...] = ()
    automatic: bool | None = None
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None


@dataclass(frozen=True)
class EscalationRecord:
    complaint_id: UUID
    version: int
    tracking_number: str
    occurred_at: datetime
    deadline_step: str | None
    missed_due_at: datetime | None
    from_level: int
    to_level: int
    from_unit_id: str
    to_unit_id: str
    from_rank: str
    to_rank: str
    actor_kind: str
    actor_user_id: str | None
    reason: str | None

    @classmethod
    def from_row(cls, row: Row) -> EscalationRecord:
        values = {name: row[name] for name in cls.__dataclass_fields__}
        values["complaint_id"] = UUID(str(row["complaint_id"]))
        return cls(**values)

    def cursor(self) -> str:
        raw = json.dumps([self.occurred_at.isoformat(), str(self.complaint_id), self.version])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@dataclass(frozen=True)
class EscalationPage:
    records: list[EscalationRecord]
    has_next_page: bool
    total_count: int


def _decode(cursor: str) -> tuple[datetime, str, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        occurred_at, complaint_id, version = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(occurred_at), str(UUID(complaint_id)), int(version)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput(
            f"after is not a cursor returned by this API: {cursor[:40]!r}", field=("after",)
        ) from None


class EscalationQueries:
    def __init__(self, database: Database, access: AccessPolicy) -> None:
        self.database = database
        self.access = access

    def page(
        self,
        principal: Principal,
        filter: EscalationFilter,
        *,
        first: int | None = None,
        after: str | None = None,
    ) -> EscalationPage:
        size = DEFAULT_PAGE_SIZE if first is None else first
        if not 0 <= size <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"first must be between 0 and {MAX_PAGE_SIZE}, got {size}", field=("first",)
            )
        conditions, parameters = self._conditions(principal, filter)
        with self.database.read() as cursor:
            cursor.execute(
                # The conditions are fixed strings; values travel as parameters.
                "SELECT COUNT(*) AS total FROM escalations_log WHERE "  # noqa: S608
                + " AND ".join(conditions),
                parameters,
            )
            total_row = cursor.fetchone()
            if after is not None:
                at, key, version = _decode(after)
                conditions.append(
                    "(occurred_at, complaint_id, version) < (:after_at, :after_id, :after_version)"
                )
                parameters |= {"after_at": at, "after_id": key, "after_version": version}
            cursor.execute(
                "SELECT * FROM escalations_log WHERE "  # noqa: S608  # fixed condition strings
                + " AND ".join(conditions)
                + " ORDER BY occurred_at DESC, complaint_id DESC, version DESC LIMIT :limit",
                parameters | {"limit": size + 1},
            )
            rows = cursor.fetchall()
        records = [EscalationRecord.from_row(row) for row in rows[:size]]
        total = int(total_row["total"]) if total_row else 0
        return EscalationPage(records, len(rows) > size, total)

    def _conditions(
        self, principal: Principal, filter: EscalationFilter
    ) -> tuple[list[str], dict[str, Any]]:
        conditions = ["1 = 1"]
        parameters: dict[str, Any] = {}
        scope = self.access.scope_path(principal)
        if scope is not None:
            conditions.append(subtree_condition("scope", scope, parameters, "to_unit_path"))
        if filter.unit_id is not None:
            path = self.access.units.path(filter.unit_id)
            conditions.append(subtree_condition("unit", path, parameters, "to_unit_path"))
        if filter.complaint_id is not None:
            conditions.append("complaint_id = :complaint_id")
            parameters["complaint_id"] = str(filter.complaint_id)
        if filter.deadlines:
            conditions.append(
                "deadline_step IN " + in_clause("deadline", filter.deadlines, parameters)
            )
        if filter.automatic is True:
            conditions.append("actor_kind = 'SYSTEM'")
        elif filter.automatic is False:
            conditions.append("actor_kind <> 'SYSTEM'")
        if filter.occurred_after is not None:
            conditions.append("occurred_at >= :occurred_after")
            parameters["occurred_after"] = filter.occurred_after
        if filter.occurred_before is not None:
            conditions.append("occurred_at < :occurred_before")
            parameters["occurred_before"] = filter.occurred_before
        return conditions, parameters


__all__ = ["EscalationFilter", "EscalationPage", "EscalationQueries", "EscalationRecord"]
