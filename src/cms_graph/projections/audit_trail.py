"""The audit trail: one row per complaint event or access record, for the integrity unit."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from cms_graph.adapters.database import Cursor
from cms_graph.domain.access_record import AccessRecord
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.export_record import ExportRecord
from cms_graph.domain.integration import Integration
from cms_graph.domain.values import Actor
from cms_graph.domain.webhook_replay import WebhookReplay


class AuditTrailProjector:
    name = "audit_trail"
    tables: tuple[str, ...] = ("audit_trail",)

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []

    def begin_batch(self) -> None:
        self._rows = []

    def end_batch(self, cursor: Cursor) -> None:
        """Write the batch's rows in one round of statements."""
        if self._rows:
            cursor.executemany(
                "INSERT INTO audit_trail (notification_id, recorded_at, occurred_at,"
                " complaint_id, record_type, actor_kind, actor_user_id, actor_role,"
                " actor_unit_id, channel, client_address, correlation_id, operation, detail)"
                " VALUES (:id, :recorded_at, :occurred_at, :complaint_id, :record_type,"
                " :actor_kind, :actor_user_id, :actor_role, :actor_unit_id, :channel,"
                " :client_address, :correlation_id, :operation, :detail)",
                self._rows,
            )
        self._rows = []

    def apply(self, cursor: Cursor, event: Any, notification_id: int) -> None:
        complaint_id: UUID | None
        operation: str | None
        channel: str | None
        if isinstance(event, Complaint.Event):
            complaint_id = event.originator_id
            channel = str(event.channel)
            operation = None
            detail = getattr(event, "reason", None)
        elif isinstance(event, AccessRecord.Recorded):
            complaint_id = event.complaint_id
            channel = None
            operation = event.operation
            detail = getattr(event, "reason", None)
        elif isinstance(event, ExportRecord.ComplaintsExported):
            complaint_id = None
            channel = None
            operation = "exportComplaints"
            detail = f"{event.row_count} rows; fields: {', '.join(event.fields)}"
        elif isinstance(event, Integration.Event):
            complaint_id = None
            channel = None
            operation = f"integration {event.originator_id}"
            detail = getattr(event, "reason", None)
        elif isinstance(event, WebhookReplay.WebhookDeliveryReplayed):
            complaint_id = event.complaint_id
            channel = None
            operation = "replayWebhookDelivery"
            detail = (
                f"delivery {event.delivery_id} to integration {event.integration_id}"
                f" at position {event.position}"
            )
        else:
            return
        actor: Actor = event.actor
        self._rows.append(
            {
                "id": notification_id,
                "recorded_at": event.timestamp,
                "occurred_at": event.occurred_at,
                "complaint_id": str(complaint_id) if complaint_id else None,
                "record_type": type(event).__name__,
                "actor_kind": str(actor.kind),
                "actor_user_id": actor.user_id,
                "actor_role": str(actor.role) if actor.role else None,
                "actor_unit_id": actor.unit_id,
                "channel": channel,
                "client_address": actor.client_address,
                "correlation_id": actor.correlation_id,
                "operation": operation,
                "detail": detail,
            }
        )


__all__ = ["AuditTrailProjector"]
