"""The webhook projection: one delivery row per complaint event and interested integration.

For each complaint event, every active webhook integration whose event types name the
event's class gets one row in ``webhook_deliveries``. The row's payload is the envelope
and the integration's allowed fields, taken from the complaint as it stood right after
that event. That state is followed event by event in ``webhook_complaint_state``, because
the complaint view may already be ahead of (or behind) the event being projected.

Personal fields never enter the table: the row names the personal fields the integration
may receive, and the sender opens the vault for them when it sends, so a shredded key
also keeps them out of deliveries still pending.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from cms_graph.adapters.database import Cursor, in_clause
from cms_graph.application.field_limits import PERSONAL_FIELDS, complaint_fields, limit
from cms_graph.application.integration_directory import (
    ActiveIntegration,
    IntegrationDirectory,
    IntegrationKind,
    NoIntegrations,
)
from cms_graph.application.views import ComplaintRecord
from cms_graph.domain.complaint import Complaint
from cms_graph.projections.complaint_changes import event_changes, lodged_fields
from cms_graph.projections.deadline_state import DeadlineState, complaints_to_read

logger = logging.getLogger(__name__)

# Namespace of delivery ids: one id per (integration, position), so projecting the same
# batch again finds the same ids.
DELIVERY_NAMESPACE = UUID("5b0c1f9e-55d4-4a59-9a43-6d1e3f0b7c21")

_DATETIME_KEYS = frozenset(
    {
        "incident_at",
        "lodged_at",
        "acknowledged_at",
        "resolved_at",
        "closed_at",
        "withdrawn_at",
        "fir_registered_at",
        "due_at",
        "opened_at",
        "escalation_anchor",
    }
)


@dataclass(frozen=True)
class QueuedDelivery:
    """A delivery to send, and the correlation id its message carries: that of the
    complaint event it is about, or of the request that replayed it."""

    delivery_id: UUID
    correlation_id: str | None = None


def delivery_id_for(integration_id: UUID, position: int) -> UUID:
    return uuid5(DELIVERY_NAMESPACE, f"{integration_id}:{position}")


def _encode_state(state: dict[str, Any]) -> str:
    plain = {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in state.items()
    }
    return json.dumps(plain, ensure_ascii=False, sort_keys=True)


def _decode_state(text: str) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(text)
    for key in _DATETIME_KEYS:
        if state.get(key) is not None:
            state[key] = datetime.fromisoformat(state[key])
    return state


def _lodged_state(event: Complaint.ComplaintLodged) -> dict[str, Any]:
    return (
        DeadlineState.lodged(event).columns()
        | lodged_fields(event)
        | {
            "assigned_officer_id": None,
            "resolved_at": None,
            "closed_at": None,
            "withdrawn_at": None,
            "outcome": None,
            "feedback_satisfied": None,
            "fir_number": None,
            "fir_registered_at": None,
        }
    )


def _record(complaint_id: UUID, version: int, state: dict[str, Any]) -> ComplaintRecord:
    return ComplaintRecord(
        id=complaint_id,
        tracking_number=state["tracking_number"],
        status=state["status"],
        category=state["category"],
        channel=state["channel"],
        description=state["description"],
        language=state["language"],
        district_id=state["district_id"],
        station_id=state["station_id"],
        unit_id=state["unit_id"],
        unit_path="",
        assigned_officer_id=state["assigned_officer_id"],
        escalation_level=state["escalation_level"],
        incident_at=state["incident_at"],
        lodged_at=state["lodged_at"],
        acknowledged_at=state["acknowledged_at"],
        resolved_at=state["resolved_at"],
        closed_at=state["closed_at"],
        withdrawn_at=state["withdrawn_at"],
        due_at=state["due_at"],
        outcome=state["outcome"],
        feedback_satisfied=state["feedback_satisfied"],
        complainant_sealed=b"",
        phone_digest="",
        version=version,
        holder_rank=state["holder_rank"],
        deadline_step=state["deadline_step"],
        # State stored before FIR conversion existed has no FIR keys.
        fir_number=state.get("fir_number"),
        fir_registered_at=state.get("fir_registered_at"),
    )


class WebhookProjector:
    name = "webhooks"
    tables: tuple[str, ...] = ("webhook_complaint_state", "webhook_deliveries")

    def __init__(
        self,
        directory: Callable[[], IntegrationDirectory] = NoIntegrations,
        on_queued: Callable[[list[QueuedDelivery]], None] | None = None,
    ) -> None:
        self._directory = directory
        self._on_queued = on_queued
        # Per batch: the webhook integrations active when the batch began.
        self._integrations: list[ActiveIntegration] = []
        # Per batch: each touched complaint's (version, state, sealed complainant data).
        # The state of every complaint is kept even while no integration is active, so an
        # integration approved later gets correct payloads from its first event.
        self._states: dict[str, tuple[int, dict[str, Any], bytes]] = {}
        self._deliveries: list[dict[str, Any]] = []
        self._queued: list[QueuedDelivery] = []

    def set_directory(self, directory: Callable[[], IntegrationDirectory]) -> None:
        self._directory = directory

    def set_on_queued(self, on_queued: Callable[[list[QueuedDelivery]], None]) -> None:
        self._on_queued = on_queued

    # Batch hooks called by ProjectionRunner. The directory is read once per batch, before
    # the batch's transaction begins, and deliveries are announced only once committed.

    def begin_batch(self) -> None:
        self._integrations = self._directory().active(kind=IntegrationKind.WEBHOOK)
        self._states = {}
        self._deliveries = []
        self._queued = []

    def prepare_batch(self, cursor: Cursor, events: list[Any]) -> None:
        """Read the state of every complaint the batch changes, in one query."""
        keys = complaints_to_read(events, self._states)
        if not keys:
            return
        parameters: dict[str, Any] = {}
        ids = in_clause("id", keys, parameters)
        cursor.execute(
            "SELECT complaint_id, version, state, complainant_sealed"  # noqa: S608
            f" FROM webhook_complaint_state WHERE complaint_id IN {ids}",
            parameters,
        )
        for row in cursor.fetchall():
            self._states[str(row["complaint_id"])] = (
                int(row["version"]),
                _decode_state(row["state"]),
                bytes(row["complainant_sealed"]),
            )

    def apply(self, cursor: Cursor, event: Any, notification_id: int) -> None:
        if not isinstance(event, Complaint.Event):
            return
        key = str(event.originator_id)
        if isinstance(event, Complaint.ComplaintLodged):
            state = _lodged_state(event)
            sealed = event.complainant_sealed
        else:
            if key not in self._states:
                raise LookupError(f"complaint {key} has no row in webhook_complaint_state")
            _version, previous, sealed = self._states[key]
            deadline = DeadlineState.from_row(previous).after(event)
            state = previous | deadline.columns() | event_changes(event)
        self._states[key] = (event.originator_version, state, sealed)

        event_type = type(event).__name__
        for integration in self._integrations:
            if integration.wants(event_type):
                self._queue(integration, event, event_type, notification_id, state)

    def _queue(
        self,
        integration: ActiveIntegration,
        event: Complaint.Event,
        event_type: str,
        position: int,
        state: dict[str, Any],
    ) -> None:
        envelope = {
            "position": position,
            "complaintId": str(event.originator_id),
            "eventType": event_type,
            "occurredAt": event.occurred_at.isoformat(),
            "version": event.originator_version,
        }
        fields = complaint_fields(_record(event.originator_id, event.originator_version, state))
        payload = limit(fields | envelope, integration.allowed_fields)
        delivery_id = delivery_id_for(integration.id, position)
        self._deliveries.append(
            {
                "delivery_id": str(delivery_id),
                "integration_id": str(integration.id),
                "complaint_id": str(event.originator_id),
                "position": position,
                "event_type": event_type,
                "payload": json.dumps(payload, ensure_ascii=False, sort_keys=True),
                "personal_fields": ",".join(
                    name for name in integration.allowed_fields if name in PERSONAL_FIELDS
                ),
                "created_at": event.timestamp,
                "correlation_id": event.actor.correlation_id,
            }
        )
        self._queued.append(QueuedDelivery(delivery_id, event.actor.correlation_id))

    def end_batch(self, cursor: Cursor) -> None:
        """Write the batch's complaint states and deliveries in one round of statements."""
        if self._states:
            cursor.executemany(
                "INSERT INTO webhook_complaint_state (complaint_id, version, state,"
                " complainant_sealed) VALUES (:id, :version, :state, :sealed)"
                " ON CONFLICT (complaint_id) DO UPDATE SET version = excluded.version,"
                " state = excluded.state",
                [
                    {"id": key, "version": version, "state": _encode_state(state), "sealed": sealed}
                    for key, (version, state, sealed) in self._states.items()
                ],
            )
        if self._deliveries:
            # A batch projected again after a crash finds its rows already there.
            cursor.executemany(
                "INSERT INTO webhook_deliveries (delivery_id, integration_id, complaint_id,"
                " position, event_type, payload, personal_fields, status, attempts, created_at,"
                " next_attempt_at, correlation_id) VALUES (:delivery_id, :integration_id,"
                " :complaint_id, :position, :event_type, :payload, :personal_fields, 'PENDING',"
                " 0, :created_at, :created_at, :correlation_id)"
                " ON CONFLICT (integration_id, position) DO NOTHING",
                self._deliveries,
            )
        self._deliveries = []

    def after_commit(self) -> None:
        queued, self._queued = self._queued, []
        if queued and self._on_queued is not None:
            self._on_queued(queued)


__all__ = ["QueuedDelivery", "WebhookProjector", "delivery_id_for"]
