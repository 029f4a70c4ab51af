"""Content hashes of projection tables, to compare a live projection with a rebuild."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from cms_graph.adapters.database import Database

# The key columns that give each table a total order.
TABLE_KEYS = {
    "complaints_view": "complaint_id",
    "complaint_timeline_view": "complaint_id, version",
}


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    if isinstance(value, bool):
        return int(value)
    return value if isinstance(value, (int, float, str)) or value is None else str(value)


def table_digest(database: Database, table: str) -> str:
    """Return a SHA-256 over every row of ``table`` in key order."""
    order = TABLE_KEYS[table]
    digest = hashlib.sha256()
    with database.read() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY {order}")  # noqa: S608  # fixed names
        for row in cursor.fetchall():
            canonical = {key: _canonical(value) for key, value in sorted(row.items())}
            digest.update(json.dumps(canonical, sort_keys=True).encode())
            digest.update(b"\n")
    return digest.hexdigest()


__all__ = ["TABLE_KEYS", "table_digest"]
