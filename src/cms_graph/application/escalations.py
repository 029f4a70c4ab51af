"""Automatic escalation: carry out a missed deadline, and find the deadlines that passed.

``escalate_if_due`` is what every trigger calls (the scheduled message, the periodic
sweep, a retry after a crash). It writes an escalation only when the named deadline is
still the pending one and has passed, and each escalation moves the deadline on, so any
number of calls for one missed deadline give exactly one ``ComplaintEscalated``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from enum import StrEnum
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError

from cms_graph.adapters.clock import Clock
from cms_graph.adapters.database import Database
from cms_graph.adapters.event_store import ComplaintEventStore
from cms_graph.domain.deadlines import DeadlineStep
from cms_graph.domain.errors import Conflict
from cms_graph.domain.ladder import next_holder
from cms_graph.domain.units import UnitHierarchy
from cms_graph.projections.escalations import ScheduledDeadline

logger = logging.getLogger(__name__)

# A conflict means someone else changed the complaint in the same moment. After this
# many reloads something is wrong, and the sweep tries again later.
MAX_CONFLICT_RETRIES = 5


class EscalationOutcome(StrEnum):
    ESCALATED = "ESCALATED"
    NOT_DUE_YET = "NOT_DUE_YET"
    NO_LONGER_PENDING = "NO_LONGER_PENDING"
    AT_TOP = "AT_TOP"
    NOT_FOUND = "NOT_FOUND"


class EscalationService:
    def __init__(
        self,
        *,
        event_store: ComplaintEventStore,
        database: Database,
        units: UnitHierarchy,
        clock: Clock,
        after_commit: Callable[[int], None] = lambda _notification_id: None,
    ) -> None:
        self.event_store = event_store
        self.database = database
        self.units = units
        self.clock = clock
        self.after_commit = after_commit

    def escalate_if_due(
        self,
        complaint_id: UUID,
        step: DeadlineStep,
        due_at: datetime,
        correlation_id: str | None = None,
    ) -> EscalationOutcome:
        """Escalate the complaint if the deadline (``step``, ``due_at``) is pending and
        has passed. The escalation records ``correlation_id``, that of the event that
        started the deadline's clock, in its system actor."""
        for _attempt in range(MAX_CONFLICT_RETRIES):
            try:
                return self._escalate_once(complaint_id, step, due_at, correlation_id)
            except Conflict:
                logger.debug("complaint %s changed during escalation; reloading", complaint_id)
        raise Conflict(
            f"complaint {complaint_id} kept changing during escalation; the sweep retries it"
        )

    def _escalate_once(
        self, complaint_id: UUID, step: DeadlineStep, due_at: datetime, correlation_id: str | None
    ) -> EscalationOutcome:
        try:
            complaint = self.event_store.get_complaint(complaint_id)
        except AggregateNotFoundError:
            logger.warning("escalation for unknown complaint %s ignored", complaint_id)
            return EscalationOutcome.NOT_FOUND

        pending = complaint.next_deadline()
        if pending is None or pending.step != step or pending.due_at != due_at:
            return EscalationOutcome.NO_LONGER_PENDING
        now = self.clock.now()
        if now < due_at:
            return EscalationOutcome.NOT_DUE_YET
        holder = None
        if complaint.unit_id in self.units:
            holder = next_holder(self.units, complaint.unit_id, complaint.holder_rank)
        if holder is None:
            return EscalationOutcome.AT_TOP

        complaint.escalate_for_missed_deadline(
            step=step, due_at=due_at, to=holder, at=now, correlation_id=correlation_id
        )
        notification_id = self.event_store.save_complaint(complaint)
        logger.info(
            "complaint %s escalated to %s %s after %s deadline %s",
            complaint_id,
            holder.rank.value,
            holder.unit_id,
            step.value,
            due_at.isoformat(),
        )
        self.after_commit(notification_id)
        return EscalationOutcome.ESCALATED

    def due_deadlines(self, limit: int = 1000) -> list[ScheduledDeadline]:
        """Return up to ``limit`` deadlines that have passed, oldest first, from the view."""
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT complaint_id, deadline_step, fire_at, deadline_correlation_id"
                " FROM escalation_view"
                " WHERE fire_at IS NOT NULL AND fire_at <= :now ORDER BY fire_at LIMIT :limit",
                {"now": self.clock.now(), "limit": limit},
            )
            rows = cursor.fetchall()
        return [
            ScheduledDeadline(
                UUID(str(row["complaint_id"])),
                DeadlineStep(row["deadline_step"]),
                row["fire_at"],
                row["deadline_correlation_id"],
            )
            for row in rows
        ]

    def sweep(self, limit: int = 1000) -> dict[EscalationOutcome, int]:
        """Escalate every passed deadline in the escalation view; return counts by outcome."""
        counts: dict[EscalationOutcome, int] = {}
        for deadline in self.due_deadlines(limit):
            # The sweep message carries no correlation id, so each escalation logs under
            # the id of its own deadline.
            log_context = (
                structlog.contextvars.bound_contextvars(correlation_id=deadline.correlation_id)
                if deadline.correlation_id is not None
                else nullcontext()
            )
            with log_context:
                outcome = self.escalate_if_due(
                    deadline.complaint_id, deadline.step, deadline.due_at, deadline.correlation_id
                )
            counts[outcome] = counts.get(outcome, 0) + 1
        if counts:
            outcomes = ", ".join(f"{outcome.value.lower()} {n}" for outcome, n in counts.items())
            logger.info("deadline sweep: %s", outcomes)
        return counts


__all__ = ["EscalationOutcome", "EscalationService"]
