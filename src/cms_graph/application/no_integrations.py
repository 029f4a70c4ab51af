"""The integration directory of a deployment without the integrations feature: it is empty."""

from __future__ import annotations

from uuid import UUID

from cms_graph.application.integration_directory import ActiveIntegration, IntegrationKind


class NoIntegrations:
    """An ``IntegrationDirectory`` with no integrations, so every integrator is refused."""

    def active(self, *, kind: IntegrationKind | None = None) -> list[ActiveIntegration]:
        return []

    def active_for_principal(self, principal: str) -> ActiveIntegration | None:
        return None

    def signing_secret(self, integration_id: UUID) -> bytes | None:
        return None


__all__ = ["NoIntegrations"]
