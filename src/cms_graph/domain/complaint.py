"""The ``Complaint`` aggregate: a complaint's lifecycle as a stream of immutable events.

Command methods are imperatives (``acknowledge``, ``resolve``); each checks its rule in a
``check_…`` step first, so a rejected command raises before any event is triggered and
nothing is written. Events are past-tense facts named as the API shows them
(``ComplaintLodged``). Complainant personal data arrives already sealed by the caller:
the aggregate never sees it in plain text.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from cms_graph.domain.deadlines import Deadline, DeadlinePlan, DeadlineStep, next_deadline
from cms_graph.domain.errors import Forbidden, InvalidInput, InvalidTransition
from cms_graph.domain.ladder import Holder, Rank, outranks
from cms_graph.domain.values import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    Actor,
    Channel,
    ComplaintCategory,
    ComplaintStatus,
    Language,
    Outcome,
)

MAX_TEXT_LENGTH = 5000
MAX_REASON_LENGTH = 1000
MAX_FIR_NUMBER_LENGTH = 100


def check_text(
    value: str, field: str, *, required: bool = True, limit: int = MAX_TEXT_LENGTH
) -> str:
    """Return ``value`` stripped, or raise InvalidInput naming ``field``."""
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{field} is required and must not be blank", field=(field,))
    if len(text) > limit:
        raise InvalidInput(
            f"{field} is {len(text)} characters long; the maximum is {limit}", field=(field,)
        )
    return text


class Complaint(Aggregate):
    """A citizen's complaint about police conduct, from lodging to closure."""

    class Event(Aggregate.Event):
        """Common fields: who acted, through which channel, and when it happened.

        ``occurred_at`` is when the action happened in the world; the library's
        ``timestamp`` is when the event was recorded. They differ for imported history.
        """

        actor: Actor
        channel: Channel
        occurred_at: datetime

    class ComplaintLodged(Aggregate.Created, Event):
        tracking_number: str
        category: ComplaintCategory
        description: str
        district_id: str
        station_id: str | None
        unit_id: str
        incident_at: datetime | None
        language: Language
        complainant_sealed: bytes
        phone_digest: str
        deadline_plan: DeadlinePlan
        holder_rank: Rank

    class LegacyRecordImported(Event):
        """The complaint was brought in from another system; ``occurred_at`` is the time
        of the import. Deadlines missed before the import count from it, so an open
        imported complaint escalates no sooner than one interval after the import, not
        at the import itself. Every such complaint of one import escalates together."""

        source: str
        reference: str

        def apply(self, aggregate: Complaint) -> None:
            aggregate.legacy_reference = f"{self.source}:{self.reference}"
            aggregate.escalation_anchor = self.occurred_at

    class ComplaintAcknowledged(Event):
        note: str | None

        def apply(self, aggregate: Complaint) -> None:
            aggregate.acknowledged_at = self.occurred_at
            if aggregate.status in (ComplaintStatus.LODGED, ComplaintStatus.REOPENED):
                aggregate.status = ComplaintStatus.ACKNOWLEDGED

    class ComplaintAssigned(Event):
        officer_id: str
        unit_id: str
        holder_rank: Rank
        reason: str | None

        def apply(self, aggregate: Complaint) -> None:
            aggregate.status = ComplaintStatus.ASSIGNED
            aggregate.assigned_officer_id = self.officer_id
            aggregate.unit_id = self.unit_id
            aggregate.holder_rank = Rank(self.holder_rank)

    class NoteAdded(Event):
        text: str
        internal: bool

        def apply(self, aggregate: Complaint) -> None:
            pass

    class ComplaintEscalated(Event):
        """Moved one rung up the ladder: for a missed deadline (actor ``system``, with
        ``deadline`` and ``missed_due_at``) or by hand (a user, with a reason)."""

        reason: str | None
        deadline: DeadlineStep | None
        missed_due_at: datetime | None
        from_level: int
        to_level: int
        from_unit_id: str
        to_unit_id: str
        from_rank: Rank
        to_rank: Rank

        def apply(self, aggregate: Complaint) -> None:
            aggregate.escalation_level = self.to_level
            aggregate.unit_id = self.to_unit_id
            aggregate.holder_rank = Rank(self.to_rank)
            aggregate.escalation_anchor = self.missed_due_at or self.occurred_at

    class ComplaintResolved(Event):
        outcome: Outcome
        summary: str

        def apply(self, aggregate: Complaint) -> None:
            aggregate.status = ComplaintStatus.RESOLVED
            aggregate.outcome = Outcome(self.outcome)
            aggregate.resolved_at = self.occurred_at
            aggregate.resolved_by = self.actor
            aggregate.feedback_satisfied = None

    class FeedbackRecorded(Event):
        satisfied: bool
        comment: str | None

        def apply(self, aggregate: Complaint) -> None:
            aggregate.feedback_satisfied = self.satisfied
            if not self.satisfied:
                aggregate.negative_feedback_count += 1

    class ComplaintReopened(Event):
        reason: str

        def apply(self, aggregate: Complaint) -> None:
            aggregate.status = ComplaintStatus.REOPENED
            aggregate.opened_at = self.occurred_at
            aggregate.outcome = None
            aggregate.resolved_at = None
            aggregate.closed_at = None
            aggregate.acknowledged_at = None
            aggregate.feedback_satisfied = None
            aggregate.reopen_count += 1

    class ComplaintClosed(Event):
        reason: str | None

        def apply(self, aggregate: Complaint) -> None:
            aggregate.status = ComplaintStatus.CLOSED
            aggregate.closed_at = self.occurred_at

    class ComplaintWithdrawn(Event):
        reason: str | None

        def apply(self, aggregate: Complaint) -> None:
            aggregate.status = ComplaintStatus.WITHDRAWN
            aggregate.withdrawn_at = self.occurred_at

    class FirRegistered(Event):
        """PSRMS registered an FIR on the complaint at ``station_id``; ``registered_at`` is
        PSRMS's registration time and ``occurred_at`` when the link was recorded here."""

        fir_number: str
        station_id: str
        # A list, because JSON gives back a list for a tuple.
        sections: list[str]
        offence_summary: str
        registered_at: datetime

        def apply(self, aggregate: Complaint) -> None:
            aggregate.fir_number = self.fir_number
            aggregate.fir_station_id = self.station_id
            aggregate.fir_registered_at = self.registered_at

    def __init__(
        self,
        tracking_number: str,
        category: ComplaintCategory,
        description: str,
        district_id: str,
        station_id: str | None,
        unit_id: str,
        incident_at: datetime | None,
        language: Language,
        complainant_sealed: bytes,
        phone_digest: str,
        deadline_plan: DeadlinePlan,
        holder_rank: Rank,
        actor: Actor,
        channel: Channel,
        occurred_at: datetime,
    ) -> None:
        self.tracking_number = tracking_number
        self.category = ComplaintCategory(category)
        self.description = description
        self.district_id = district_id
        self.station_id = station_id
        self.unit_id = unit_id
        self.incident_at = incident_at
        self.language = Language(language)
        self.complainant_sealed = complainant_sealed
        self.phone_digest = phone_digest
        self.channel = Channel(channel)
        self.lodged_by = actor
        self.lodged_at = occurred_at
        self.status = ComplaintStatus.LODGED
        self.escalation_level = 0
        self.assigned_officer_id: str | None = None
        self.acknowledged_at: datetime | None = None
        self.resolved_at: datetime | None = None
        self.resolved_by: Actor | None = None
        self.closed_at: datetime | None = None
        self.withdrawn_at: datetime | None = None
        self.outcome: Outcome | None = None
        self.feedback_satisfied: bool | None = None
        self.reopen_count = 0
        self.deadline_plan = deadline_plan
        self.holder_rank = Rank(holder_rank)
        self.opened_at = occurred_at
        self.escalation_anchor: datetime | None = None
        self.negative_feedback_count = 0
        self.legacy_reference: str | None = None
        self.fir_number: str | None = None
        self.fir_station_id: str | None = None
        self.fir_registered_at: datetime | None = None

    @classmethod
    def lodge(
        cls,
        *,
        complaint_id: UUID,
        tracking_number: str,
        category: ComplaintCategory,
        description: str,
        district_id: str,
        station_id: str | None,
        unit_id: str,
        incident_at: datetime | None,
        language: Language,
        complainant_sealed: bytes,
        phone_digest: str,
        deadline_plan: DeadlinePlan,
        holder_rank: Rank,
        actor: Actor,
        channel: Channel,
        occurred_at: datetime,
    ) -> Complaint:
        description = check_text(description, "description")
        if incident_at is not None and incident_at > occurred_at:
            raise InvalidInput("incidentAt must not be in the future", field=("incidentAt",))
        return cls._create(
            cls.ComplaintLodged,
            id=complaint_id,
            tracking_number=tracking_number,
            category=category,
            description=description,
            district_id=district_id,
            station_id=station_id,
            unit_id=unit_id,
            incident_at=incident_at,
            language=language,
            complainant_sealed=complainant_sealed,
            phone_digest=phone_digest,
            deadline_plan=deadline_plan,
            holder_rank=holder_rank,
            actor=actor,
            channel=channel,
            occurred_at=occurred_at,
        )

    def next_deadline(self) -> Deadline | None:
        """Return the pending step and its due time, or None when nothing is pending."""
        return next_deadline(
            self.deadline_plan,
            status=self.status,
            opened_at=self.opened_at,
            acknowledged_at=self.acknowledged_at,
            escalation_anchor=self.escalation_anchor,
        )

    # Rule checks. Each raises InvalidTransition naming the status that forbids the command.

    def check_status(self, command: str, allowed: frozenset[ComplaintStatus]) -> None:
        if self.status not in allowed:
            names = ", ".join(sorted(status.value for status in allowed))
            raise InvalidTransition(
                f"cannot {command} complaint {self.tracking_number}: its status is "
                f"{self.status.value}; allowed only when {names}"
            )

    def check_not_final(self, command: str) -> None:
        self.check_status(command, frozenset(set(ComplaintStatus) - FINAL_STATUSES))

    def check_can_close_over_negative_feedback(self, actor: Actor, reason: str | None) -> None:
        """Closing over a complainant's negative feedback is the best-known abuse, so it
        needs a supervisor above the resolving officer, and a reason."""
        resolver_role = self.resolved_by.role if self.resolved_by else None
        if not outranks(actor.role, resolver_role):
            raise Forbidden(
                f"complaint {self.tracking_number} had negative feedback: only a supervisor "
                f"above the resolving officer ({resolver_role or 'unknown role'}) may close it"
            )
        if reason is None:
            raise InvalidInput(
                "reason is required to close a complaint after negative feedback",
                field=("reason",),
            )

    def check_can_register_fir(self) -> None:
        """Raise InvalidTransition when the complaint is closed or withdrawn, or already
        has an FIR: one complaint is linked to at most one FIR."""
        self.check_not_final("convert to an FIR")
        if self.fir_number is not None:
            raise InvalidTransition(
                f"cannot convert complaint {self.tracking_number} to an FIR: FIR "
                f"{self.fir_number} is already registered on it"
            )

    # Commands.

    def record_import(self, *, source: str, reference: str, at: datetime) -> None:
        """Mark the complaint as imported from ``source`` with its old ``reference``."""
        if self.legacy_reference is not None:
            raise InvalidTransition(
                f"complaint {self.tracking_number} was already imported as {self.legacy_reference}"
            )
        self.trigger_event(
            self.LegacyRecordImported,
            source=check_text(source, "source", limit=100),
            reference=check_text(reference, "reference", limit=100),
            actor=Actor.system(),
            channel=Channel.SYSTEM,
            occurred_at=at,
        )

    def acknowledge(
        self, *, note: str | None, actor: Actor, channel: Channel, at: datetime
    ) -> None:
        self.check_status("acknowledge", OPEN_STATUSES)
        if self.acknowledged_at is not None:
            raise InvalidTransition(
                f"cannot acknowledge complaint {self.tracking_number}: first contact was "
                f"already recorded at {self.acknowledged_at.isoformat()}"
            )
        note = check_text(note, "note", required=False) if note else None
        self.trigger_event(
            self.ComplaintAcknowledged, note=note, actor=actor, channel=channel, occurred_at=at
        )

    def assign(
        self,
        *,
        officer_id: str,
        unit_id: str,
        holder_rank: Rank,
        reason: str | None,
        actor: Actor,
        channel: Channel,
        at: datetime,
    ) -> None:
        self.check_status("assign", OPEN_STATUSES)
        officer_id = check_text(officer_id, "officerId", limit=100)
        if (
            self.status is ComplaintStatus.ASSIGNED
            and officer_id == self.assigned_officer_id
            and unit_id == self.unit_id
        ):
            raise InvalidTransition(
                f"cannot assign complaint {self.tracking_number}: it is already assigned "
                f"to officer {officer_id} of unit {unit_id}"
            )
        reason = check_text(reason, "reason", limit=MAX_REASON_LENGTH) if reason else None
        self.trigger_event(
            self.ComplaintAssigned,
            officer_id=officer_id,
            unit_id=unit_id,
            holder_rank=holder_rank,
            reason=reason,
            actor=actor,
            channel=channel,
            occurred_at=at,
        )

    def add_note(
        self, *, text: str, internal: bool, actor: Actor, channel: Channel, at: datetime
    ) -> None:
        self.check_not_final("add a note to")
        text = check_text(text, "text")
        self.trigger_event(
            self.NoteAdded,
            text=text,
            internal=internal,
            actor=actor,
            channel=channel,
            occurred_at=at,
        )

    def escalate(
        self,
        *,
        to: Holder,
        reason: str | None,
        actor: Actor,
        channel: Channel,
        at: datetime,
    ) -> None:
        """Move the complaint one rung up the ladder by hand; a reason is required."""
        self.check_status("escalate", OPEN_STATUSES)
        reason = check_text(reason or "", "reason", limit=MAX_REASON_LENGTH)
        self._trigger_escalation(to, reason, None, None, actor, channel, at)

    def escalate_for_missed_deadline(
        self,
        *,
        step: DeadlineStep,
        due_at: datetime,
        to: Holder,
        at: datetime,
        correlation_id: str | None = None,
    ) -> None:
        """Escalate because the deadline (``step``, ``due_at``) passed unattended.

        The system is the actor. ``correlation_id`` is that of the event that started the
        deadline's clock, so the audit trail ties the escalation to that request.
        Raises InvalidTransition unless that deadline is the pending one and has passed,
        so a repeated or late request for the same deadline writes nothing.
        """
        self.check_status("escalate", OPEN_STATUSES)
        pending = self.next_deadline()
        if pending is None or pending.step != step or pending.due_at != due_at:
            raise InvalidTransition(
                f"cannot escalate complaint {self.tracking_number} for {step.value} due "
                f"{due_at.isoformat()}: that deadline is no longer pending"
            )
        if at < due_at:
            raise InvalidTransition(
                f"cannot escalate complaint {self.tracking_number}: {step.value} is due "
                f"{due_at.isoformat()}, later than {at.isoformat()}"
            )
        reason = f"{step.value} deadline {due_at.isoformat()} passed"
        actor = Actor.system(correlation_id=correlation_id)
        self._trigger_escalation(to, reason, step, due_at, actor, Channel.SYSTEM, at)

    def _trigger_escalation(
        self,
        to: Holder,
        reason: str,
        deadline: DeadlineStep | None,
        missed_due_at: datetime | None,
        actor: Actor,
        channel: Channel,
        at: datetime,
    ) -> None:
        if to.rank.order <= self.holder_rank.order:
            raise InvalidTransition(
                f"cannot escalate complaint {self.tracking_number} from {self.holder_rank.value} "
                f"to {to.rank.value}: escalation must move up the ladder"
            )
        self.trigger_event(
            self.ComplaintEscalated,
            reason=reason,
            deadline=deadline,
            missed_due_at=missed_due_at,
            from_level=self.escalation_level,
            to_level=self.escalation_level + 1,
            from_unit_id=self.unit_id,
            to_unit_id=to.unit_id,
            from_rank=self.holder_rank,
            to_rank=to.rank,
            actor=actor,
            channel=channel,
            occurred_at=at,
        )

    def resolve(
        self, *, outcome: Outcome, summary: str, actor: Actor, channel: Channel, at: datetime
    ) -> None:
        self.check_status(
            "resolve",
            frozenset(
                {ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.ASSIGNED, ComplaintStatus.REOPENED}
            ),
        )
        summary = check_text(summary, "summary")
        self.trigger_event(
            self.ComplaintResolved,
            outcome=outcome,
            summary=summary,
            actor=actor,
            channel=channel,
            occurred_at=at,
        )

    def record_feedback(
        self, *, satisfied: bool, comment: str | None, actor: Actor, channel: Channel, at: datetime
    ) -> None:
        self.check_status("record feedback on", frozenset({ComplaintStatus.RESOLVED}))
        if self.feedback_satisfied is not None:
            raise InvalidTransition(
                f"cannot record feedback on complaint {self.tracking_number}: feedback on "
                "this resolution was already recorded"
            )
        comment = check_text(comment, "comment", required=False) if comment else None
        self.trigger_event(
            self.FeedbackRecorded,
            satisfied=satisfied,
            comment=comment,
            actor=actor,
            channel=channel,
            occurred_at=at,
        )

    def reopen(self, *, reason: str, actor: Actor, channel: Channel, at: datetime) -> None:
        self.check_status("reopen", frozenset({ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED}))
        reason = check_text(reason, "reason", limit=MAX_REASON_LENGTH)
        self.trigger_event(
            self.ComplaintReopened, reason=reason, actor=actor, channel=channel, occurred_at=at
        )

    def close(self, *, reason: str | None, actor: Actor, channel: Channel, at: datetime) -> None:
        self.check_status("close", frozenset({ComplaintStatus.RESOLVED}))
        reason = check_text(reason, "reason", limit=MAX_REASON_LENGTH) if reason else None
        if self.negative_feedback_count:
            self.check_can_close_over_negative_feedback(actor, reason)
        self.trigger_event(
            self.ComplaintClosed, reason=reason, actor=actor, channel=channel, occurred_at=at
        )

    def register_fir(
        self,
        *,
        fir_number: str,
        station_id: str,
        sections: tuple[str, ...],
        offence_summary: str,
        registered_at: datetime,
        actor: Actor,
        channel: Channel,
        at: datetime,
    ) -> None:
        """Link the FIR that PSRMS registered. The status does not change, because the
        complaint about police conduct stays open until it is resolved and closed."""
        self.check_can_register_fir()
        fir_number = check_text(fir_number, "firNumber", limit=MAX_FIR_NUMBER_LENGTH)
        self.trigger_event(
            self.FirRegistered,
            fir_number=fir_number,
            station_id=station_id,
            sections=list(sections),
            offence_summary=offence_summary,
            registered_at=registered_at,
            actor=actor,
            channel=channel,
            occurred_at=at,
        )

    def withdraw(self, *, reason: str | None, actor: Actor, channel: Channel, at: datetime) -> None:
        self.check_not_final("withdraw")
        reason = check_text(reason, "reason", limit=MAX_REASON_LENGTH) if reason else None
        self.trigger_event(
            self.ComplaintWithdrawn, reason=reason, actor=actor, channel=channel, occurred_at=at
        )


__all__ = ["Complaint", "check_text"]
