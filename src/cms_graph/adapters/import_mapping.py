"""Read the mapping TOML that configures how ``cms-graph import`` reads a legacy CSV file.

A mapping names the file's columns and maps its values (categories, statuses, unit
codes) to this system's. ``imports/README.md`` describes the format and
``imports/copa_cms_lifecycle.toml`` is a complete example. Errors name the file and the key.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from string import Formatter
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cms_graph.domain.values import Channel, ComplaintCategory, Language, Outcome

_TOP_LEVEL_KEYS = frozenset(
    {
        "source",
        "date_format",
        "timezone",
        "language",
        "channel",
        "description",
        "resolution_summary",
        "columns",
        "assignments",
        "categories",
        "statuses",
        "units",
    }
)
_COLUMN_KEYS = ("id", "lodged", "closed", "status", "category", "unit", "assignments")
_OPTIONAL_COLUMN_KEYS = frozenset({"closed", "assignments"})

_Enum = TypeVar("_Enum", Language, Channel, ComplaintCategory, Outcome)


class ImportMappingError(ValueError):
    """Raised when a mapping file is missing, not valid TOML or invalid.

    The message names the file and the key.
    """


@dataclass(frozen=True)
class LegacyColumns:
    """Names of the CSV columns the import reads. ``closed`` and ``assignments`` are optional."""

    id: str
    lodged: str
    status: str
    category: str
    unit: str
    closed: str | None
    assignments: str | None


@dataclass(frozen=True)
class StatusRule:
    """Meaning of a legacy status: whether the case is closed, and its outcome if so."""

    closed: bool
    outcome: Outcome | None


@dataclass(frozen=True)
class UnitRange:
    """Numeric unit codes from ``first`` to ``last`` (inclusive) that go to ``unit_id``."""

    first: int
    last: int
    unit_id: str


@dataclass(frozen=True)
class ImportMapping:
    source: str | None
    date_format: str
    timezone: tzinfo
    language: Language
    channel: Channel
    description_template: str
    summary_template: str
    columns: LegacyColumns
    assignment_separator: str
    officer_id_template: str
    acknowledge_on_first_assignment: bool
    categories: Mapping[str, ComplaintCategory]
    category_when_empty: ComplaintCategory | None
    statuses: Mapping[str, StatusRule]
    unit_values: Mapping[str, str]
    unit_ranges: tuple[UnitRange, ...]
    unit_when_empty: str | None

    def required_columns(self) -> list[str]:
        """Return every CSV column the mapping reads, including template placeholders."""
        columns = [
            self.columns.id,
            self.columns.lodged,
            self.columns.status,
            self.columns.category,
            self.columns.unit,
        ]
        for optional in (self.columns.closed, self.columns.assignments):
            if optional is not None:
                columns.append(optional)
        columns += template_fields(self.description_template)
        columns += template_fields(self.summary_template)
        return list(dict.fromkeys(columns))

    def category_for(self, value: str) -> ComplaintCategory | None:
        """Return the category for a legacy category value, or None when it is not mapped."""
        if not value:
            return self.category_when_empty
        return self.categories.get(value)

    def unit_id_for(self, value: str) -> str | None:
        """Return the unit id for a legacy unit code, or None when no rule matches.

        An exact entry of ``[units.values]`` wins. Otherwise a code that reads as a whole
        number (``713`` or ``713.0``) is looked up in ``[units.ranges]``.
        """
        if not value:
            return self.unit_when_empty
        if value in self.unit_values:
            return self.unit_values[value]
        number = _whole_number(value)
        if number is None:
            return None
        for unit_range in self.unit_ranges:
            if unit_range.first <= number <= unit_range.last:
                return unit_range.unit_id
        return None


def _whole_number(text: str) -> int | None:
    try:
        number = float(text)
    except ValueError:
        return None
    if not number.is_integer():
        return None
    return int(number)


def template_fields(template: str) -> list[str]:
    """Return the placeholder names of a ``str.format`` template, in order."""
    return [name for _, name, _, _ in Formatter().parse(template) if name is not None]


class _Reader:
    """Typed access to the parsed TOML document. Each error names the file and the key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: str, problem: str) -> ImportMappingError:
        return ImportMappingError(f"{self.source}: {key}: {problem}")

    def table(
        self,
        document: Mapping[str, Any],
        key: str,
        name: str,
        allowed: frozenset[str] | None = None,
    ) -> dict[str, Any]:
        value = document.get(key)
        if not isinstance(value, dict):
            raise self.error(name, "table is missing; see imports/README.md for the format")
        if allowed is not None:
            unknown = sorted(set(value) - allowed)
            if unknown:
                raise self.error(
                    name,
                    f"unknown keys {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
                )
        return value

    def text(
        self, document: Mapping[str, Any], key: str, name: str, default: str | None = None
    ) -> str:
        value = document.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.error(name, f"must be a non-empty string, got {value!r}")
        return value

    def enum_value(self, kind: type[_Enum], value: Any, name: str) -> _Enum:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise self.error(name, f"{value!r} is not valid; use one of {allowed}") from None


def parse_mapping(text: str, source: str) -> ImportMapping:
    """Parse mapping file content; ``source`` names the file in error messages."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ImportMappingError(f"{source}: not valid TOML: {error}") from None
    reader = _Reader(source)
    unknown = sorted(set(document) - _TOP_LEVEL_KEYS)
    if unknown:
        raise reader.error("(top level)", f"unknown keys {', '.join(unknown)}")

    legacy_source = document.get("source")
    if legacy_source is not None and (not isinstance(legacy_source, str) or not legacy_source):
        raise reader.error("source", f"must be a non-empty string, got {legacy_source!r}")
    assignments: dict[str, Any] = {}
    if "assignments" in document:
        assignments = reader.table(
            document,
            "assignments",
            "assignments",
            frozenset({"separator", "officer_id", "first_acknowledges"}),
        )
    first_acknowledges = assignments.get("first_acknowledges", False)
    if not isinstance(first_acknowledges, bool):
        raise reader.error("assignments.first_acknowledges", "must be true or false")
    categories, category_when_empty = _categories(reader, document)
    unit_values, unit_ranges, unit_when_empty = _units(reader, document)

    return ImportMapping(
        source=legacy_source,
        date_format=_date_format(reader, document),
        timezone=_timezone(reader, document),
        language=reader.enum_value(Language, document.get("language", "EN"), "language"),
        channel=reader.enum_value(Channel, document.get("channel", "SYSTEM"), "channel"),
        description_template=_template(reader, document, "description"),
        summary_template=_template(reader, document, "resolution_summary"),
        columns=_columns(reader, document),
        assignment_separator=reader.text(assignments, "separator", "assignments.separator", ";"),
        officer_id_template=_officer_id_template(reader, assignments),
        acknowledge_on_first_assignment=first_acknowledges,
        categories=categories,
        category_when_empty=category_when_empty,
        statuses=_statuses(reader, document),
        unit_values=unit_values,
        unit_ranges=unit_ranges,
        unit_when_empty=unit_when_empty,
    )


def _date_format(reader: _Reader, document: Mapping[str, Any]) -> str:
    date_format = reader.text(document, "date_format", "date_format")
    # A format that cannot read back what it writes (no year, say) would misread dates.
    sample = datetime(2001, 2, 3, 4, 5, 6)
    try:
        round_trip = datetime.strptime(sample.strftime(date_format), date_format)
    except ValueError as error:
        raise reader.error(
            "date_format", f"{date_format!r} is not a strptime format: {error}"
        ) from None
    if round_trip.date() != sample.date():
        raise reader.error(
            "date_format", f"{date_format!r} must contain the year, month and day, e.g. %Y-%m-%d"
        )
    return date_format


def _timezone(reader: _Reader, document: Mapping[str, Any]) -> tzinfo:
    name = reader.text(document, "timezone", "timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise reader.error(
            "timezone", f"{name!r} is not an IANA time zone name, such as Asia/Karachi"
        ) from None


def _template(reader: _Reader, document: Mapping[str, Any], key: str) -> str:
    template = reader.text(document, key, key)
    try:
        fields = template_fields(template)
    except ValueError as error:
        raise reader.error(key, f"invalid template {template!r}: {error}") from None
    for name in fields:
        if not name or not name.isidentifier():
            raise reader.error(key, f"placeholder {{{name}}} must be a plain column name")
    return template


def _columns(reader: _Reader, document: Mapping[str, Any]) -> LegacyColumns:
    table = reader.table(document, "columns", "columns", frozenset(_COLUMN_KEYS))
    names: dict[str, str | None] = {}
    for key in _COLUMN_KEYS:
        if key in _OPTIONAL_COLUMN_KEYS and key not in table:
            names[key] = None
            continue
        names[key] = reader.text(table, key, f"columns.{key}")
    return LegacyColumns(
        id=names["id"] or "",
        lodged=names["lodged"] or "",
        status=names["status"] or "",
        category=names["category"] or "",
        unit=names["unit"] or "",
        closed=names["closed"],
        assignments=names["assignments"],
    )


def _officer_id_template(reader: _Reader, assignments: Mapping[str, Any]) -> str:
    template = reader.text(
        assignments, "officer_id", "assignments.officer_id", "legacy-investigator-{n}"
    )
    if template_fields(template) != ["n"]:
        raise reader.error(
            "assignments.officer_id",
            f"{template!r} must contain the placeholder {{n}} once and no other, "
            "e.g. legacy-investigator-{n}",
        )
    return template


def _categories(
    reader: _Reader, document: Mapping[str, Any]
) -> tuple[dict[str, ComplaintCategory], ComplaintCategory | None]:
    table = reader.table(document, "categories", "categories", frozenset({"values", "when_empty"}))
    values = reader.table(table, "values", "categories.values")
    categories = {
        legacy: reader.enum_value(ComplaintCategory, target, f"categories.values.{legacy!r}")
        for legacy, target in values.items()
    }
    when_empty = table.get("when_empty")
    if when_empty is None:
        return categories, None
    return categories, reader.enum_value(ComplaintCategory, when_empty, "categories.when_empty")


def _statuses(reader: _Reader, document: Mapping[str, Any]) -> dict[str, StatusRule]:
    table = reader.table(document, "statuses", "statuses")
    if not table:
        raise reader.error("statuses", "map at least one legacy status")
    rules = {}
    for legacy, rule in table.items():
        name = f"statuses.{legacy!r}"
        if not isinstance(rule, dict) or set(rule) - {"closed", "outcome"}:
            raise reader.error(
                name, 'must be a table such as { closed = true, outcome = "REFERRED" }'
            )
        closed = rule.get("closed")
        if not isinstance(closed, bool):
            raise reader.error(f"{name}.closed", "must be true or false")
        if closed and "outcome" not in rule:
            raise reader.error(f"{name}.outcome", "is required when closed = true")
        if not closed and "outcome" in rule:
            raise reader.error(f"{name}.outcome", "must be left out when closed = false")
        outcome = reader.enum_value(Outcome, rule["outcome"], f"{name}.outcome") if closed else None
        rules[legacy] = StatusRule(closed=closed, outcome=outcome)
    return rules


def _units(
    reader: _Reader, document: Mapping[str, Any]
) -> tuple[dict[str, str], tuple[UnitRange, ...], str | None]:
    table = reader.table(document, "units", "units", frozenset({"values", "ranges", "when_empty"}))
    values = table.get("values", {})
    if not isinstance(values, dict) or not all(
        isinstance(unit_id, str) and unit_id for unit_id in values.values()
    ):
        raise reader.error("units.values", "must be a table of legacy code = unit id")
    raw_ranges = table.get("ranges", [])
    if not isinstance(raw_ranges, list):
        raise reader.error("units.ranges", "must be an array of { first, last, unit } tables")
    ranges = sorted(
        (_unit_range(reader, index, raw) for index, raw in enumerate(raw_ranges)),
        key=lambda unit_range: unit_range.first,
    )
    for earlier, later in itertools.pairwise(ranges):
        if later.first <= earlier.last:
            raise reader.error(
                "units.ranges",
                f"range {later.first}-{later.last} overlaps {earlier.first}-{earlier.last}",
            )
    when_empty = table.get("when_empty")
    if when_empty is not None and (not isinstance(when_empty, str) or not when_empty):
        raise reader.error("units.when_empty", f"must be a unit id, got {when_empty!r}")
    return dict(values), tuple(ranges), when_empty


def _unit_range(reader: _Reader, index: int, raw: Any) -> UnitRange:
    name = f"units.ranges[{index}]"
    if not isinstance(raw, dict) or set(raw) != {"first", "last", "unit"}:
        raise reader.error(
            name, 'must be a table such as { first = 100, last = 199, unit = "pb_lahore-c1" }'
        )
    first, last, unit_id = raw["first"], raw["last"], raw["unit"]
    if not isinstance(first, int) or not isinstance(last, int) or first > last:
        raise reader.error(
            name,
            f"first and last must be whole numbers with first <= last, got {first!r}, {last!r}",
        )
    if not isinstance(unit_id, str) or not unit_id:
        raise reader.error(f"{name}.unit", f"must be a unit id, got {unit_id!r}")
    return UnitRange(first=first, last=last, unit_id=unit_id)


def load_mapping(path: Path) -> ImportMapping:
    """Read and validate the mapping file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ImportMappingError(
            f"{path}: cannot read the mapping file: {error.strerror}"
        ) from None
    except UnicodeDecodeError as error:
        raise ImportMappingError(f"{path}: not valid UTF-8: {error}") from None
    return parse_mapping(text, str(path))


__all__ = [
    "ImportMapping",
    "ImportMappingError",
    "LegacyColumns",
    "StatusRule",
    "UnitRange",
    "load_mapping",
    "parse_mapping",
    "template_fields",
]
