"""Load and save integrations and export records in the complaints' event store."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from cms_graph.adapters.event_store import ComplaintEventStore
from cms_graph.domain.errors import Conflict, NotFound
from cms_graph.domain.integration import Integration


def get_integration(store: ComplaintEventStore, integration_id: UUID) -> Integration:
    """Return the integration, or raise NotFound naming ``integrationId``."""
    aggregate: Aggregate | None
    try:
        aggregate = store.repository.get(integration_id)
    except AggregateNotFoundError:
        aggregate = None
    if not isinstance(aggregate, Integration):
        raise NotFound(f"integration {integration_id} not found", field=("integrationId",))
    return aggregate


def save_aggregate(store: ComplaintEventStore, aggregate: Aggregate) -> int:
    """Save pending events; return the highest notification id written.

    Raises Conflict when another command saved an event at the same version first.
    """
    try:
        recordings = store.save(aggregate)
    except IntegrityError:
        raise Conflict(
            f"{type(aggregate).__name__.lower()} {aggregate.id} was changed by someone else;"
            " reload it and try again"
        ) from None
    ids = [recording.notification.id for recording in recordings]
    return max(ids) if ids else 0


__all__ = ["get_integration", "save_aggregate"]
