from __future__ import annotations

import dataclasses

import pytest

from cms_graph.domain.errors import InvalidInput
from cms_graph.domain.units import InvalidHierarchy, Unit, UnitHierarchy, UnitLevel

PROVINCE = Unit("pb", "Punjab", UnitLevel.PROVINCE, None)
REGION = Unit("pb-rgn-lahore", "Lahore Region", UnitLevel.REGION, "pb")
DISTRICT = Unit("pb_lahore", "Lahore", UnitLevel.DISTRICT, "pb-rgn-lahore", code="LHR")
CIRCLE = Unit("pb_lahore-c1", "Lahore Circle 1", UnitLevel.CIRCLE, "pb_lahore", demo=True)
STATION = Unit(
    "pb_lahore-c1-ps1", "Lahore Station 1-1", UnitLevel.POLICE_STATION, "pb_lahore-c1", demo=True
)
STATION_2 = Unit(
    "pb_lahore-c1-ps2", "Lahore Station 1-2", UnitLevel.POLICE_STATION, "pb_lahore-c1", demo=True
)
# A sibling whose id starts with another district's id: a path prefix without the
# trailing slash would wrongly select it as part of pb_lahore.
DISTRICT_2 = Unit("pb_lahore2", "Lahore Two", UnitLevel.DISTRICT, "pb-rgn-lahore", code="LHT")
CIRCLE_2 = Unit("pb_lahore2-c1", "Lahore Two Circle 1", UnitLevel.CIRCLE, "pb_lahore2")
REGION_2 = Unit("pb-rgn-multan", "Multan Region", UnitLevel.REGION, "pb")

ALL_UNITS = [PROVINCE, REGION, DISTRICT, CIRCLE, STATION, STATION_2, DISTRICT_2, CIRCLE_2, REGION_2]


@pytest.fixture
def hierarchy() -> UnitHierarchy:
    return UnitHierarchy(ALL_UNITS)


def _build_error(units: list[Unit]) -> InvalidHierarchy:
    with pytest.raises(InvalidHierarchy) as caught:
        UnitHierarchy(units)
    return caught.value


def test_level_order_and_comparison() -> None:
    assert list(UnitLevel) == [
        UnitLevel.PROVINCE,
        UnitLevel.REGION,
        UnitLevel.DISTRICT,
        UnitLevel.CIRCLE,
        UnitLevel.POLICE_STATION,
    ]
    assert UnitLevel.PROVINCE.depth == 0
    assert UnitLevel.POLICE_STATION.depth == 4
    assert UnitLevel.DISTRICT.is_above(UnitLevel.CIRCLE)
    assert not UnitLevel.DISTRICT.is_above(UnitLevel.DISTRICT)
    assert UnitLevel.POLICE_STATION.is_below(UnitLevel.CIRCLE)
    assert not UnitLevel.REGION.is_below(UnitLevel.DISTRICT)


def test_level_below() -> None:
    assert UnitLevel.PROVINCE.level_below() is UnitLevel.REGION
    assert UnitLevel.CIRCLE.level_below() is UnitLevel.POLICE_STATION
    assert UnitLevel.POLICE_STATION.level_below() is None


def test_level_is_string_value() -> None:
    assert UnitLevel("POLICE_STATION") is UnitLevel.POLICE_STATION
    assert str(UnitLevel.DISTRICT) == "DISTRICT"


def test_hierarchy_any_input_order() -> None:
    hierarchy = UnitHierarchy(list(reversed(ALL_UNITS)))

    assert hierarchy.root == PROVINCE
    assert len(hierarchy) == len(ALL_UNITS)
    assert hierarchy.path("pb_lahore-c1-ps1") == (
        "/pb/pb-rgn-lahore/pb_lahore/pb_lahore-c1/pb_lahore-c1-ps1/"
    )


def test_get_and_contains(hierarchy: UnitHierarchy) -> None:
    assert hierarchy.get("pb_lahore") == DISTRICT
    assert "pb_lahore" in hierarchy
    assert "pb_karachi" not in hierarchy
    assert 42 not in hierarchy


def test_get_unknown_unit_message(hierarchy: UnitHierarchy) -> None:
    with pytest.raises(InvalidInput) as caught:
        hierarchy.get("pb_karachi")

    assert caught.value.message == (
        "unit 'pb_karachi' not found: use the id of a unit in the hierarchy"
    )
    assert caught.value.field == ("unitId",)


def test_parent_and_ancestors(hierarchy: UnitHierarchy) -> None:
    assert hierarchy.parent("pb") is None
    assert hierarchy.parent("pb_lahore-c1") == DISTRICT
    assert hierarchy.ancestors("pb_lahore-c1-ps1") == (CIRCLE, DISTRICT, REGION, PROVINCE)
    assert hierarchy.ancestors("pb") == ()


def test_children_keep_input_order(hierarchy: UnitHierarchy) -> None:
    assert hierarchy.children("pb") == (REGION, REGION_2)
    assert hierarchy.children("pb-rgn-lahore") == (DISTRICT, DISTRICT_2)
    assert hierarchy.children("pb_lahore-c1") == (STATION, STATION_2)
    assert hierarchy.children("pb_lahore-c1-ps1") == ()


def test_paths(hierarchy: UnitHierarchy) -> None:
    assert hierarchy.path("pb") == "/pb/"
    assert hierarchy.path("pb-rgn-multan") == "/pb/pb-rgn-multan/"
    assert hierarchy.path("pb_lahore2-c1") == "/pb/pb-rgn-lahore/pb_lahore2/pb_lahore2-c1/"


@pytest.mark.parametrize(
    ("ancestor_id", "expected"),
    [
        ("pb", {unit.id for unit in ALL_UNITS}),
        (
            "pb-rgn-lahore",
            {
                "pb-rgn-lahore",
                "pb_lahore",
                "pb_lahore-c1",
                "pb_lahore-c1-ps1",
                "pb_lahore-c1-ps2",
                "pb_lahore2",
                "pb_lahore2-c1",
            },
        ),
        ("pb_lahore", {"pb_lahore", "pb_lahore-c1", "pb_lahore-c1-ps1", "pb_lahore-c1-ps2"}),
        ("pb_lahore-c1-ps1", {"pb_lahore-c1-ps1"}),
        ("pb-rgn-multan", {"pb-rgn-multan"}),
    ],
)
def test_path_prefix_selects_subtree(
    hierarchy: UnitHierarchy, ancestor_id: str, expected: set[str]
) -> None:
    prefix = hierarchy.path(ancestor_id)

    selected = {unit.id for unit in hierarchy if hierarchy.path(unit.id).startswith(prefix)}
    within = {unit.id for unit in hierarchy if hierarchy.is_within(unit.id, ancestor_id)}

    assert selected == expected
    assert within == expected


def test_is_within_unknown_ids(hierarchy: UnitHierarchy) -> None:
    with pytest.raises(InvalidInput) as unknown_unit:
        hierarchy.is_within("nowhere", "pb")
    with pytest.raises(InvalidInput) as unknown_ancestor:
        hierarchy.is_within("pb_lahore", "nowhere")

    assert unknown_unit.value.field == ("unitId",)
    assert unknown_ancestor.value.field == ("unitId",)


def test_ancestor_at(hierarchy: UnitHierarchy) -> None:
    assert hierarchy.ancestor_at("pb_lahore-c1-ps1", UnitLevel.REGION) == REGION
    assert hierarchy.ancestor_at("pb_lahore-c1-ps1", UnitLevel.POLICE_STATION) == STATION
    assert hierarchy.ancestor_at("pb_lahore-c1", UnitLevel.PROVINCE) == PROVINCE
    assert hierarchy.ancestor_at("pb_lahore", UnitLevel.CIRCLE) is None


def test_district_of(hierarchy: UnitHierarchy) -> None:
    assert hierarchy.district_of("pb_lahore-c1-ps2") == DISTRICT
    assert hierarchy.district_of("pb_lahore-c1") == DISTRICT
    assert hierarchy.district_of("pb_lahore") == DISTRICT
    assert hierarchy.district_of("pb_lahore2-c1") == DISTRICT_2


def test_district_of_above_district(hierarchy: UnitHierarchy) -> None:
    with pytest.raises(InvalidInput) as caught:
        hierarchy.district_of("pb-rgn-lahore")

    assert caught.value.message == (
        "unit 'pb-rgn-lahore' is at level REGION, above DISTRICT, so it has no district:"
        " use a district, circle or police station"
    )
    assert caught.value.field == ("unitId",)


def test_district_by_code(hierarchy: UnitHierarchy) -> None:
    assert hierarchy.district_by_code("LHT") == DISTRICT_2

    with pytest.raises(InvalidInput) as caught:
        hierarchy.district_by_code("KHI")

    assert caught.value.message == (
        "district code 'KHI' not found: use the code of a district in the hierarchy, such as LHR"
    )
    assert caught.value.field == ("districtCode",)


def test_units_at(hierarchy: UnitHierarchy) -> None:
    assert hierarchy.units_at(UnitLevel.PROVINCE) == (PROVINCE,)
    assert hierarchy.units_at(UnitLevel.DISTRICT) == (DISTRICT, DISTRICT_2)
    assert hierarchy.units_at(UnitLevel.POLICE_STATION) == (STATION, STATION_2)


def test_hierarchy_rejects_skipped_level() -> None:
    station_under_district = dataclasses.replace(STATION, parent_id="pb_lahore")

    error = _build_error([PROVINCE, REGION, DISTRICT, station_under_district])

    assert error.message == (
        "unit 'pb_lahore-c1-ps1' is at level POLICE_STATION under 'pb_lahore' at level"
        " DISTRICT, but a child of a DISTRICT must be at level CIRCLE"
    )
    assert error.index == 3
    assert error.attribute == "level"
    assert error.field == ("units",)


def test_hierarchy_rejects_district_under_province() -> None:
    error = _build_error([PROVINCE, dataclasses.replace(DISTRICT, parent_id="pb")])

    assert "must be at level REGION" in error.message
    assert error.index == 1


def test_hierarchy_rejects_child_of_station() -> None:
    below_station = Unit("x", "Below", UnitLevel.POLICE_STATION, "pb_lahore-c1-ps1")

    error = _build_error([PROVINCE, REGION, DISTRICT, CIRCLE, STATION, below_station])

    assert error.message == (
        "unit 'x' has parent 'pb_lahore-c1-ps1' at level POLICE_STATION, which cannot have"
        " child units"
    )
    assert error.attribute == "parent_id"


def test_hierarchy_rejects_missing_parent() -> None:
    error = _build_error([PROVINCE, REGION, dataclasses.replace(DISTRICT, parent_id="pb-rgn-x")])

    assert error.message == (
        "unit 'pb_lahore' has parent_id 'pb-rgn-x', which is not a unit in the hierarchy"
    )
    assert error.index == 2
    assert error.attribute == "parent_id"


def test_hierarchy_rejects_duplicate_id() -> None:
    error = _build_error([PROVINCE, REGION, dataclasses.replace(REGION_2, id="pb-rgn-lahore")])

    assert error.message == (
        "unit id 'pb-rgn-lahore' appears more than once: each unit needs its own id"
    )
    assert error.index == 2
    assert error.attribute == "id"


def test_hierarchy_rejects_second_root() -> None:
    other_province = Unit("sd", "Sindh", UnitLevel.PROVINCE, None)

    error = _build_error([PROVINCE, REGION, other_province])

    assert error.message == (
        "unit 'sd' has no parent_id, but 'pb' is already the root: a hierarchy has exactly"
        " one unit without a parent"
    )
    assert error.index == 2


def test_hierarchy_rejects_root_below_province() -> None:
    error = _build_error([dataclasses.replace(REGION, parent_id=None)])

    assert error.message == (
        "unit 'pb-rgn-lahore' at level REGION has no parent_id: only the PROVINCE root may"
        " have none"
    )


def test_hierarchy_rejects_province_with_parent() -> None:
    error = _build_error([PROVINCE, REGION, Unit("pb2", "Second", UnitLevel.PROVINCE, "pb")])

    assert "must be at level REGION" in error.message
    assert error.index == 2


def test_hierarchy_rejects_empty() -> None:
    error = _build_error([])

    assert error.message == "hierarchy has no root: add one PROVINCE unit without a parent_id"
    assert error.index is None


def test_hierarchy_rejects_cycle() -> None:
    # Two regions naming each other as parent never reach the root.
    first = Unit("r1", "First", UnitLevel.REGION, "r2")
    second = Unit("r2", "Second", UnitLevel.REGION, "r1")

    error = _build_error([PROVINCE, first, second])

    assert "must be at level" in error.message


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            None,
            "district 'pb_lahore' has no code: set its 3-letter district code, such as LHR",
        ),
        (
            "LH",
            "district 'pb_lahore' has code 'LH', but a district code is 3 uppercase letters"
            " A-Z, such as LHR",
        ),
        (
            "lhr",
            "district 'pb_lahore' has code 'lhr', but a district code is 3 uppercase letters"
            " A-Z, such as LHR",
        ),
        (
            "LH1",
            "district 'pb_lahore' has code 'LH1', but a district code is 3 uppercase letters"
            " A-Z, such as LHR",
        ),
    ],
)
def test_hierarchy_rejects_bad_district_code(code: str | None, message: str) -> None:
    error = _build_error([PROVINCE, REGION, dataclasses.replace(DISTRICT, code=code)])

    assert error.message == message
    assert error.attribute == "code"


def test_hierarchy_rejects_duplicate_code() -> None:
    error = _build_error([PROVINCE, REGION, DISTRICT, dataclasses.replace(DISTRICT_2, code="LHR")])

    assert error.message == (
        "district 'pb_lahore2' has code 'LHR', which district 'pb_lahore' already uses:"
        " district codes must be unique"
    )
    assert error.index == 3


def test_hierarchy_rejects_code_off_district() -> None:
    error = _build_error([PROVINCE, dataclasses.replace(REGION, code="LHR")])

    assert error.message == (
        "unit 'pb-rgn-lahore' at level REGION has code 'LHR', but only DISTRICT units have a code"
    )


@pytest.mark.parametrize("unit_id", ["", "pb/lahore", "-pb", "pb lahore", "x" * 65])
def test_hierarchy_rejects_bad_id(unit_id: str) -> None:
    error = _build_error([dataclasses.replace(PROVINCE, id=unit_id)])

    assert error.message == (
        f"unit id {unit_id!r} is invalid: use 1 to 64 letters, digits, '_', '-' or '.',"
        " starting with a letter or digit"
    )
    assert error.attribute == "id"


def test_hierarchy_rejects_empty_name() -> None:
    error = _build_error([dataclasses.replace(PROVINCE, name="  ")])

    assert error.message == "unit 'pb' has an empty name"
    assert error.attribute == "name"


def test_invalid_hierarchy_is_invalid_input() -> None:
    error = _build_error([])

    assert isinstance(error, InvalidInput)
    assert error.code == "BAD_USER_INPUT"
