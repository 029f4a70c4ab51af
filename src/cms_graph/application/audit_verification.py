"""Check the event log against its hash chain and signed checkpoints.

The walk goes through stored events and chain links together in notification order.
The first disagreement is reported with its position and the complaint (or access
record) it belongs to:

- a link with no event: the event was deleted;
- an event with no link, inside the chained range: it was inserted;
- an event whose digest differs from its link's: it was edited, replaced or moved;
- a link that does not follow from the one before: the chain itself was altered;
- a checkpoint whose signature or hash does not match: events and links were rewritten
  together, which only the signing key could have made consistent.

Events written after the last link are counted as pending, not as verified.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from cms_graph.adapters.database import Database
from cms_graph.adapters.event_store import ComplaintEventStore
from cms_graph.adapters.hash_chain import GENESIS, checkpoint_valid, event_digest, next_link

PAGE_SIZE = 2000


@dataclass(frozen=True)
class Finding:
    position: int
    aggregate_id: UUID | None
    problem: str

    def describe(self) -> str:
        owner = f", aggregate {self.aggregate_id}" if self.aggregate_id else ""
        return f"broken at position {self.position}{owner}: {self.problem}"


@dataclass(frozen=True)
class VerificationReport:
    verified: int
    checkpoints: int
    pending: int
    finding: Finding | None

    @property
    def intact(self) -> bool:
        return self.finding is None


class AuditVerifier:
    def __init__(self, event_store: ComplaintEventStore, database: Database, key: bytes) -> None:
        self.event_store = event_store
        self.database = database
        self.key = key

    def total_events(self) -> int:
        return self.event_store.recorder.max_notification_id() or 0

    def verify(
        self, progress: Callable[[int], None] = lambda _position: None
    ) -> VerificationReport:
        checkpoints = self._checkpoints()
        last_chained = self._last_chained()
        links = self._links()
        events = self._events()
        link = next(links, None)
        event = next(events, None)
        previous = GENESIS
        verified = 0
        checked_checkpoints = 0

        def broken(position: int, aggregate_id: object, problem: str) -> VerificationReport:
            finding = Finding(position, UUID(str(aggregate_id)), problem)
            return VerificationReport(verified, checked_checkpoints, 0, finding)

        while link is not None or (event is not None and event.id <= last_chained):
            if link is not None and (event is None or link["notification_id"] < event.id):
                return broken(
                    link["notification_id"],
                    link["originator_id"],
                    "the chain has a link here but the event is missing (deleted)",
                )
            assert event is not None
            if link is None or event.id < link["notification_id"]:
                return broken(
                    event.id,
                    event.originator_id,
                    "an event is stored here that the chain never linked (inserted)",
                )

            digest = event_digest(
                event.id, event.originator_id, event.originator_version, event.topic, event.state
            )
            if digest != bytes(link["event_hash"]):
                return broken(
                    event.id,
                    event.originator_id,
                    "the stored event differs from the one linked (edited, replaced or moved)",
                )
            expected = next_link(previous, digest)
            if expected != bytes(link["chain_hash"]):
                return broken(
                    event.id,
                    event.originator_id,
                    "the chain link does not follow from the one before (chain altered)",
                )
            if event.id in checkpoints:
                signed_hash, signature = checkpoints[event.id]
                signed_ok = checkpoint_valid(self.key, event.id, expected, signature)
                if signed_hash != expected or not signed_ok:
                    return broken(
                        event.id,
                        event.originator_id,
                        "the signed checkpoint does not match the chain (events and chain"
                        " rewritten together)",
                    )
                checked_checkpoints += 1

            previous = expected
            verified += 1
            progress(event.id)
            link = next(links, None)
            event = next(events, None)

        # Whatever is left was written after the last link: pending, not verified.
        remaining = [event] if event is not None else []
        pending = sum(1 for n in [*remaining, *events] if n.id > last_chained)
        return VerificationReport(verified, checked_checkpoints, pending, None)

    def _events(self) -> Iterator[Notification]:
        start = 0
        while True:
            page = self.event_store.recorder.select_notifications(
                start=start, limit=PAGE_SIZE, inclusive_of_start=False
            )
            yield from page
            if len(page) < PAGE_SIZE:
                return
            start = page[-1].id

    def _links(self) -> Iterator[Any]:
        start = 0
        while True:
            with self.database.read() as cursor:
                cursor.execute(
                    "SELECT notification_id, originator_id, event_hash, chain_hash"
                    " FROM audit_chain WHERE notification_id > :start"
                    " ORDER BY notification_id LIMIT :limit",
                    {"start": start, "limit": PAGE_SIZE},
                )
                page = cursor.fetchall()
            yield from page
            if len(page) < PAGE_SIZE:
                return
            start = page[-1]["notification_id"]

    def _last_chained(self) -> int:
        with self.database.read() as cursor:
            cursor.execute("SELECT MAX(notification_id) AS last FROM audit_chain")
            row = cursor.fetchone()
        return int(row["last"]) if row and row["last"] is not None else 0

    def _checkpoints(self) -> dict[int, tuple[bytes, str]]:
        with self.database.read() as cursor:
            cursor.execute("SELECT notification_id, chain_hash, signature FROM audit_checkpoints")
            rows = cursor.fetchall()
        return {
            int(row["notification_id"]): (bytes(row["chain_hash"]), row["signature"])
            for row in rows
        }


__all__ = ["AuditVerifier", "Finding", "VerificationReport"]
