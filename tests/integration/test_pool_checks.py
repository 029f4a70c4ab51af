"""Pooled PostgreSQL connections whose backends were ended are replaced, not used."""

from __future__ import annotations

import logging
import select
import time

import psycopg
import pytest

from cms_graph.adapters.pool_checks import ReadableSocketCheck
from cms_graph.application.identity import Principal
from cms_graph.application.queries import ComplaintFilter
from cms_graph.bootstrap import Container
from tests.factories import COMPLAINT_CELL, lodge_command


def end_other_backends(url: str) -> int:
    """End every other backend of the database, as a server restart would; return how many."""
    with psycopg.connect(url, autocommit=True) as connection:
        ended = connection.execute(
            "SELECT count(*) FROM ("
            " SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()) AS ended"
        ).fetchone()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = connection.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
            if left is not None and left[0] == 0:
                break
            time.sleep(0.05)
    return ended[0] if ended is not None else 0


def test_lodging_after_backends_ended(
    postgres_container: Container, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Fill both pools: the event store's and the project tables'.
    for _ in range(3):
        postgres_container.complaints.lodge(Principal.anonymous(), lodge_command())

    ended = end_other_backends(postgres_url)
    caplog.set_level(logging.INFO, logger="cms_graph.adapters.pool_checks")
    result = postgres_container.complaints.lodge(Principal.anonymous(), lodge_command())
    page = postgres_container.queries.page(COMPLAINT_CELL, ComplaintFilter())

    assert ended >= 2
    assert result.tracking_number
    assert page.total_count == 4
    for pool in ("event-store", "cms-graph"):
        assert f"pool {pool} lost a connection; testing the idle ones" in caplog.messages
        assert any(m.startswith(f"pool {pool} replaced ") for m in caplog.messages), pool


def test_readable_live_connection_kept(postgres_url: str) -> None:
    # A notification makes an idle socket readable without the backend ending.
    with (
        psycopg.connect(postgres_url, autocommit=True) as listener,
        psycopg.connect(postgres_url, autocommit=True) as sender,
    ):
        listener.execute("LISTEN pool_check_test")
        sender.execute("NOTIFY pool_check_test")
        readable_by = time.monotonic() + 5
        while not select.select([listener.fileno()], [], [], 0.05)[0]:
            assert time.monotonic() < readable_by, "the notification never arrived"

        ReadableSocketCheck()(listener)

        assert not listener.closed
        assert listener.execute("SELECT 1").fetchone() == (1,)


def test_ended_connection_fails_check(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        pid = connection.info.backend_pid
        with psycopg.connect(postgres_url, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))
        select.select([connection.fileno()], [], [], 5)

        with pytest.raises(psycopg.OperationalError):
            ReadableSocketCheck()(connection)
