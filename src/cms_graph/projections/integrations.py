"""The integrations read model (``integrations_view``) and its approvals
(``integration_approvals_view``), which the integration directory and queries read."""

from __future__ import annotations

import json
from typing import Any

from cms_graph.adapters.database import Cursor
from cms_graph.domain.integration import Integration, IntegrationStatus, integration_principal


class IntegrationProjector:
    name = "integrations"
    tables: tuple[str, ...] = ("integrations_view", "integration_approvals_view")

    def apply(self, cursor: Cursor, event: Any, notification_id: int) -> None:
        if not isinstance(event, Integration.Event):
            return
        common: dict[str, Any] = {
            "id": str(event.originator_id),
            "version": event.originator_version,
            "at": event.occurred_at,
            "user_id": event.actor.user_id,
        }

        if isinstance(event, Integration.IntegrationRequested):
            cursor.execute(
                "INSERT INTO integrations_view (integration_id, name, kind, endpoint,"
                " event_types, allowed_fields, principal, status, requested_by,"
                " requested_by_role, requested_at, credential_generation, version) VALUES"
                " (:id, :name, :kind, :endpoint, :event_types, :allowed_fields, :principal,"
                " :status, :user_id, :role, :at, 0, :version)",
                common
                | {
                    "name": event.name,
                    "kind": str(event.kind),
                    "endpoint": event.endpoint,
                    "event_types": json.dumps(list(event.event_types)),
                    "allowed_fields": json.dumps(list(event.allowed_fields)),
                    "principal": integration_principal(event.originator_id),
                    "status": IntegrationStatus.PENDING_APPROVAL.value,
                    "role": str(event.actor.role) if event.actor.role else None,
                },
            )
            return

        if isinstance(event, Integration.IntegrationApproved):
            cursor.execute(
                "INSERT INTO integration_approvals_view (integration_id, version, user_id,"
                " role, unit_id, second_factor, approved_at) VALUES (:id, :version, :user_id,"
                " :role, :unit_id, :second_factor, :at)",
                common
                | {
                    "role": str(event.actor.role) if event.actor.role else None,
                    "unit_id": event.actor.unit_id,
                    "second_factor": bool(event.second_factor),
                },
            )
            if event.api_key_hash is None:
                self._touch(cursor, common)
                return
            cursor.execute(
                "UPDATE integrations_view SET status = :status, activated_at = :at,"
                " credential_generation = :generation, credentials_issued_at = :at,"
                " api_key_hash = :hash, version = :version WHERE integration_id = :id",
                common
                | {
                    "status": IntegrationStatus.ACTIVE.value,
                    "generation": event.credential_generation,
                    "hash": event.api_key_hash,
                },
            )
            return

        if isinstance(event, Integration.IntegrationRejected | Integration.IntegrationRevoked):
            status = (
                IntegrationStatus.REJECTED
                if isinstance(event, Integration.IntegrationRejected)
                else IntegrationStatus.REVOKED
            )
            # The hash goes too: nothing can authenticate as an ended integration.
            cursor.execute(
                "UPDATE integrations_view SET status = :status, ended_at = :at,"
                " ended_by = :user_id, ended_reason = :reason, api_key_hash = NULL,"
                " version = :version WHERE integration_id = :id",
                common | {"status": status.value, "reason": event.reason},
            )
            return

        if isinstance(event, Integration.IntegrationCredentialsRotated):
            cursor.execute(
                "UPDATE integrations_view SET credential_generation = :generation,"
                " credentials_issued_at = :at, api_key_hash = :hash, version = :version"
                " WHERE integration_id = :id",
                common | {"generation": event.credential_generation, "hash": event.api_key_hash},
            )
            return

        self._touch(cursor, common)

    @staticmethod
    def _touch(cursor: Cursor, common: dict[str, Any]) -> None:
        cursor.execute(
            "UPDATE integrations_view SET version = :version WHERE integration_id = :id",
            common,
        )


__all__ = ["IntegrationProjector"]
