"""The legacy import against a real store, once on SQLite and once on PostgreSQL.

The small file below has one row for each lifecycle shape and one for each reject
reason; it is read with the shipped COPA mapping. The last test imports the whole COPA
file into PostgreSQL.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from cms_graph.adapters.import_mapping import ImportMapping, load_mapping
from cms_graph.adapters.migrations import migrate
from cms_graph.application.identity import Principal
from cms_graph.application.legacy_import import (
    ImportSummary,
    LegacyFileError,
    LegacyImporter,
    legacy_complaint_id,
)
from cms_graph.application.views import ComplaintRecord
from cms_graph.bootstrap import Container
from cms_graph.cli import main
from cms_graph.domain.tracking_number import new_tracking_number
from cms_graph.graphql.context import Context
from cms_graph.graphql.schema import build_schema
from cms_graph.settings import Settings
from tests.conftest import make_settings
from tests.factories import COMPLAINT_CELL, lodge_command

REPOSITORY = Path(__file__).resolve().parents[2]
COPA_MAPPING = REPOSITORY / "imports" / "copa_cms_lifecycle.toml"
COPA_FILE = REPOSITORY.parent / "shared" / "data" / "copa_cms_lifecycle_2019_2022.csv"
COPA_ROWS = 5376
CHICAGO = ZoneInfo("America/Chicago")

HEADER = (
    "cr_id,complaint_date,closed_date,days_to_closure,beat,allegation_category,case_type,"
    "current_status,investigator_assign_dates"
)
LONG_ID = "X" * 101
# One line per row of the file; the header is row 1, so a line's row is its index + 1.
LINES = [
    HEADER,
    # Closed after three assignments, two of them on the day it was lodged.
    "T-0001,2020-03-02,2020-09-15,197.0,713.0,Excessive Force,Complaint Register,Case Final,"
    "2020-03-02;2020-03-02;2020-04-10",
    # Open and reassigned once.
    "T-0002,2021-06-01,,,1834.0,Verbal Abuse,Information/Complaint,Pending Investigation,"
    "2021-06-03;2022-01-10",
    # Open, never assigned, no beat: the default unit, a district.
    "T-0003,2022-08-01,,,,Bias,Information/Complaint,Pending Investigation,",
    # Closed on the day it was lodged, never assigned.
    "T-0004,2021-02-19,2021-02-19,0.0,611.0,Closed-No Allegation,Information/Complaint,"
    "Closed/No Finding,",
    # No category; a status that stays open.
    "T-0005,2019-05-06,,,2534.0,,Complaint Register,Command Channel Review,2019-05-07",
    "T-0101,2020-05-10,2020-05-01,,713.0,Excessive Force,Complaint Register,Closed/No Finding,",
    "T-0102,2020-05-10,,,713.0,Excessive Force,Complaint Register,Pending Investigation,2020-05-09",
    "T-0103,2020-05-10,2020-06-01,,713.0,Excessive Force,Complaint Register,Closed at COPA,"
    "2020-05-11;2020-07-01",
    "T-0104,2020-05-10,,,713.0,Jaywalking,Complaint Register,Pending Investigation,",
    "T-0105,2020-05-10,,,2600.0,Excessive Force,Complaint Register,Pending Investigation,",
    "T-0106,2019-02-30,,,713.0,Excessive Force,Complaint Register,Pending Investigation,",
    "T-0107,2020-05-10,,,713.0,Excessive Force,Complaint Register,Pending Investigation,",
    "T-0107,2020-05-11,,,713.0,Excessive Force,Complaint Register,Pending Investigation,",
    "T-0108,2020-05-10,,,713.0,Excessive Force,Complaint Register,Lost in Transit,",
    "T-0109,2020-05-10,,,713.0,Excessive Force,Complaint Register,Case Final,",
    ",2020-05-10,,,713.0,Excessive Force,Complaint Register,Pending Investigation,",
    "T-0111,2020-05-10,,713.0",
    "",
    "T-0112,2999-01-01,,,713.0,Excessive Force,Complaint Register,Pending Investigation,",
    f"{LONG_ID},2020-05-10,,,713.0,Excessive Force,Complaint Register,Pending Investigation,",
]
IMPORTED_IDS = ["T-0001", "T-0002", "T-0003", "T-0004", "T-0005"]
# Events of the imported rows: 8 + 5 + 2 + 5 + 4.
IMPORTED_EVENTS = 24
DATA_ROWS = sum(1 for line in LINES[1:] if line)


def row_of(prefix: str, occurrence: int = 0) -> int:
    rows = [index + 1 for index, line in enumerate(LINES) if line and line.startswith(prefix)]
    return rows[occurrence]


EXPECTED_REJECTS = {
    row_of("T-0101"): ("T-0101", "closed_before_lodged"),
    row_of("T-0102"): ("T-0102", "assigned_before_lodged"),
    row_of("T-0103"): ("T-0103", "assigned_after_closed"),
    row_of("T-0104"): ("T-0104", "unknown_category"),
    row_of("T-0105"): ("T-0105", "unknown_unit"),
    row_of("T-0106"): ("T-0106", "invalid_date"),
    row_of("T-0107", 0): ("T-0107", "duplicate_id"),
    row_of("T-0107", 1): ("T-0107", "duplicate_id"),
    row_of("T-0108"): ("T-0108", "unknown_status"),
    row_of("T-0109"): ("T-0109", "inconsistent_status"),
    row_of(",2020"): ("", "missing_id"),
    row_of("T-0111"): ("T-0111", "invalid_row"),
    row_of("T-0112"): ("T-0112", "future_date"),
    row_of(LONG_ID): (LONG_ID, "domain_error"),
}


def chicago_midnight(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=CHICAGO).astimezone(UTC)


@pytest.fixture
def mapping() -> ImportMapping:
    return load_mapping(COPA_MAPPING)


@pytest.fixture
def legacy_file(tmp_path: Path) -> Path:
    path = tmp_path / "legacy.csv"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def run_import(
    container: Container, mapping: ImportMapping, legacy_file: Path, tmp_path: Path
) -> Callable[[], ImportSummary]:
    def run() -> ImportSummary:
        importer = LegacyImporter.from_container(container, mapping, catch_up_every=2)
        return importer.run(importer.scan(legacy_file), tmp_path / "rejects.csv")

    return run


def read_rejects(path: Path) -> dict[int, tuple[str, str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return {
            int(row["row"]): (row["legacy_id"], row["reason"], row["detail"])
            for row in csv.DictReader(file)
        }


def record_for(container: Container, legacy_id: str) -> ComplaintRecord:
    record = container.queries.get(COMPLAINT_CELL, legacy_complaint_id("copa", legacy_id))
    assert record is not None, f"complaint {legacy_id} is not in the read model"
    return record


def head(container: Container) -> int:
    return container.event_store.recorder.max_notification_id() or 0


def reserved_numbers(container: Container) -> int:
    with container.database.read() as cursor:
        cursor.execute("SELECT COUNT(*) AS total FROM tracking_numbers")
        row = cursor.fetchone()
    assert row is not None
    return int(row["total"])


def test_import_counts_rows(run_import: Callable[[], ImportSummary]) -> None:
    summary = run_import()
    assert summary.rows == DATA_ROWS
    assert summary.imported == len(IMPORTED_IDS)
    assert summary.already_imported == 0
    assert summary.rejected == len(EXPECTED_REJECTS)


def test_rejects_file_names_reasons(
    run_import: Callable[[], ImportSummary], tmp_path: Path
) -> None:
    summary = run_import()
    rejects = read_rejects(tmp_path / "rejects.csv")
    assert sorted(rejects) == sorted(EXPECTED_REJECTS)
    for row, (legacy_id, reason) in EXPECTED_REJECTS.items():
        assert rejects[row][0] == legacy_id, f"row {row}"
        assert rejects[row][1] == reason, f"row {row}: {rejects[row][2]}"
        assert rejects[row][2], f"row {row} has no detail"
    assert summary.rejects_by_reason["duplicate_id"] == 2


def test_reject_details_name_values(
    run_import: Callable[[], ImportSummary], tmp_path: Path
) -> None:
    run_import()
    rejects = read_rejects(tmp_path / "rejects.csv")
    assert "2019-02-30" in rejects[row_of("T-0106")][2]
    assert "Jaywalking" in rejects[row_of("T-0104")][2]
    assert "2600.0" in rejects[row_of("T-0105")][2]
    assert f"rows {row_of('T-0107', 0)}, {row_of('T-0107', 1)}" in rejects[row_of("T-0107")][2]
    assert "maximum is 100" in rejects[row_of(LONG_ID)][2]
    assert "2020-07-01" in rejects[row_of("T-0103")][2]


def test_rejected_rows_write_nothing(
    container: Container, run_import: Callable[[], ImportSummary]
) -> None:
    run_import()
    assert head(container) == IMPORTED_EVENTS
    assert reserved_numbers(container) == len(IMPORTED_IDS)
    for legacy_id, _reason in EXPECTED_REJECTS.values():
        if not legacy_id:
            continue
        complaint_id = legacy_complaint_id("copa", legacy_id)
        assert not container.event_store.recorder.select_events(complaint_id), legacy_id


def test_second_run_adds_nothing(
    container: Container, run_import: Callable[[], ImportSummary]
) -> None:
    run_import()
    events = head(container)
    summary = run_import()
    assert summary.imported == 0
    assert summary.already_imported == len(IMPORTED_IDS)
    assert summary.rejected == len(EXPECTED_REJECTS)
    assert head(container) == events
    assert reserved_numbers(container) == len(IMPORTED_IDS)


def test_events_keep_original_dates(
    container: Container, run_import: Callable[[], ImportSummary]
) -> None:
    before = datetime.now(UTC)
    run_import()
    after = datetime.now(UTC)
    events = list(
        container.event_store.repository.event_store.get(legacy_complaint_id("copa", "T-0001"))
    )
    assert [type(event).__name__ for event in events] == [
        "ComplaintLodged",
        "LegacyRecordImported",
        "ComplaintAcknowledged",
        "ComplaintAssigned",
        "ComplaintAssigned",
        "ComplaintAssigned",
        "ComplaintResolved",
        "ComplaintClosed",
    ]
    expected_days = [
        "2020-03-02",
        None,
        "2020-03-02",
        "2020-03-02",
        "2020-03-02",
        "2020-04-10",
        "2020-09-15",
        "2020-09-15",
    ]
    for event, day in zip(events, expected_days, strict=True):
        name = type(event).__name__
        if day is None:
            assert before <= event.occurred_at <= after, name
        else:
            assert event.occurred_at == chicago_midnight(day), name
        assert before <= event.timestamp <= after, name


def test_import_steps_are_system_made(
    container: Container, run_import: Callable[[], ImportSummary]
) -> None:
    run_import()
    events = container.event_store.repository.event_store.get(legacy_complaint_id("copa", "T-0002"))
    for event in events:
        assert event.actor.user_id == "system", type(event).__name__
        assert event.channel == "SYSTEM", type(event).__name__


@pytest.mark.parametrize(
    ("legacy_id", "status", "outcome", "unit_id", "holder_rank", "category", "officer"),
    [
        (
            "T-0001",
            "CLOSED",
            "REFERRED",
            "pb_dera_ghazi_khan-c1",
            "CIRCLE",
            "MISCONDUCT",
            "legacy-investigator-3",
        ),
        (
            "T-0002",
            "ASSIGNED",
            None,
            "pb_lahore-c2",
            "CIRCLE",
            "MISCONDUCT",
            "legacy-investigator-2",
        ),
        ("T-0003", "LODGED", None, "pb_lahore", "DISTRICT", "MISCONDUCT", None),
        ("T-0004", "CLOSED", "NO_ACTION_WARRANTED", "pb_chiniot-c1", "CIRCLE", "OTHER", None),
        ("T-0005", "ASSIGNED", None, "pb_multan-c2", "CIRCLE", "OTHER", "legacy-investigator-1"),
    ],
)
def test_read_model_shows_status(
    container: Container,
    run_import: Callable[[], ImportSummary],
    legacy_id: str,
    status: str,
    outcome: str | None,
    unit_id: str,
    holder_rank: str,
    category: str,
    officer: str | None,
) -> None:
    run_import()
    record = record_for(container, legacy_id)
    assert record.status == status
    assert record.outcome == outcome
    assert record.unit_id == unit_id
    assert record.holder_rank == holder_rank
    assert record.category == category
    assert record.assigned_officer_id == officer
    assert record.channel == "SYSTEM"
    assert record.station_id is None


def test_read_model_keeps_dates(
    container: Container, run_import: Callable[[], ImportSummary]
) -> None:
    run_import()
    closed = record_for(container, "T-0001")
    assert closed.lodged_at == chicago_midnight("2020-03-02")
    assert closed.acknowledged_at == chicago_midnight("2020-03-02")
    assert closed.resolved_at == chicago_midnight("2020-09-15")
    assert closed.closed_at == chicago_midnight("2020-09-15")
    assert closed.due_at is None
    unassigned = record_for(container, "T-0004")
    assert unassigned.acknowledged_at == chicago_midnight("2021-02-19")
    assert unassigned.closed_at == chicago_midnight("2021-02-19")


def test_tracking_number_uses_district_code(
    container: Container, run_import: Callable[[], ImportSummary]
) -> None:
    run_import()
    assert record_for(container, "T-0001").tracking_number.startswith("DGK-")
    assert record_for(container, "T-0003").tracking_number.startswith("LHR-")
    record = record_for(container, "T-0002")
    assert container.tracking_numbers.complaint_id_for(record.tracking_number) == record.id


def test_open_import_due_after_import(
    container: Container, run_import: Callable[[], ImportSummary]
) -> None:
    before = datetime.now(UTC)
    run_import()
    after = datetime.now(UTC)
    interval = container.complaints.policy.escalation_interval
    for legacy_id in ("T-0002", "T-0003"):
        due_at = record_for(container, legacy_id).due_at
        assert due_at is not None, legacy_id
        assert before + interval <= due_at <= after + interval, legacy_id


def test_no_personal_data(container: Container, run_import: Callable[[], ImportSummary]) -> None:
    run_import()
    record = record_for(container, "T-0002")
    assert record.complainant_sealed == b""
    assert container.queries.complainant(COMPLAINT_CELL, record) is None


def test_timelines_in_order(container: Container, run_import: Callable[[], ImportSummary]) -> None:
    run_import()
    ids = [legacy_complaint_id("copa", legacy_id) for legacy_id in ("T-0003", "T-0004")]
    timelines = container.queries.timelines(ids, include_internal=True)
    open_case, closed_case = (timelines[complaint_id] for complaint_id in ids)
    assert [entry.event_type for entry in open_case] == [
        "ComplaintLodged",
        "LegacyRecordImported",
    ]
    assert [entry.event_type for entry in closed_case] == [
        "ComplaintLodged",
        "LegacyRecordImported",
        "ComplaintAcknowledged",
        "ComplaintResolved",
        "ComplaintClosed",
    ]
    assert open_case[0].occurred_at == chicago_midnight("2022-08-01")
    assert closed_case[-1].occurred_at == chicago_midnight("2021-02-19")
    assert closed_case[1].details["reference"] == "T-0004"


def test_rerun_reuses_reserved_number(
    container: Container, run_import: Callable[[], ImportSummary]
) -> None:
    # As if an earlier run stopped after reserving the number but before saving.
    complaint_id = legacy_complaint_id("copa", "T-0001")
    number = container.tracking_numbers.reserve(complaint_id, lambda: new_tracking_number("DGK"))
    summary = run_import()
    assert summary.imported == len(IMPORTED_IDS)
    assert record_for(container, "T-0001").tracking_number == number
    assert reserved_numbers(container) == len(IMPORTED_IDS)


def test_missing_column_writes_nothing(
    container: Container, mapping: ImportMapping, tmp_path: Path
) -> None:
    path = tmp_path / "no_beat.csv"
    path.write_text(HEADER.replace(",beat", "") + "\n", encoding="utf-8")
    importer = LegacyImporter.from_container(container, mapping)
    with pytest.raises(LegacyFileError, match="lacks column"):
        importer.scan(path)
    assert head(container) == 0


def test_source_names_complaint_ids(
    container: Container, mapping: ImportMapping, legacy_file: Path, tmp_path: Path
) -> None:
    importer = LegacyImporter.from_container(container, mapping, source="copa-test")
    summary = importer.run(importer.scan(legacy_file), tmp_path / "rejects.csv")
    assert summary.imported == len(IMPORTED_IDS)
    complaint_id = legacy_complaint_id("copa-test", "T-0001")
    assert container.event_store.recorder.select_events(complaint_id, limit=1)
    assert not container.event_store.recorder.select_events(
        legacy_complaint_id("copa", "T-0001"), limit=1
    )


def cli_environment(settings: Settings) -> dict[str, str]:
    return {
        "CMS_DATA_DIR": str(settings.data_dir),
        "CMS_DATABASE_URL": settings.database_url or "",
        "CMS_BROKER_URL": "",
        "CMS_DEMO_DATA": "false",
        "CMS_LOG_LEVEL": "WARNING",
    }


def test_cli_imports_and_reruns(store_settings: Settings, legacy_file: Path) -> None:
    runner = CliRunner()
    arguments = ["import", str(legacy_file), "--mapping", str(COPA_MAPPING)]
    environment = cli_environment(store_settings)
    first = runner.invoke(main, arguments, env=environment)
    assert first.exit_code == 0, first.output
    assert "imported 5, already imported 0, rejected 14 of 19 rows" in first.output
    assert "rejected duplicate_id: 2" in first.output
    rejects = legacy_file.with_suffix(".rejects.csv")
    assert len(read_rejects(rejects)) == len(EXPECTED_REJECTS)
    second = runner.invoke(main, arguments, env=environment)
    assert second.exit_code == 0, second.output
    assert "imported 0, already imported 5, rejected 14 of 19 rows" in second.output


def test_cli_logs_outside_progress_bar(tmp_path: Path, legacy_file: Path) -> None:
    environment = {
        **cli_environment(make_settings(tmp_path)),
        "CMS_LOG_LEVEL": "INFO",
        "CMS_LOG_FORMAT": "json",
    }
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        result = CliRunner().invoke(
            main, ["import", str(legacy_file), "--mapping", str(COPA_MAPPING)], env=environment
        )
    finally:
        root.handlers[:] = handlers

    stderr = result.stderr
    started = stderr.index("from source copa started")
    finished = stderr.index(f"{legacy_file} finished: imported 5")
    bar_draws = [match.start() for match in re.finditer(r"import: +\d+%\|", stderr)]
    assert result.exit_code == 0, result.output
    assert bar_draws, stderr
    assert started < bar_draws[0]
    assert bar_draws[-1] < finished
    assert f"{DATA_ROWS}/{DATA_ROWS}" in stderr[bar_draws[-1] : finished]


def test_cli_rejects_bad_mapping(store_settings: Settings, legacy_file: Path) -> None:
    mapping = legacy_file.with_name("bad.toml")
    mapping.write_text(COPA_MAPPING.read_text(encoding="utf-8").replace('"%Y-%m-%d"', '"%m-%d"'))
    result = CliRunner().invoke(
        main,
        ["import", str(legacy_file), "--mapping", str(mapping)],
        env=cli_environment(store_settings),
    )
    assert result.exit_code == 1
    assert "invalid mapping" in result.output
    assert "date_format" in result.output


def test_cli_rejects_bad_source(store_settings: Settings, legacy_file: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["import", str(legacy_file), "--mapping", str(COPA_MAPPING), "--source", "a:b"],
        env=cli_environment(store_settings),
    )
    assert result.exit_code == 2
    assert "source 'a:b' is invalid" in result.output


@pytest.mark.timeout(600)
def test_whole_copa_file(postgres_container: Container, tmp_path: Path) -> None:
    assert COPA_FILE.is_file(), (
        f"the COPA file is missing at {COPA_FILE}; the test expects the shared data folder "
        "beside the repository"
    )
    importer = LegacyImporter.from_container(postgres_container, load_mapping(COPA_MAPPING))
    scanned = importer.scan(COPA_FILE)
    rejects_path = tmp_path / "copa.rejects.csv"

    first = importer.run(scanned, rejects_path)
    assert first.rows == COPA_ROWS
    assert first.imported + first.rejected == COPA_ROWS
    assert first.already_imported == 0
    rejects = read_rejects(rejects_path)
    assert len(rejects) == first.rejected
    for row, (legacy_id, reason, detail) in rejects.items():
        assert legacy_id, f"row {row}"
        assert reason, f"row {row}"
        assert detail, f"row {row}"
    assert dict(first.rejects_by_reason) == {"assigned_after_closed": 29}
    with postgres_container.database.read() as cursor:
        cursor.execute("SELECT COUNT(*) AS total FROM complaints_view")
        row = cursor.fetchone()
    assert row is not None
    assert row["total"] == first.imported

    events = head(postgres_container)
    second = importer.run(scanned, rejects_path)
    assert second.imported == 0
    assert second.already_imported == first.imported
    assert second.rejected == first.rejected
    assert head(postgres_container) == events


def test_assignment_reference_dates(
    container: Container, run_import: Callable[[], ImportSummary]
) -> None:
    run_import()
    timeline = container.queries.timelines(
        [legacy_complaint_id("copa", "T-0002")], include_internal=True
    )[legacy_complaint_id("copa", "T-0002")]
    assignments = [entry for entry in timeline if entry.event_type == "ComplaintAssigned"]
    assert [entry.occurred_at for entry in assignments] == [
        chicago_midnight("2021-06-03"),
        chicago_midnight("2022-01-10"),
    ]


LEGACY_REFERENCE_QUERY = """
query ($reference: String!) {
  complaint(legacyReference: $reference) { trackingNumber legacyReference }
}
"""


def run_graphql(container: Container, query: str, variables: dict[str, Any]) -> Any:
    context = Context(container, None, _principal=COMPLAINT_CELL)
    result = asyncio.run(
        build_schema().execute(query, variable_values=variables, context_value=context)
    )
    assert result.errors is None, result.errors
    return result.data


def test_complaint_by_legacy_reference(
    container: Container, run_import: Callable[[], ImportSummary]
) -> None:
    run_import()

    found = run_graphql(container, LEGACY_REFERENCE_QUERY, {"reference": "copa:T-0002"})
    missing = run_graphql(container, LEGACY_REFERENCE_QUERY, {"reference": "copa:T-0101"})

    assert found["complaint"] == {
        "trackingNumber": record_for(container, "T-0002").tracking_number,
        "legacyReference": "copa:T-0002",
    }
    assert missing["complaint"] is None


def test_migration_fills_legacy_reference(
    container: Container, run_import: Callable[[], ImportSummary]
) -> None:
    run_import()
    lodged = container.complaints.lodge(Principal.anonymous(), lodge_command()).complaint_id
    container.catch_up_all()
    # As before the migration: no column, and the migration not yet applied.
    container.database.run_script(
        "DROP INDEX complaints_view_legacy_reference;"
        " ALTER TABLE complaints_view DROP COLUMN legacy_reference;"
        " DELETE FROM schema_migrations WHERE name = '011_legacy_reference.sql';"
    )

    applied = migrate(container.database)

    assert applied == ["011_legacy_reference.sql"]
    for legacy_id in IMPORTED_IDS:
        assert record_for(container, legacy_id).legacy_reference == f"copa:{legacy_id}"
    record = container.queries.get(COMPLAINT_CELL, lodged)
    assert record is not None
    assert record.legacy_reference is None
