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
    "escalation_view": "complaint_id",
    "escalations_log": "complaint_id, version",
    "notification_outbox": "complaint_id, version, kind",
    "audit_chain": "notification_id",
    "audit_trail": "notification_id",
    "integrations_view": "integration_id",
    "integration_approvals_view": "integration_id, version",
    "citizen_notification_subjects": "complaint_id",
    "citizen_notification_outbox": "complaint_id, version, channel",
    "webhook_complaint_state": "complaint_id",
}
# Checkpoints fall at batch ends and carry their signing time, so a rebuild in other
# batch sizes signs other positions; the links they sign are compared in audit_chain.
# Outbox rows get their id from a sequence and their send time from the sender.
# Citizen notification rows also carry the sender's delivery state.
IGNORED_COLUMNS = {
    "notification_outbox": {"outbox_id", "sent_at"},
    "citizen_notification_outbox": {
        "outbox_id",
        "status",
        "attempts",
        "claimed_at",
        "sent_at",
        "last_error",
    },
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
            ignored = IGNORED_COLUMNS.get(table, set())
            canonical = {
                key: _canonical(value) for key, value in sorted(row.items()) if key not in ignored
            }
            digest.update(json.dumps(canonical, sort_keys=True).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def projection_digest(database: Database, tables: tuple[str, ...]) -> str:
    """Return one hash over a projection's tables."""
    combined = hashlib.sha256()
    for table in tables:
        if table in TABLE_KEYS:
            combined.update(f"{table}:{table_digest(database, table)}\n".encode())
    return combined.hexdigest()


__all__ = ["IGNORED_COLUMNS", "TABLE_KEYS", "projection_digest", "table_digest"]
