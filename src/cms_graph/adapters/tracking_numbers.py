"""The write-side index from tracking numbers to complaint ids.

A tracking number is reserved here before the complaint's first event is saved, so it
is unique across the whole store and commands that name a complaint by tracking number
find it without waiting for a projection.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime
from uuid import UUID

from cms_graph.adapters.database import Cursor, Database

_TABLE = {
    "sqlite": (
        "CREATE TABLE IF NOT EXISTS tracking_numbers ("
        " tracking_number TEXT PRIMARY KEY, complaint_id TEXT NOT NULL UNIQUE,"
        " reserved_at TIMESTAMPTZ NOT NULL)"
    ),
    "postgres": (
        "CREATE TABLE IF NOT EXISTS tracking_numbers ("
        " tracking_number text PRIMARY KEY, complaint_id uuid NOT NULL UNIQUE,"
        " reserved_at timestamptz NOT NULL)"
    ),
}
MAX_ATTEMPTS = 5


class TrackingNumberIndex:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create_tables(self) -> None:
        self.database.run_script(_TABLE[self.database.dialect])

    def reserve(
        self, complaint_id: UUID, generate: Callable[[], str], cursor: Cursor | None = None
    ) -> str:
        """Reserve a fresh number from ``generate``, retrying on the rare collision.

        Runs in ``cursor``'s transaction if given, else in one transaction per attempt.
        """
        for _ in range(MAX_ATTEMPTS):
            candidate = generate()
            with self.database.transaction() if cursor is None else nullcontext(cursor) as write:
                write.execute(
                    "INSERT INTO tracking_numbers (tracking_number, complaint_id, reserved_at)"
                    " VALUES (:number, :id, :now) ON CONFLICT (tracking_number) DO NOTHING",
                    {"number": candidate, "id": str(complaint_id), "now": datetime.now(UTC)},
                )
                if write.rowcount == 1:
                    return candidate
        raise RuntimeError(f"no free tracking number after {MAX_ATTEMPTS} attempts")

    def complaint_id_for(self, tracking_number: str) -> UUID | None:
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT complaint_id FROM tracking_numbers WHERE tracking_number = :number",
                {"number": tracking_number},
            )
            row = cursor.fetchone()
        return UUID(str(row["complaint_id"])) if row else None


__all__ = ["TrackingNumberIndex"]
