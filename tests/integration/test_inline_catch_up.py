"""Shared inline catch-up: waiting threads rely on one round, a failed round never raises."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from cms_graph.adapters.database import Cursor
from cms_graph.application.identity import Principal
from cms_graph.application.queries import ComplaintFilter
from cms_graph.bootstrap import Container
from cms_graph.projections.inline_catch_up import InlineCatchUp
from cms_graph.projections.runner import ProjectionRunner
from tests.factories import COMPLAINT_CELL, lodge_command


class CountingRunner(ProjectionRunner):
    """The complaint view's runner, counting the catch-up rounds it is asked for."""

    def __init__(self, container: Container) -> None:
        live = container.complaint_projection
        super().__init__(live.database, live.event_store, live.projector)
        self.rounds = 0

    def catch_up(self, until: int | None = None) -> int:
        self.rounds += 1
        return super().catch_up(until)


class BrokenProjector:
    name = "broken"
    tables = ()

    def apply(self, cursor: Cursor, event: Any, notification_id: int) -> None:
        raise RuntimeError(f"cannot apply notification {notification_id}")


def lodge_without_view(container: Container) -> int:
    container.complaints.after_commit = lambda _notification_id: None
    return container.complaints.lodge(Principal.anonymous(), lodge_command()).notification_id


def test_covered_id_needs_no_round(sqlite_container: Container) -> None:
    first = lodge_without_view(sqlite_container)
    second = lodge_without_view(sqlite_container)
    runner = CountingRunner(sqlite_container)
    catch_up = InlineCatchUp(runner)

    assert catch_up.wait_for(second) is True
    assert catch_up.wait_for(first) is True
    assert runner.rounds == 1


def test_waiters_see_their_commit(postgres_container: Container) -> None:
    container = postgres_container
    ids = [lodge_without_view(container) for _ in range(8)]
    runner = CountingRunner(container)
    catch_up = InlineCatchUp(runner)
    outcomes: list[bool] = []
    barrier = threading.Barrier(len(ids))

    def wait(notification_id: int) -> None:
        barrier.wait()
        outcomes.append(catch_up.wait_for(notification_id))

    threads = [threading.Thread(target=wait, args=(notification_id,)) for notification_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == [True] * len(ids)
    assert runner.position() >= max(ids)
    assert container.queries.page(COMPLAINT_CELL, ComplaintFilter()).total_count == len(ids)


def test_failed_round_logs_and_returns(
    sqlite_container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    notification_id = lodge_without_view(sqlite_container)
    live = sqlite_container.complaint_projection
    runner = ProjectionRunner(live.database, live.event_store, BrokenProjector())
    catch_up = InlineCatchUp(runner)

    with caplog.at_level(logging.ERROR, logger="cms_graph.projections.inline_catch_up"):
        assert catch_up.wait_for(notification_id) is False
    assert f"projection broken to notification {notification_id} failed" in caplog.text
    # The failed round covered the id, so a second wait returns without a new round.
    caplog.clear()
    assert catch_up.wait_for(notification_id) is False
    assert caplog.text == ""
