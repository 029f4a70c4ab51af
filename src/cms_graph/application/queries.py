"""Complaint queries. They read only the projections, never the event store."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from cms_graph.adapters.clock import Clock
from cms_graph.adapters.database import Database, in_clause
from cms_graph.adapters.vault import PersonalDataVault
from cms_graph.application.access_audit import AccessAudit
from cms_graph.application.identity import AccessPolicy, Principal
from cms_graph.application.views import ComplaintRecord, Page, TimelineRecord
from cms_graph.domain.errors import InvalidInput, NotFound
from cms_graph.domain.personal_data import Complainant, normalise_phone
from cms_graph.domain.tracking_number import normalise_tracking_number
from cms_graph.domain.values import OPEN_STATUSES

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True)
class ComplaintFilter:
    statuses: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    district_id: str | None = None
    unit_id: str | None = None
    overdue: bool | None = None
    escalation_level: int | None = None
    lodged_after: datetime | None = None
    lodged_before: datetime | None = None


def encode_cursor(record: ComplaintRecord) -> str:
    raw = json.dumps([record.lodged_at.isoformat(), str(record.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, argument: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        lodged_at, complaint_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(lodged_at), str(UUID(complaint_id))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput(
            f"{argument} is not a cursor returned by this API: {cursor[:40]!r}",
            field=(argument,),
        ) from None


def subtree_condition(
    name: str, path: str, parameters: dict[str, Any], column: str = "unit_path"
) -> str:
    """Match unit paths starting with ``path`` as a range, so an index serves it.

    Paths end with "/", and "0" is the next character after "/", so every path below
    ``path`` sorts between ``path`` and ``path`` with its last "/" replaced by "0". A
    range also avoids LIKE, where the "_" in unit ids would be a wildcard.
    """
    parameters[f"{name}_low"] = path
    parameters[f"{name}_high"] = path[:-1] + "0"
    return f"({column} >= :{name}_low AND {column} < :{name}_high)"


class ComplaintQueries:
    def __init__(
        self,
        database: Database,
        access: AccessPolicy,
        vault: PersonalDataVault,
        clock: Clock,
        audit: AccessAudit,
    ) -> None:
        self.database = database
        self.access = access
        self.units = access.units
        self.vault = vault
        self.clock = clock
        self.audit = audit

    def get(
        self, principal: Principal, complaint_id: UUID, *, record_denial: bool = True
    ) -> ComplaintRecord | None:
        """Return the complaint if it exists and the caller's unit may see it.

        ``record_denial=False`` is for reading back after the caller's own change, which
        may have moved the complaint out of their sight: that is not an access attempt.
        """
        record = self._select_one("complaint_id = :key", str(complaint_id))
        if not record_denial and record is not None:
            visible = self.access.can_see_complaint(
                principal, record.unit_path, record.assigned_officer_id
            )
            return record if visible else None
        return self._visible_or_denied(principal, record, "complaint")

    def get_record(self, complaint_id: UUID) -> ComplaintRecord:
        """Return the complaint without a scope check, for callers that proved ownership."""
        record = self._select_one("complaint_id = :key", str(complaint_id))
        if record is None:
            raise NotFound(f"complaint {complaint_id} not found", field=("complaintId",))
        return record

    def get_by_tracking_number(
        self, principal: Principal, tracking_number: str
    ) -> ComplaintRecord | None:
        number = normalise_tracking_number(tracking_number)
        record = self._select_one("tracking_number = :key", number)
        return self._visible_or_denied(principal, record, "complaint")

    def get_by_legacy_reference(
        self, principal: Principal, legacy_reference: str
    ) -> ComplaintRecord | None:
        record = self._select_one("legacy_reference = :key", legacy_reference.strip())
        return self._visible_or_denied(principal, record, "complaint")

    def _visible_or_denied(
        self, principal: Principal, record: ComplaintRecord | None, operation: str
    ) -> ComplaintRecord | None:
        """Return the record if the caller may see it; record the denial if not."""
        if record is None:
            return None
        if self.access.can_see_complaint(principal, record.unit_path, record.assigned_officer_id):
            return record
        self.audit.access_denied(principal, record.id, operation, "outside the caller's units")
        return None

    def track(
        self, tracking_number: str, phone: str, requester: Principal | None = None
    ) -> ComplaintRecord:
        """Return the complaint for a citizen who proves ownership with its phone number.

        A failed proof is recorded as a denied access, so guessing leaves a trace.
        """
        number = normalise_tracking_number(tracking_number)
        normalised_phone = normalise_phone(phone)
        record = self._select_one("tracking_number = :key", number)
        if record is None or not self.vault.phone_matches(
            record.id, normalised_phone, record.phone_digest
        ):
            self.audit.access_denied(
                requester or Principal.anonymous(),
                record.id if record else None,
                "trackComplaint",
                "tracking number and phone do not match",
            )
            raise NotFound(
                "no complaint matches this tracking number and phone number",
                field=("trackingNumber",),
            )
        return record

    def _select_one(self, condition: str, key: str) -> ComplaintRecord | None:
        with self.database.read() as cursor:
            cursor.execute(
                f"SELECT * FROM complaints_view WHERE {condition}",  # noqa: S608  # fixed conditions
                {"key": key},
            )
            row = cursor.fetchone()
        return ComplaintRecord.from_row(row) if row else None

    def page(
        self,
        principal: Principal,
        filter: ComplaintFilter,
        *,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        for_integration: bool = False,
        count_total: bool = True,
    ) -> Page:
        """Return one page, newest first, with keyset cursors over (lodged_at, id).

        ``for_integration`` is for exports on behalf of an approved integration, which
        limit the fields themselves. ``count_total=False`` skips the ``COUNT(*)``, which
        reads every matching row, and leaves ``total_count`` None.
        """
        if first is not None and last is not None:
            raise InvalidInput("pass first or last, not both", field=("last",))
        for name, size in (("first", first), ("last", last)):
            if size is not None and not 0 <= size <= MAX_PAGE_SIZE:
                raise InvalidInput(
                    f"{name} must be between 0 and {MAX_PAGE_SIZE}, got {size}", field=(name,)
                )
        backwards = last is not None or (before is not None and first is None)
        requested = last if backwards else first
        size = requested if requested is not None else DEFAULT_PAGE_SIZE

        conditions, parameters = self._conditions(principal, filter, for_integration)
        with self.database.read() as cursor:
            total = None
            if count_total:
                cursor.execute(
                    # The conditions are fixed strings; values travel as parameters.
                    "SELECT COUNT(*) AS total FROM complaints_view WHERE "  # noqa: S608
                    + " AND ".join(conditions),
                    parameters,
                )
                total_row = cursor.fetchone()
                total = int(total_row["total"]) if total_row else 0

            page_conditions = list(conditions)
            page_parameters = dict(parameters)
            if after is not None:
                at, key = decode_cursor(after, "after")
                page_conditions.append("(lodged_at, complaint_id) < (:after_at, :after_id)")
                page_parameters |= {"after_at": at, "after_id": key}
            if before is not None:
                at, key = decode_cursor(before, "before")
                page_conditions.append("(lodged_at, complaint_id) > (:before_at, :before_id)")
                page_parameters |= {"before_at": at, "before_id": key}
            direction = "ASC" if backwards else "DESC"
            cursor.execute(
                "SELECT * FROM complaints_view WHERE "  # noqa: S608  # conditions are fixed strings
                + " AND ".join(page_conditions)
                + f" ORDER BY lodged_at {direction}, complaint_id {direction} LIMIT :limit",
                page_parameters | {"limit": size + 1},
            )
            rows = cursor.fetchall()

        records = [ComplaintRecord.from_row(row) for row in rows[:size]]
        has_more = len(rows) > size
        if backwards:
            records.reverse()
            return Page(records, before is not None, has_more, total)
        return Page(records, has_more, after is not None, total)

    def _conditions(
        self, principal: Principal, filter: ComplaintFilter, for_integration: bool = False
    ) -> tuple[list[str], dict[str, Any]]:
        conditions = ["1 = 1"]
        parameters: dict[str, Any] = {}
        scope = self.access.scope_path(principal, for_integration=for_integration)
        if scope is not None:
            in_scope = subtree_condition("scope", scope, parameters)
            parameters["me"] = principal.user_id
            conditions.append(f"({in_scope} OR assigned_officer_id = :me)")
        if filter.unit_id is not None:
            path = self.units.path(filter.unit_id)
            conditions.append(subtree_condition("unit", path, parameters))
        if filter.district_id is not None:
            conditions.append("district_id = :district_id")
            parameters["district_id"] = filter.district_id
        for column, values in (
            ("status", filter.statuses),
            ("category", filter.categories),
            ("channel", filter.channels),
        ):
            if values:
                conditions.append(f"{column} IN " + in_clause(column, values, parameters))
        if filter.escalation_level is not None:
            conditions.append("escalation_level = :escalation_level")
            parameters["escalation_level"] = filter.escalation_level
        if filter.lodged_after is not None:
            conditions.append("lodged_at >= :lodged_after")
            parameters["lodged_after"] = filter.lodged_after
        if filter.lodged_before is not None:
            conditions.append("lodged_at < :lodged_before")
            parameters["lodged_before"] = filter.lodged_before
        if filter.overdue is not None:
            open_statuses = in_clause("open", sorted(OPEN_STATUSES), parameters)
            parameters["now"] = self.clock.now()
            overdue = f"(due_at IS NOT NULL AND due_at < :now AND status IN {open_statuses})"
            conditions.append(overdue if filter.overdue else f"NOT {overdue}")
        return conditions, parameters

    def timelines(
        self, complaint_ids: list[UUID], *, include_internal: bool
    ) -> dict[UUID, list[TimelineRecord]]:
        """Return the timelines of several complaints at once, oldest event first."""
        result: dict[UUID, list[TimelineRecord]] = {key: [] for key in complaint_ids}
        if not complaint_ids:
            return result
        parameters: dict[str, Any] = {}
        ids = in_clause("id", [str(key) for key in complaint_ids], parameters)
        internal = "" if include_internal else " AND internal = :internal"
        parameters["internal"] = False
        with self.database.read() as cursor:
            cursor.execute(
                f"SELECT * FROM complaint_timeline_view WHERE complaint_id IN {ids}{internal}"  # noqa: S608
                " ORDER BY complaint_id, version",
                parameters,
            )
            rows = cursor.fetchall()
        for row in rows:
            record = TimelineRecord.from_row(row)
            result[record.complaint_id].append(record)
        return result

    def complainant(
        self, principal: Principal, record: ComplaintRecord, operation: str = "complainant"
    ) -> Complainant | None:
        """Return the complainant's details, masked unless the caller's role may see them.

        Every unmasked read is recorded for the audit trail. Returns None when the
        per-complaint key was shredded or the complaint has no personal data.
        """
        complainant = self.vault.open(record.id, record.complainant_sealed)
        if complainant is None:
            return None
        if self.access.can_see_personal_data(principal):
            self.audit.personal_data_viewed(principal, record.id, operation)
            return complainant
        return complainant.masked()


__all__ = ["ComplaintFilter", "ComplaintQueries", "decode_cursor", "encode_cursor"]
