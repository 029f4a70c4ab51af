"""The complainant notification outbox, built by the workers.

For each step that a complainant receives a message about (see ``STEP_OF_EVENT``), the
projector writes one ``citizen_notification_outbox`` row per channel: SMS always, and
WhatsApp when enabled.
A row names the template, the language and the parameters (the tracking number), never
the phone number or the name. The unique key (complaint id, version, channel) makes a
replayed batch add nothing. Once a batch has committed, the new rows go to the
``on_created`` callback, which sends one Dramatiq message for each. A row keeps the
correlation id of the event it is about, which every message sent for it carries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cms_graph.adapters.database import Cursor
from cms_graph.application.notification_texts import (
    STEP_OF_EVENT,
    NotificationChannel,
    NotificationStep,
)
from cms_graph.domain.complaint import Complaint


def outbox_key(complaint_id: str, version: int, channel: NotificationChannel) -> str:
    """Return the row's key, also sent to gateways as the idempotency key."""
    return f"{complaint_id}:{version}:{channel.value}"


@dataclass(frozen=True)
class QueuedNotification:
    """An outbox row to send: its key and the correlation id of the event it is about."""

    key: str
    correlation_id: str | None = None


class CitizenNotificationProjector:
    name = "citizen_notifications"
    tables: tuple[str, ...] = ("citizen_notification_subjects", "citizen_notification_outbox")

    def __init__(
        self,
        *,
        whatsapp_enabled: bool,
        on_created: Callable[[list[QueuedNotification]], None] | None = None,
    ) -> None:
        self.channels = [NotificationChannel.SMS]
        if whatsapp_enabled:
            self.channels.append(NotificationChannel.WHATSAPP)
        self._on_created = on_created
        # Per batch: rows written, and subjects already read or written.
        self._created: list[QueuedNotification] = []
        self._subjects: dict[str, dict[str, Any] | None] = {}

    def set_on_created(self, on_created: Callable[[list[QueuedNotification]], None]) -> None:
        self._on_created = on_created

    # Batch hooks called by ProjectionRunner.

    def begin_batch(self) -> None:
        self._created = []
        self._subjects = {}

    def after_commit(self) -> None:
        created, self._created = self._created, []
        if created and self._on_created is not None:
            self._on_created(created)

    def apply(self, cursor: Cursor, event: Any, notification_id: int) -> None:
        if not isinstance(event, Complaint.Event):
            return
        key = str(event.originator_id)
        if isinstance(event, Complaint.ComplaintLodged):
            self._add_subject(cursor, key, event)
        elif isinstance(event, Complaint.LegacyRecordImported):
            self._silence(cursor, key)
            return

        step = STEP_OF_EVENT.get(type(event).__name__)
        if step is None:
            return
        subject = self._subject(cursor, key)
        if subject is None or subject["silenced"]:
            return
        self._add_messages(cursor, event, step, subject)

    def _add_subject(self, cursor: Cursor, key: str, event: Complaint.ComplaintLodged) -> None:
        # Legacy imports and complaints saved without personal data have an empty seal:
        # there is no phone to send to, and the complainant never expected messages.
        subject = {
            "complaint_id": key,
            "tracking_number": event.tracking_number,
            "language": str(event.language),
            "silenced": 0 if event.complainant_sealed else 1,
        }
        cursor.execute(
            "INSERT INTO citizen_notification_subjects (complaint_id, tracking_number,"
            " language, silenced) VALUES (:complaint_id, :tracking_number, :language,"
            " :silenced) ON CONFLICT (complaint_id) DO NOTHING",
            subject,
        )
        self._subjects[key] = subject

    def _silence(self, cursor: Cursor, key: str) -> None:
        cursor.execute(
            "UPDATE citizen_notification_subjects SET silenced = 1 WHERE complaint_id = :id",
            {"id": key},
        )
        # Rows of an earlier batch may not have been sent yet; they never should be.
        cursor.execute(
            "UPDATE citizen_notification_outbox SET status = 'SKIPPED',"
            " last_error = 'legacy import' WHERE complaint_id = :id AND status = 'PENDING'",
            {"id": key},
        )
        subject = self._subject(cursor, key)
        if subject is not None:
            self._subjects[key] = subject | {"silenced": 1}

    def _subject(self, cursor: Cursor, key: str) -> dict[str, Any] | None:
        if key not in self._subjects:
            cursor.execute(
                "SELECT complaint_id, tracking_number, language, silenced"
                " FROM citizen_notification_subjects WHERE complaint_id = :id",
                {"id": key},
            )
            row = cursor.fetchone()
            self._subjects[key] = dict(row) if row is not None else None
        return self._subjects[key]

    def _add_messages(
        self,
        cursor: Cursor,
        event: Complaint.Event,
        step: NotificationStep,
        subject: dict[str, Any],
    ) -> None:
        # Only what the template needs and is not personal data.
        parameters = {"tracking_number": subject["tracking_number"]}
        if isinstance(event, Complaint.FirRegistered):
            parameters["fir_number"] = event.fir_number
        for channel in self.channels:
            cursor.execute(
                "INSERT INTO citizen_notification_outbox (complaint_id, version, channel, step,"
                " template, language, parameters, created_at, status, attempts, correlation_id)"
                " VALUES (:id, :version, :channel, :step, :template, :language, :parameters,"
                " :created_at, 'PENDING', 0, :correlation_id)"
                " ON CONFLICT (complaint_id, version, channel) DO NOTHING",
                {
                    "id": str(event.originator_id),
                    "version": event.originator_version,
                    "channel": channel.value,
                    "step": step.value,
                    "template": step.value.lower(),
                    "language": subject["language"],
                    "parameters": json.dumps(parameters, sort_keys=True),
                    "created_at": event.timestamp,
                    "correlation_id": event.actor.correlation_id,
                },
            )
            key = outbox_key(str(event.originator_id), event.originator_version, channel)
            self._created.append(QueuedNotification(key, event.actor.correlation_id))


__all__ = ["CitizenNotificationProjector", "QueuedNotification", "outbox_key"]
