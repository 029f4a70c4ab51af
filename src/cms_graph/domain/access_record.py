"""Records of who read a complainant's personal data, and of every denied access.

Each record is a one-event aggregate in the same event store as the complaints, so it
shares their global order and their hash chain: a deleted or edited access record is
detected like any other tampering. Reads do not touch the complaint's own stream, so
recording them never conflicts with commands on the complaint.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from cms_graph.domain.values import Actor


class AccessRecord(Aggregate):
    class Recorded(Aggregate.Created):
        """Base of the two record kinds; not recorded itself."""

        complaint_id: UUID | None
        operation: str
        actor: Actor
        occurred_at: datetime

    class PersonalDataViewed(Recorded):
        pass

    class AccessDenied(Recorded):
        reason: str

    def __init__(
        self, complaint_id: UUID | None, operation: str, actor: Actor, occurred_at: datetime
    ) -> None:
        self.complaint_id = complaint_id
        self.operation = operation
        self.actor = actor
        self.occurred_at = occurred_at

    @classmethod
    def viewed(
        cls, *, complaint_id: UUID | None, operation: str, actor: Actor, at: datetime
    ) -> AccessRecord:
        return cls._create(
            cls.PersonalDataViewed,
            id=uuid4(),
            complaint_id=complaint_id,
            operation=operation,
            actor=actor,
            occurred_at=at,
        )

    @classmethod
    def denied(
        cls,
        *,
        complaint_id: UUID | None,
        operation: str,
        reason: str,
        actor: Actor,
        at: datetime,
    ) -> AccessRecord:
        return cls._create(
            cls.AccessDenied,
            id=uuid4(),
            complaint_id=complaint_id,
            operation=operation,
            reason=reason,
            actor=actor,
            occurred_at=at,
        )


__all__ = ["AccessRecord"]
