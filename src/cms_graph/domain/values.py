"""Value types shared by the complaint aggregate, the application and the API."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ComplaintStatus(StrEnum):
    LODGED = "LODGED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    ASSIGNED = "ASSIGNED"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"
    REOPENED = "REOPENED"
    WITHDRAWN = "WITHDRAWN"


OPEN_STATUSES = frozenset(
    {
        ComplaintStatus.LODGED,
        ComplaintStatus.ACKNOWLEDGED,
        ComplaintStatus.ASSIGNED,
        ComplaintStatus.REOPENED,
    }
)
FINAL_STATUSES = frozenset({ComplaintStatus.CLOSED, ComplaintStatus.WITHDRAWN})


class ComplaintCategory(StrEnum):
    """The published complaint categories of the Punjab Police."""

    NON_REGISTRATION_OF_FIR = "NON_REGISTRATION_OF_FIR"
    FAULTY_INVESTIGATION = "FAULTY_INVESTIGATION"
    ILLEGAL_DETENTION = "ILLEGAL_DETENTION"
    ARREST_OF_INNOCENT = "ARREST_OF_INNOCENT"
    FALSE_FIR = "FALSE_FIR"
    NEGLIGENCE = "NEGLIGENCE"
    BRIBERY = "BRIBERY"
    MISCONDUCT = "MISCONDUCT"
    CHANGE_OF_INVESTIGATION = "CHANGE_OF_INVESTIGATION"
    OTHER = "OTHER"


class Channel(StrEnum):
    """The route by which a complaint or an action came in."""

    WEB_PORTAL = "WEB_PORTAL"
    MOBILE_APP = "MOBILE_APP"
    SHORT_CODE_VOICE = "SHORT_CODE_VOICE"
    SHORT_CODE_SMS = "SHORT_CODE_SMS"
    EMAIL = "EMAIL"
    POST = "POST"
    FRONT_DESK = "FRONT_DESK"
    SERVICE_CENTRE = "SERVICE_CENTRE"
    CITIZEN_PORTAL = "CITIZEN_PORTAL"
    CM_COMPLAINT_CELL = "CM_COMPLAINT_CELL"
    EMERGENCY_15 = "EMERGENCY_15"
    STAFF_CONSOLE = "STAFF_CONSOLE"
    SYSTEM = "SYSTEM"


# A citizen may lodge through these without a token; every other channel is staff-entered.
SELF_SERVICE_CHANNELS = frozenset({Channel.WEB_PORTAL, Channel.MOBILE_APP})
LODGING_CHANNELS = frozenset(set(Channel) - {Channel.STAFF_CONSOLE, Channel.SYSTEM})


class Outcome(StrEnum):
    RELIEF_GRANTED = "RELIEF_GRANTED"
    PARTIAL_RELIEF = "PARTIAL_RELIEF"
    FIR_REGISTERED = "FIR_REGISTERED"
    NO_ACTION_WARRANTED = "NO_ACTION_WARRANTED"
    REFERRED = "REFERRED"
    FOUND_FALSE = "FOUND_FALSE"


class Language(StrEnum):
    UR = "UR"
    EN = "EN"


class Role(StrEnum):
    FRONT_DESK = "FRONT_DESK"
    HELPLINE_AGENT = "HELPLINE_AGENT"
    SHO = "SHO"
    SDPO = "SDPO"
    DPO = "DPO"
    RPO = "RPO"
    ADDL_IGP = "ADDL_IGP"
    IGP = "IGP"
    COMPLAINT_CELL = "COMPLAINT_CELL"
    INTEGRITY_UNIT = "INTEGRITY_UNIT"
    INTEGRATOR = "INTEGRATOR"
    ADMIN = "ADMIN"


class ActorKind(StrEnum):
    STAFF = "STAFF"
    COMPLAINANT = "COMPLAINANT"
    SYSTEM = "SYSTEM"


@dataclass(frozen=True)
class Actor:
    """Who performed an action: a staff user, the complainant, or the system itself.

    ``client_address`` and ``correlation_id`` record where the request came from and tie
    together everything one request did. The system has no client address, and has a
    correlation id only when it acts on something a request started, such as a deadline.
    """

    kind: ActorKind
    user_id: str | None = None
    role: Role | None = None
    unit_id: str | None = None
    client_address: str | None = None
    correlation_id: str | None = None

    @classmethod
    def staff(
        cls,
        user_id: str,
        role: Role,
        unit_id: str,
        *,
        client_address: str | None = None,
        correlation_id: str | None = None,
    ) -> Actor:
        return cls(ActorKind.STAFF, user_id, role, unit_id, client_address, correlation_id)

    @classmethod
    def complainant(
        cls, *, client_address: str | None = None, correlation_id: str | None = None
    ) -> Actor:
        return cls(
            ActorKind.COMPLAINANT, client_address=client_address, correlation_id=correlation_id
        )

    @classmethod
    def system(cls, *, correlation_id: str | None = None) -> Actor:
        return cls(ActorKind.SYSTEM, user_id="system", correlation_id=correlation_id)

    def to_dict(self) -> dict[str, str | None]:
        return {
            "kind": self.kind.value,
            "user_id": self.user_id,
            "role": self.role.value if self.role else None,
            "unit_id": self.unit_id,
            "client_address": self.client_address,
            "correlation_id": self.correlation_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str | None]) -> Actor:
        role = data.get("role")
        return cls(
            kind=ActorKind(data["kind"] or ""),
            user_id=data.get("user_id"),
            role=Role(role) if role else None,
            unit_id=data.get("unit_id"),
            client_address=data.get("client_address"),
            correlation_id=data.get("correlation_id"),
        )


__all__ = [
    "FINAL_STATUSES",
    "LODGING_CHANNELS",
    "OPEN_STATUSES",
    "SELF_SERVICE_CHANNELS",
    "Actor",
    "ActorKind",
    "Channel",
    "ComplaintCategory",
    "ComplaintStatus",
    "Language",
    "Outcome",
    "Role",
]
