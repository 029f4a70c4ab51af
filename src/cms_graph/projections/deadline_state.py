"""The few fields of a complaint that decide its next deadline, kept by projections.

Projections cannot load aggregates, so they follow these fields event by event and ask
the domain's ``next_deadline`` for the due time, exactly as the aggregate does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from cms_graph.adapters.database import Row
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.deadlines import Deadline, DeadlinePlan, next_deadline
from cms_graph.domain.ladder import Rank
from cms_graph.domain.values import ComplaintStatus


@dataclass(frozen=True)
class DeadlineState:
    status: ComplaintStatus
    opened_at: datetime
    acknowledged_at: datetime | None
    escalation_anchor: datetime | None
    holder_rank: Rank
    plan: DeadlinePlan

    def deadline(self) -> Deadline | None:
        return next_deadline(
            self.plan,
            status=self.status,
            opened_at=self.opened_at,
            acknowledged_at=self.acknowledged_at,
            escalation_anchor=self.escalation_anchor,
        )

    def columns(self) -> dict[str, Any]:
        """Return the table columns that store this state and the deadline it implies."""
        deadline = self.deadline()
        return {
            "status": self.status.value,
            "opened_at": self.opened_at,
            "acknowledged_at": self.acknowledged_at,
            "escalation_anchor": self.escalation_anchor,
            "holder_rank": self.holder_rank.value,
            "deadline_plan": _plan_json(self.plan),
            "deadline_step": deadline.step.value if deadline else None,
            "due_at": deadline.due_at if deadline else None,
        }

    @classmethod
    def from_row(cls, row: Row) -> DeadlineState:
        return cls(
            status=ComplaintStatus(row["status"]),
            opened_at=row["opened_at"],
            acknowledged_at=row["acknowledged_at"],
            escalation_anchor=row["escalation_anchor"],
            holder_rank=Rank(row["holder_rank"]),
            plan=_plan_from_json(row["deadline_plan"]),
        )

    @classmethod
    def lodged(cls, event: Complaint.ComplaintLodged) -> DeadlineState:
        return cls(
            status=ComplaintStatus.LODGED,
            opened_at=event.occurred_at,
            acknowledged_at=None,
            escalation_anchor=None,
            holder_rank=Rank(event.holder_rank),
            plan=event.deadline_plan,
        )

    def after(self, event: Complaint.Event) -> DeadlineState:
        """Return the state after ``event``, mirroring the aggregate's apply methods."""
        at = event.occurred_at
        if isinstance(event, Complaint.ComplaintAcknowledged):
            status = self.status
            if status in (ComplaintStatus.LODGED, ComplaintStatus.REOPENED):
                status = ComplaintStatus.ACKNOWLEDGED
            return replace(self, status=status, acknowledged_at=at)
        if isinstance(event, Complaint.ComplaintAssigned):
            return replace(
                self, status=ComplaintStatus.ASSIGNED, holder_rank=Rank(event.holder_rank)
            )
        if isinstance(event, Complaint.ComplaintEscalated):
            return replace(
                self,
                holder_rank=Rank(event.to_rank),
                escalation_anchor=event.missed_due_at or at,
            )
        if isinstance(event, Complaint.LegacyRecordImported):
            return replace(self, escalation_anchor=at)
        if isinstance(event, Complaint.ComplaintResolved):
            return replace(self, status=ComplaintStatus.RESOLVED)
        if isinstance(event, Complaint.ComplaintReopened):
            return replace(
                self, status=ComplaintStatus.REOPENED, opened_at=at, acknowledged_at=None
            )
        if isinstance(event, Complaint.ComplaintClosed):
            return replace(self, status=ComplaintStatus.CLOSED)
        if isinstance(event, Complaint.ComplaintWithdrawn):
            return replace(self, status=ComplaintStatus.WITHDRAWN)
        return self


# A store contains few distinct plans, one per policy and category, so a projection that
# writes or reads thousands of rows in a batch converts each plan once.
@lru_cache(maxsize=256)
def _plan_json(plan: DeadlinePlan) -> str:
    return json.dumps(plan.to_dict(), sort_keys=True)


@lru_cache(maxsize=256)
def _plan_from_json(text: str) -> DeadlinePlan:
    return DeadlinePlan.from_dict(json.loads(text))


def complaints_to_read(events: list[Any], known: Iterable[str]) -> list[str]:
    """Return the ids of complaints that ``events`` change but do not lodge, leaving out
    ``known`` ones: the rows a projector must read before applying the batch."""
    changed = {
        str(event.originator_id)
        for event in events
        if isinstance(event, Complaint.Event) and not isinstance(event, Complaint.ComplaintLodged)
    }
    return sorted(changed - set(known))


DEADLINE_COLUMNS = (
    "status, opened_at, acknowledged_at, escalation_anchor, holder_rank, deadline_plan"
)

__all__ = ["DEADLINE_COLUMNS", "DeadlineState", "complaints_to_read"]
