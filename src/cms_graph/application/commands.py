"""Inputs of the complaint use cases, as plain immutable records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cms_graph.domain.values import Channel, ComplaintCategory, Language, Outcome


@dataclass(frozen=True)
class ComplainantDetails:
    name: str
    phone: str
    cnic: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class LodgeComplaint:
    channel: Channel
    category: ComplaintCategory
    description: str
    district_id: str
    complainant: ComplainantDetails
    language: Language = Language.UR
    station_id: str | None = None
    incident_at: datetime | None = None


@dataclass(frozen=True)
class ComplainantProof:
    """A citizen's proof of ownership: the tracking number and the phone they lodged with."""

    tracking_number: str
    phone: str


@dataclass(frozen=True)
class CommandResult:
    complaint_id: UUID
    tracking_number: str
    notification_id: int


__all__ = [
    "CommandResult",
    "ComplainantDetails",
    "ComplainantProof",
    "LodgeComplaint",
    "Outcome",
]
