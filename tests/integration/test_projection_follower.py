"""The follower wakes projections on PostgreSQL's NOTIFY, and by polling on SQLite."""

from __future__ import annotations

import logging
import threading
import time

import psycopg
import pytest

from cms_graph.bootstrap import Container
from cms_graph.workers.follower import ProjectionFollower
from tests.integration.test_workers_redis import store_without_projection

WAIT_LIMIT_SECONDS = 90.0


def wait_for_catch_up(container: Container, follower_ran: threading.Event) -> bool:
    """Wait, bounded, until the follower has applied everything; return whether it did."""
    for _ in range(int(WAIT_LIMIT_SECONDS / 0.1)):
        follower_ran.wait(0.1)
        if container.complaint_projection.lag() == 0:
            return True
    return False


def counting(container: Container, ran: threading.Event):  # type: ignore[no-untyped-def]
    def catch_up() -> int:
        applied = container.catch_up_all()
        if applied:
            ran.set()
        return applied

    return catch_up


def test_notify_wakes_follower(postgres_container: Container) -> None:
    ran = threading.Event()
    # A poll interval far beyond the wait limit: only NOTIFY can wake it in time.
    follower = ProjectionFollower(
        counting(postgres_container, ran),
        database_url=postgres_container.settings.database_url,
        poll_seconds=3600,
    )
    follower.start()
    try:
        assert follower.ready.wait(WAIT_LIMIT_SECONDS)
        store_without_projection(postgres_container, 3)
        assert wait_for_catch_up(postgres_container, ran)
    finally:
        follower.stop()
    assert postgres_container.complaint_projection.position() == 3


def test_polling_follower_on_sqlite(sqlite_container: Container) -> None:
    ran = threading.Event()
    follower = ProjectionFollower(
        counting(sqlite_container, ran), database_url=None, poll_seconds=0.2
    )
    follower.start()
    try:
        store_without_projection(sqlite_container, 3)
        assert wait_for_catch_up(sqlite_container, ran)
    finally:
        follower.stop()
    assert sqlite_container.complaint_projection.position() == 3


def test_follower_reconnects_after_backend_ended(
    postgres_container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    ran = threading.Event()
    url = postgres_container.settings.database_url
    assert url is not None
    follower = ProjectionFollower(
        counting(postgres_container, ran), database_url=url, poll_seconds=0.2
    )
    caplog.set_level(logging.INFO, logger="cms_graph.workers.follower")
    follower.start()
    try:
        assert follower.ready.wait(WAIT_LIMIT_SECONDS)
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            )
        for _ in range(int(WAIT_LIMIT_SECONDS / 0.1)):
            if "projection follower reconnected" in caplog.messages:
                break
            time.sleep(0.1)
        store_without_projection(postgres_container, 2)
        assert wait_for_catch_up(postgres_container, ran)
    finally:
        follower.stop()

    lost = [m for m in caplog.messages if m.startswith("projection follower lost its connection")]
    assert len(lost) == 1
    assert "\n" not in lost[0]
    assert "\t" not in lost[0]
    assert "projection follower reconnected" in caplog.messages
