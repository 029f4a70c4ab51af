"""The complaint fields that may leave the system, and the filter that keeps the rest back.

Webhooks, the ``complaintEvents`` subscription for integrators and ``exportComplaints``
all send complaint data outside. Each names the fields it may carry; ``limit`` drops
every other field. Field names match the GraphQL ``Complaint`` fields, with the
complainant's details flattened to ``complainantName`` and so on.

The envelope (which complaint, which event, where it sits in the log) always travels,
because a receiver needs it to order, deduplicate and resume.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cms_graph.application.views import ComplaintRecord
from cms_graph.domain.errors import InvalidInput
from cms_graph.domain.personal_data import Complainant

# Always sent with an event; not subject to the allowlist.
ENVELOPE_FIELDS: tuple[str, ...] = (
    "position",
    "complaintId",
    "eventType",
    "occurredAt",
    "version",
)

COMPLAINT_FIELDS: tuple[str, ...] = (
    "trackingNumber",
    "status",
    "category",
    "channel",
    "description",
    "language",
    "districtId",
    "stationId",
    "unitId",
    "assignedOfficerId",
    "escalationLevel",
    "incidentAt",
    "lodgedAt",
    "acknowledgedAt",
    "dueAt",
    "resolvedAt",
    "closedAt",
    "withdrawnAt",
    "outcome",
    "firNumber",
    "firRegisteredAt",
)

# Sent only to a receiver whose allowlist names them explicitly.
PERSONAL_FIELDS: tuple[str, ...] = (
    "complainantName",
    "complainantCnic",
    "complainantPhone",
    "complainantAddress",
)

ALL_FIELDS: tuple[str, ...] = COMPLAINT_FIELDS + PERSONAL_FIELDS

_RECORD_ATTRIBUTES: dict[str, str] = {
    "trackingNumber": "tracking_number",
    "status": "status",
    "category": "category",
    "channel": "channel",
    "description": "description",
    "language": "language",
    "districtId": "district_id",
    "stationId": "station_id",
    "unitId": "unit_id",
    "assignedOfficerId": "assigned_officer_id",
    "escalationLevel": "escalation_level",
    "incidentAt": "incident_at",
    "lodgedAt": "lodged_at",
    "acknowledgedAt": "acknowledged_at",
    "dueAt": "due_at",
    "resolvedAt": "resolved_at",
    "closedAt": "closed_at",
    "withdrawnAt": "withdrawn_at",
    "outcome": "outcome",
    "firNumber": "fir_number",
    "firRegisteredAt": "fir_registered_at",
}


def validate_fields(
    fields: Iterable[str], *, field: tuple[str, ...] = ("fields",)
) -> tuple[str, ...]:
    """Return ``fields`` in catalogue order, or name the first unknown one and the valid set.

    An empty list is rejected, because a receiver that may see nothing has no use.
    """
    requested = list(fields)
    if not requested:
        raise InvalidInput(
            f"{field[-1]} is empty: name at least one of {', '.join(ALL_FIELDS)}", field=field
        )
    unknown = [name for name in requested if name not in ALL_FIELDS]
    if unknown:
        raise InvalidInput(
            f"{field[-1]} has unknown field {unknown[0]!r}: valid fields are"
            f" {', '.join(ALL_FIELDS)}",
            field=field,
        )
    chosen = set(requested)
    return tuple(name for name in ALL_FIELDS if name in chosen)


def includes_personal_data(fields: Iterable[str]) -> bool:
    return any(name in PERSONAL_FIELDS for name in fields)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def complaint_fields(
    record: ComplaintRecord, complainant: Complainant | None = None
) -> dict[str, Any]:
    """Return every catalogue field of one complaint, as JSON-ready values.

    The personal fields are present only when ``complainant`` is given; callers open the
    vault only for receivers allowed to see them.
    """
    values = {
        name: _plain(getattr(record, attribute)) for name, attribute in _RECORD_ATTRIBUTES.items()
    }
    if complainant is not None:
        values.update(
            complainantName=complainant.name,
            complainantCnic=complainant.cnic,
            complainantPhone=complainant.phone,
            complainantAddress=complainant.address,
        )
    return values


def limit(values: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """Return the envelope and the allowed fields of ``values``, dropping everything else."""
    keep = set(ENVELOPE_FIELDS) | set(allowed)
    return {name: value for name, value in values.items() if name in keep}


__all__ = [
    "ALL_FIELDS",
    "COMPLAINT_FIELDS",
    "ENVELOPE_FIELDS",
    "PERSONAL_FIELDS",
    "complaint_fields",
    "includes_personal_data",
    "limit",
    "validate_fields",
]
