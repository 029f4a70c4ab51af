"""The service runs as the append-only role after the owner ran the migrations."""

from __future__ import annotations

from pathlib import Path

from cms_graph.application.identity import Principal
from cms_graph.application.queries import ComplaintFilter
from cms_graph.bootstrap import build_container, migrate_store
from tests.conftest import make_settings
from tests.factories import COMPLAINT_CELL, SDPO, lodge_command


def test_service_runs_as_app_role(tmp_path: Path, postgres_url: str) -> None:
    applied = migrate_store(make_settings(tmp_path, postgres_url))
    assert "event_log/001_append_only.sql" in applied

    app_url = postgres_url.replace("postgres@", "cms_graph_app@", 1)
    settings = make_settings(tmp_path, app_url, migrate_on_start=False)
    container = build_container(settings)
    try:
        result = container.complaints.lodge(Principal.anonymous(), lodge_command())
        container.complaints.acknowledge(SDPO, result.complaint_id, "called")
        record = container.queries.get(SDPO, result.complaint_id)
        assert record is not None
        assert container.queries.complainant(SDPO, record) is not None
        container.vault.shred(result.complaint_id)
        assert container.catch_up_all() > 0
        assert container.queries.page(COMPLAINT_CELL, ComplaintFilter()).total_count == 1
    finally:
        container.close()


def test_migrate_twice_applies_nothing(tmp_path: Path, postgres_url: str) -> None:
    settings = make_settings(tmp_path, postgres_url)
    assert migrate_store(settings)
    assert migrate_store(settings) == []
