"""The port to the police-station records system (PSRMS), which registers FIRs.

``FirRegistry`` is what the FIR conversion use case calls; ``adapters/psrms.py`` implements
it over HTTP and ``adapters/psrms_standin.py`` in process for development. A registry
raises ``FirRegistryUnavailable`` when it may be worth trying again (timeout, refused
connection, server error) and ``FirRegistryRejected`` when PSRMS refused the request for
a reason. Either way no FIR was linked, so the caller writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cms_graph.domain.personal_data import Complainant


@dataclass(frozen=True, repr=False)
class FirRequest:
    """A request to register an FIR, with what PSRMS needs for it.

    ``idempotency_key`` is the complaint id: PSRMS returns the FIR it already registered
    for a key it has seen, so a retry after a timeout cannot register a second FIR. The
    ``repr`` leaves out the complainant, so a logged request carries no personal data.
    """

    idempotency_key: str
    station_id: str
    sections: tuple[str, ...]
    offence_summary: str
    tracking_number: str
    category: str
    district_id: str
    incident_at: datetime | None
    description: str
    complainant: Complainant

    def to_json(self) -> dict[str, Any]:
        """Return the request body sent to PSRMS."""
        return {
            "stationId": self.station_id,
            "sections": list(self.sections),
            "offenceSummary": self.offence_summary,
            "complaint": {
                "trackingNumber": self.tracking_number,
                "category": self.category,
                "districtId": self.district_id,
                "incidentAt": self.incident_at.isoformat() if self.incident_at else None,
                "description": self.description,
            },
            "complainant": self.complainant.to_dict(),
        }

    def __repr__(self) -> str:
        return (
            f"FirRequest(idempotency_key={self.idempotency_key!r},"
            f" station_id={self.station_id!r}, tracking_number={self.tracking_number!r})"
        )


@dataclass(frozen=True)
class FirReceipt:
    """PSRMS's response: the FIR number, and where and when the FIR was registered."""

    fir_number: str
    station_id: str
    registered_at: datetime


class FirRegistryError(Exception):
    """Base class of registry failures. ``message`` is safe to show and to log: it
    names the failure, never the complainant."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FirRegistryUnavailable(FirRegistryError):
    """Raised when PSRMS timed out, could not be reached or failed itself."""


class FirRegistryRejected(FirRegistryError):
    """Raised when PSRMS responded with a 4xx status and a reason; ``reason_code`` is
    PSRMS's machine-readable code, such as ``UNKNOWN_STATION``."""

    def __init__(self, message: str, *, status: int, reason_code: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason_code = reason_code


class FirRegistry(Protocol):
    def register(self, request: FirRequest) -> FirReceipt:
        """Register the FIR, or return the one already registered under the request's
        idempotency key.

        Raises FirRegistryUnavailable or FirRegistryRejected.
        """
        ...

    def close(self) -> None:
        """Release connections; the registry is not used afterwards."""
        ...


__all__ = [
    "FirReceipt",
    "FirRegistry",
    "FirRegistryError",
    "FirRegistryRejected",
    "FirRegistryUnavailable",
    "FirRequest",
]
