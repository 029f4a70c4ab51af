"""Rebuilding a projection while queries keep running, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from cms_graph.application.identity import Principal
from cms_graph.application.queries import ComplaintFilter
from cms_graph.bootstrap import Container, build_projectors
from cms_graph.projections.digest import projection_digest
from cms_graph.projections.rebuild import RebuildError, rebuild
from tests.factories import COMPLAINT_CELL, SDPO, lodge_command


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
