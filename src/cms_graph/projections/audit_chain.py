"""Links every stored event into the hash chain, in notification order, and signs a
checkpoint at the end of each batch.

NOTE: the chain is built behind the log, by the workers, so an event altered in the
seconds before it is chained is chained as altered. Events written but not yet chained
are reported by ``audit verify`` as pending, not as intact.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import Notification

from cms_graph.adapters.database import Cursor
from cms_graph.adapters.hash_chain import GENESIS, event_digest, next_link, sign_checkpoint


class AuditChainProjector:
    name = "audit_chain"
    tables: tuple[str, ...] = ("audit_chain", "audit_checkpoints")

    def __init__(self, signing_key: bytes) -> None:
        self._key = signing_key
        self._previous: bytes | None = None
        self._last_id: int | None = None
        self._rows: list[dict[str, Any]] = []

    def begin_batch(self) -> None:
        self._previous = None
        self._last_id = None
        self._rows = []

    def apply(self, cursor: Cursor, event: Any, notification_id: int) -> None:
        raise TypeError("AuditChainProjector needs the stored notification: use apply_notification")

    def apply_notification(self, cursor: Cursor, notification: Notification) -> None:
        if self._previous is None:
            cursor.execute(
                "SELECT chain_hash FROM audit_chain ORDER BY notification_id DESC LIMIT 1"
            )
            row = cursor.fetchone()
            self._previous = bytes(row["chain_hash"]) if row else GENESIS
        digest = event_digest(
            notification.id,
            notification.originator_id,
            notification.originator_version,
            notification.topic,
            notification.state,
        )
        link = next_link(self._previous, digest)
        self._rows.append(
            {
                "id": notification.id,
                "originator_id": str(notification.originator_id),
                "version": notification.originator_version,
                "digest": digest,
                "link": link,
            }
        )
        self._previous = link
        self._last_id = notification.id

    def end_batch(self, cursor: Cursor) -> None:
        """Write the batch's links and sign the last, inside the batch's transaction."""
        if self._last_id is None or self._previous is None:
            return
        cursor.executemany(
            "INSERT INTO audit_chain (notification_id, originator_id, originator_version,"
            " event_hash, chain_hash) VALUES (:id, :originator_id, :version, :digest, :link)",
            self._rows,
        )
        self._rows = []
        cursor.execute(
            "INSERT INTO audit_checkpoints (notification_id, chain_hash, signature, signed_at)"
            " VALUES (:id, :link, :signature, :now)",
            {
                "id": self._last_id,
                "link": self._previous,
                "signature": sign_checkpoint(self._key, self._last_id, self._previous),
                "now": datetime.now(UTC),
            },
        )


__all__ = ["AuditChainProjector"]
