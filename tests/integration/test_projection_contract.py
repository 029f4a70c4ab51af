"""The projection contract, written once and run on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cms_graph.adapters.database import Database, PostgresDatabase, SQLiteDatabase
from cms_graph.adapters.migrations import migrate
from cms_graph.application.commands import ComplainantProof
from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container, build_projectors
from cms_graph.domain.values import Outcome
from cms_graph.projections.complaints import ComplaintViewProjector
from cms_graph.projections.digest import TABLE_KEYS, table_digest
from cms_graph.projections.runner import ProjectionRunner
from tests.factories import LAHORE_DPO, PHONE, SDPO, lodge_command
from tests.integration.crash_projection import CRASH_STATUS

ROOT = Path(__file__).resolve().parents[2]


def write_history(container: Container, complaints: int) -> int:
    """Lodge complaints and move them through several steps; return the event count."""
    service = container.complaints
    for index in range(complaints):
        result = service.lodge(Principal.anonymous(), lodge_command())
        key = result.complaint_id
        service.acknowledge(SDPO, key, f"call {index}")
        if index % 2 == 0:
            service.assign(
                SDPO, key, officer_id=f"officer-{index}", unit_id="pb_lahore-c1", reason=None
            )
            service.resolve(SDPO, key, outcome=Outcome.RELIEF_GRANTED, summary="done")
            service.record_feedback(
                ComplainantProof(result.tracking_number, PHONE), satisfied=False, comment=None
            )
        if index % 3 == 0:
            service.add_note(LAHORE_DPO, key, text="internal", internal=True)
    return container.event_store.recorder.max_notification_id() or 0


@pytest.fixture
def fresh_database(container: Container, tmp_path: Path) -> Iterator[Database]:
    """An empty projection database of the same kind as the container's."""
    if container.database.dialect == "sqlite":
        database: Database = SQLiteDatabase(tmp_path / "rebuild.sqlite3")
        migrate(database)
        yield database
        database.close()
        return
    base_url = container.settings.database_url or ""
    name = f"cms_rebuild_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = base_url.rsplit("/", 1)[0] + "/" + name
    database = PostgresDatabase(url)
    migrate(database)
    yield database
    database.close()
    with psycopg.connect(base_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rebuild_digests(container: Container, database: Database) -> dict[str, str]:
    """Build every projection from zero into ``database``; return each table's digest."""
    for projector in build_projectors(container.settings, container.units).values():
        ProjectionRunner(database, container.event_store, projector, batch_size=7).catch_up()
    return {table: table_digest(database, table) for table in TABLE_KEYS}


def live_digests(container: Container) -> dict[str, str]:
    return {table: table_digest(container.database, table) for table in TABLE_KEYS}


def test_live_view_matches_rebuild(container: Container, fresh_database: Database) -> None:
    write_history(container, 6)
    container.catch_up_all()
    live = live_digests(container)
    assert live == rebuild_digests(container, fresh_database)
    assert set(live) == set(TABLE_KEYS)


def test_catch_up_twice_changes_nothing(container: Container) -> None:
    write_history(container, 3)
    before = live_digests(container)
    assert container.complaint_projection.catch_up() == 0
    assert container.complaint_projection.process_batch() == 0
    assert live_digests(container) == before


def test_position_reaches_head(container: Container) -> None:
    events = write_history(container, 3)
    assert container.complaint_projection.position() == events
    assert container.complaint_projection.lag() == 0


def test_batches_smaller_than_log(container: Container, fresh_database: Database) -> None:
    events = write_history(container, 4)
    runner = ProjectionRunner(
        fresh_database, container.event_store, ComplaintViewProjector(container.units), batch_size=5
    )
    assert runner.process_batch() == 5
    assert runner.position() == 5
    assert runner.catch_up() == events - 5
    assert runner.position() == events


def test_catch_up_until_stops_there(container: Container, fresh_database: Database) -> None:
    events = write_history(container, 2)
    runner = ProjectionRunner(
        fresh_database, container.event_store, ComplaintViewProjector(container.units), batch_size=2
    )

    assert runner.catch_up(until=3) == 4
    assert runner.position() == 4
    assert runner.catch_up(until=4) == 0
    assert runner.catch_up() == events - 4
    assert runner.position() == events


def test_two_runners_at_once(container: Container, fresh_database: Database) -> None:
    write_history(container, 6)
    expected = live_digests(container)
    runners = [
        ProjectionRunner(
            fresh_database,
            container.event_store,
            ComplaintViewProjector(container.units),
            batch_size=3,
        )
        for _ in range(2)
    ]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(runners))

    def run(runner: ProjectionRunner) -> None:
        barrier.wait()
        try:
            runner.catch_up()
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {table: table_digest(fresh_database, table) for table in TABLE_KEYS} == expected


def run_crashing_projection(
    container: Container, kill_after: int, batch_size: int
) -> subprocess.CompletedProcess[str]:
    database_url = container.settings.database_url or "-"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.crash_projection",
            str(container.settings.data_dir),
            database_url,
            str(kill_after),
            str(batch_size),
        ],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_crash_mid_batch_loses_nothing(container: Container, fresh_database: Database) -> None:
    events = write_history(container, 5)
    # Forget the live projection so the crashing process starts from zero.
    with container.database.transaction() as cursor:
        for table in TABLE_KEYS:
            cursor.execute(f"DELETE FROM {table}")  # fixed names
        cursor.execute("DELETE FROM projection_positions")

    crashed = run_crashing_projection(container, kill_after=4, batch_size=10)
    assert crashed.returncode == CRASH_STATUS, crashed.stderr
    # The batch was in flight: nothing of it is visible.
    assert container.complaint_projection.position() == 0
    with container.database.read() as cursor:
        cursor.execute("SELECT COUNT(*) AS n FROM complaint_timeline_view")
        row = cursor.fetchone()
    assert row is not None and row["n"] == 0

    crashed_later = run_crashing_projection(container, kill_after=15, batch_size=10)
    assert crashed_later.returncode == CRASH_STATUS, crashed_later.stderr
    assert container.complaint_projection.position() == 10

    assert container.complaint_projection.catch_up() == events - 10
    container.catch_up_all()  # the other projections were cleared too; rebuild them
    assert live_digests(container) == rebuild_digests(container, fresh_database)
