"""Record staff reads of complainant personal data and every denied access."""

from __future__ import annotations

import logging
from collections.abc import Callable
from uuid import UUID

from cms_graph.adapters.clock import Clock
from cms_graph.adapters.event_store import ComplaintEventStore, save_access_record
from cms_graph.application.identity import Principal
from cms_graph.domain.access_record import AccessRecord

logger = logging.getLogger(__name__)


class AccessAudit:
    def __init__(
        self,
        event_store: ComplaintEventStore,
        clock: Clock,
        after_commit: Callable[[int], None] = lambda _notification_id: None,
    ) -> None:
        self.event_store = event_store
        self.clock = clock
        self.after_commit = after_commit

    def personal_data_viewed(
        self, principal: Principal, complaint_id: UUID | None, operation: str
    ) -> None:
        """Record a read of personal data; ``complaint_id`` is None for a search that
        found nothing."""
        record = AccessRecord.viewed(
            complaint_id=complaint_id,
            operation=operation,
            actor=principal.as_actor(),
            at=self.clock.now(),
        )
        self.after_commit(save_access_record(self.event_store, record))

    def access_denied(
        self, principal: Principal, complaint_id: UUID | None, operation: str, reason: str
    ) -> None:
        record = AccessRecord.denied(
            complaint_id=complaint_id,
            operation=operation,
            reason=reason,
            actor=principal.as_actor(),
            at=self.clock.now(),
        )
        self.after_commit(save_access_record(self.event_store, record))
        logger.info(
            "access denied: %s on complaint %s by %s (%s)",
            operation,
            complaint_id,
            principal.user_id or "anonymous",
            reason,
        )


__all__ = ["AccessAudit"]
