"""Check one row of a legacy CSV file against the import mapping and the unit hierarchy.

``RecordReader.read`` returns a ``LegacyRecord`` with every value converted (dates to UTC,
categories, outcome, unit), or raises ``RowRejected`` with the first problem found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from cms_graph.adapters.import_mapping import ImportMapping
from cms_graph.adapters.legacy_files import LegacyRow
from cms_graph.domain.units import Unit, UnitHierarchy, UnitLevel
from cms_graph.domain.values import ComplaintCategory, Outcome


class RejectReason(StrEnum):
    """Reason a legacy row was not imported, as written to the rejects file."""

    INVALID_ROW = "invalid_row"
    MISSING_ID = "missing_id"
    DUPLICATE_ID = "duplicate_id"
    UNKNOWN_STATUS = "unknown_status"
    UNKNOWN_CATEGORY = "unknown_category"
    UNKNOWN_UNIT = "unknown_unit"
    INVALID_DATE = "invalid_date"
    FUTURE_DATE = "future_date"
    INCONSISTENT_STATUS = "inconsistent_status"
    CLOSED_BEFORE_LODGED = "closed_before_lodged"
    ASSIGNED_BEFORE_LODGED = "assigned_before_lodged"
    ASSIGNED_AFTER_CLOSED = "assigned_after_closed"
    DOMAIN_ERROR = "domain_error"


class RowRejected(Exception):
    """Raised when a legacy row cannot be imported; ``detail`` names the column and value."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class LegacyRecord:
    """A checked legacy row. Times are UTC; ``assigned_at`` is sorted, oldest first.

    ``unit`` is the district or circle the complaint is marked to. A row mapped to a
    police station is marked to the station's circle and keeps the station in
    ``station_id``, as lodging at a station does.
    """

    row: int
    legacy_id: str
    category: ComplaintCategory
    unit: Unit
    district: Unit
    station_id: str | None
    lodged_at: datetime
    assigned_at: tuple[datetime, ...]
    closed_at: datetime | None
    outcome: Outcome | None
    description: str
    summary: str


class RecordReader:
    def __init__(self, mapping: ImportMapping, units: UnitHierarchy) -> None:
        self.mapping = mapping
        self.columns = mapping.columns
        self.units = units

    def legacy_id(self, row: LegacyRow) -> str:
        return row.values.get(self.columns.id, "")

    def read(self, row: LegacyRow, now: datetime) -> LegacyRecord:
        """Check ``row`` and return its record; ``now`` is the import time.

        Raises RowRejected for a malformed row or an empty id. It also rejects a status,
        category or unit code that the mapping does not map, an unreadable or future
        date, and a status that contradicts the closed date. The last checks are the
        order of dates: no closure before lodging, and no assignment before lodging or
        after closure.
        """
        if row.problem is not None:
            raise RowRejected(RejectReason.INVALID_ROW, row.problem)
        legacy_id = self.legacy_id(row)
        if not legacy_id:
            raise RowRejected(RejectReason.MISSING_ID, f"column {self.columns.id} is empty")

        closed, outcome = self._status(row)
        category = self._category(row)
        unit, district, station_id = self._unit(row)
        lodged_at = self._date(row, self.columns.lodged, now)
        assigned_at = self._assignments(row, now)
        closed_at = self._closed_at(row, closed, now)

        if closed_at is not None and closed_at < lodged_at:
            raise RowRejected(
                RejectReason.CLOSED_BEFORE_LODGED,
                f"{self.columns.closed} {self._raw(row, self.columns.closed)} is before "
                f"{self.columns.lodged} {self._raw(row, self.columns.lodged)}",
            )
        self._check_assignment_order(row, assigned_at, lodged_at, closed_at)

        return LegacyRecord(
            row=row.number,
            legacy_id=legacy_id,
            category=category,
            unit=unit,
            district=district,
            station_id=station_id,
            lodged_at=lodged_at,
            assigned_at=tuple(at for at, _ in assigned_at),
            closed_at=closed_at,
            outcome=outcome,
            description=self.mapping.description_template.format_map(row.values),
            summary=self.mapping.summary_template.format_map(row.values),
        )

    def _raw(self, row: LegacyRow, column: str | None) -> str:
        return row.values.get(column, "") if column is not None else ""

    def _status(self, row: LegacyRow) -> tuple[bool, Outcome | None]:
        value = self._raw(row, self.columns.status)
        rule = self.mapping.statuses.get(value)
        if rule is None:
            raise RowRejected(
                RejectReason.UNKNOWN_STATUS,
                f"{self.columns.status} {value!r} is not in [statuses] of the mapping",
            )
        return rule.closed, rule.outcome

    def _category(self, row: LegacyRow) -> ComplaintCategory:
        value = self._raw(row, self.columns.category)
        category = self.mapping.category_for(value)
        if category is not None:
            return category
        if not value:
            detail = (
                f"{self.columns.category} is empty and the mapping sets no categories.when_empty"
            )
        else:
            detail = (
                f"{self.columns.category} {value!r} is not in [categories.values] of the mapping"
            )
        raise RowRejected(RejectReason.UNKNOWN_CATEGORY, detail)

    def _unit(self, row: LegacyRow) -> tuple[Unit, Unit, str | None]:
        """Return the unit the complaint is marked to, its district and the station, if any."""
        value = self._raw(row, self.columns.unit)
        unit_id = self.mapping.unit_id_for(value)
        if unit_id is None:
            if not value:
                detail = f"{self.columns.unit} is empty and the mapping sets no units.when_empty"
            else:
                detail = (
                    f"{self.columns.unit} {value!r} matches no entry of [units.values] or "
                    "[units.ranges] in the mapping"
                )
            raise RowRejected(RejectReason.UNKNOWN_UNIT, detail)
        if unit_id not in self.units:
            raise RowRejected(
                RejectReason.UNKNOWN_UNIT,
                f"unit {unit_id!r}, mapped from {self.columns.unit} {value!r}, is not in the "
                "unit hierarchy",
            )
        unit = self.units.get(unit_id)
        if unit.level in (UnitLevel.PROVINCE, UnitLevel.REGION):
            raise RowRejected(
                RejectReason.UNKNOWN_UNIT,
                f"unit {unit_id!r}, mapped from {self.columns.unit} {value!r}, is a "
                f"{unit.level.value}; map to a district, circle or police station",
            )
        district = self.units.district_of(unit_id)
        if unit.level is UnitLevel.POLICE_STATION:
            circle = self.units.ancestor_at(unit_id, UnitLevel.CIRCLE)
            assert circle is not None  # a station is always below a circle
            return circle, district, unit_id
        return unit, district, None

    def _date(
        self, row: LegacyRow, column: str, now: datetime, text: str | None = None
    ) -> datetime:
        value = self._raw(row, column) if text is None else text
        if not value:
            raise RowRejected(RejectReason.INVALID_DATE, f"{column} is empty")
        try:
            parsed = datetime.strptime(value, self.mapping.date_format)
        except ValueError as error:
            raise RowRejected(
                RejectReason.INVALID_DATE,
                f"{column} {value!r} is not a valid date in the format "
                f"{self.mapping.date_format}: {error}",
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.mapping.timezone)
        at = parsed.astimezone(UTC)
        if at > now:
            raise RowRejected(
                RejectReason.FUTURE_DATE,
                f"{column} {value} is later than the import time {now.isoformat()}",
            )
        return at

    def _assignments(self, row: LegacyRow, now: datetime) -> list[tuple[datetime, str]]:
        """Return each assignment time with its text, oldest first; empty parts are skipped."""
        column = self.columns.assignments
        if column is None:
            return []
        parts = self._raw(row, column).split(self.mapping.assignment_separator)
        dates = [
            (self._date(row, column, now, part.strip()), part.strip())
            for part in parts
            if part.strip()
        ]
        return sorted(dates, key=lambda date: date[0])

    def _closed_at(self, row: LegacyRow, closed: bool, now: datetime) -> datetime | None:
        column = self.columns.closed
        value = self._raw(row, column)
        status = f"{self.columns.status} {self._raw(row, self.columns.status)!r}"
        if closed and not value:
            raise RowRejected(
                RejectReason.INCONSISTENT_STATUS,
                f"{status} means closed, but {column or 'the closed date column'} is empty",
            )
        if not closed and value:
            raise RowRejected(
                RejectReason.INCONSISTENT_STATUS, f"{status} means open, but {column} is {value}"
            )
        if column is None or not value:
            return None
        return self._date(row, column, now)

    def _check_assignment_order(
        self,
        row: LegacyRow,
        assigned_at: list[tuple[datetime, str]],
        lodged_at: datetime,
        closed_at: datetime | None,
    ) -> None:
        if not assigned_at:
            return
        column = self.columns.assignments
        first_at, first_text = assigned_at[0]
        if first_at < lodged_at:
            raise RowRejected(
                RejectReason.ASSIGNED_BEFORE_LODGED,
                f"{column} has {first_text}, before {self.columns.lodged} "
                f"{self._raw(row, self.columns.lodged)}",
            )
        last_at, last_text = assigned_at[-1]
        if closed_at is not None and last_at > closed_at:
            raise RowRejected(
                RejectReason.ASSIGNED_AFTER_CLOSED,
                f"{column} has {last_text}, after {self.columns.closed} "
                f"{self._raw(row, self.columns.closed)}; a closed complaint cannot be assigned",
            )


__all__ = ["LegacyRecord", "RecordReader", "RejectReason", "RowRejected"]
