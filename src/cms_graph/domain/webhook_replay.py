"""The record of a staff member sending a failed webhook delivery again.

Each replay is a one-event aggregate in the complaints' event store, so it shares their
global order and hash chain, and recording it never conflicts with commands on the
complaint. It names the delivery and never carries the payload.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from cms_graph.domain.values import Actor


class WebhookReplay(Aggregate):
    class WebhookDeliveryReplayed(Aggregate.Created):
        delivery_id: UUID
        integration_id: UUID
        complaint_id: UUID
        position: int
        actor: Actor
        occurred_at: datetime

    def __init__(
        self,
        delivery_id: UUID,
        integration_id: UUID,
        complaint_id: UUID,
        position: int,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.delivery_id = delivery_id
        self.integration_id = integration_id
        self.complaint_id = complaint_id
        self.position = position
        self.actor = actor
        self.occurred_at = occurred_at

    @classmethod
    def record(
        cls,
        *,
        delivery_id: UUID,
        integration_id: UUID,
        complaint_id: UUID,
        position: int,
        actor: Actor,
        at: datetime,
    ) -> WebhookReplay:
        return cls._create(
            cls.WebhookDeliveryReplayed,
            id=uuid4(),
            delivery_id=delivery_id,
            integration_id=integration_id,
            complaint_id=complaint_id,
            position=position,
            actor=actor,
            occurred_at=at,
        )


__all__ = ["WebhookReplay"]
