"""Send the complainant notification outbox, and list it for staff.

A row is claimed before it is sent: one ``UPDATE`` moves it from PENDING to SENDING and
counts the attempt, and only the caller whose update changed the row sends it. So two
workers, or a duplicate message, never send one step twice. A claim older than the claim
timeout is taken to belong to a worker that died, so another may take it over. The
gateway then receives the same idempotency key again and can drop the duplicate.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag

from cms_graph.adapters.clock import Clock
from cms_graph.adapters.database import Database, Row
from cms_graph.adapters.event_store import ComplaintEventStore
from cms_graph.adapters.message_gateways import (
    GatewayError,
    MessageGateway,
    OutgoingMessage,
)
from cms_graph.adapters.vault import PersonalDataVault
from cms_graph.application.identity import Principal
from cms_graph.application.notification_texts import (
    NotificationChannel,
    NotificationStep,
    render_message,
)
from cms_graph.application.queries import ComplaintQueries
from cms_graph.domain.values import Language
from cms_graph.projections.citizen_notifications import QueuedNotification

logger = logging.getLogger(__name__)


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class SendOutcome(StrEnum):
    SENT = "SENT"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"
    # The gateway failed and attempts remain: the caller should try again later.
    RETRY = "RETRY"
    # Another worker has claimed the row, or it is already settled: nothing was done.
    NOT_CLAIMED = "NOT_CLAIMED"


@dataclass(frozen=True)
class OutboxKey:
    complaint_id: UUID
    version: int
    channel: NotificationChannel

    @classmethod
    def parse(cls, key: str) -> OutboxKey:
        """Parse ``complaint-id:version:channel``; raise ValueError when malformed."""
        complaint_id, version, channel = key.split(":")
        return cls(UUID(complaint_id), int(version), NotificationChannel(channel))

    def parameters(self) -> dict[str, Any]:
        return {
            "id": str(self.complaint_id),
            "version": self.version,
            "channel": self.channel.value,
        }

    def __str__(self) -> str:
        return f"{self.complaint_id}:{self.version}:{self.channel.value}"


@dataclass(frozen=True)
class NotificationRecord:
    """One outbox row as staff see it: no phone number, no text."""

    complaint_id: UUID
    version: int
    step: NotificationStep
    channel: NotificationChannel
    language: Language
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None

    @classmethod
    def from_row(cls, row: Row) -> NotificationRecord:
        return cls(
            complaint_id=UUID(str(row["complaint_id"])),
            version=int(row["version"]),
            step=NotificationStep(row["step"]),
            channel=NotificationChannel(row["channel"]),
            language=Language(row["language"]),
            status=DeliveryStatus(row["status"]),
            attempts=int(row["attempts"]),
            created_at=row["created_at"],
            sent_at=row["sent_at"],
            last_error=row["last_error"],
        )


class CitizenNotificationSender:
    def __init__(
        self,
        *,
        database: Database,
        event_store: ComplaintEventStore,
        vault: PersonalDataVault,
        gateways: Mapping[str, MessageGateway],
        clock: Clock,
        max_attempts: int,
        claim_timeout: timedelta,
        max_age: timedelta,
    ) -> None:
        self.database = database
        self.event_store = event_store
        self.vault = vault
        self.gateways = gateways
        self.clock = clock
        self.max_attempts = max_attempts
        self.claim_timeout = claim_timeout
        self.max_age = max_age

    def send(self, key: str) -> SendOutcome:
        """Claim the row ``key`` and deliver it; return what happened.

        Raises ValueError when ``key`` is not of the form ``complaint-id:version:channel``.
        """
        outbox_key = OutboxKey.parse(key)
        row = self._claim(outbox_key)
        if row is None:
            logger.debug("notification %s not claimed: settled or held elsewhere", key)
            return SendOutcome.NOT_CLAIMED
        attempt = int(row["attempts"])
        try:
            return self._deliver(outbox_key, attempt, row)
        except Exception as error:
            # Release the claim so that a retry need not wait for the claim timeout. The
            # type alone is recorded, because a message might quote personal data.
            self._release(outbox_key, attempt, f"{type(error).__name__} before delivery")
            raise

    def _deliver(self, key: OutboxKey, attempt: int, row: Row) -> SendOutcome:
        # A step recorded long ago (a backlog caught up after downtime) is news no more.
        if self.clock.now() - row["created_at"] > self.max_age:
            hours = self.max_age.total_seconds() / 3600
            return self._settle(key, attempt, DeliveryStatus.SKIPPED, f"older than {hours:g} hours")

        phone = self._phone(key)
        if phone is None:
            return self._settle(
                key,
                attempt,
                DeliveryStatus.SKIPPED,
                "complainant's personal data was erased or never recorded",
            )

        message = OutgoingMessage(
            idempotency_key=str(key),
            channel=key.channel.value,
            phone=phone,
            text=render_message(
                NotificationStep(row["step"]),
                Language(row["language"]),
                key.channel,
                json.loads(row["parameters"]),
            ),
            language=row["language"],
            template=row["template"],
        )
        gateway = self.gateways[key.channel.value]
        try:
            gateway.send(message)
        except GatewayError as error:
            return self._failed(key, attempt, error)
        return self._settle(key, attempt, DeliveryStatus.SENT, None)

    def next_notification(self, key: str) -> QueuedNotification | None:
        """Return the first PENDING later step of the same complaint and channel, which
        waited for ``key`` to settle, or None when there is none."""
        outbox_key = OutboxKey.parse(key)
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT version, correlation_id FROM citizen_notification_outbox"
                " WHERE complaint_id = :id AND channel = :channel AND version > :version"
                " AND status = 'PENDING' ORDER BY version LIMIT 1",
                outbox_key.parameters(),
            )
            row = cursor.fetchone()
        if row is None:
            return None
        following = replace(outbox_key, version=row["version"])
        return QueuedNotification(str(following), row["correlation_id"])

    def close(self) -> None:
        for gateway in set(self.gateways.values()):
            gateway.close()

    def due_notifications(self, limit: int = 500) -> list[QueuedNotification]:
        """Return rows that no message is likely to be handling: never claimed, or
        claimed or last tried longer than the claim timeout ago."""
        before = self.clock.now() - self.claim_timeout
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT complaint_id, version, channel, correlation_id"
                " FROM citizen_notification_outbox"
                " WHERE status IN ('PENDING', 'SENDING')"
                " AND ((claimed_at IS NULL AND created_at < :before) OR claimed_at < :before)"
                " ORDER BY created_at LIMIT :limit",
                {"before": before, "limit": limit},
            )
            rows = cursor.fetchall()
        return [
            QueuedNotification(
                f"{row['complaint_id']}:{row['version']}:{row['channel']}", row["correlation_id"]
            )
            for row in rows
        ]

    def fail_abandoned(self) -> int:
        """Mark FAILED the rows whose last allowed attempt was claimed and never settled,
        because the worker died; return how many."""
        before = self.clock.now() - self.claim_timeout
        with self.database.transaction() as cursor:
            cursor.execute(
                "UPDATE citizen_notification_outbox SET status = 'FAILED',"
                " last_error = 'worker stopped during the last attempt'"
                " WHERE status = 'SENDING' AND claimed_at < :before AND attempts >= :max",
                {"before": before, "max": self.max_attempts},
            )
            return int(cursor.rowcount)

    def _claim(self, key: OutboxKey) -> Row | None:
        now = self.clock.now()
        with self.database.transaction() as cursor:
            cursor.execute(
                "UPDATE citizen_notification_outbox SET status = 'SENDING', claimed_at = :now,"
                " attempts = attempts + 1"
                " WHERE complaint_id = :id AND version = :version AND channel = :channel"
                " AND attempts < :max_attempts"
                " AND (status = 'PENDING' OR (status = 'SENDING' AND claimed_at < :stale))"
                # The complainant reads the steps in order, so an unsettled earlier step of
                # the same complaint and channel keeps this one waiting.
                " AND NOT EXISTS (SELECT 1 FROM citizen_notification_outbox earlier"
                " WHERE earlier.complaint_id = :id AND earlier.channel = :channel"
                " AND earlier.version < :version AND earlier.status IN ('PENDING', 'SENDING'))",
                key.parameters()
                | {
                    "now": now,
                    "max_attempts": self.max_attempts,
                    "stale": now - self.claim_timeout,
                },
            )
            if cursor.rowcount != 1:
                return None
            cursor.execute(
                "SELECT step, template, language, parameters, attempts, created_at"
                " FROM citizen_notification_outbox"
                " WHERE complaint_id = :id AND version = :version AND channel = :channel",
                key.parameters(),
            )
            row: Row | None = cursor.fetchone()
            return row

    def _phone(self, key: OutboxKey) -> str | None:
        # The sealed details are in the lodging event; the vault opens them only while
        # the complaint's key exists.
        lodged = self.event_store.get_complaint(key.complaint_id, version=1)
        try:
            complainant = self.vault.open(key.complaint_id, lodged.complainant_sealed)
        except InvalidTag:
            logger.error("sealed details of complaint %s failed authentication", key.complaint_id)
            return None
        return complainant.phone if complainant is not None else None

    def _failed(self, key: OutboxKey, attempt: int, error: GatewayError) -> SendOutcome:
        return self._release(key, attempt, str(error), final=not error.retryable)

    def _release(
        self, key: OutboxKey, attempt: int, reason: str, *, final: bool = False
    ) -> SendOutcome:
        """Put the row back to PENDING for another attempt, or mark it FAILED when this
        was the last attempt or ``final`` is set."""
        if final or attempt >= self.max_attempts:
            self._settle(key, attempt, DeliveryStatus.FAILED, reason)
            logger.error(
                "%s %s failed after %d attempt(s): %s", key.channel.value, key, attempt, reason
            )
            return SendOutcome.FAILED

        # claimed_at stays as the time of this attempt, which the sweep reads.
        self._update(key, attempt, "status = 'PENDING', last_error = :error", {"error": reason})
        logger.warning(
            "%s %s attempt %d of %d failed, retrying: %s",
            key.channel.value,
            key,
            attempt,
            self.max_attempts,
            reason,
        )
        return SendOutcome.RETRY

    def _settle(
        self, key: OutboxKey, attempt: int, status: DeliveryStatus, reason: str | None
    ) -> SendOutcome:
        sent_at = self.clock.now() if status is DeliveryStatus.SENT else None
        self._update(
            key,
            attempt,
            "status = :status, sent_at = :sent_at, last_error = :error",
            {"status": status.value, "sent_at": sent_at, "error": reason},
        )
        if status is DeliveryStatus.SENT:
            logger.info("%s %s sent on attempt %d", key.channel.value, key, attempt)
        elif status is DeliveryStatus.SKIPPED:
            logger.info("%s %s skipped: %s", key.channel.value, key, reason)
        return SendOutcome(status.value)

    def _update(
        self, key: OutboxKey, attempt: int, assignments: str, values: dict[str, Any]
    ) -> None:
        # The attempt count fences the update: a worker whose claim was taken over
        # (its row now has a higher count) changes nothing.
        with self.database.transaction() as cursor:
            cursor.execute(
                f"UPDATE citizen_notification_outbox SET {assignments}"  # noqa: S608  # fixed text
                " WHERE complaint_id = :id AND version = :version AND channel = :channel"
                " AND status = 'SENDING' AND attempts = :attempt",
                key.parameters() | values | {"attempt": attempt},
            )
            if cursor.rowcount != 1:
                logger.warning(
                    "notification %s attempt %d was taken over by another worker", key, attempt
                )


class CitizenNotificationQueries:
    def __init__(self, database: Database, complaints: ComplaintQueries) -> None:
        self.database = database
        self.complaints = complaints

    def for_complaint(
        self, principal: Principal, complaint_id: UUID
    ) -> list[NotificationRecord] | None:
        """Return the complaint's messages, oldest step first, or None when the caller
        may not see the complaint (the denial is recorded) or it does not exist.

        Raises Unauthenticated for a caller without a staff token."""
        self.complaints.access.require_authenticated(principal, "query notifications")
        if self.complaints.get(principal, complaint_id) is None:
            return None
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT complaint_id, version, step, channel, language, status, attempts,"
                " created_at, sent_at, last_error FROM citizen_notification_outbox"
                " WHERE complaint_id = :id ORDER BY version, channel",
                {"id": str(complaint_id)},
            )
            rows = cursor.fetchall()
        return [NotificationRecord.from_row(row) for row in rows]


__all__ = [
    "CitizenNotificationQueries",
    "CitizenNotificationSender",
    "DeliveryStatus",
    "NotificationRecord",
    "OutboxKey",
    "SendOutcome",
]
