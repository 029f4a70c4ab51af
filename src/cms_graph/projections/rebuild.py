"""Rebuild a projection from zero while the live tables keep serving, then switch over.

The new tables are filled beside the old ones: in a schema of their own on PostgreSQL
(found first through the connection's search_path), in a file of their own on SQLite.
For the switch the live projection's position row is locked, so its runner pauses; the
new tables catch up to the head of the log, and then replace the old ones in one
transaction: renamed into place on PostgreSQL, copied in on SQLite. Readers see the old
tables until that transaction commits, and the new ones after.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from cms_graph.adapters.database import Database, PostgresDatabase, SQLiteDatabase
from cms_graph.adapters.event_store import ComplaintEventStore
from cms_graph.adapters.migrations import migrate
from cms_graph.projections.runner import ProjectionRunner, Projector

logger = logging.getLogger(__name__)

# The chain is the evidence that the log was not altered, so building it anew from the
# current log would certify whatever the log now contains. The notification outbox
# records which messages went out, and webhook deliveries record what was sent to other
# systems. Building either anew would lose them or send them all again.
NOT_REBUILDABLE = frozenset({"audit_chain", "citizen_notifications", "webhooks"})


class RebuildError(Exception):
    """Raised when a projection cannot be rebuilt; the live tables are left as they were."""


@dataclass(frozen=True)
class RebuildResult:
    name: str
    events: int
    seconds: float


def rebuild(
    database: Database,
    event_store: ComplaintEventStore,
    projector: Projector,
    *,
    data_dir: Path,
    batch_size: int = 2000,
    progress: Callable[[int], None] = lambda _position: None,
) -> RebuildResult:
    if projector.name in NOT_REBUILDABLE:
        raise RebuildError(rebuild_refusal(projector.name))
    started = time.perf_counter()
    if isinstance(database, PostgresDatabase):
        events = _rebuild_postgres(database, event_store, projector, batch_size, progress)
    elif isinstance(database, SQLiteDatabase):
        events = _rebuild_sqlite(database, event_store, projector, data_dir, batch_size, progress)
    else:
        raise RebuildError(f"no rebuild for database {type(database).__name__}")
    seconds = time.perf_counter() - started
    logger.info("projection %s rebuilt from %d events in %.1f s", projector.name, events, seconds)
    return RebuildResult(projector.name, events, seconds)


def rebuild_refusal(name: str) -> str:
    """Return the message that rejects a rebuild of projection ``name``, with the reason."""
    return f"projection {name} cannot be rebuilt: {why_not_rebuildable(name)}"


def why_not_rebuildable(name: str) -> str:
    if name == "citizen_notifications":
        return "it records which messages were sent, and a rebuild would send them all again"
    if name == "webhooks":
        return "its rows record what was sent to integrations, which a rebuild would send again"
    return "it is the tamper evidence; check it with 'cms-graph audit verify' instead"


def _fill(runner: ProjectionRunner, progress: Callable[[int], None]) -> int:
    total = 0
    while True:
        applied = runner.process_batch()
        total += applied
        progress(runner.position())
        if applied == 0 and runner.lag() == 0:
            return total


# Each index of a table, with its definition from USING on, which leaves out the index's
# own name and the table's schema.
_INDEXES = (
    "SELECT index.relname, substring(pg_get_indexdef(i.indexrelid) from ' USING .*$')"
    " FROM pg_index i"
    " JOIN pg_class index ON index.oid = i.indexrelid"
    " JOIN pg_class owner ON owner.oid = i.indrelid"
    " JOIN pg_namespace n ON n.oid = owner.relnamespace"
    " WHERE n.nspname = %s AND owner.relname = %s"
    " ORDER BY index.relname"
)


def _keep_index_names(connection: psycopg.Connection[Any], schema: str, table: str) -> None:
    """Give the indexes of ``schema.table`` the names of the live table's matching ones.

    ``CREATE TABLE … (LIKE … INCLUDING ALL)`` names the copied indexes itself, so without
    this a switched-over table would carry names that later migrations do not know.
    """
    live = connection.execute(_INDEXES, ("public", table)).fetchall()
    unclaimed = connection.execute(_INDEXES, (schema, table)).fetchall()
    renames: list[tuple[str, str]] = []
    for live_name, definition in live:
        match = next((row for row in unclaimed if row[1] == definition), None)
        if match is None:
            logger.warning("index %s of %s has no copy in the rebuilt table", live_name, table)
            continue
        unclaimed.remove(match)
        if match[0] != live_name:
            renames.append((match[0], live_name))
    # Through a temporary name first, in case one copy already has another's live name.
    for number, (copy_name, _live_name) in enumerate(renames):
        _rename_index(connection, schema, copy_name, f"rebuild_index_{number}")
    for number, (_copy_name, live_name) in enumerate(renames):
        _rename_index(connection, schema, f"rebuild_index_{number}", live_name)


def _rename_index(
    connection: psycopg.Connection[Any], schema: str, name: str, new_name: str
) -> None:
    connection.execute(
        sql.SQL("ALTER INDEX {}.{} RENAME TO {}").format(
            sql.Identifier(schema), sql.Identifier(name), sql.Identifier(new_name)
        )
    )


def _rebuild_postgres(
    database: PostgresDatabase,
    event_store: ComplaintEventStore,
    projector: Projector,
    batch_size: int,
    progress: Callable[[int], None],
) -> int:
    schema = f"rebuild_{projector.name}"
    tables = (*projector.tables, "projection_positions")
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        for table in tables:
            connection.execute(
                sql.SQL("CREATE TABLE {}.{} (LIKE public.{} INCLUDING ALL)").format(
                    sql.Identifier(schema), sql.Identifier(table), sql.Identifier(table)
                )
            )
            _keep_index_names(connection, schema, table)
    shadow = PostgresDatabase(database.url, max_size=2, search_path=f"{schema},public")
    try:
        runner = ProjectionRunner(shadow, event_store, projector, batch_size=batch_size)
        events = _fill(runner, progress)

        with psycopg.connect(database.url) as connection, connection.transaction():
            # Pause the live runner: it takes this row lock for each of its batches.
            connection.execute(
                "SELECT position FROM public.projection_positions WHERE name = %s FOR UPDATE",
                (projector.name,),
            )
            events += _fill(runner, progress)
            for table in projector.tables:
                grants = connection.execute(
                    "SELECT grantee, privilege_type FROM information_schema.role_table_grants"
                    " WHERE table_schema = 'public' AND table_name = %s"
                    " AND grantee <> current_user",
                    (table,),
                ).fetchall()
                connection.execute(sql.SQL("DROP TABLE public.{}").format(sql.Identifier(table)))
                connection.execute(
                    sql.SQL("ALTER TABLE {}.{} SET SCHEMA public").format(
                        sql.Identifier(schema), sql.Identifier(table)
                    )
                )
                for grantee, privilege in grants:
                    connection.execute(
                        sql.SQL("GRANT {} ON public.{} TO {}").format(
                            sql.SQL(privilege), sql.Identifier(table), sql.Identifier(grantee)
                        )
                    )
            connection.execute(
                sql.SQL(
                    "INSERT INTO public.projection_positions (name, position, updated_at)"
                    " SELECT name, position, updated_at FROM {}.projection_positions"
                    " WHERE name = %s ON CONFLICT (name) DO UPDATE"
                    " SET position = excluded.position, updated_at = excluded.updated_at"
                ).format(sql.Identifier(schema)),
                (projector.name,),
            )
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    finally:
        shadow.close()
    return events


def _rebuild_sqlite(
    database: SQLiteDatabase,
    event_store: ComplaintEventStore,
    projector: Projector,
    data_dir: Path,
    batch_size: int,
    progress: Callable[[int], None],
) -> int:
    path = data_dir / f"rebuild-{projector.name}.sqlite3"
    path.unlink(missing_ok=True)
    shadow = SQLiteDatabase(path)
    try:
        migrate(shadow)
        runner = ProjectionRunner(shadow, event_store, projector, batch_size=batch_size)
        events = _fill(runner, progress)

        connection = sqlite3.connect(database.path, timeout=60, isolation_level=None)
        try:
            connection.execute("ATTACH DATABASE ? AS rebuilt", (str(path),))
            _switch_sqlite(connection, runner, projector, progress)
            connection.execute("DETACH DATABASE rebuilt")
        finally:
            connection.close()
    finally:
        shadow.close()
        path.unlink(missing_ok=True)
    return events


SWITCH_ATTEMPTS = 50


def _switch_sqlite(
    connection: sqlite3.Connection,
    runner: ProjectionRunner,
    projector: Projector,
    progress: Callable[[int], None],
) -> None:
    """Copy the rebuilt tables in once they hold every event, under the write lock.

    Reading events through the event store while holding the file's write lock could
    deadlock with its waiting writers, so the rebuilt tables catch up first and the lock
    is taken only to confirm that no event arrived since; if one did, try again.
    """
    for _attempt in range(SWITCH_ATTEMPTS):
        _fill(runner, progress)
        # BEGIN IMMEDIATE takes the write lock: the live runner and writers wait, and
        # readers keep their snapshot until the commit.
        connection.execute("BEGIN IMMEDIATE")
        try:
            head = connection.execute(
                "SELECT COALESCE(MAX(rowid), 0) FROM stored_events"
            ).fetchone()[0]
            if head != runner.position():
                connection.execute("ROLLBACK")
                continue
            for table in projector.tables:
                connection.execute(f'DELETE FROM main."{table}"')  # noqa: S608  # fixed names
                connection.execute(f'INSERT INTO main."{table}" SELECT * FROM rebuilt."{table}"')  # noqa: S608
            connection.execute(
                "INSERT INTO main.projection_positions (name, position, updated_at)"
                " SELECT name, position, updated_at FROM rebuilt.projection_positions"
                " WHERE name = ? ON CONFLICT (name) DO UPDATE"
                " SET position = excluded.position, updated_at = excluded.updated_at",
                (projector.name,),
            )
            connection.execute("COMMIT")
            return
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    raise RebuildError(
        f"projection {projector.name}: new events kept arriving during {SWITCH_ATTEMPTS}"
        " attempts to switch over; try again when the load is lower"
    )


__all__ = [
    "NOT_REBUILDABLE",
    "RebuildError",
    "RebuildResult",
    "rebuild",
    "rebuild_refusal",
    "why_not_rebuildable",
]
