"""Reads of the integrations projection: the directory senders use, and the staff listing.

``IntegrationQueries`` implements ``IntegrationDirectory``. Every integration command
brings the integrations projection up to its own commit before it returns (see
``Container.after_integration_commit``), so a revocation is seen by the next lookup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from cms_graph.adapters.database import Database, Row, in_clause
from cms_graph.application.identity import AccessPolicy, Principal
from cms_graph.application.integration_credentials import derive_signing_secret
from cms_graph.application.integration_directory import ActiveIntegration, IntegrationKind
from cms_graph.domain.integration import IntegrationStatus
from cms_graph.domain.values import Role

# Roles that may list integrations: the administrators who approve them, the IGP, and the
# integrity unit, which audits where complaint data goes.
INTEGRATION_READER_ROLES = frozenset({Role.ADMIN, Role.ADDL_IGP, Role.IGP, Role.INTEGRITY_UNIT})


@dataclass(frozen=True)
class ApprovalRecord:
    user_id: str | None
    role: str | None
    unit_id: str | None
    second_factor: bool
    approved_at: datetime


@dataclass(frozen=True)
class IntegrationRecord:
    """One row of ``integrations_view`` with its approvals; the key hash stays behind."""

    id: UUID
    name: str
    kind: IntegrationKind
    endpoint: str | None
    event_types: tuple[str, ...]
    allowed_fields: tuple[str, ...]
    principal: str
    status: IntegrationStatus
    requested_by: str | None
    requested_by_role: str | None
    requested_at: datetime
    activated_at: datetime | None
    ended_at: datetime | None
    ended_by: str | None
    ended_reason: str | None
    credential_generation: int
    credentials_issued_at: datetime | None
    version: int
    approvals: tuple[ApprovalRecord, ...] = ()

    @classmethod
    def from_row(cls, row: Row, approvals: tuple[ApprovalRecord, ...] = ()) -> IntegrationRecord:
        return cls(
            id=UUID(str(row["integration_id"])),
            name=row["name"],
            kind=IntegrationKind(row["kind"]),
            endpoint=row["endpoint"],
            event_types=tuple(json.loads(row["event_types"])),
            allowed_fields=tuple(json.loads(row["allowed_fields"])),
            principal=row["principal"],
            status=IntegrationStatus(row["status"]),
            requested_by=row["requested_by"],
            requested_by_role=row["requested_by_role"],
            requested_at=row["requested_at"],
            activated_at=row["activated_at"],
            ended_at=row["ended_at"],
            ended_by=row["ended_by"],
            ended_reason=row["ended_reason"],
            credential_generation=int(row["credential_generation"]),
            credentials_issued_at=row["credentials_issued_at"],
            version=int(row["version"]),
            approvals=approvals,
        )

    def as_active(self) -> ActiveIntegration:
        return ActiveIntegration(
            id=self.id,
            name=self.name,
            kind=self.kind,
            endpoint=self.endpoint,
            event_types=frozenset(self.event_types),
            allowed_fields=self.allowed_fields,
            principal=self.principal,
        )


class IntegrationQueries:
    def __init__(self, database: Database, access: AccessPolicy, server_key: bytes) -> None:
        self.database = database
        self.access = access
        self._server_key = server_key

    # The directory, for senders: no caller check, because the callers are the system.

    def active(self, *, kind: IntegrationKind | None = None) -> list[ActiveIntegration]:
        condition = "status = :status"
        parameters: dict[str, Any] = {"status": IntegrationStatus.ACTIVE.value}
        if kind is not None:
            condition += " AND kind = :kind"
            parameters["kind"] = kind.value
        return [record.as_active() for record in self._select(condition, parameters)]

    def active_for_principal(self, principal: str) -> ActiveIntegration | None:
        records = self._select(
            "principal = :principal AND status = :status",
            {"principal": principal, "status": IntegrationStatus.ACTIVE.value},
        )
        return records[0].as_active() if records else None

    def signing_secret(self, integration_id: UUID) -> bytes | None:
        record = self._one(integration_id)
        if record is None or record.status is not IntegrationStatus.ACTIVE:
            return None
        secret = derive_signing_secret(
            self._server_key, integration_id, record.credential_generation
        )
        return secret.encode("ascii")

    # Staff reads.

    def list_integrations(
        self, principal: Principal, statuses: tuple[IntegrationStatus, ...] = ()
    ) -> list[IntegrationRecord]:
        """Return the integrations, newest request first, with their approvals."""
        self.access.require_role(principal, INTEGRATION_READER_ROLES, "list integrations")
        parameters: dict[str, Any] = {}
        condition = "1 = 1"
        if statuses:
            condition = "status IN " + in_clause(
                "status", [status.value for status in statuses], parameters
            )
        records = self._select(condition, parameters)
        approvals = self._approvals([record.id for record in records])
        return [replace(record, approvals=approvals.get(record.id, ())) for record in records]

    def get(self, principal: Principal, integration_id: UUID) -> IntegrationRecord | None:
        self.access.require_role(principal, INTEGRATION_READER_ROLES, "read an integration")
        return self.get_record(integration_id)

    def get_record(self, integration_id: UUID) -> IntegrationRecord | None:
        """Return the integration without a role check, for the use cases' own replies."""
        record = self._one(integration_id)
        if record is None:
            return None
        approvals = self._approvals([integration_id]).get(integration_id, ())
        return replace(record, approvals=approvals)

    def _one(self, integration_id: UUID) -> IntegrationRecord | None:
        records = self._select("integration_id = :id", {"id": str(integration_id)})
        return records[0] if records else None

    def _select(self, condition: str, parameters: dict[str, Any]) -> list[IntegrationRecord]:
        with self.database.read() as cursor:
            cursor.execute(
                # The conditions are fixed strings of this module; values are parameters.
                f"SELECT * FROM integrations_view WHERE {condition}"  # noqa: S608
                " ORDER BY requested_at DESC, integration_id",
                parameters,
            )
            rows = cursor.fetchall()
        return [IntegrationRecord.from_row(row) for row in rows]

    def _approvals(self, keys: list[UUID]) -> dict[UUID, tuple[ApprovalRecord, ...]]:
        if not keys:
            return {}
        parameters: dict[str, Any] = {}
        ids = in_clause("id", [str(key) for key in keys], parameters)
        with self.database.read() as cursor:
            cursor.execute(
                f"SELECT * FROM integration_approvals_view WHERE integration_id IN {ids}"  # noqa: S608
                " ORDER BY integration_id, version",
                parameters,
            )
            rows = cursor.fetchall()
        found: dict[UUID, list[ApprovalRecord]] = {}
        for row in rows:
            found.setdefault(UUID(str(row["integration_id"])), []).append(
                ApprovalRecord(
                    user_id=row["user_id"],
                    role=row["role"],
                    unit_id=row["unit_id"],
                    second_factor=bool(row["second_factor"]),
                    approved_at=row["approved_at"],
                )
            )
        return {key: tuple(values) for key, values in found.items()}


__all__ = [
    "INTEGRATION_READER_ROLES",
    "ApprovalRecord",
    "IntegrationQueries",
    "IntegrationRecord",
]
