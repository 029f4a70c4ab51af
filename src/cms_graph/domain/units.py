"""Police units and the hierarchy they form: province, region, district, circle, station."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from cms_graph.domain.errors import InvalidInput

_UNIT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_DISTRICT_CODE = re.compile(r"[A-Z]{3}")


class UnitLevel(StrEnum):
    """Level of a unit, listed from the top of the hierarchy down."""

    PROVINCE = "PROVINCE"
    REGION = "REGION"
    DISTRICT = "DISTRICT"
    CIRCLE = "CIRCLE"
    POLICE_STATION = "POLICE_STATION"

    @property
    def depth(self) -> int:
        """Distance from the top: 0 for PROVINCE, 4 for POLICE_STATION."""
        return list(UnitLevel).index(self)

    def is_above(self, other: UnitLevel) -> bool:
        """Return whether this level is higher in the hierarchy than ``other``.

        Use this rather than ``<`` or ``>``, which compare the names as strings.
        """
        return self.depth < other.depth

    def is_below(self, other: UnitLevel) -> bool:
        return self.depth > other.depth

    def level_below(self) -> UnitLevel | None:
        """Return the level of this level's child units, or None for POLICE_STATION."""
        levels = list(UnitLevel)
        if self.depth + 1 < len(levels):
            return levels[self.depth + 1]
        return None


@dataclass(frozen=True)
class Unit:
    """A police unit. ``code`` is the 3-letter district code and is set on districts only."""

    id: str
    name: str
    level: UnitLevel
    parent_id: str | None
    code: str | None = None
    demo: bool = False


class InvalidHierarchy(InvalidInput):
    """Raised when a list of units does not form a valid hierarchy.

    ``index`` is the position in the input list of the unit at fault, or None when no
    single unit is at fault. ``attribute`` names the Unit attribute that is wrong, so a
    file loader can point at the row and column.
    """

    def __init__(self, message: str, *, index: int | None, attribute: str | None) -> None:
        super().__init__(message, field=("units",))
        self.index = index
        self.attribute = attribute


def _unknown_unit(unit_id: str) -> InvalidInput:
    return InvalidInput(
        f"unit {unit_id!r} not found: use the id of a unit in the hierarchy",
        field=("unitId",),
    )


class UnitHierarchy:
    """A validated tree of units with exactly one PROVINCE unit at its root.

    Every unit is exactly one level below its parent, ids are unique, and every district
    has a unique 3-letter code. Units may be given in any order. Children keep the order
    in which they were given.
    """

    def __init__(self, units: Iterable[Unit]) -> None:
        unit_list = list(units)
        self._units: dict[str, Unit] = {}
        self._children: dict[str, list[Unit]] = {}
        self._district_by_code: dict[str, Unit] = {}

        for index, unit in enumerate(unit_list):
            self._add_unit(index, unit)

        root: Unit | None = None
        for index, unit in enumerate(unit_list):
            self._check_parent(index, unit)
            if unit.parent_id is None:
                if root is not None:
                    raise InvalidHierarchy(
                        f"unit {unit.id!r} has no parent_id, but {root.id!r} is already the"
                        " root: a hierarchy has exactly one unit without a parent",
                        index=index,
                        attribute="parent_id",
                    )
                root = unit
        if root is None:
            raise InvalidHierarchy(
                "hierarchy has no root: add one PROVINCE unit without a parent_id",
                index=None,
                attribute=None,
            )
        self._root = root

        self._paths: dict[str, str] = {}
        self._ancestors: dict[str, tuple[Unit, ...]] = {}
        self._index_paths(root, f"/{root.id}/", ())

    def _add_unit(self, index: int, unit: Unit) -> None:
        if not _UNIT_ID.fullmatch(unit.id):
            raise InvalidHierarchy(
                f"unit id {unit.id!r} is invalid: use 1 to 64 letters, digits, '_', '-' or"
                " '.', starting with a letter or digit",
                index=index,
                attribute="id",
            )
        if unit.id in self._units:
            raise InvalidHierarchy(
                f"unit id {unit.id!r} appears more than once: each unit needs its own id",
                index=index,
                attribute="id",
            )
        if not isinstance(unit.level, UnitLevel):
            raise InvalidHierarchy(
                f"unit {unit.id!r} has level {unit.level!r}, which is not a UnitLevel",
                index=index,
                attribute="level",
            )
        if not unit.name.strip():
            raise InvalidHierarchy(
                f"unit {unit.id!r} has an empty name", index=index, attribute="name"
            )
        self._check_code(index, unit)
        self._units[unit.id] = unit
        self._children[unit.id] = []

    def _check_code(self, index: int, unit: Unit) -> None:
        if unit.level is not UnitLevel.DISTRICT:
            if unit.code is not None:
                raise InvalidHierarchy(
                    f"unit {unit.id!r} at level {unit.level} has code {unit.code!r}, but only"
                    " DISTRICT units have a code",
                    index=index,
                    attribute="code",
                )
            return

        if unit.code is None:
            raise InvalidHierarchy(
                f"district {unit.id!r} has no code: set its 3-letter district code, such as LHR",
                index=index,
                attribute="code",
            )
        if not _DISTRICT_CODE.fullmatch(unit.code):
            raise InvalidHierarchy(
                f"district {unit.id!r} has code {unit.code!r}, but a district code is 3"
                " uppercase letters A-Z, such as LHR",
                index=index,
                attribute="code",
            )
        other = self._district_by_code.get(unit.code)
        if other is not None:
            raise InvalidHierarchy(
                f"district {unit.id!r} has code {unit.code!r}, which district {other.id!r}"
                " already uses: district codes must be unique",
                index=index,
                attribute="code",
            )
        self._district_by_code[unit.code] = unit

    def _check_parent(self, index: int, unit: Unit) -> None:
        if unit.parent_id is None:
            if unit.level is not UnitLevel.PROVINCE:
                raise InvalidHierarchy(
                    f"unit {unit.id!r} at level {unit.level} has no parent_id: only the"
                    " PROVINCE root may have none",
                    index=index,
                    attribute="parent_id",
                )
            return

        parent = self._units.get(unit.parent_id)
        if parent is None:
            raise InvalidHierarchy(
                f"unit {unit.id!r} has parent_id {unit.parent_id!r}, which is not a unit in"
                " the hierarchy",
                index=index,
                attribute="parent_id",
            )
        expected = parent.level.level_below()
        if expected is None:
            raise InvalidHierarchy(
                f"unit {unit.id!r} has parent {parent.id!r} at level {parent.level}, which"
                " cannot have child units",
                index=index,
                attribute="parent_id",
            )
        if unit.level is not expected:
            raise InvalidHierarchy(
                f"unit {unit.id!r} is at level {unit.level} under {parent.id!r} at level"
                f" {parent.level}, but a child of a {parent.level} must be at level"
                f" {expected}",
                index=index,
                attribute="level",
            )
        self._children[parent.id].append(unit)

    def _index_paths(self, unit: Unit, path: str, ancestors: tuple[Unit, ...]) -> None:
        # Recursion depth is bounded by the five levels.
        self._paths[unit.id] = path
        self._ancestors[unit.id] = ancestors
        for child in self._children[unit.id]:
            self._index_paths(child, f"{path}{child.id}/", (unit, *ancestors))

    @property
    def root(self) -> Unit:
        return self._root

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self._units

    def __iter__(self) -> Iterator[Unit]:
        return iter(self._units.values())

    def __len__(self) -> int:
        return len(self._units)

    def get(self, unit_id: str) -> Unit:
        """Return the unit with ``unit_id``, or raise InvalidInput with field ``unitId``."""
        unit = self._units.get(unit_id)
        if unit is None:
            raise _unknown_unit(unit_id)
        return unit

    def parent(self, unit_id: str) -> Unit | None:
        parent_id = self.get(unit_id).parent_id
        return None if parent_id is None else self._units[parent_id]

    def ancestors(self, unit_id: str) -> tuple[Unit, ...]:
        """Return the ancestors of a unit, nearest first, ending with the root."""
        self.get(unit_id)
        return self._ancestors[unit_id]

    def children(self, unit_id: str) -> tuple[Unit, ...]:
        self.get(unit_id)
        return tuple(self._children[unit_id])

    def path(self, unit_id: str) -> str:
        """Return the materialized path of ids from the root, such as ``/pb/pb-rgn-x/``.

        The path starts and ends with ``/``, so a prefix match on ``path(ancestor)``
        selects that unit and all its descendants and nothing else. Ids may contain
        ``_``, which is a wildcard in SQL LIKE, so use ``str.startswith``, PostgreSQL's
        ``starts_with`` or an escaped LIKE pattern for the match.
        """
        self.get(unit_id)
        return self._paths[unit_id]

    def is_within(self, unit_id: str, ancestor_id: str) -> bool:
        """Return whether ``unit_id`` is ``ancestor_id`` itself or one of its descendants."""
        self.get(ancestor_id)
        return self.path(unit_id).startswith(self._paths[ancestor_id])

    def ancestor_at(self, unit_id: str, level: UnitLevel) -> Unit | None:
        """Return the unit at ``level`` on the way from ``unit_id`` up to the root.

        The unit itself counts, so a district is its own ancestor at DISTRICT level.
        Returns None when ``level`` is below the unit's level.
        """
        unit = self.get(unit_id)
        if unit.level is level:
            return unit
        for ancestor in self._ancestors[unit_id]:
            if ancestor.level is level:
                return ancestor
        return None

    def district_of(self, unit_id: str) -> Unit:
        """Return the district containing the unit, which is the unit itself for a district.

        Raises InvalidInput with field ``unitId`` for a province or region.
        """
        district = self.ancestor_at(unit_id, UnitLevel.DISTRICT)
        if district is None:
            level = self.get(unit_id).level
            raise InvalidInput(
                f"unit {unit_id!r} is at level {level}, above DISTRICT, so it has no"
                " district: use a district, circle or police station",
                field=("unitId",),
            )
        return district

    def district_by_code(self, code: str) -> Unit:
        """Return the district with the 3-letter ``code``, such as LHR.

        Raises InvalidInput with field ``districtCode`` when no district has that code.
        """
        district = self._district_by_code.get(code)
        if district is None:
            raise InvalidInput(
                f"district code {code!r} not found: use the code of a district in the"
                " hierarchy, such as LHR",
                field=("districtCode",),
            )
        return district

    def units_at(self, level: UnitLevel) -> tuple[Unit, ...]:
        return tuple(unit for unit in self._units.values() if unit.level is level)


__all__ = ["InvalidHierarchy", "Unit", "UnitHierarchy", "UnitLevel"]
