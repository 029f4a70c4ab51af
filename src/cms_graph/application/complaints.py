"""Complaint use cases: each loads the aggregate, checks who may act, runs the command
and saves the new events.

A rejected command raises a ``DomainError`` before anything is saved. After each save
``after_commit`` runs with the highest notification id written, so the caller can bring
projections up to date before it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypedDict
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from cms_graph.adapters.clock import Clock
from cms_graph.adapters.event_store import ComplaintEventStore
from cms_graph.adapters.lodging_rows import create_key_and_reserve_number
from cms_graph.adapters.lookup_index import ComplainantLookupIndex
from cms_graph.adapters.tracking_numbers import TrackingNumberIndex
from cms_graph.adapters.vault import PersonalDataVault
from cms_graph.application.access_audit import AccessAudit
from cms_graph.application.commands import (
    CommandResult,
    ComplainantProof,
    LodgeComplaint,
)
from cms_graph.application.identity import (
    CASE_HANDLING_ROLES,
    NOTE_ROLES,
    SUPERVISOR_ROLES,
    AccessPolicy,
    Principal,
)
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.deadlines import DeadlinePolicy
from cms_graph.domain.errors import (
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
)
from cms_graph.domain.ladder import Holder, next_holder, rank_for_level
from cms_graph.domain.personal_data import Complainant, normalise_phone
from cms_graph.domain.tracking_number import new_tracking_number, normalise_tracking_number
from cms_graph.domain.units import Unit, UnitLevel
from cms_graph.domain.values import (
    LODGING_CHANNELS,
    SELF_SERVICE_CHANNELS,
    Actor,
    Channel,
    Outcome,
    Role,
)

logger = logging.getLogger(__name__)

AfterCommit = Callable[[int], None]
ANONYMOUS = Principal.anonymous()


class ActionContext(TypedDict):
    """The common arguments of commands: the actor, the channel and the time of the action."""

    actor: Actor
    channel: Channel
    at: datetime


class ComplaintService:
    def __init__(
        self,
        *,
        event_store: ComplaintEventStore,
        vault: PersonalDataVault,
        tracking_numbers: TrackingNumberIndex,
        access: AccessPolicy,
        clock: Clock,
        policy: DeadlinePolicy,
        audit: AccessAudit,
        lookup_index: ComplainantLookupIndex | None = None,
        after_commit: AfterCommit = lambda _notification_id: None,
    ) -> None:
        self.event_store = event_store
        self.vault = vault
        self.lookup_index = lookup_index
        self.tracking_numbers = tracking_numbers
        self.access = access
        self.units = access.units
        self.clock = clock
        self.policy = policy
        self.audit = audit
        self.after_commit = after_commit

    # Lodging.

    def lodge(self, principal: Principal, command: LodgeComplaint) -> CommandResult:
        self._check_lodging_channel(principal, command.channel)
        district = self._district(command.district_id)
        unit_id = district.id
        if command.station_id:
            unit_id = self._circle_of_station(command.station_id, district.id)
        details = command.complainant
        complainant = Complainant.create(
            details.name,
            details.cnic,
            details.phone,
            details.address,
            field_prefix=("complainant",),
        )
        now = self.clock.now()
        if command.incident_at is not None and command.incident_at > now:
            raise InvalidInput("incidentAt must not be in the future", field=("incidentAt",))
        assert district.code is not None

        # Everything is validated; only now create the key and reserve the number.
        complaint_id = uuid4()
        key_material, tracking_number = create_key_and_reserve_number(
            self.vault,
            self.tracking_numbers,
            complaint_id,
            lambda: new_tracking_number(district.code or ""),
            lookup_rows=(
                self.lookup_index.rows(complaint_id, complainant)
                if self.lookup_index is not None
                else []
            ),
        )
        complaint = Complaint.lodge(
            complaint_id=complaint_id,
            tracking_number=tracking_number,
            category=command.category,
            description=command.description,
            district_id=district.id,
            station_id=command.station_id or None,
            unit_id=unit_id,
            incident_at=command.incident_at,
            language=command.language,
            complainant_sealed=self.vault.seal(key_material, complaint_id, complainant),
            phone_digest=self.vault.phone_digest(key_material, complainant.phone),
            deadline_plan=self.policy.plan_for(command.category),
            holder_rank=rank_for_level(self.units.get(unit_id).level),
            actor=principal.as_actor(),
            channel=command.channel,
            occurred_at=now,
        )
        return self._save(complaint, "lodged")

    def _check_lodging_channel(self, principal: Principal, channel: Channel) -> None:
        if channel not in LODGING_CHANNELS:
            allowed = ", ".join(sorted(c.value for c in LODGING_CHANNELS))
            raise InvalidInput(
                f"channel {channel.value} cannot lodge a complaint; use one of {allowed}",
                field=("channel",),
            )
        if channel not in SELF_SERVICE_CHANNELS and not principal.is_authenticated:
            self.access.require_authenticated(principal, f"lodge on channel {channel.value}")

    def _district(self, district_id: str) -> Unit:
        unit = self.units.get(district_id) if district_id in self.units else None
        if unit is None or unit.level is not UnitLevel.DISTRICT:
            raise InvalidInput(
                f"districtId {district_id!r} is not a district; use the id of one of the "
                f"{len(self.units.units_at(UnitLevel.DISTRICT))} configured districts, "
                "such as pb_lahore",
                field=("districtId",),
            )
        return unit

    def _circle_of_station(self, station_id: str, district_id: str) -> str:
        station = self.units.get(station_id) if station_id in self.units else None
        if station is None or station.level is not UnitLevel.POLICE_STATION:
            raise InvalidInput(
                f"stationId {station_id!r} is not a police station", field=("stationId",)
            )
        if not self.units.is_within(station_id, district_id):
            raise InvalidInput(
                f"stationId {station_id!r} is not in district {district_id!r}",
                field=("stationId",),
            )
        circle = self.units.ancestor_at(station_id, UnitLevel.CIRCLE)
        assert circle is not None
        return circle.id

    # Staff commands.

    def acknowledge(
        self, principal: Principal, complaint_id: UUID, note: str | None
    ) -> CommandResult:
        complaint = self._load_for_staff(
            principal, complaint_id, CASE_HANDLING_ROLES, "acknowledge"
        )
        complaint.acknowledge(note=note, **self._context(principal))
        return self._save(complaint, "acknowledged")

    def assign(
        self,
        principal: Principal,
        complaint_id: UUID,
        *,
        officer_id: str,
        unit_id: str,
        reason: str | None,
    ) -> CommandResult:
        complaint = self._load_for_staff(principal, complaint_id, SUPERVISOR_ROLES, "assign")
        if unit_id not in self.units:
            raise InvalidInput(f"unitId {unit_id!r} is not a configured unit", field=("unitId",))
        if self.units.get(unit_id).level is UnitLevel.POLICE_STATION:
            # Policy: the circle's SDPO is the lowest level a complaint is marked to, so a
            # station cannot inquire into complaints about itself.
            raise InvalidInput(
                f"unitId {unit_id!r} is a police station; mark complaints to a circle or a "
                "higher unit",
                field=("unitId",),
            )
        if not self.access.can_see_unit(principal, self.units.path(unit_id)):
            raise Forbidden(f"unit {unit_id} is outside your unit {principal.unit_id}")
        complaint.assign(
            officer_id=officer_id,
            unit_id=unit_id,
            holder_rank=rank_for_level(self.units.get(unit_id).level),
            reason=reason,
            **self._context(principal),
        )
        return self._save(complaint, "assigned")

    def add_note(
        self, principal: Principal, complaint_id: UUID, *, text: str, internal: bool
    ) -> CommandResult:
        complaint = self._load_for_staff(principal, complaint_id, NOTE_ROLES, "add notes")
        complaint.add_note(text=text, internal=internal, **self._context(principal))
        return self._save(complaint, "note added")

    def escalate(self, principal: Principal, complaint_id: UUID, reason: str) -> CommandResult:
        complaint = self._load_for_staff(principal, complaint_id, CASE_HANDLING_ROLES, "escalate")
        complaint.escalate(
            to=self._next_holder(complaint), reason=reason, **self._context(principal)
        )
        return self._save(complaint, "escalated")

    def _next_holder(self, complaint: Complaint) -> Holder:
        holder = None
        if complaint.unit_id in self.units:
            holder = next_holder(self.units, complaint.unit_id, complaint.holder_rank)
        if holder is None:
            raise InvalidTransition(
                f"cannot escalate complaint {complaint.tracking_number}: it is already held "
                f"at the top of the ladder ({complaint.holder_rank.value})"
            )
        return holder

    def resolve(
        self, principal: Principal, complaint_id: UUID, *, outcome: Outcome, summary: str
    ) -> CommandResult:
        complaint = self._load_for_staff(principal, complaint_id, CASE_HANDLING_ROLES, "resolve")
        is_assigned_officer = principal.user_id == complaint.assigned_officer_id
        is_supervisor = self.access.is_supervisor(principal)
        if not (is_assigned_officer or is_supervisor):
            raise Forbidden(
                f"only the assigned officer or a supervisor may resolve complaint "
                f"{complaint.tracking_number}"
            )
        if outcome is Outcome.FOUND_FALSE and not is_supervisor:
            # Labelling a complaint false exposes the complainant to prosecution, so a
            # supervisor must make that call.
            raise Forbidden("only a supervisor (SDPO or above) may resolve as FOUND_FALSE")
        complaint.resolve(outcome=outcome, summary=summary, **self._context(principal))
        return self._save(complaint, "resolved")

    def close(self, principal: Principal, complaint_id: UUID, reason: str | None) -> CommandResult:
        complaint = self._load_for_staff(principal, complaint_id, SUPERVISOR_ROLES, "close")
        complaint.close(reason=reason, **self._context(principal))
        return self._save(complaint, "closed")

    def reopen_as_staff(
        self, principal: Principal, complaint_id: UUID, reason: str
    ) -> CommandResult:
        complaint = self._load_for_staff(principal, complaint_id, SUPERVISOR_ROLES, "reopen")
        complaint.reopen(reason=reason, **self._context(principal))
        return self._save(complaint, "reopened")

    # Complainant commands, proven by tracking number and phone.

    def record_feedback(
        self,
        proof: ComplainantProof,
        *,
        satisfied: bool,
        comment: str | None,
        requester: Principal = ANONYMOUS,
    ) -> CommandResult:
        complaint = self._load_for_complainant(proof, requester)
        complaint.record_feedback(
            satisfied=satisfied, comment=comment, **self._complainant_context(requester)
        )
        if not satisfied:
            self._reopen_over_negative_feedback(complaint)
        return self._save(complaint, "feedback recorded")

    def _reopen_over_negative_feedback(self, complaint: Complaint) -> None:
        """Reopen a resolution the complainant rejects and move it one rung up, so the
        officer who resolved it is not the one who reviews it. Saved with the feedback."""
        system = self._system_context()
        complaint.reopen(reason="the complainant is not satisfied with the resolution", **system)
        holder = None
        if complaint.unit_id in self.units:
            holder = next_holder(self.units, complaint.unit_id, complaint.holder_rank)
        if holder is not None:
            complaint.escalate(
                to=holder,
                reason="negative feedback on the resolution",
                **system,
            )

    def reopen_as_complainant(
        self, proof: ComplainantProof, reason: str, requester: Principal = ANONYMOUS
    ) -> CommandResult:
        complaint = self._load_for_complainant(proof, requester)
        complaint.reopen(reason=reason, **self._complainant_context(requester))
        return self._save(complaint, "reopened")

    def withdraw(
        self, proof: ComplainantProof, reason: str | None, requester: Principal = ANONYMOUS
    ) -> CommandResult:
        complaint = self._load_for_complainant(proof, requester)
        complaint.withdraw(reason=reason, **self._complainant_context(requester))
        return self._save(complaint, "withdrawn")

    # Loading and saving.

    def complaint_id_for(self, tracking_number: str) -> UUID | None:
        return self.tracking_numbers.complaint_id_for(normalise_tracking_number(tracking_number))

    def _load(self, complaint_id: UUID) -> Complaint:
        try:
            return self.event_store.get_complaint(complaint_id)
        except AggregateNotFoundError:
            raise NotFound(f"complaint {complaint_id} not found", field=("complaintId",)) from None

    def _load_for_staff(
        self, principal: Principal, complaint_id: UUID, roles: frozenset[Role], action: str
    ) -> Complaint:
        self.access.require_role(principal, roles, action + " complaints", complaint_id)
        complaint = self._load(complaint_id)
        unit_path = (
            self.units.path(complaint.unit_id)
            if complaint.unit_id in self.units
            else f"/unknown/{complaint.unit_id}/"
        )
        if not self.access.can_see_complaint(principal, unit_path, complaint.assigned_officer_id):
            # Hidden, not forbidden: staff must not learn that a complaint exists elsewhere.
            self.audit.access_denied(principal, complaint_id, action, "outside the caller's units")
            raise NotFound(f"complaint {complaint_id} not found", field=("complaintId",))
        return complaint

    def _load_for_complainant(
        self, proof: ComplainantProof, requester: Principal = ANONYMOUS
    ) -> Complaint:
        tracking_number = normalise_tracking_number(proof.tracking_number)
        phone = normalise_phone(proof.phone)
        complaint_id = self.tracking_numbers.complaint_id_for(tracking_number)
        if complaint_id is not None:
            complaint = self._load(complaint_id)
            if self.vault.phone_matches(complaint_id, phone, complaint.phone_digest):
                return complaint
        self.audit.access_denied(
            requester, complaint_id, "complainant proof", "tracking number and phone do not match"
        )
        raise NotFound(
            "no complaint matches this tracking number and phone number",
            field=("trackingNumber",),
        )

    def _context(self, principal: Principal) -> ActionContext:
        return {
            "actor": principal.as_actor(),
            "channel": Channel.STAFF_CONSOLE,
            "at": self.clock.now(),
        }

    def _system_context(self) -> ActionContext:
        return {"actor": Actor.system(), "channel": Channel.SYSTEM, "at": self.clock.now()}

    def _complainant_context(self, requester: Principal) -> ActionContext:
        actor = Actor.complainant(
            client_address=requester.client_address, correlation_id=requester.correlation_id
        )
        return {"actor": actor, "channel": Channel.WEB_PORTAL, "at": self.clock.now()}

    def _save(self, complaint: Complaint, what: str) -> CommandResult:
        notification_id = self.event_store.save_complaint(complaint)
        logger.info("complaint %s %s, version %d", complaint.id, what, complaint.version)
        self.after_commit(notification_id)
        return CommandResult(complaint.id, complaint.tracking_number, notification_id)


__all__ = ["ComplaintService"]
