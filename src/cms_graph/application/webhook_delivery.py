"""Send the rows of ``webhook_deliveries`` to their integrations, one complaint in order.

A delivery is sent only when every earlier delivery of the same complaint to the same
integration is DELIVERED or CANCELLED, so a receiver gets each complaint's events in log
order. A failing delivery holds back the later ones of its complaint, never other
complaints. A worker claims a delivery for the length of one POST before sending it, so a
duplicate message finds it claimed (or already DELIVERED) and sends nothing.

Retry policy: a transport error, 408, 425, 429 or 5xx is retried with backoff until
``max_attempts`` attempts were made. Any other status outside 2xx (a 3xx, 400, 401, 403,
404, 410, 422) marks the delivery FAILED at once, because sending the same request again
would get the same response. FAILED deliveries wait for ``replay``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from cms_graph.adapters.clock import Clock
from cms_graph.adapters.database import Database, Row
from cms_graph.adapters.vault import PersonalDataVault
from cms_graph.adapters.webhook_http import PostResult, post_signed
from cms_graph.application.integration_directory import (
    ActiveIntegration,
    IntegrationDirectory,
    IntegrationKind,
)
from cms_graph.projections.webhooks import QueuedDelivery

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 425, 429})
# How long a claim outlives the POST's timeout, for the write that records the result.
_CLAIM_MARGIN = timedelta(seconds=30)
SWEEP_LIMIT = 1000
# How long past its due time a PENDING delivery waits before the sweep sends it again, so
# that the sweep does not duplicate messages still queued behind a backlog.
SWEEP_GRACE = timedelta(seconds=60)


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    # The integration was revoked (or is no longer a webhook) before this was sent.
    CANCELLED = "CANCELLED"


class DeliveryOutcome(StrEnum):
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    # Nothing sent: the delivery is not PENDING (a duplicate or late message).
    NOT_PENDING = "NOT_PENDING"
    # Nothing sent: an earlier delivery of the complaint is not yet delivered, or another
    # worker has claimed this one.
    WAITING = "WAITING"
    NOT_FOUND = "NOT_FOUND"


class WebhookDeliveryFailed(Exception):
    """Raised when an attempt failed and will be retried; the worker's retry schedules it."""

    def __init__(self, delivery_id: UUID, attempts: int, error: str) -> None:
        super().__init__(f"webhook delivery {delivery_id} attempt {attempts} failed: {error}")
        self.delivery_id = delivery_id
        self.attempts = attempts


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    min_backoff_ms: int
    max_backoff_ms: int
    timeout_seconds: float

    def backoff_after(self, attempts: int) -> timedelta:
        """Return the longest delay Dramatiq's retry may wait after ``attempts`` attempts.

        Dramatiq 2.2 waits between one and two times ``min_backoff * 2 ** retries``,
        and at most ``max_backoff``.
        """
        exponent = min(max(attempts - 1, 0), 32)
        longest = min(2 * self.min_backoff_ms * 2**exponent, self.max_backoff_ms)
        return timedelta(milliseconds=longest)


def is_retryable(result: PostResult) -> bool:
    status = result.status
    return status is None or status in RETRYABLE_STATUSES or status >= 500


# A delivery is first in line when no earlier one of its complaint and integration still
# waits to be sent or failed.
_FIRST_IN_LINE = (
    "NOT EXISTS (SELECT 1 FROM webhook_deliveries AS earlier"
    " WHERE earlier.integration_id = webhook_deliveries.integration_id"
    " AND earlier.complaint_id = webhook_deliveries.complaint_id"
    " AND earlier.position < webhook_deliveries.position"
    " AND earlier.status IN ('PENDING', 'FAILED'))"
)


class WebhookSender:
    def __init__(
        self,
        database: Database,
        vault: PersonalDataVault,
        directory: Callable[[], IntegrationDirectory],
        clock: Clock,
        policy: RetryPolicy,
    ) -> None:
        self.database = database
        self.vault = vault
        self.directory = directory
        self.clock = clock
        self.policy = policy
        self.sweep_grace = SWEEP_GRACE

    def deliver(self, delivery_id: UUID) -> DeliveryOutcome:
        """Send one delivery if it is PENDING and first in line.

        Raises WebhookDeliveryFailed after a failed attempt that will be retried; the row
        then has status PENDING and the error. After the last attempt it returns FAILED.
        """
        row = self._row(delivery_id)
        if row is None:
            return DeliveryOutcome.NOT_FOUND
        if row["status"] != DeliveryStatus.PENDING:
            return DeliveryOutcome.NOT_PENDING

        # A revoked integration receives nothing more: check before every attempt.
        integration_id = UUID(str(row["integration_id"]))
        directory = self.directory()
        integration = _find_webhook(directory, integration_id)
        secret = directory.signing_secret(integration_id) if integration else None
        if integration is None or secret is None or not integration.endpoint:
            self.cancel_integration(integration_id)
            logger.info(
                "webhook delivery %s cancelled: integration %s is not an active webhook",
                delivery_id,
                integration_id,
            )
            return DeliveryOutcome.CANCELLED

        attempts = self._claim(delivery_id)
        if attempts is None:
            return DeliveryOutcome.WAITING
        body = self._body(row, integration)
        timestamp = str(int(self.clock.now().timestamp()))
        result = post_signed(
            integration.endpoint,
            body,
            secret=secret,
            timestamp=timestamp,
            idempotency_key=f"{integration_id}:{row['position']}",
            timeout_seconds=self.policy.timeout_seconds,
        )
        return self._record(delivery_id, attempts, result)

    def _row(self, delivery_id: UUID) -> Row | None:
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT * FROM webhook_deliveries WHERE delivery_id = :id", {"id": str(delivery_id)}
            )
            row: Row | None = cursor.fetchone()
        return row

    def _claim(self, delivery_id: UUID) -> int | None:
        """Claim a PENDING delivery that is first in line; return its attempt number."""
        now = self.clock.now()
        lease = timedelta(seconds=self.policy.timeout_seconds) + _CLAIM_MARGIN
        with self.database.transaction() as cursor:
            cursor.execute(
                # The condition is a fixed string; values travel as parameters.
                "UPDATE webhook_deliveries SET claimed_until = :until,"  # noqa: S608
                " attempts = attempts + 1, last_attempt_at = :now"
                " WHERE delivery_id = :id AND status = 'PENDING'"
                " AND (claimed_until IS NULL OR claimed_until < :now) AND " + _FIRST_IN_LINE,
                {"id": str(delivery_id), "now": now, "until": now + lease},
            )
            if cursor.rowcount != 1:
                return None
            cursor.execute(
                "SELECT attempts FROM webhook_deliveries WHERE delivery_id = :id",
                {"id": str(delivery_id)},
            )
            claimed = cursor.fetchone()
        assert claimed is not None
        return int(claimed["attempts"])

    def _body(self, row: Row, integration: ActiveIntegration) -> bytes:
        payload: dict[str, Any] = json.loads(row["payload"])
        # Personal fields go only where both the row and the integration's current
        # allowlist name them, and only while the complaint's key exists.
        personal = [name for name in row["personal_fields"].split(",") if name]
        personal = [name for name in personal if name in integration.allowed_fields]
        if personal:
            payload |= {
                name: value
                for name, value in self._personal_fields(UUID(str(row["complaint_id"]))).items()
                if name in personal
            }
        return json.dumps(
            payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")
        ).encode("utf-8")

    def _personal_fields(self, complaint_id: UUID) -> dict[str, str | None]:
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT complainant_sealed FROM webhook_complaint_state WHERE complaint_id = :id",
                {"id": str(complaint_id)},
            )
            row = cursor.fetchone()
        if row is None:
            return {}
        complainant = self.vault.open(complaint_id, bytes(row["complainant_sealed"]))
        if complainant is None:
            return {}
        return {
            "complainantName": complainant.name,
            "complainantCnic": complainant.cnic,
            "complainantPhone": complainant.phone,
            "complainantAddress": complainant.address,
        }

    def _record(self, delivery_id: UUID, attempts: int, result: PostResult) -> DeliveryOutcome:
        now = self.clock.now()
        values: dict[str, Any] = {
            "id": str(delivery_id),
            "now": now,
            "http_status": result.status,
            "error": result.error,
        }
        if result.succeeded:
            self._update(
                "status = 'DELIVERED', delivered_at = :now, last_http_status = :http_status,"
                " last_error = NULL, next_attempt_at = NULL",
                values,
            )
            logger.info("webhook delivery %s delivered on attempt %d", delivery_id, attempts)
            return DeliveryOutcome.DELIVERED

        if not is_retryable(result) or attempts >= self.policy.max_attempts:
            self._update(
                "status = 'FAILED', last_http_status = :http_status, last_error = :error,"
                " next_attempt_at = NULL",
                values,
            )
            logger.warning(
                "webhook delivery %s failed after %d attempt(s): %s",
                delivery_id,
                attempts,
                result.error,
            )
            return DeliveryOutcome.FAILED

        values["next"] = now + self.policy.backoff_after(attempts)
        self._update(
            "last_http_status = :http_status, last_error = :error, next_attempt_at = :next",
            values,
        )
        raise WebhookDeliveryFailed(delivery_id, attempts, result.error or "no response")

    def _update(self, assignments: str, values: dict[str, Any]) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(
                # The assignments are fixed strings from this module.
                f"UPDATE webhook_deliveries SET {assignments}, claimed_until = NULL"  # noqa: S608
                " WHERE delivery_id = :id",
                values,
            )

    def next_in_line(self, delivery_id: UUID) -> QueuedDelivery | None:
        """Return the next PENDING delivery of the same complaint and integration."""
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT later.delivery_id, later.correlation_id FROM webhook_deliveries AS sent"
                " JOIN webhook_deliveries AS later"
                " ON later.integration_id = sent.integration_id"
                " AND later.complaint_id = sent.complaint_id AND later.position > sent.position"
                " WHERE sent.delivery_id = :id AND later.status = 'PENDING'"
                " ORDER BY later.position LIMIT 1",
                {"id": str(delivery_id)},
            )
            row = cursor.fetchone()
        if row is None:
            return None
        return QueuedDelivery(UUID(str(row["delivery_id"])), row["correlation_id"])

    def cancel_integration(self, integration_id: UUID) -> int:
        """Cancel every PENDING delivery of an integration; return how many."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "UPDATE webhook_deliveries SET status = 'CANCELLED', claimed_until = NULL,"
                " next_attempt_at = NULL,"
                " last_error = 'integration revoked or no longer an active webhook'"
                " WHERE integration_id = :id AND status = 'PENDING'",
                {"id": str(integration_id)},
            )
            cancelled: int = cursor.rowcount
        return cancelled

    def due(self) -> list[QueuedDelivery]:
        """Return PENDING deliveries that are first in line, unclaimed and overdue by
        ``sweep_grace``, oldest first: what the sweep sends again in case a message was lost.

        Deliveries of integrations that are no longer active are cancelled first.
        """
        active = {integration.id for integration in _webhooks(self.directory())}
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT DISTINCT integration_id FROM webhook_deliveries WHERE status = 'PENDING'"
            )
            pending_integrations = {UUID(str(row["integration_id"])) for row in cursor.fetchall()}
        for integration_id in pending_integrations - active:
            cancelled = self.cancel_integration(integration_id)
            logger.info(
                "cancelled %d webhook deliveries of inactive integration %s",
                cancelled,
                integration_id,
            )

        now = self.clock.now()
        with self.database.read() as cursor:
            cursor.execute(
                # The condition is a fixed string; values travel as parameters.
                "SELECT delivery_id, correlation_id FROM webhook_deliveries"  # noqa: S608
                " WHERE status = 'PENDING'"
                " AND (claimed_until IS NULL OR claimed_until < :now)"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= :overdue) AND "
                + _FIRST_IN_LINE
                + " ORDER BY position LIMIT :limit",
                {"now": now, "overdue": now - self.sweep_grace, "limit": SWEEP_LIMIT},
            )
            return [
                QueuedDelivery(UUID(str(row["delivery_id"])), row["correlation_id"])
                for row in cursor.fetchall()
            ]


def _webhooks(directory: IntegrationDirectory) -> list[ActiveIntegration]:
    return directory.active(kind=IntegrationKind.WEBHOOK)


def _find_webhook(
    directory: IntegrationDirectory, integration_id: UUID
) -> ActiveIntegration | None:
    return next((i for i in _webhooks(directory) if i.id == integration_id), None)


__all__ = [
    "DeliveryOutcome",
    "DeliveryStatus",
    "RetryPolicy",
    "WebhookDeliveryFailed",
    "WebhookSender",
]
