"""The view of approved integrations that senders use, and nothing more.

The integrations feature (requests, two approvals, revocation, credentials) keeps the
full story as events. Webhook delivery, the integrator subscription and exports only ask
one question: which active integrations want this event, and which fields may each see?
``IntegrationDirectory`` reads them from the integrations projection, so a revocation is
seen by the next lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from cms_graph.domain.integration_kind import IntegrationKind


@dataclass(frozen=True)
class ActiveIntegration:
    """An integration with both approvals and no revocation."""

    id: UUID
    name: str
    kind: IntegrationKind
    # The URL webhooks are POSTed to; None for other kinds.
    endpoint: str | None
    # Domain event class names, such as "ComplaintLodged"; empty means none.
    event_types: frozenset[str]
    # Field names from field_limits.ALL_FIELDS, in catalogue order.
    allowed_fields: tuple[str, ...]
    # The integrator's user id (the token's ``sub``) that may act as this integration.
    principal: str

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types


class IntegrationDirectory(Protocol):
    def active(self, *, kind: IntegrationKind | None = None) -> list[ActiveIntegration]:
        """Return every active integration, optionally of one kind."""
        ...

    def active_for_principal(self, principal: str) -> ActiveIntegration | None:
        """Return the active integration an integrator's token acts for, if any."""
        ...

    def signing_secret(self, integration_id: UUID) -> bytes | None:
        """Return the current secret for webhook signatures, or None once revoked."""
        ...


class NoIntegrations:
    """A directory with no active integrations, used until one is configured."""

    def active(self, *, kind: IntegrationKind | None = None) -> list[ActiveIntegration]:
        return []

    def active_for_principal(self, principal: str) -> ActiveIntegration | None:
        return None

    def signing_secret(self, integration_id: UUID) -> bytes | None:
        return None


__all__ = ["ActiveIntegration", "IntegrationDirectory", "IntegrationKind", "NoIntegrations"]
