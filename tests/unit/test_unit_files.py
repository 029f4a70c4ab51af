from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import pytest

from cms_graph.adapters.unit_files import (
    build_demo_hierarchy,
    load_hierarchy,
    parse_unit_csv,
    read_unit_file,
)
from cms_graph.domain.errors import InvalidInput
from cms_graph.domain.units import UnitLevel

HEADER = "unit_id,name,level,parent_id,code,demo\n"
VALID_ROWS = (
    "pb,Punjab,PROVINCE,,,false\n"
    "pb-rgn-lahore,Lahore Region,REGION,pb,,false\n"
    "pb_lahore,Lahore,DISTRICT,pb-rgn-lahore,LHR,\n"
    "pb_lahore-c1,Lahore Circle 1 (demo),CIRCLE,pb_lahore,,true\n"
    "pb_lahore-c1-ps1,Lahore Station 1-1 (demo),POLICE_STATION,pb_lahore-c1,,TRUE\n"
)


def _write(tmp_path: Path, text: str, name: str = "units.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _parse_error(text: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_unit_csv(text, "units.csv")
    return caught.value


def _data_rows(name: str) -> list[dict[str, str]]:
    text = resources.files("cms_graph").joinpath("data").joinpath(name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def test_read_unit_file_valid(tmp_path: Path) -> None:
    hierarchy = read_unit_file(_write(tmp_path, HEADER + VALID_ROWS))

    station = hierarchy.get("pb_lahore-c1-ps1")
    assert len(hierarchy) == 5
    assert hierarchy.root.id == "pb"
    assert hierarchy.get("pb_lahore").code == "LHR"
    assert hierarchy.get("pb_lahore").demo is False
    assert station.level is UnitLevel.POLICE_STATION
    assert station.demo is True
    assert hierarchy.path(station.id) == (
        "/pb/pb-rgn-lahore/pb_lahore/pb_lahore-c1/pb_lahore-c1-ps1/"
    )


def test_read_unit_file_columns_any_order(tmp_path: Path) -> None:
    text = "demo,level,unit_id,name,parent_id,code\nfalse,province,pb,Punjab,,\n"

    hierarchy = read_unit_file(_write(tmp_path, text))

    assert hierarchy.root.level is UnitLevel.PROVINCE


def test_read_unit_file_bom_and_urdu(tmp_path: Path) -> None:
    text = HEADER + "pb,پنجاب,PROVINCE,,,\n"
    path = tmp_path / "units.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))

    hierarchy = read_unit_file(path)

    assert hierarchy.root.name == "پنجاب"


def test_read_unit_file_quoted_comma_and_blank_line(tmp_path: Path) -> None:
    text = HEADER + '\npb,"Punjab, Pakistan",PROVINCE,,,\n'

    hierarchy = read_unit_file(_write(tmp_path, text))

    assert hierarchy.root.name == "Punjab, Pakistan"


def test_read_unit_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_bytes(HEADER.encode() + b"pb,\xff,PROVINCE,,,\n")

    with pytest.raises(InvalidInput) as caught:
        read_unit_file(path)

    assert caught.value.message.startswith(f"{path}: file is not valid UTF-8:")


def test_error_names_file_row_column(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + VALID_ROWS.replace("CIRCLE,pb_lahore", "CIRCEL,pb_lahore"))

    with pytest.raises(InvalidInput) as caught:
        read_unit_file(path)

    assert caught.value.message == (
        f"{path}, row 5, column level: level 'CIRCEL' is invalid: use one of PROVINCE,"
        " REGION, DISTRICT, CIRCLE, POLICE_STATION"
    )
    assert caught.value.field == ("units",)


def test_skipped_level_names_row() -> None:
    rows = VALID_ROWS.replace("POLICE_STATION,pb_lahore-c1,", "POLICE_STATION,pb_lahore,")

    error = _parse_error(HEADER + rows)

    assert error.message == (
        "units.csv, row 6, column level: unit 'pb_lahore-c1-ps1' is at level POLICE_STATION"
        " under 'pb_lahore' at level DISTRICT, but a child of a DISTRICT must be at level"
        " CIRCLE"
    )


def test_row_numbers_count_blank_lines() -> None:
    rows = VALID_ROWS.replace("LHR", "LHRX")

    error = _parse_error(HEADER + "\n" + rows)

    assert error.message.startswith("units.csv, row 5, column code: district 'pb_lahore'")


def test_missing_parent_names_column() -> None:
    error = _parse_error(HEADER + VALID_ROWS.replace(",pb-rgn-lahore,LHR", ",pb-rgn-x,LHR"))

    assert error.message == (
        "units.csv, row 4, column parent_id: unit 'pb_lahore' has parent_id 'pb-rgn-x', which"
        " is not a unit in the hierarchy"
    )


def test_duplicate_id_names_second_row() -> None:
    error = _parse_error(
        HEADER + VALID_ROWS + "pb_lahore,Lahore again,DISTRICT,pb-rgn-lahore,LHE,\n"
    )

    assert error.message.startswith("units.csv, row 7, column unit_id: unit id 'pb_lahore'")


def test_missing_root_has_no_row() -> None:
    error = _parse_error(HEADER)

    assert error.message == (
        "units.csv: hierarchy has no root: add one PROVINCE unit without a parent_id"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "",
            "units.csv: file is empty: expected the header unit_id,name,level,parent_id,code,demo",
        ),
        (
            "unit_id,name,level,parent,code,demo\n",
            "units.csv, row 1: invalid header: column parent_id is missing; column 'parent' is"
            " unknown. Expected unit_id,name,level,parent_id,code,demo",
        ),
        (
            "unit_id,name,level,parent_id,code,demo,name\n",
            "units.csv, row 1: invalid header: column name appears more than once. Expected"
            " unit_id,name,level,parent_id,code,demo",
        ),
        (
            HEADER + "pb,Punjab,PROVINCE,,\n",
            "units.csv, row 2: row has 5 fields, but the header has 6",
        ),
        (
            HEADER + "pb,Punjab,PROVINCE,,,,\n",
            "units.csv, row 2: row has 7 fields, but the header has 6",
        ),
        (
            HEADER + ",Punjab,PROVINCE,,,\n",
            "units.csv, row 2, column unit_id: unit_id is empty: every unit needs an id",
        ),
        (
            HEADER + "pb,Punjab,PROVINCE,,,maybe\n",
            "units.csv, row 2, column demo: demo 'maybe' is invalid: use true or false, or"
            " leave it empty",
        ),
        (
            HEADER + "pb,,PROVINCE,,,\n",
            "units.csv, row 2, column name: unit 'pb' has an empty name",
        ),
    ],
)
def test_parse_invalid_file_messages(text: str, message: str) -> None:
    assert _parse_error(text).message == message


def test_demo_hierarchy_counts() -> None:
    hierarchy = build_demo_hierarchy()

    assert hierarchy.root.id == "pb"
    assert hierarchy.root.name == "Punjab"
    assert len(hierarchy.units_at(UnitLevel.REGION)) == 10
    assert len(hierarchy.units_at(UnitLevel.DISTRICT)) == 36
    assert len(hierarchy.units_at(UnitLevel.CIRCLE)) == 72
    assert len(hierarchy.units_at(UnitLevel.POLICE_STATION)) == 144
    assert len(hierarchy) == 1 + 10 + 36 + 72 + 144


def test_demo_hierarchy_lahore_ids() -> None:
    hierarchy = build_demo_hierarchy()

    station = hierarchy.get("pb_lahore-c1-ps2")
    assert hierarchy.path("pb_lahore-c1-ps1") == (
        "/pb/pb-rgn-lahore/pb_lahore/pb_lahore-c1/pb_lahore-c1-ps1/"
    )
    assert hierarchy.get("pb_lahore").code == "LHR"
    assert hierarchy.district_by_code("LHR").id == "pb_lahore"
    assert station.name == "Lahore Station 1-2 (demo)"
    assert hierarchy.get("pb_lahore-c2").name == "Lahore Circle 2 (demo)"
    assert hierarchy.get("pb-rgn-dera-ghazi-khan").name == "Dera Ghazi Khan Region"


def test_demo_hierarchy_demo_flags() -> None:
    hierarchy = build_demo_hierarchy()

    for unit in hierarchy:
        invented = unit.level in (UnitLevel.CIRCLE, UnitLevel.POLICE_STATION)
        assert unit.demo is invented, unit.id
        assert unit.name.endswith("(demo)") is invented, unit.id


def test_demo_hierarchy_matches_packaged_files() -> None:
    hierarchy = build_demo_hierarchy()
    districts = _data_rows("punjab_districts.csv")
    regions = {row["district_id"]: row for row in _data_rows("demo_regions.csv")}

    assert len(districts) == 36
    assert {row["district_id"] for row in districts} == set(regions)
    for row in districts:
        district = hierarchy.get(row["district_id"])
        assert district.name == row["district_name"]
        assert district.parent_id == regions[row["district_id"]]["region_id"]
        assert district.code == regions[row["district_id"]]["district_code"]


def test_load_hierarchy_file_or_demo(tmp_path: Path) -> None:
    from_file = load_hierarchy(_write(tmp_path, HEADER + VALID_ROWS))
    demo = load_hierarchy(None)

    assert len(from_file) == 5
    assert len(demo) == 263


def test_load_hierarchy_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_hierarchy(tmp_path / "absent.csv")
