"""Load the unit hierarchy from a CSV file, or build the packaged demo hierarchy.

A unit file has the header ``unit_id,name,level,parent_id,code,demo``, in any column
order. ``level`` is a UnitLevel name, ``parent_id`` is empty for the root, ``code`` is
set on districts only, and ``demo`` is true or false (empty means false). Files are read
as UTF-8, with or without a byte order mark.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from cms_graph.domain.errors import InvalidInput
from cms_graph.domain.units import InvalidHierarchy, Unit, UnitHierarchy, UnitLevel

UNIT_FILE_COLUMNS = ("unit_id", "name", "level", "parent_id", "code", "demo")
DISTRICTS_RESOURCE = "punjab_districts.csv"
REGIONS_RESOURCE = "demo_regions.csv"

CIRCLES_PER_DISTRICT = 2
STATIONS_PER_CIRCLE = 2
PROVINCE_ID = "pb"
PROVINCE_NAME = "Punjab"

_FIELD = ("units",)
_TRUE_WORDS = frozenset({"true", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "no", "0", ""})
# Unit attribute named by InvalidHierarchy, mapped to its column in a unit file.
_COLUMN_OF_ATTRIBUTE = {
    "id": "unit_id",
    "name": "name",
    "level": "level",
    "parent_id": "parent_id",
    "code": "code",
}


def _error(source: str, row: int | None, column: str | None, problem: str) -> InvalidInput:
    where = source
    if row is not None:
        where += f", row {row}"
    if column is not None:
        where += f", column {column}"
    return InvalidInput(f"{where}: {problem}", field=_FIELD)


def _read_rows(
    text: str, source: str, columns: tuple[str, ...]
) -> Iterable[tuple[int, dict[str, str]]]:
    """Yield each data row with its row number, where the header is row 1.

    Values are stripped of surrounding whitespace. Raises InvalidInput naming the file,
    row and column when the header or a row does not have exactly ``columns``.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise _error(source, 1, None, f"header is not valid CSV: {error}") from error
    if header is None:
        raise _error(source, None, None, f"file is empty: expected the header {','.join(columns)}")

    names = [name.strip() for name in header]
    problems = [f"column {column} is missing" for column in columns if column not in names]
    problems += [f"column {name!r} is unknown" for name in names if name not in columns]
    problems += [
        f"column {name} appears more than once"
        for name in sorted(set(names))
        if names.count(name) > 1
    ]
    if problems:
        raise _error(
            source, 1, None, f"invalid header: {'; '.join(problems)}. Expected {','.join(columns)}"
        )

    row_number = 1
    while True:
        row_number += 1
        try:
            values = next(reader, None)
        except csv.Error as error:
            raise _error(source, row_number, None, f"row is not valid CSV: {error}") from error
        if values is None:
            return
        if not values:
            continue  # csv returns an empty list for a blank line
        if len(values) != len(names):
            raise _error(
                source,
                row_number,
                None,
                f"row has {len(values)} fields, but the header has {len(names)}",
            )
        yield row_number, {name: value.strip() for name, value in zip(names, values, strict=True)}


def _parse_level(source: str, row: int, value: str) -> UnitLevel:
    try:
        return UnitLevel(value.upper())
    except ValueError:
        allowed = ", ".join(level.value for level in UnitLevel)
        raise _error(
            source, row, "level", f"level {value!r} is invalid: use one of {allowed}"
        ) from None


def _parse_demo(source: str, row: int, value: str) -> bool:
    word = value.lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise _error(
        source, row, "demo", f"demo {value!r} is invalid: use true or false, or leave it empty"
    )


def parse_unit_csv(text: str, source: str) -> UnitHierarchy:
    """Parse unit file content and return the validated hierarchy.

    ``source`` names the file in error messages. Errors are InvalidInput with field
    ``("units",)`` and a message starting with the file, row and, where known, column.
    """
    units: list[Unit] = []
    row_numbers: list[int] = []
    for row, values in _read_rows(text, source, UNIT_FILE_COLUMNS):
        if not values["unit_id"]:
            raise _error(source, row, "unit_id", "unit_id is empty: every unit needs an id")
        units.append(
            Unit(
                id=values["unit_id"],
                name=values["name"],
                level=_parse_level(source, row, values["level"]),
                parent_id=values["parent_id"] or None,
                code=values["code"] or None,
                demo=_parse_demo(source, row, values["demo"]),
            )
        )
        row_numbers.append(row)

    try:
        return UnitHierarchy(units)
    except InvalidHierarchy as error:
        row_number = None if error.index is None else row_numbers[error.index]
        column = None if error.attribute is None else _COLUMN_OF_ATTRIBUTE.get(error.attribute)
        raise _error(source, row_number, column, error.message) from error


def read_unit_file(path: Path) -> UnitHierarchy:
    """Read a unit file and return the validated hierarchy."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise _error(str(path), None, None, f"file is not valid UTF-8: {error}") from error
    return parse_unit_csv(text, str(path))


def _read_resource(name: str) -> str:
    data_dir = resources.files("cms_graph").joinpath("data")
    return data_dir.joinpath(name).read_text(encoding="utf-8-sig")


def _demo_districts() -> list[tuple[str, str]]:
    """Return (district_id, district_name) for each packaged Punjab district."""
    source = f"cms_graph/data/{DISTRICTS_RESOURCE}"
    columns = ("district_id", "district_name", "province_code", "province_name")
    return [
        (values["district_id"], values["district_name"])
        for _, values in _read_rows(_read_resource(DISTRICTS_RESOURCE), source, columns)
    ]


def _demo_regions(district_ids: set[str]) -> dict[str, dict[str, str]]:
    """Return the demo region row of each district, keyed by district_id.

    Raises InvalidInput unless every district has exactly one row and every region_id
    has the same region_name on all its rows.
    """
    source = f"cms_graph/data/{REGIONS_RESOURCE}"
    columns = ("district_id", "region_id", "region_name", "district_code")
    region_rows: dict[str, dict[str, str]] = {}
    region_names: dict[str, str] = {}
    for row, values in _read_rows(_read_resource(REGIONS_RESOURCE), source, columns):
        district_id = values["district_id"]
        if district_id not in district_ids:
            raise _error(
                source, row, "district_id", f"district {district_id!r} is not a Punjab district"
            )
        if district_id in region_rows:
            raise _error(
                source, row, "district_id", f"district {district_id!r} appears more than once"
            )
        region_name = region_names.setdefault(values["region_id"], values["region_name"])
        if region_name != values["region_name"]:
            raise _error(
                source,
                row,
                "region_name",
                f"region {values['region_id']!r} is named {values['region_name']!r} here"
                f" but {region_name!r} on an earlier row",
            )
        region_rows[district_id] = values

    missing = sorted(district_ids - set(region_rows))
    if missing:
        raise _error(source, None, None, f"no region for districts {', '.join(missing)}")
    return region_rows


def _demo_circles_and_stations(district_id: str, district_name: str) -> list[Unit]:
    units: list[Unit] = []
    for circle in range(1, CIRCLES_PER_DISTRICT + 1):
        circle_id = f"{district_id}-c{circle}"
        units.append(
            Unit(
                id=circle_id,
                name=f"{district_name} Circle {circle} (demo)",
                level=UnitLevel.CIRCLE,
                parent_id=district_id,
                demo=True,
            )
        )
        for station in range(1, STATIONS_PER_CIRCLE + 1):
            units.append(
                Unit(
                    id=f"{circle_id}-ps{station}",
                    name=f"{district_name} Station {circle}-{station} (demo)",
                    level=UnitLevel.POLICE_STATION,
                    parent_id=circle_id,
                    demo=True,
                )
            )
    return units


def build_demo_hierarchy() -> UnitHierarchy:
    """Build the demo hierarchy from the packaged district and region files.

    The province ``pb`` contains the regions of ``demo_regions.csv`` (ids such as
    ``pb-rgn-lahore``), which contain the 36 districts (ids such as ``pb_lahore``). Each
    district gets circles ``<district_id>-c1`` and ``-c2``, and each circle gets police
    stations ``<circle_id>-ps1`` and ``-ps2``. Circles and stations are invented, so
    their names end in "(demo)" and their ``demo`` flag is set.
    """
    districts = _demo_districts()
    regions = _demo_regions({district_id for district_id, _ in districts})

    units = [Unit(id=PROVINCE_ID, name=PROVINCE_NAME, level=UnitLevel.PROVINCE, parent_id=None)]
    region_names = {region["region_id"]: region["region_name"] for region in regions.values()}
    for region_id in sorted(region_names):
        units.append(
            Unit(
                id=region_id,
                name=region_names[region_id],
                level=UnitLevel.REGION,
                parent_id=PROVINCE_ID,
            )
        )

    for district_id, district_name in districts:
        region = regions[district_id]
        units.append(
            Unit(
                id=district_id,
                name=district_name,
                level=UnitLevel.DISTRICT,
                parent_id=region["region_id"],
                code=region["district_code"],
            )
        )
        units.extend(_demo_circles_and_stations(district_id, district_name))
    return UnitHierarchy(units)


def load_hierarchy(path: Path | None) -> UnitHierarchy:
    """Read the unit file at ``path``, or build the demo hierarchy when ``path`` is None."""
    if path is None:
        return build_demo_hierarchy()
    return read_unit_file(path)


__all__ = [
    "UNIT_FILE_COLUMNS",
    "build_demo_hierarchy",
    "load_hierarchy",
    "parse_unit_csv",
    "read_unit_file",
]
