"""Every lifecycle rule of the Complaint aggregate, without storage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from cms_graph.domain.complaint import Complaint
from cms_graph.domain.deadlines import DeadlinePlan
from cms_graph.domain.errors import InvalidInput, InvalidTransition
from cms_graph.domain.ladder import Holder, Rank
from cms_graph.domain.values import (
    Actor,
    Channel,
    ComplaintCategory,
    ComplaintStatus,
    Language,
    Outcome,
    Role,
)

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PLAN = DeadlinePlan(
    policy_name="test",
    first_contact=timedelta(hours=8),
    reply=timedelta(days=1),
    escalation_interval=timedelta(days=7),
)
DISTRICT = Holder("pb_lahore", Rank.DISTRICT)
STAFF = Actor.staff("sdpo-1", Role.SDPO, "pb_lahore-c1")
CITIZEN = Actor.complainant()
STAFF_CONTEXT = {"actor": STAFF, "channel": Channel.STAFF_CONSOLE, "at": NOW}
CITIZEN_CONTEXT = {"actor": CITIZEN, "channel": Channel.WEB_PORTAL, "at": NOW}


def lodged() -> Complaint:
    return Complaint.lodge(
        complaint_id=uuid4(),
        tracking_number="LHR-7K3M-Q9X8",
        category=ComplaintCategory.ILLEGAL_DETENTION,
        description="My brother is held without charge.",
        district_id="pb_lahore",
        station_id="pb_lahore-c1-ps1",
        unit_id="pb_lahore-c1",
        incident_at=NOW - timedelta(days=1),
        language=Language.UR,
        complainant_sealed=b"sealed",
        phone_digest="digest",
        deadline_plan=PLAN,
        holder_rank=Rank.CIRCLE,
        actor=CITIZEN,
        channel=Channel.WEB_PORTAL,
        occurred_at=NOW,
    )


def acknowledge(c: Complaint) -> None:
    c.acknowledge(note="Called the complainant.", **STAFF_CONTEXT)


def assign(c: Complaint) -> None:
    c.assign(
        officer_id="inspector-7",
        unit_id="pb_lahore-c1",
        holder_rank=Rank.CIRCLE,
        reason=None,
        **STAFF_CONTEXT,
    )


def resolve(c: Complaint) -> None:
    c.resolve(outcome=Outcome.RELIEF_GRANTED, summary="Released the same day.", **STAFF_CONTEXT)


def feedback(c: Complaint) -> None:
    c.record_feedback(satisfied=True, comment=None, **CITIZEN_CONTEXT)


def close(c: Complaint) -> None:
    c.close(reason=None, **STAFF_CONTEXT)


def reopen(c: Complaint) -> None:
    c.reopen(reason="Still detained.", **CITIZEN_CONTEXT)


def withdraw(c: Complaint) -> None:
    c.withdraw(reason="Settled.", **CITIZEN_CONTEXT)


def note(c: Complaint) -> None:
    c.add_note(text="Checked the lock-up register.", internal=True, **STAFF_CONTEXT)


def escalate(c: Complaint) -> None:
    c.escalate(to=DISTRICT, reason="No progress.", **STAFF_CONTEXT)


Step = Callable[[Complaint], None]

# Paths that reach each status from a fresh complaint.
REACH: dict[ComplaintStatus, list[Step]] = {
    ComplaintStatus.LODGED: [],
    ComplaintStatus.ACKNOWLEDGED: [acknowledge],
    ComplaintStatus.ASSIGNED: [acknowledge, assign],
    ComplaintStatus.RESOLVED: [acknowledge, assign, resolve],
    ComplaintStatus.CLOSED: [acknowledge, assign, resolve, feedback, close],
    ComplaintStatus.REOPENED: [acknowledge, assign, resolve, reopen],
    ComplaintStatus.WITHDRAWN: [withdraw],
}

# For each command, the statuses in which it is allowed; it is rejected in all others.
# Assigning in ASSIGNED is a reassignment, allowed only to another officer or unit: the
# step below repeats the same officer, so the table lists ASSIGNED as rejected.
ALLOWED: dict[str, tuple[Step, set[ComplaintStatus]]] = {
    "acknowledge": (acknowledge, {ComplaintStatus.LODGED, ComplaintStatus.REOPENED}),
    "assign": (
        assign,
        {ComplaintStatus.LODGED, ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.REOPENED},
    ),
    "resolve": (
        resolve,
        {ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.ASSIGNED, ComplaintStatus.REOPENED},
    ),
    "record_feedback": (feedback, {ComplaintStatus.RESOLVED}),
    "close": (close, {ComplaintStatus.RESOLVED}),
    "reopen": (reopen, {ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED}),
    "withdraw": (
        withdraw,
        set(ComplaintStatus) - {ComplaintStatus.CLOSED, ComplaintStatus.WITHDRAWN},
    ),
    "add_note": (note, set(ComplaintStatus) - {ComplaintStatus.CLOSED, ComplaintStatus.WITHDRAWN}),
    "escalate": (
        escalate,
        {
            ComplaintStatus.LODGED,
            ComplaintStatus.ACKNOWLEDGED,
            ComplaintStatus.ASSIGNED,
            ComplaintStatus.REOPENED,
        },
    ),
}


def at_status(status: ComplaintStatus) -> Complaint:
    complaint = lodged()
    for step in REACH[status]:
        step(complaint)
    assert complaint.status is status
    complaint.collect_events()
    return complaint


CASES = [
    (command, status, status in allowed)
    for command, (_step, allowed) in ALLOWED.items()
    for status in ComplaintStatus
]


@pytest.mark.parametrize(("command", "status", "allowed"), CASES)
def test_transition_table(command: str, status: ComplaintStatus, allowed: bool) -> None:
    complaint = at_status(status)
    version = complaint.version
    step = ALLOWED[command][0]
    if allowed:
        step(complaint)
        assert complaint.version == version + 1
        assert len(complaint.collect_events()) == 1
    else:
        with pytest.raises(InvalidTransition):
            step(complaint)
        assert complaint.version == version
        assert complaint.collect_events() == []


def test_lodge_starts_lodged_at_level_zero() -> None:
    complaint = lodged()
    assert complaint.status is ComplaintStatus.LODGED
    assert complaint.escalation_level == 0
    assert complaint.version == 1


def test_acknowledge_keeps_assigned_status() -> None:
    complaint = lodged()
    assign(complaint)
    acknowledge(complaint)
    assert complaint.status is ComplaintStatus.ASSIGNED
    assert complaint.acknowledged_at == NOW


def test_acknowledge_twice_rejected() -> None:
    complaint = lodged()
    assign(complaint)
    acknowledge(complaint)
    with pytest.raises(InvalidTransition, match="first contact was already recorded"):
        acknowledge(complaint)


def test_assign_same_officer_twice_rejected() -> None:
    complaint = at_status(ComplaintStatus.ASSIGNED)
    with pytest.raises(InvalidTransition, match="already assigned to officer inspector-7"):
        assign(complaint)


def test_reassign_to_other_officer() -> None:
    complaint = at_status(ComplaintStatus.ASSIGNED)
    complaint.assign(
        officer_id="inspector-9",
        unit_id="pb_lahore-c1",
        holder_rank=Rank.CIRCLE,
        reason="Leave",
        **STAFF_CONTEXT,
    )
    assert complaint.assigned_officer_id == "inspector-9"


def test_feedback_twice_rejected() -> None:
    complaint = at_status(ComplaintStatus.RESOLVED)
    feedback(complaint)
    with pytest.raises(InvalidTransition) as raised:
        feedback(complaint)
    assert raised.value.message == (
        "cannot record feedback on complaint LHR-7K3M-Q9X8: feedback on this resolution "
        "was already recorded"
    )


def test_close_unresolved_message() -> None:
    complaint = at_status(ComplaintStatus.ASSIGNED)
    with pytest.raises(InvalidTransition) as raised:
        close(complaint)
    assert raised.value.message == (
        "cannot close complaint LHR-7K3M-Q9X8: its status is ASSIGNED; allowed only when RESOLVED"
    )
    assert raised.value.code == "INVALID_TRANSITION"


def test_resolve_withdrawn_rejected() -> None:
    complaint = at_status(ComplaintStatus.WITHDRAWN)
    with pytest.raises(InvalidTransition, match="its status is WITHDRAWN"):
        resolve(complaint)


def test_reopen_clears_resolution() -> None:
    complaint = at_status(ComplaintStatus.CLOSED)
    reopen(complaint)
    assert complaint.status is ComplaintStatus.REOPENED
    assert complaint.outcome is None
    assert complaint.closed_at is None
    assert complaint.acknowledged_at is None
    assert complaint.reopen_count == 1


def test_feedback_allowed_after_new_resolution() -> None:
    complaint = at_status(ComplaintStatus.RESOLVED)
    feedback(complaint)
    reopen(complaint)
    resolve(complaint)
    feedback(complaint)
    assert complaint.feedback_satisfied is True


def test_escalate_moves_unit_and_level() -> None:
    complaint = at_status(ComplaintStatus.ASSIGNED)
    escalate(complaint)
    assert complaint.escalation_level == 1
    assert complaint.unit_id == "pb_lahore"


def test_escalate_needs_reason() -> None:
    complaint = lodged()
    with pytest.raises(InvalidInput) as raised:
        complaint.escalate(to=DISTRICT, reason="  ", **STAFF_CONTEXT)
    assert raised.value.field == ("reason",)


def test_resolve_blank_summary_rejected() -> None:
    complaint = at_status(ComplaintStatus.ASSIGNED)
    with pytest.raises(InvalidInput, match="summary is required"):
        complaint.resolve(outcome=Outcome.REFERRED, summary=" ", **STAFF_CONTEXT)
    assert complaint.version == 3


def test_lodge_blank_description_rejected() -> None:
    with pytest.raises(InvalidInput) as raised:
        Complaint.lodge(
            complaint_id=uuid4(),
            tracking_number="LHR-7K3M-Q9X8",
            category=ComplaintCategory.OTHER,
            description="   ",
            district_id="pb_lahore",
            station_id=None,
            unit_id="pb_lahore",
            incident_at=None,
            language=Language.EN,
            complainant_sealed=b"",
            phone_digest="",
            deadline_plan=PLAN,
            holder_rank=Rank.DISTRICT,
            actor=CITIZEN,
            channel=Channel.WEB_PORTAL,
            occurred_at=NOW,
        )
    assert raised.value.field == ("description",)


def test_events_record_actor_and_channel() -> None:
    complaint = lodged()
    acknowledge(complaint)
    lodged_event, acknowledged_event = complaint.collect_events()
    assert lodged_event.actor == CITIZEN
    assert acknowledged_event.actor == STAFF
    assert acknowledged_event.channel is Channel.STAFF_CONSOLE
    assert acknowledged_event.occurred_at == NOW


def test_import_anchors_deadlines() -> None:
    complaint = lodged()
    imported_at = NOW + timedelta(days=900)
    complaint.record_import(source="copa", reference="2019-0000001", at=imported_at)
    deadline = complaint.next_deadline()
    assert deadline is not None
    assert deadline.due_at == imported_at + PLAN.escalation_interval
    assert complaint.legacy_reference == "copa:2019-0000001"


def test_import_twice_rejected() -> None:
    complaint = lodged()
    complaint.record_import(source="copa", reference="1", at=NOW)
    with pytest.raises(InvalidTransition, match="already imported as copa:1"):
        complaint.record_import(source="copa", reference="1", at=NOW)
