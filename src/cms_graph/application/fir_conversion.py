"""Convert a complaint into an FIR: register it in PSRMS and link the FIR number.

Who may convert: SHOs register FIRs, so the SHO of a police station inside the
complaint's unit may, for an FIR at their own station. Supervisors (``SUPERVISOR_ROLES``)
who may see the complaint may too, for an FIR at a station inside their own units. A complaint that
is closed or withdrawn cannot be converted. Any category can, because bribery and illegal
detention are offences too, although an FIR not registered is the usual case.

The conversion is idempotent per complaint. A complaint that already has an FIR returns
its number without calling PSRMS or writing an event. PSRMS gets the complaint id as the
idempotency key, so a retry after a timeout returns the FIR registered the first time.
When two conversions race, the version check lets one event through, and the other
reloads the complaint and returns the FIR it finds there.

A PSRMS failure changes nothing: no event is written and the caller gets an
``UpstreamUnavailable`` (try again) or ``UpstreamRejected`` (PSRMS's reason) error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from cms_graph.adapters.clock import Clock
from cms_graph.adapters.event_store import ComplaintEventStore
from cms_graph.adapters.vault import PersonalDataVault
from cms_graph.application.access_audit import AccessAudit
from cms_graph.application.fir_registry import (
    FirReceipt,
    FirRegistry,
    FirRegistryRejected,
    FirRegistryUnavailable,
    FirRequest,
)
from cms_graph.application.identity import SUPERVISOR_ROLES, AccessPolicy, Principal
from cms_graph.domain.complaint import Complaint, check_text
from cms_graph.domain.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    UpstreamRejected,
    UpstreamUnavailable,
)
from cms_graph.domain.units import UnitLevel
from cms_graph.domain.values import Channel, Role

logger = logging.getLogger(__name__)

FIR_ROLES = SUPERVISOR_ROLES | {Role.SHO}
MAX_SECTIONS = 20
MAX_OFFENCE_SUMMARY_LENGTH = 2000
# A law section as written on an FIR: "379 PPC", "489-F PPC", "13-20-65 Arms Ordinance".
_SECTION = re.compile(r"[0-9A-Za-z][0-9A-Za-z ()./-]{0,59}")
# A save that loses the version race reloads and tries again this many times in all.
SAVE_ATTEMPTS = 3


@dataclass(frozen=True)
class ConvertToFir:
    complaint_id: UUID
    sections: tuple[str, ...]
    offence_summary: str
    police_station_id: str | None = None


@dataclass(frozen=True)
class FirConversionResult:
    complaint_id: UUID
    tracking_number: str
    fir_number: str
    # False when the complaint already had this FIR and nothing was written.
    registered_now: bool


def check_sections(sections: tuple[str, ...]) -> tuple[str, ...]:
    """Return the sections stripped, or raise InvalidInput naming ``sections``."""
    cleaned = tuple(section.strip() for section in sections)
    if not cleaned:
        raise InvalidInput(
            "sections is empty: name at least one section of law, such as 379 PPC",
            field=("sections",),
        )
    if len(cleaned) > MAX_SECTIONS:
        raise InvalidInput(
            f"sections has {len(cleaned)} entries; the maximum is {MAX_SECTIONS}",
            field=("sections",),
        )
    for index, section in enumerate(cleaned):
        if not _SECTION.fullmatch(section):
            raise InvalidInput(
                f"sections[{index}] is not a section of law: write up to 60 letters, digits,"
                " spaces and - / . ( ), starting with a letter or digit, such as 379 PPC"
                " or 489-F PPC",
                field=("sections", str(index)),
            )
    return cleaned


class FirConversionService:
    def __init__(
        self,
        *,
        event_store: ComplaintEventStore,
        vault: PersonalDataVault,
        registry: FirRegistry,
        access: AccessPolicy,
        clock: Clock,
        audit: AccessAudit,
        after_commit: Callable[[int], None] = lambda _notification_id: None,
    ) -> None:
        self.event_store = event_store
        self.vault = vault
        self.registry = registry
        self.access = access
        self.units = access.units
        self.clock = clock
        self.audit = audit
        self.after_commit = after_commit

    def convert(self, principal: Principal, command: ConvertToFir) -> FirConversionResult:
        """Register the complaint's FIR in PSRMS and record the number on the complaint.

        Raises Unauthenticated, Forbidden, NotFound, InvalidInput, InvalidTransition,
        UpstreamUnavailable or UpstreamRejected; none of them leaves an event behind.
        """
        self.access.require_role(principal, FIR_ROLES, "convert complaints to FIRs")
        sections = check_sections(command.sections)
        summary = check_text(
            command.offence_summary, "offenceSummary", limit=MAX_OFFENCE_SUMMARY_LENGTH
        )
        complaint = self._load_for_converter(principal, command.complaint_id)

        # Idempotent: a complaint keeps its one FIR, whatever this request contains.
        if complaint.fir_number is not None:
            return self._existing(complaint)
        complaint.check_can_register_fir()
        station_id = self._station_for(principal, complaint, command.police_station_id)

        # Only now open the sealed details: PSRMS registers the FIR in the complainant's name.
        complainant = self.vault.open(complaint.id, complaint.complainant_sealed)
        if complainant is None:
            raise InvalidTransition(
                f"cannot convert complaint {complaint.tracking_number} to an FIR: its"
                " complainant's details were deleted or never recorded, and PSRMS needs"
                " the complainant's name"
            )
        request = FirRequest(
            idempotency_key=str(complaint.id),
            station_id=station_id,
            sections=sections,
            offence_summary=summary,
            tracking_number=complaint.tracking_number,
            category=complaint.category.value,
            district_id=complaint.district_id,
            incident_at=complaint.incident_at,
            description=complaint.description,
            complainant=complainant,
        )
        self.audit.personal_data_viewed(principal, complaint.id, "convertToFir: sent to PSRMS")
        receipt = self._register(request)
        return self._link(principal, complaint, receipt, sections, summary)

    def _load_for_converter(self, principal: Principal, complaint_id: UUID) -> Complaint:
        try:
            complaint = self.event_store.get_complaint(complaint_id)
        except AggregateNotFoundError:
            raise NotFound(f"complaint {complaint_id} not found", field=("complaintId",)) from None
        if not self._may_convert(principal, complaint):
            # Hidden, not forbidden: staff must not learn that a complaint exists elsewhere.
            self.audit.access_denied(
                principal, complaint_id, "convertToFir", "outside the caller's units"
            )
            raise NotFound(f"complaint {complaint_id} not found", field=("complaintId",))
        return complaint

    def _may_convert(self, principal: Principal, complaint: Complaint) -> bool:
        unit_path = (
            self.units.path(complaint.unit_id)
            if complaint.unit_id in self.units
            else f"/unknown/{complaint.unit_id}/"
        )
        if principal.role is Role.SHO:
            # The complaint is held by the circle or above, so the SHO's own station is
            # inside its unit rather than the other way round.
            station = principal.unit_id
            return station is not None and self.units.path(station).startswith(unit_path)
        return self.access.can_see_complaint(principal, unit_path, complaint.assigned_officer_id)

    def _station_for(
        self, principal: Principal, complaint: Complaint, requested: str | None
    ) -> str:
        """Return the station that registers the FIR: the one requested, else the
        complaint's station, else the SHO's own."""
        station_id = requested or complaint.station_id
        if station_id is None and principal.role is Role.SHO:
            station_id = principal.unit_id
        if station_id is None:
            raise InvalidInput(
                f"policeStationId is required: complaint {complaint.tracking_number} names"
                " no police station",
                field=("policeStationId",),
            )
        unit = self.units.get(station_id) if station_id in self.units else None
        if unit is None or unit.level is not UnitLevel.POLICE_STATION:
            raise InvalidInput(
                f"policeStationId {station_id!r} is not a police station",
                field=("policeStationId",),
            )
        if not self.units.is_within(station_id, complaint.district_id):
            raise InvalidInput(
                f"policeStationId {station_id!r} is not in the complaint's district"
                f" {complaint.district_id!r}",
                field=("policeStationId",),
            )
        if principal.role is Role.SHO and station_id != principal.unit_id:
            raise InvalidInput(
                f"policeStationId {station_id!r} is not your station: an SHO registers"
                f" FIRs at their own station, {principal.unit_id}",
                field=("policeStationId",),
            )
        if principal.role is not Role.SHO and not self.access.can_see_unit(
            principal, self.units.path(station_id)
        ):
            raise InvalidInput(
                f"policeStationId {station_id!r} is outside your unit {principal.unit_id}",
                field=("policeStationId",),
            )
        return station_id

    def _register(self, request: FirRequest) -> FirReceipt:
        try:
            return self.registry.register(request)
        except FirRegistryUnavailable as error:
            logger.warning(
                "FIR conversion of complaint %s failed: %s", request.idempotency_key, error
            )
            raise UpstreamUnavailable(
                f"{error.message}; nothing was changed; try again", field=("complaintId",)
            ) from None
        except FirRegistryRejected as error:
            logger.warning(
                "FIR conversion of complaint %s rejected by PSRMS: status %d, code %s",
                request.idempotency_key,
                error.status,
                error.reason_code,
            )
            raise UpstreamRejected(
                f"{error.message}; nothing was changed", field=("complaintId",)
            ) from None

    def _link(
        self,
        principal: Principal,
        complaint: Complaint,
        receipt: FirReceipt,
        sections: tuple[str, ...],
        summary: str,
    ) -> FirConversionResult:
        """Save the FirRegistered event, reloading after a lost version race.

        PSRMS already has the FIR, so a race with an unrelated command (a note, an
        escalation) is retried. A race with another conversion returns that one's FIR.
        """
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            if complaint.fir_number is not None:
                return self._existing(complaint)
            complaint.register_fir(
                fir_number=receipt.fir_number,
                station_id=receipt.station_id,
                sections=sections,
                offence_summary=summary,
                registered_at=receipt.registered_at,
                actor=principal.as_actor(),
                channel=Channel.STAFF_CONSOLE,
                at=self.clock.now(),
            )
            try:
                notification_id = self.event_store.save_complaint(complaint)
            except Conflict:
                if attempt == SAVE_ATTEMPTS:
                    # NOTE: PSRMS keeps this FIR unlinked until a retry, which gets the
                    # same number back through the idempotency key and links it.
                    logger.warning(
                        "FIR %s of complaint %s not linked: the complaint kept changing",
                        receipt.fir_number,
                        complaint.id,
                    )
                    raise
                complaint = self.event_store.get_complaint(complaint.id)
                continue
            logger.info(
                "complaint %s converted to FIR %s, version %d",
                complaint.id,
                receipt.fir_number,
                complaint.version,
            )
            self.after_commit(notification_id)
            return FirConversionResult(
                complaint.id, complaint.tracking_number, receipt.fir_number, registered_now=True
            )
        raise AssertionError("unreachable: the loop returns or raises")

    @staticmethod
    def _existing(complaint: Complaint) -> FirConversionResult:
        assert complaint.fir_number is not None
        return FirConversionResult(
            complaint.id, complaint.tracking_number, complaint.fir_number, registered_now=False
        )


__all__ = [
    "FIR_ROLES",
    "ConvertToFir",
    "FirConversionResult",
    "FirConversionService",
    "check_sections",
]
