"""List webhook deliveries and send failed ones again, for administrators and overseers.

Listing shows each delivery's state and the last attempt's outcome, never the payload.
A replay puts a FAILED delivery back to PENDING with a fresh attempt budget, and is first
recorded as a ``WebhookDeliveryReplayed`` event.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from cms_graph.adapters.clock import Clock
from cms_graph.adapters.database import Database, Row, in_clause
from cms_graph.adapters.event_store import ComplaintEventStore
from cms_graph.application.identity import AccessPolicy, Principal
from cms_graph.application.queries import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from cms_graph.application.webhook_delivery import DeliveryStatus
from cms_graph.domain.errors import InvalidInput, InvalidTransition, NotFound
from cms_graph.domain.values import Role
from cms_graph.domain.webhook_replay import WebhookReplay
from cms_graph.projections.webhooks import QueuedDelivery

logger = logging.getLogger(__name__)

VIEW_ROLES = frozenset({Role.ADMIN, Role.ADDL_IGP, Role.IGP, Role.INTEGRITY_UNIT})
REPLAY_ROLES = frozenset({Role.ADMIN, Role.ADDL_IGP})


@dataclass(frozen=True)
class DeliveryFilter:
    integration_id: UUID | None = None
    statuses: tuple[DeliveryStatus, ...] = ()


@dataclass(frozen=True)
class DeliveryRecord:
    delivery_id: UUID
    integration_id: UUID
    complaint_id: UUID
    position: int
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    last_http_status: int | None
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> DeliveryRecord:
        values = {name: row[name] for name in cls.__dataclass_fields__}
        for name in ("delivery_id", "integration_id", "complaint_id"):
            values[name] = UUID(str(row[name]))
        values["status"] = DeliveryStatus(row["status"])
        return cls(**values)

    def cursor(self) -> str:
        raw = json.dumps([self.position, str(self.integration_id)])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@dataclass(frozen=True)
class DeliveryPage:
    records: list[DeliveryRecord]
    has_next_page: bool
    total_count: int


_COLUMNS = ", ".join(DeliveryRecord.__dataclass_fields__)


def _decode(cursor: str) -> tuple[int, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position, integration_id = json.loads(base64.urlsafe_b64decode(padded))
        return int(position), str(UUID(integration_id))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput(
            f"after is not a cursor returned by this API: {cursor[:40]!r}", field=("after",)
        ) from None


class WebhookAdmin:
    def __init__(
        self,
        database: Database,
        event_store: ComplaintEventStore,
        access: AccessPolicy,
        clock: Clock,
        after_commit: Callable[[int], None] = lambda _notification_id: None,
        on_replayed: Callable[[list[QueuedDelivery]], None] = lambda _deliveries: None,
    ) -> None:
        self.database = database
        self.event_store = event_store
        self.access = access
        self.clock = clock
        self.after_commit = after_commit
        # Sends the replayed delivery; the worker set-up installs it.
        self.on_replayed = on_replayed

    def page(
        self,
        principal: Principal,
        filter: DeliveryFilter,
        *,
        first: int | None = None,
        after: str | None = None,
    ) -> DeliveryPage:
        """Return deliveries newest first (by event position)."""
        self.access.require_role(principal, VIEW_ROLES, "list webhook deliveries")
        size = DEFAULT_PAGE_SIZE if first is None else first
        if not 0 <= size <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"first must be between 0 and {MAX_PAGE_SIZE}, got {size}", field=("first",)
            )

        conditions = ["1 = 1"]
        parameters: dict[str, Any] = {}
        if filter.integration_id is not None:
            conditions.append("integration_id = :integration_id")
            parameters["integration_id"] = str(filter.integration_id)
        if filter.statuses:
            statuses = [status.value for status in filter.statuses]
            conditions.append("status IN " + in_clause("status", statuses, parameters))
        with self.database.read() as cursor:
            cursor.execute(
                # The conditions are fixed strings; values travel as parameters.
                "SELECT COUNT(*) AS total FROM webhook_deliveries WHERE "  # noqa: S608
                + " AND ".join(conditions),
                parameters,
            )
            total_row = cursor.fetchone()

            if after is not None:
                position, integration_id = _decode(after)
                conditions.append(
                    "(position < :after_position OR (position = :after_position"
                    " AND integration_id < :after_integration))"
                )
                parameters |= {"after_position": position, "after_integration": integration_id}
            cursor.execute(
                f"SELECT {_COLUMNS} FROM webhook_deliveries WHERE "  # noqa: S608
                + " AND ".join(conditions)
                + " ORDER BY position DESC, integration_id DESC LIMIT :limit",
                parameters | {"limit": size + 1},
            )
            rows = cursor.fetchall()

        records = [DeliveryRecord.from_row(row) for row in rows[:size]]
        total = int(total_row["total"]) if total_row else 0
        return DeliveryPage(records, len(rows) > size, total)

    def get(self, delivery_id: UUID) -> DeliveryRecord | None:
        with self.database.read() as cursor:
            cursor.execute(
                f"SELECT {_COLUMNS} FROM webhook_deliveries WHERE delivery_id = :id",  # noqa: S608
                {"id": str(delivery_id)},
            )
            row = cursor.fetchone()
        return DeliveryRecord.from_row(row) if row else None

    def replay(self, principal: Principal, delivery_id: UUID) -> DeliveryRecord:
        """Put a FAILED delivery back to PENDING and send it again.

        Raises NotFound for an unknown id and InvalidTransition unless it is FAILED.
        """
        self.access.require_role(principal, REPLAY_ROLES, "replay webhook deliveries")
        record = self.get(delivery_id)
        if record is None:
            raise NotFound(f"webhook delivery {delivery_id} not found", field=("deliveryId",))
        if record.status is not DeliveryStatus.FAILED:
            raise InvalidTransition(
                f"webhook delivery {delivery_id} is {record.status.value}: only a FAILED"
                " delivery can be replayed",
                field=("deliveryId",),
            )

        # Record first, so no replay happens without its event.
        event = WebhookReplay.record(
            delivery_id=delivery_id,
            integration_id=record.integration_id,
            complaint_id=record.complaint_id,
            position=record.position,
            actor=principal.as_actor(),
            at=self.clock.now(),
        )
        recordings = self.event_store.save(event)
        self.after_commit(max(recording.notification.id for recording in recordings))

        with self.database.transaction() as cursor:
            cursor.execute(
                "UPDATE webhook_deliveries SET status = 'PENDING', attempts = 0,"
                " next_attempt_at = :now, claimed_until = NULL"
                " WHERE delivery_id = :id AND status = 'FAILED'",
                {"id": str(delivery_id), "now": self.clock.now()},
            )
            changed = cursor.rowcount
        if changed != 1:
            raise InvalidTransition(
                f"webhook delivery {delivery_id} changed while it was being replayed;"
                " reload it and try again",
                field=("deliveryId",),
            )
        logger.info(
            "webhook delivery %s replayed by %s", delivery_id, principal.user_id or "unknown"
        )
        # Read before sending, so the caller sees the replay's own result, not the send's.
        updated = self.get(delivery_id)
        assert updated is not None
        # The replay request caused this message, so the message carries its id.
        self.on_replayed([QueuedDelivery(delivery_id, principal.correlation_id)])
        return updated


__all__ = [
    "REPLAY_ROLES",
    "VIEW_ROLES",
    "DeliveryFilter",
    "DeliveryPage",
    "DeliveryRecord",
    "WebhookAdmin",
]
