"""Connections for the tables this project owns: projections, keys and lookups.

The event store's own tables are managed by the ``eventsourcing`` library; these are the
rest. SQL in this project is written once with ``:name`` parameters and runs on both
SQLite and PostgreSQL; ``Database.sql`` converts it for psycopg.
"""

from __future__ import annotations

import queue
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from cms_graph.adapters.pool_checks import ReadableSocketCheck

Dialect = Literal["sqlite", "postgres"]
Row = Mapping[str, Any]

_NAMED_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@lru_cache(maxsize=512)
def to_pyformat(statement: str) -> str:
    """Rewrite ``:name`` parameters as psycopg's ``%(name)s``, leaving ``::type`` casts."""
    escaped = statement.replace("%", "%%")
    return _NAMED_PARAMETER.sub(r"%(\1)s", escaped)


def _adapt_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} cannot be stored; use UTC")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _convert_timestamp(raw: bytes) -> datetime:
    return datetime.strptime(raw.decode(), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# SQLite stores UTC timestamps as fixed-width text, so they sort in time order.
sqlite3.register_adapter(datetime, _adapt_datetime)
sqlite3.register_converter("TIMESTAMPTZ", _convert_timestamp)


class Cursor(Protocol):
    def pipeline(self) -> AbstractContextManager[object]:
        """Send statements without waiting for each result until the block ends, where
        the server supports it (PostgreSQL); elsewhere, do nothing."""
        ...

    def execute(self, statement: str, parameters: Mapping[str, Any] = ...) -> None: ...
    def executemany(self, statement: str, rows: Sequence[Mapping[str, Any]]) -> None: ...
    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert rows whose values follow the order of ``columns``.

        PostgreSQL uses COPY, or executemany inside pipeline(), and SQLite uses
        executemany. ``table`` and ``columns`` go into the SQL as they are, so they must
        be fixed names, never input."""
        ...

    def fetchone(self) -> Row | None: ...
    def fetchall(self) -> list[Row]: ...
    @property
    def rowcount(self) -> int: ...


class _SQLiteCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def pipeline(self) -> AbstractContextManager[object]:
        return nullcontext()

    def execute(self, statement: str, parameters: Mapping[str, Any] = {}) -> None:
        self._cursor.execute(statement, parameters)

    def executemany(self, statement: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self._cursor.executemany(statement, rows)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        placeholders = ", ".join("?" for _ in columns)
        self._cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608
            rows,
        )

    def fetchone(self) -> Row | None:
        row = self._cursor.fetchone()
        return dict(row) if row is not None else None

    def fetchall(self) -> list[Row]:
        return [dict(row) for row in self._cursor.fetchall()]

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


class _PostgresCursor:
    def __init__(self, cursor: psycopg.Cursor[dict[str, Any]]) -> None:
        self._cursor = cursor

    def pipeline(self) -> AbstractContextManager[object]:
        return self._cursor.connection.pipeline()

    def execute(self, statement: str, parameters: Mapping[str, Any] = {}) -> None:
        self._cursor.execute(to_pyformat(statement), parameters)

    def executemany(self, statement: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self._cursor.executemany(to_pyformat(statement), rows)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        names = sql.SQL(", ").join(map(sql.Identifier, columns))
        if self._cursor.connection.pgconn.pipeline_status:
            # COPY cannot run in pipeline mode, so executemany sends the rows in the pipeline.
            statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier(table), names, sql.SQL(", ").join(sql.Placeholder() * len(columns))
            )
            self._cursor.executemany(statement, rows)
            return
        with self._cursor.copy(
            sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), names)
        ) as copy:
            for row in rows:
                copy.write_row(row)

    def fetchone(self) -> Row | None:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Row]:
        return list(self._cursor.fetchall())

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


class Database(Protocol):
    dialect: Dialect

    def transaction(self) -> Any:
        """Context manager yielding a Cursor inside one committed-or-rolled-back write."""

    def read(self) -> Any:
        """Context manager yielding a Cursor for reads."""

    def probe(self, timeout_seconds: int) -> Any:
        """Context manager yielding a Cursor for health reads that give up within about
        ``timeout_seconds`` when the database is unreachable or slow."""

    def run_script(self, script: str) -> None: ...

    def close(self) -> None: ...


class SQLiteDatabase:
    """A small pool of SQLite connections to one file.

    Writes start with ``BEGIN IMMEDIATE`` so that two writers serialise on the file lock
    at the start of a transaction instead of failing at commit.
    """

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, *, pool_size: int = 8, busy_timeout_seconds: float = 30.0):
        self.path = path
        self._timeout = busy_timeout_seconds
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue(maxsize=pool_size)
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=self._timeout,
            isolation_level=None,
            check_same_thread=False,
            detect_types=sqlite3.PARSE_DECLTYPES,
        )
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            connection = self._connect()
        try:
            yield connection
        finally:
            if connection.in_transaction:
                connection.rollback()
            try:
                self._idle.put_nowait(connection)
            except queue.Full:
                connection.close()

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteCursor(connection.cursor())
            except BaseException:
                connection.rollback()
                raise
            connection.commit()

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        with self._connection() as connection:
            yield _SQLiteCursor(connection.cursor())

    @contextmanager
    def probe(self, timeout_seconds: int) -> Iterator[Cursor]:
        """Yield a Cursor on a read-only connection of its own that waits at most
        ``timeout_seconds`` for a writer's lock and never creates the file."""
        connection = sqlite3.connect(
            f"{self.path.resolve().as_uri()}?mode=ro",
            uri=True,
            timeout=timeout_seconds,
            isolation_level=None,
            check_same_thread=False,
        )
        connection.row_factory = sqlite3.Row
        try:
            yield _SQLiteCursor(connection.cursor())
        finally:
            connection.close()

    def run_script(self, script: str) -> None:
        with self._connection() as connection:
            connection.executescript(script)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


class PostgresDatabase:
    dialect: Dialect = "postgres"

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        search_path: str | None = None,
    ) -> None:
        """``search_path`` puts a schema in front of ``public``, so unqualified table
        names resolve to its tables first; projection rebuilds use it."""
        self.url = url
        self._search_path = search_path
        kwargs: dict[str, Any] = {"row_factory": dict_row, "autocommit": True}
        if search_path is not None:
            kwargs["options"] = f"-c search_path={search_path}"
        check = ReadableSocketCheck()
        self.pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs=kwargs,
            open=True,
            name="cms-graph",
            check=check,
        )
        check.pool = self.pool

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with (
            self.pool.connection() as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            yield _PostgresCursor(cursor)

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        with self.pool.connection() as connection, connection.cursor() as cursor:
            yield _PostgresCursor(cursor)

    @contextmanager
    def autocommit(self) -> Iterator[Cursor]:
        """Yield a Cursor on which each statement is a transaction of its own, which
        saves the round trips of BEGIN and COMMIT for a write of one statement."""
        with self.pool.connection() as connection, connection.cursor() as cursor:
            yield _PostgresCursor(cursor)

    @contextmanager
    def probe(self, timeout_seconds: int) -> Iterator[Cursor]:
        """Yield a Cursor on a new connection, outside the pool, for health reads.

        The pool would wait up to 30 s for a connection, and the event store's recorder
        retries for minutes, so a probe could hang that long when the server is down.
        Here the connect (``connect_timeout``, per address tried), each statement
        (``statement_timeout``) and unacknowledged writes to the socket
        (``tcp_user_timeout``, Linux only) are limited to ``timeout_seconds``, and
        nothing is retried. libpq raises a connect timeout below 2 seconds to 2.
        """
        milliseconds = timeout_seconds * 1000
        options = f"-c statement_timeout={milliseconds}"
        if self._search_path is not None:
            options += f" -c search_path={self._search_path}"
        with (
            psycopg.connect(
                self.url,
                connect_timeout=timeout_seconds,
                tcp_user_timeout=milliseconds,
                options=options,
                autocommit=True,
                row_factory=dict_row,
            ) as connection,
            connection.cursor() as cursor,
        ):
            yield _PostgresCursor(cursor)

    def run_script(self, script: str) -> None:
        with self.pool.connection() as connection, connection.transaction():
            connection.execute(script.encode())

    def close(self) -> None:
        self.pool.close()


def in_clause(name: str, values: Sequence[Any], parameters: dict[str, Any]) -> str:
    """Return ``(:name_0, :name_1, …)`` and add the values to ``parameters``."""
    placeholders = []
    for index, value in enumerate(values):
        key = f"{name}_{index}"
        parameters[key] = value
        placeholders.append(f":{key}")
    return "(" + ", ".join(placeholders) + ")"


def connection_failure_text(error: psycopg.OperationalError) -> str:
    """Return the driver's message as one line of sentences that each end in punctuation.

    libpq's messages span lines, indent hints with a tab and end some lines without a
    full stop, such as "failed: Connection refused" followed by a hint on the next line.
    """
    text = str(error).strip().removeprefix("connection failed:")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    sentences = [line if line.endswith((".", "?", "!")) else f"{line}." for line in lines if line]
    return " ".join(sentences) or f"{type(error).__name__}."


__all__ = [
    "Cursor",
    "Database",
    "Dialect",
    "PostgresDatabase",
    "Row",
    "SQLiteDatabase",
    "connection_failure_text",
    "in_clause",
    "to_pyformat",
]
