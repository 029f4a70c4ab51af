"""Reading import mappings, and checking legacy rows against one."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cms_graph.adapters.import_mapping import ImportMappingError, load_mapping, parse_mapping
from cms_graph.adapters.legacy_files import LegacyRow
from cms_graph.adapters.unit_files import build_demo_hierarchy
from cms_graph.application.legacy_records import RecordReader, RejectReason, RowRejected
from cms_graph.domain.values import ComplaintCategory, Outcome

COPA_MAPPING = Path(__file__).resolve().parents[2] / "imports" / "copa_cms_lifecycle.toml"
COPA_FILE = COPA_MAPPING.parents[2] / "shared" / "data" / "copa_cms_lifecycle_2019_2022.csv"
NOW = datetime(2026, 1, 1, tzinfo=UTC)

MINIMAL = """
source = "old"
date_format = "%d/%m/%Y"
timezone = "Asia/Karachi"
description = "Complaint {ref}"
resolution_summary = "Closed"

[columns]
id = "ref"
lodged = "received"
status = "state"
category = "kind"
unit = "unit"

[statuses]
open = { closed = false }

[categories.values]
bribe = "BRIBERY"

[units]
values = { "ST1" = "pb_lahore-c1-ps1", "RGN" = "pb-rgn-lahore", "GONE" = "pb_atlantis" }
"""


def test_copa_mapping_covers_file() -> None:
    assert COPA_FILE.is_file(), f"the COPA file is missing at {COPA_FILE}"
    mapping = load_mapping(COPA_MAPPING)
    with COPA_FILE.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    categories = {row["allegation_category"] for row in rows} - {""}
    statuses = {row["current_status"] for row in rows}
    assert len(categories) == 31
    assert categories == set(mapping.categories)
    assert statuses == set(mapping.statuses)
    assert all(mapping.unit_id_for(row["beat"]) is not None for row in rows)


def test_copa_mapping_lookups() -> None:
    mapping = load_mapping(COPA_MAPPING)
    assert mapping.category_for("Excessive Force") is ComplaintCategory.MISCONDUCT
    assert mapping.category_for("") is ComplaintCategory.OTHER
    assert mapping.category_for("Jaywalking") is None
    assert mapping.statuses["Case Final"].outcome is Outcome.REFERRED
    assert mapping.statuses["Pending Investigation"].closed is False
    assert mapping.unit_id_for("713.0") == "pb_dera_ghazi_khan-c1"
    assert mapping.unit_id_for("713") == "pb_dera_ghazi_khan-c1"
    assert mapping.unit_id_for("720.0") == "pb_dera_ghazi_khan-c2"
    assert mapping.unit_id_for("") == "pb_lahore"
    assert mapping.unit_id_for("2600") is None
    assert mapping.unit_id_for("713.5") is None
    assert mapping.unit_id_for("north") is None


def test_minimal_mapping_defaults() -> None:
    mapping = parse_mapping(MINIMAL, "minimal.toml")
    assert mapping.columns.closed is None
    assert mapping.columns.assignments is None
    assert mapping.officer_id_template == "legacy-investigator-{n}"
    assert mapping.acknowledge_on_first_assignment is False
    assert mapping.category_when_empty is None
    assert mapping.channel == "SYSTEM"
    assert mapping.required_columns() == ["ref", "received", "state", "kind", "unit"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('bribe = "BRIBERY"', 'bribe = "BRIBE"'), "categories.values.'bribe'"),
        (("open = { closed = false }", "done = { closed = true }"), "outcome"),
        (
            ("open = { closed = false }", 'open = { closed = false, outcome = "REFERRED" }'),
            "must be left out",
        ),
        (('"%d/%m/%Y"', '"%d/%m"'), "date_format"),
        (('"Asia/Karachi"', '"Asia/Lahore"'), "timezone"),
        (('source = "old"', 'source = "old"\ncolour = "red"'), "unknown keys colour"),
        (('id = "ref"', 'id = "ref"\nbeat = "b"'), "columns: unknown keys beat"),
        (('"Complaint {ref}"', '"Complaint {ref.x}"'), "plain column name"),
        (('"Complaint {ref}"', '"Complaint {ref"'), "invalid template"),
        (("[units]", '[assignments]\nofficer_id = "officer"\n\n[units]'), "{n}"),
        (
            (
                "[units]",
                '[units]\nranges = [{ first = 1, last = 9, unit = "a" },'
                ' { first = 5, last = 20, unit = "b" }]',
            ),
            "overlaps",
        ),
        (("[units]", '[units]\nranges = [{ first = 9, last = 1, unit = "a" }]'), "first <= last"),
        (("[statuses]\nopen = { closed = false }", "[statuses]"), "at least one"),
        (('lodged = "received"', ""), "columns.lodged"),
        (("source = ", "source = = "), "not valid TOML"),
    ],
)
def test_invalid_mapping_named(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in MINIMAL
    with pytest.raises(ImportMappingError, match=r"minimal\.toml") as raised:
        parse_mapping(MINIMAL.replace(old, new), "minimal.toml")
    assert message in str(raised.value)


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(ImportMappingError, match="cannot read"):
        load_mapping(tmp_path / "absent.toml")


def reader() -> RecordReader:
    return RecordReader(parse_mapping(MINIMAL, "minimal.toml"), build_demo_hierarchy())


def row(**values: str) -> LegacyRow:
    base = {"ref": "A1", "received": "02/03/2024", "state": "open", "kind": "bribe", "unit": "ST1"}
    return LegacyRow(2, base | values)


def test_station_marks_its_circle() -> None:
    record = reader().read(row(), NOW)
    assert record.unit.id == "pb_lahore-c1"
    assert record.station_id == "pb_lahore-c1-ps1"
    assert record.district.id == "pb_lahore"


def test_dates_use_mapping_timezone() -> None:
    record = reader().read(row(), NOW)
    # Midnight in Pakistan (UTC+5) on 2 March 2024.
    assert record.lodged_at == datetime(2024, 3, 1, 19, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"unit": "RGN"}, RejectReason.UNKNOWN_UNIT),
        ({"unit": "GONE"}, RejectReason.UNKNOWN_UNIT),
        ({"unit": ""}, RejectReason.UNKNOWN_UNIT),
        ({"kind": ""}, RejectReason.UNKNOWN_CATEGORY),
        ({"received": ""}, RejectReason.INVALID_DATE),
        ({"received": "2024-03-02"}, RejectReason.INVALID_DATE),
        ({"received": "02/03/2027"}, RejectReason.FUTURE_DATE),
        ({"ref": ""}, RejectReason.MISSING_ID),
        ({"state": "closed"}, RejectReason.UNKNOWN_STATUS),
    ],
)
def test_row_rejected_with_reason(values: dict[str, str], reason: RejectReason) -> None:
    with pytest.raises(RowRejected) as raised:
        reader().read(row(**values), NOW)
    assert raised.value.reason is reason
