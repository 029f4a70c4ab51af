"""The start error when PostgreSQL cannot be reached: one clean line with the driver's words."""

from __future__ import annotations

import socket

import psycopg
import pytest

from cms_graph.adapters.database import connection_failure_text
from cms_graph.bootstrap import DatabaseUnavailable, check_postgres

REFUSED = (
    'connection failed: connection to server at "127.0.0.1", port 5999 failed:'
    " Connection refused\n\tIs the server running on that host and accepting TCP/IP"
    " connections?"
)


def closed_local_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on, as far as the OS can tell."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            REFUSED,
            'connection to server at "127.0.0.1", port 5999 failed: Connection refused.'
            " Is the server running on that host and accepting TCP/IP connections?",
        ),
        (
            'connection failed: connection to server at "127.0.0.1", port 5432 failed:'
            ' FATAL:  database "cms" does not exist\n',
            'connection to server at "127.0.0.1", port 5432 failed: FATAL: database "cms"'
            " does not exist.",
        ),
        ("", "OperationalError."),
    ],
)
def test_failure_text_cleaned(message: str, expected: str) -> None:
    assert connection_failure_text(psycopg.OperationalError(message)) == expected


def test_refused_connection_message() -> None:
    port = closed_local_port()

    with pytest.raises(DatabaseUnavailable) as raised:
        check_postgres(f"postgresql://postgres@127.0.0.1:{port}/cms", timeout_seconds=2)

    message = str(raised.value)
    assert message.startswith(f"cannot connect to PostgreSQL at 127.0.0.1:{port}/cms: ")
    assert "Connection refused. " in message
    assert message.endswith(
        " Check CMS_DATABASE_URL. If the database does not exist, create it first (createdb)."
    )
    assert "\t" not in message
    assert "\n" not in message
    assert "?." not in message
    assert "  " not in message
