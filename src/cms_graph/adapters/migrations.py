"""Apply the SQL files under ``projections/<dialect>/`` once each, in name order."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from cms_graph.adapters.database import Database

logger = logging.getLogger(__name__)


def sql_root() -> Path:
    """Return the folder of SQL files: packaged in a wheel, or the checkout's ``projections/``."""
    packaged = Path(__file__).resolve().parent.parent / "projections" / "sql"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "projections"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"no projection SQL found at {packaged} or {checkout}")


def migrate(database: Database, *, event_log: bool = False) -> list[str]:
    """Apply every SQL file not yet recorded in ``schema_migrations``; return their names.

    ``event_log=True`` also applies the files under ``event_log/``, which protect the
    event store's table and so run only in the database that contains it.
    """
    database.run_script(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
    )
    with database.read() as cursor:
        cursor.execute("SELECT name FROM schema_migrations")
        applied = {row["name"] for row in cursor.fetchall()}

    folder = sql_root() / database.dialect
    paths = sorted(folder.glob("*.sql"))
    if event_log:
        paths += sorted((folder / "event_log").glob("*.sql"))
    newly_applied = []
    for path in paths:
        name = path.relative_to(folder).as_posix()
        if name in applied:
            continue
        database.run_script(path.read_text(encoding="utf-8"))
        with database.transaction() as cursor:
            cursor.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (:name, :now)"
                " ON CONFLICT (name) DO NOTHING",
                {"name": name, "now": datetime.now(UTC)},
            )
        logger.info("applied migration %s", name)
        newly_applied.append(name)
    return newly_applied
