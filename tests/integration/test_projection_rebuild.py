"""Rebuilding a projection while queries keep running, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cms_graph.application.commands import ComplainantProof
from cms_graph.application.identity import Principal
from cms_graph.application.queries import ComplaintFilter
from cms_graph.bootstrap import Container, build_container, build_projectors
from cms_graph.cli import main
from cms_graph.domain.values import Outcome
from cms_graph.projections.digest import projection_digest, table_digest
from cms_graph.projections.rebuild import NOT_REBUILDABLE, RebuildError, rebuild
from cms_graph.projections.runner import BULK_BATCH_EVENTS
from tests.conftest import make_settings
from tests.factories import COMPLAINT_CELL, LAHORE_DPO, OFFICER, PHONE, SDPO, lodge_command


def lodge_many(container: Container, count: int) -> None:
    for _ in range(count):
        key = container.complaints.lodge(Principal.anonymous(), lodge_command()).complaint_id
        container.complaints.acknowledge(SDPO, key, None)
    container.catch_up_all()


def test_rebuild_keeps_answering(container: Container) -> None:
    lodge_many(container, 40)
    projector = build_projectors(container.settings, container.units)["complaints"]
    before = projection_digest(container.database, projector.tables)
    stop = threading.Event()
    answers: list[int] = []
    errors: list[BaseException] = []

    def query_until_stopped() -> None:
        while not stop.is_set():
            try:
                answers.append(
                    container.queries.page(COMPLAINT_CELL, ComplaintFilter()).total_count
                )
            except BaseException as error:  # collected and asserted below
                errors.append(error)

    reader = threading.Thread(target=query_until_stopped)
    reader.start()
    try:
        result = rebuild(
            container.database,
            container.event_store,
            projector,
            data_dir=container.settings.data_dir,
            batch_size=10,
        )
    finally:
        stop.set()
        reader.join()

    assert errors == []
    assert answers
    assert set(answers) == {40}
    assert result.events == container.event_store.recorder.max_notification_id()
    assert projection_digest(container.database, projector.tables) == before


def write_varied_history(container: Container, complaints: int) -> None:
    """Lodge complaints and take them through the events that change complaints_view,
    all but FIR registration and legacy import, in four patterns of changed columns."""
    service = container.complaints
    for index in range(complaints):
        lodged = service.lodge(Principal.anonymous(), lodge_command())
        key = lodged.complaint_id
        proof = ComplainantProof(lodged.tracking_number, PHONE)
        service.acknowledge(SDPO, key, None)
        pattern = index % 4
        if pattern == 0:
            service.withdraw(proof, "settled with the station")
        elif pattern == 1:
            service.assign(
                SDPO, key, officer_id=OFFICER.user_id or "", unit_id="pb_lahore-c1", reason=None
            )
            service.resolve(OFFICER, key, outcome=Outcome.RELIEF_GRANTED, summary="Released")
            # Negative feedback reopens the complaint and escalates it in one save.
            service.record_feedback(proof, satisfied=False, comment=None)
        elif pattern == 2:
            service.escalate(SDPO, key, "No reply from the station")
            service.add_note(LAHORE_DPO, key, text="Called the SHO", internal=True)
            service.resolve(
                LAHORE_DPO, key, outcome=Outcome.NO_ACTION_WARRANTED, summary="Unfounded"
            )
            service.close(LAHORE_DPO, key, None)


@pytest.mark.parametrize("batch_size", [3, BULK_BATCH_EVENTS])
def test_rebuild_matches_catch_up(container: Container, batch_size: int) -> None:
    # Commands bring the live tables up to date a few events at a time, writing inside
    # the runner's pipeline. The rebuild writes each complaint once per batch. In batches
    # of 3, most complaints are lodged in one batch and updated in later ones. In bulk
    # batches, written with COPY on PostgreSQL, most are inserted in their final state.
    write_varied_history(container, 20)
    assert (container.event_store.recorder.max_notification_id() or 0) > BULK_BATCH_EVENTS
    projector = build_projectors(container.settings, container.units)["complaints"]
    live = {table: table_digest(container.database, table) for table in projector.tables}

    rebuild(
        container.database,
        container.event_store,
        projector,
        data_dir=container.settings.data_dir,
        batch_size=batch_size,
    )

    for table in projector.tables:
        assert table_digest(container.database, table) == live[table], table
    assert container.queries.page(COMPLAINT_CELL, ComplaintFilter()).total_count == 20


def test_live_runner_continues_after_rebuild(container: Container) -> None:
    lodge_many(container, 3)
    projector = build_projectors(container.settings, container.units)["complaints"]
    rebuild(
        container.database, container.event_store, projector, data_dir=container.settings.data_dir
    )
    lodge_many(container, 2)
    assert container.queries.page(COMPLAINT_CELL, ComplaintFilter()).total_count == 5
    assert container.complaint_projection.lag() == 0


def test_audit_chain_not_rebuildable(container: Container) -> None:
    projector = build_projectors(container.settings, container.units)["audit_chain"]
    with pytest.raises(RebuildError, match="it is the tamper evidence"):
        rebuild(
            container.database,
            container.event_store,
            projector,
            data_dir=container.settings.data_dir,
        )


def test_webhooks_not_rebuildable(container: Container) -> None:
    projector = build_projectors(container.settings, container.units)["webhooks"]
    with pytest.raises(RebuildError, match="which a rebuild would send again"):
        rebuild(
            container.database,
            container.event_store,
            projector,
            data_dir=container.settings.data_dir,
        )


def test_rebuild_keeps_index_names(container: Container) -> None:
    # Later migrations name indexes, so a switched-over table must still carry them.
    lodge_many(container, 3)
    projector = build_projectors(container.settings, container.units)["complaints"]
    before = {table: index_names(container, table) for table in projector.tables}

    rebuild(
        container.database, container.event_store, projector, data_dir=container.settings.data_dir
    )

    for table in projector.tables:
        assert index_names(container, table) == before[table], table
        assert before[table], table


def index_names(container: Container, table: str) -> list[str]:
    if container.database.dialect == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table"
    else:
        query = (
            "SELECT indexname AS name FROM pg_indexes"
            " WHERE schemaname = 'public' AND tablename = :table"
        )
    with container.database.read() as cursor:
        cursor.execute(query, {"table": table})
        return sorted(row["name"] for row in cursor.fetchall())


def cli_environment(data_dir: Path) -> dict[str, str]:
    return {
        "CMS_DATA_DIR": str(data_dir),
        "CMS_DATABASE_URL": "",
        "CMS_BROKER_URL": "",
        "CMS_DEMO_DATA": "false",
        "CMS_LOG_LEVEL": "WARNING",
    }


def test_cli_rebuilds_complaints(tmp_path: Path) -> None:
    container = build_container(make_settings(tmp_path))
    try:
        lodge_many(container, 3)
        head = container.event_store.recorder.max_notification_id()
    finally:
        container.close()

    result = CliRunner().invoke(
        main, ["projections", "rebuild", "complaints"], env=cli_environment(tmp_path)
    )

    assert result.exit_code == 0, result.output
    assert f"{head}/{head}" in result.stderr
    assert result.stdout.startswith(f"rebuilt complaints: {head} events in ")


def test_cli_rejects_outbox_before_progress(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["projections", "rebuild", "citizen_notifications"],
        env=cli_environment(tmp_path),
    )

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: projection citizen_notifications cannot be rebuilt: it records which messages"
        " were sent, and a rebuild would send them all again\n"
    )
    assert not (tmp_path / "cms-graph.sqlite3").exists()


def test_cli_unknown_lists_rebuildable(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["projections", "rebuild", "complaint"], env=cli_environment(tmp_path)
    )

    lines = result.stderr.splitlines()
    choices = next(line for line in lines if "is not a projection" in line)
    assert result.exit_code == 2
    assert choices.endswith(
        "'complaint' is not a projection that can be rebuilt. Use one of complaints,"
        " escalations, audit_trail, integrations. These cannot be rebuilt:"
    )
    for name in sorted(NOT_REBUILDABLE):
        assert any(line.startswith(f"  {name}: ") for line in lines), name
    assert "%|" not in result.stderr


def test_cli_status_shows_lag_age(tmp_path: Path) -> None:
    container = build_container(make_settings(tmp_path))
    try:
        lodge_many(container, 2)
        # The complaint view applies one more lodging inline, and the others lag behind.
        container.complaints.lodge(Principal.anonymous(), lodge_command())
        head = container.event_store.recorder.max_notification_id()
    finally:
        container.close()

    result = CliRunner().invoke(main, ["projections", "status"], env=cli_environment(tmp_path))

    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert result.exit_code == 0, result.output
    assert lines["complaints"] == f"position {head}, lag 0 events, 0.0 s"
    assert lines["escalations"].startswith(f"position {head - 1}, lag 1 events, ")


def test_cli_status_exit_on_lag(tmp_path: Path) -> None:
    container = build_container(make_settings(tmp_path))
    try:
        # The complaint view applies this lodging inline, and the other projections lag.
        container.complaints.lodge(Principal.anonymous(), lodge_command())
    finally:
        container.close()
    environment = cli_environment(tmp_path)

    lagging = CliRunner().invoke(
        main, ["projections", "status", "--max-lag-seconds", "0.0001"], env=environment
    )
    within = CliRunner().invoke(
        main, ["projections", "status", "--max-lag-seconds", "3600"], env=environment
    )

    assert lagging.exit_code == 1
    assert "lag age above 0.0001 s in escalations," in lagging.stderr
    assert "complaints" not in lagging.stderr
    assert within.exit_code == 0, within.output
