"""Records of complaint exports: who exported which fields of which complaints.

Each export is a one-event aggregate in the same event store as the complaints, like
the access records, so it shares their global order and hash chain.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from cms_graph.domain.values import Actor


class ExportRecord(Aggregate):
    class ComplaintsExported(Aggregate.Created):
        actor: Actor
        occurred_at: datetime
        # The filter as the caller gave it, with values as strings; absent keys were unset.
        filter: dict[str, str | list[str]]
        fields: list[str]
        row_count: int
        # Ids of the exported complaints, so the audit can tell whose data left.
        complaint_ids: list[str]
        # The integration an integrator exported through; None for staff.
        integration_id: str | None

    def __init__(
        self,
        actor: Actor,
        occurred_at: datetime,
        filter: dict[str, str | list[str]],
        fields: list[str],
        row_count: int,
        complaint_ids: list[str],
        integration_id: str | None,
    ) -> None:
        self.actor = actor
        self.occurred_at = occurred_at
        self.filter = filter
        self.fields = fields
        self.row_count = row_count
        self.complaint_ids = complaint_ids
        self.integration_id = integration_id

    @classmethod
    def exported(
        cls,
        *,
        actor: Actor,
        at: datetime,
        filter: dict[str, str | list[str]],
        fields: list[str],
        complaint_ids: list[UUID],
        integration_id: UUID | None,
    ) -> ExportRecord:
        return cls._create(
            cls.ComplaintsExported,
            id=uuid4(),
            actor=actor,
            occurred_at=at,
            filter=filter,
            fields=fields,
            row_count=len(complaint_ids),
            complaint_ids=[str(key) for key in complaint_ids],
            integration_id=str(integration_id) if integration_id else None,
        )


__all__ = ["ExportRecord"]
