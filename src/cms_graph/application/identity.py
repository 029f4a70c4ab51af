"""The caller's identity, and the rules on what their role and unit let them see and do.

Staff see and act on complaints of their own unit and the units below it; the roles in
``PROVINCE_WIDE_ROLES`` see the whole province. Every query path and command goes
through ``AccessPolicy``, so the rule lives in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from uuid import UUID

from cms_graph.domain.errors import Forbidden, Unauthenticated
from cms_graph.domain.units import UnitHierarchy
from cms_graph.domain.values import Actor, Role

PROVINCE_WIDE_ROLES = frozenset({Role.COMPLAINT_CELL, Role.INTEGRITY_UNIT, Role.ADDL_IGP, Role.IGP})
SUPERVISOR_ROLES = frozenset(
    {Role.SDPO, Role.DPO, Role.RPO, Role.ADDL_IGP, Role.IGP, Role.COMPLAINT_CELL}
)
# Roles that handle complaints. INTEGRITY_UNIT only reads and adds notes; INTEGRATOR and
# ADMIN reach complaints through integrations and administration, not case handling.
CASE_HANDLING_ROLES = SUPERVISOR_ROLES | {Role.FRONT_DESK, Role.HELPLINE_AGENT, Role.SHO}
NOTE_ROLES = CASE_HANDLING_ROLES | {Role.INTEGRITY_UNIT}
# Station-level officers are the ones most often complained about, so SHOs see complainant
# details masked. The circle level (SDPO) and above, intake staff and oversight see them.
PERSONAL_DATA_ROLES = frozenset(
    {
        Role.FRONT_DESK,
        Role.HELPLINE_AGENT,
        Role.SDPO,
        Role.DPO,
        Role.RPO,
        Role.ADDL_IGP,
        Role.IGP,
        Role.COMPLAINT_CELL,
        Role.INTEGRITY_UNIT,
    }
)


@dataclass(frozen=True)
class Principal:
    """The caller: a staff user or integrator with a verified token, or an anonymous citizen."""

    user_id: str | None = None
    role: Role | None = None
    unit_id: str | None = None
    amr: tuple[str, ...] = field(default_factory=tuple)
    client_address: str | None = None
    correlation_id: str | None = None

    @classmethod
    def anonymous(cls) -> Principal:
        return cls()

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None and self.role is not None

    @property
    def has_second_factor(self) -> bool:
        return "otp" in self.amr

    def with_request(self, client_address: str | None, correlation_id: str | None) -> Principal:
        return replace(self, client_address=client_address, correlation_id=correlation_id)

    def as_actor(self) -> Actor:
        if not self.is_authenticated:
            return Actor.complainant(
                client_address=self.client_address, correlation_id=self.correlation_id
            )
        assert self.user_id is not None
        assert self.role is not None
        assert self.unit_id is not None
        return Actor.staff(
            self.user_id,
            self.role,
            self.unit_id,
            client_address=self.client_address,
            correlation_id=self.correlation_id,
        )


DeniedListener = Callable[[Principal, UUID | None, str, str], None]


class AccessPolicy:
    """The access rules. ``on_denied`` hears of every refusal, with the complaint id when
    there is one, the action and the reason, so that each is recorded for the audit."""

    def __init__(self, units: UnitHierarchy, on_denied: DeniedListener | None = None) -> None:
        self.units = units
        self.on_denied = on_denied

    def deny(
        self, principal: Principal, complaint_id: UUID | None, action: str, reason: str
    ) -> None:
        if self.on_denied is not None:
            self.on_denied(principal, complaint_id, action, reason)

    def require_authenticated(self, principal: Principal, action: str = "query complaints") -> None:
        if not principal.is_authenticated:
            error = Unauthenticated(
                "this operation needs a staff token in the Authorization header"
            )
            self.deny(principal, None, action, error.message)
            raise error

    def require_role(
        self,
        principal: Principal,
        roles: frozenset[Role],
        action: str,
        complaint_id: UUID | None = None,
    ) -> None:
        self.require_authenticated(principal, action)
        if principal.role not in roles:
            allowed = ", ".join(sorted(role.value for role in roles))
            error = Forbidden(f"role {principal.role} may not {action}; allowed roles: {allowed}")
            self.deny(principal, complaint_id, action, error.message)
            raise error

    def scope_path(self, principal: Principal, *, for_integration: bool = False) -> str | None:
        """Return the unit path prefix the caller may see, or None for the whole province.

        Integrators read complaints only through their approved integration (export,
        subscription or webhook), which limits the fields; those paths pass
        ``for_integration``. Every other read by an integrator raises ``Forbidden``.
        """
        self.require_authenticated(principal)
        if principal.role is Role.INTEGRATOR and not for_integration:
            error = Forbidden(
                "role INTEGRATOR may not query complaints directly: an integrator receives"
                " the fields its approved integration allows through exportComplaints,"
                " complaintEvents or webhooks"
            )
            self.deny(principal, None, "query complaints", error.message)
            raise error
        if principal.role in PROVINCE_WIDE_ROLES:
            return None
        assert principal.unit_id is not None
        return self.units.path(principal.unit_id)

    def can_see_unit(self, principal: Principal, unit_path: str) -> bool:
        scope = self.scope_path(principal)
        return scope is None or unit_path.startswith(scope)

    def can_see_complaint(
        self, principal: Principal, unit_path: str, assigned_officer_id: str | None
    ) -> bool:
        """Return whether the caller may read the complaint: staff may read their unit's
        subtree, and the assigned officer may also read the complaints assigned to them."""
        if self.can_see_unit(principal, unit_path):
            return True
        return assigned_officer_id is not None and assigned_officer_id == principal.user_id

    def can_see_personal_data(self, principal: Principal) -> bool:
        return principal.role in PERSONAL_DATA_ROLES

    def is_supervisor(self, principal: Principal) -> bool:
        return principal.role in SUPERVISOR_ROLES


__all__ = [
    "CASE_HANDLING_ROLES",
    "NOTE_ROLES",
    "PERSONAL_DATA_ROLES",
    "PROVINCE_WIDE_ROLES",
    "SUPERVISOR_ROLES",
    "AccessPolicy",
    "Principal",
]
