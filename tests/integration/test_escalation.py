"""Deadlines and automatic escalation over weeks of simulated time, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cms_graph.adapters.clock import ManualClock
from cms_graph.application.commands import ComplainantProof
from cms_graph.application.escalations import EscalationOutcome
from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container, build_container
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.deadlines import DeadlineStep
from cms_graph.domain.errors import Forbidden, InvalidInput
from cms_graph.domain.values import ComplaintCategory, Outcome, Role
from cms_graph.settings import Settings
from tests.factories import LAHORE_DPO, PHONE, SDPO, lodge_command

# Late December, so the climb crosses a month and a year boundary.
START = datetime(2026, 12, 28, 22, 30, tzinfo=UTC)
RPO_LAHORE = Principal("rpo-lahore", Role.RPO, "pb-rgn-lahore")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def timed(store_settings: Settings, clock: ManualClock) -> Iterator[Container]:
    """A container on the store under test, driven by a manual clock."""
    built = build_container(store_settings, clock=clock)
    yield built
    built.close()


def escalations_of(
    container: Container, complaint_id: object
) -> list[Complaint.ComplaintEscalated]:
    notifications = container.event_store.recorder.select_notifications(start=None, limit=10_000)
    events = [container.event_store.mapper.to_domain_event(n) for n in notifications]
    return [
        event
        for event in events
        if isinstance(event, Complaint.ComplaintEscalated) and event.originator_id == complaint_id
    ]


def sweep(container: Container) -> dict[EscalationOutcome, int]:
    container.catch_up_all()
    counts = container.escalations.sweep()
    container.catch_up_all()
    return counts


def lodge_bribery(container: Container) -> object:
    command = lodge_command(category=ComplaintCategory.BRIBERY)
    return container.complaints.lodge(Principal.anonymous(), command).complaint_id


def test_untouched_complaint_climbs_to_igp(timed: Container, clock: ManualClock) -> None:
    key = lodge_bribery(timed)
    assert sweep(timed) == {}

    clock.advance(timedelta(hours=8))
    assert sweep(timed) == {EscalationOutcome.ESCALATED: 1}
    assert sweep(timed) == {}
    for _ in range(3):
        clock.advance(timedelta(days=7))
        assert sweep(timed) == {EscalationOutcome.ESCALATED: 1}
    clock.advance(timedelta(days=60))
    assert sweep(timed) == {}

    events = escalations_of(timed, key)
    assert [str(event.to_rank) for event in events] == ["DISTRICT", "REGION", "ADDL_IGP", "IGP"]
    assert [event.to_unit_id for event in events] == ["pb_lahore", "pb-rgn-lahore", "pb", "pb"]
    assert [event.to_level for event in events] == [1, 2, 3, 4]
    assert all(event.actor.user_id == "system" for event in events)
    assert all(event.deadline == DeadlineStep.FIRST_CONTACT for event in events)
    first_due = START + timedelta(hours=8)
    assert [event.missed_due_at for event in events] == [
        first_due + timedelta(days=7 * n) for n in range(4)
    ]
    assert events[1].missed_due_at is not None and events[1].missed_due_at.year == 2027


def test_escalation_names_deadline_and_units(timed: Container, clock: ManualClock) -> None:
    key = lodge_bribery(timed)
    clock.advance(timedelta(hours=9))
    sweep(timed)
    (event,) = escalations_of(timed, key)
    assert event.from_unit_id == "pb_lahore-c1"
    assert event.to_unit_id == "pb_lahore"
    assert str(event.from_rank) == "CIRCLE"
    assert event.from_level == 0
    assert (
        event.reason == f"FIRST_CONTACT deadline {(START + timedelta(hours=8)).isoformat()} passed"
    )
    assert event.occurred_at == START + timedelta(hours=9)


def test_acknowledging_cancels_first_contact(timed: Container, clock: ManualClock) -> None:
    key = lodge_bribery(timed)
    clock.advance(timedelta(hours=7))
    timed.complaints.acknowledge(SDPO, key, "called")
    clock.advance(timedelta(hours=2))
    assert sweep(timed) == {}
    record = timed.queries.get(SDPO, key)
    assert record is not None
    assert record.due_at == START + timedelta(hours=24)

    # The reply deadline for bribery is 24 hours after lodging.
    clock.advance(timedelta(hours=16))
    assert sweep(timed) == {EscalationOutcome.ESCALATED: 1}
    (event,) = escalations_of(timed, key)
    assert event.deadline == DeadlineStep.REPLY


def test_resolving_cancels_reply(timed: Container, clock: ManualClock) -> None:
    key = lodge_bribery(timed)
    timed.complaints.acknowledge(SDPO, key, None)
    timed.complaints.resolve(SDPO, key, outcome=Outcome.RELIEF_GRANTED, summary="Returned")
    clock.advance(timedelta(days=30))
    assert sweep(timed) == {}
    record = timed.queries.get(SDPO, key)
    assert record is not None
    assert record.due_at is None


def test_overdue_filter_and_due_at(timed: Container, clock: ManualClock) -> None:
    from cms_graph.application.queries import ComplaintFilter

    key = lodge_bribery(timed)
    assert timed.queries.page(SDPO, ComplaintFilter(overdue=True)).total_count == 0
    clock.advance(timedelta(hours=8, seconds=1))
    overdue = timed.queries.page(SDPO, ComplaintFilter(overdue=True))
    assert [record.id for record in overdue.records] == [key]
    sweep(timed)
    level_one = timed.queries.page(LAHORE_DPO, ComplaintFilter(escalation_level=1))
    assert [record.id for record in level_one.records] == [key]
    assert level_one.records[0].due_at == START + timedelta(hours=8, days=7)


def test_repeated_calls_escalate_once(timed: Container, clock: ManualClock) -> None:
    key = lodge_bribery(timed)
    due = START + timedelta(hours=8)
    clock.advance(timedelta(hours=10))
    barrier = threading.Barrier(6)
    outcomes: list[EscalationOutcome] = []

    def fire() -> None:
        barrier.wait()
        outcomes.append(timed.escalations.escalate_if_due(key, DeadlineStep.FIRST_CONTACT, due))  # type: ignore[arg-type]

    threads = [threading.Thread(target=fire) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(EscalationOutcome.ESCALATED) == 1
    assert outcomes.count(EscalationOutcome.NO_LONGER_PENDING) == 5
    assert len(escalations_of(timed, key)) == 1


def test_early_call_does_nothing(timed: Container, clock: ManualClock) -> None:
    key = lodge_bribery(timed)
    clock.advance(timedelta(hours=7))
    outcome = timed.escalations.escalate_if_due(
        key, DeadlineStep.FIRST_CONTACT, START + timedelta(hours=8)
    )  # type: ignore[arg-type]
    assert outcome is EscalationOutcome.NOT_DUE_YET
    assert escalations_of(timed, key) == []


def test_manual_escalation_names_user(timed: Container) -> None:
    key = lodge_bribery(timed)
    timed.complaints.escalate(SDPO, key, "Station not cooperating")  # type: ignore[arg-type]
    (event,) = escalations_of(timed, key)
    assert event.actor.user_id == SDPO.user_id
    assert event.reason == "Station not cooperating"
    assert event.deadline is None


def test_outbox_addresses_new_holder(timed: Container, clock: ManualClock) -> None:
    key = lodge_bribery(timed)
    clock.advance(timedelta(hours=8))
    sweep(timed)
    clock.advance(timedelta(days=7))
    sweep(timed)
    with timed.database.read() as cursor:
        cursor.execute(
            "SELECT recipient_unit_id, recipient_role, payload FROM notification_outbox"
            " ORDER BY version"
        )
        rows = cursor.fetchall()
    assert [(row["recipient_unit_id"], row["recipient_role"]) for row in rows] == [
        ("pb_lahore", "DPO"),
        ("pb-rgn-lahore", "RPO"),
    ]
    assert json.loads(rows[0]["payload"])["deadline"] == "FIRST_CONTACT"
    assert escalations_of(timed, key)[0].to_unit_id == "pb_lahore"


def test_negative_feedback_reopens_and_escalates(timed: Container) -> None:
    service = timed.complaints
    result = service.lodge(Principal.anonymous(), lodge_command(category=ComplaintCategory.BRIBERY))
    service.acknowledge(SDPO, result.complaint_id, None)
    service.resolve(SDPO, result.complaint_id, outcome=Outcome.RELIEF_GRANTED, summary="Done")
    service.record_feedback(
        ComplainantProof(result.tracking_number, PHONE), satisfied=False, comment="Nothing happened"
    )

    record = timed.queries.get(LAHORE_DPO, result.complaint_id)
    assert record is not None
    assert record.status == "REOPENED"
    assert record.escalation_level == 1
    assert record.unit_id == "pb_lahore"
    (event,) = escalations_of(timed, result.complaint_id)
    assert event.actor.user_id == "system"
    assert event.reason == "negative feedback on the resolution"


def test_closing_over_negative_feedback(timed: Container) -> None:
    service = timed.complaints
    result = service.lodge(Principal.anonymous(), lodge_command())
    key = result.complaint_id
    service.acknowledge(SDPO, key, None)
    service.resolve(SDPO, key, outcome=Outcome.RELIEF_GRANTED, summary="Done")
    service.record_feedback(
        ComplainantProof(result.tracking_number, PHONE), satisfied=False, comment=None
    )
    service.resolve(SDPO_AT_DISTRICT, key, outcome=Outcome.RELIEF_GRANTED, summary="Done again")
    events_before = timed.event_store.recorder.max_notification_id()

    with pytest.raises(Forbidden, match="only a supervisor above the resolving officer"):
        service.close(LAHORE_DPO_PEER, key, "Closing")
    with pytest.raises(InvalidInput, match="reason is required"):
        service.close(RPO_LAHORE, key, None)
    assert timed.event_store.recorder.max_notification_id() == events_before

    service.close(RPO_LAHORE, key, "Checked with the complainant by phone")
    record = timed.queries.get(RPO_LAHORE, key)
    assert record is not None
    assert record.status == "CLOSED"


# The resolution after the reopen is by a DPO of the district now holding the complaint.
SDPO_AT_DISTRICT = Principal("dpo-lahore", Role.DPO, "pb_lahore")
LAHORE_DPO_PEER = Principal("dpo-lahore-2", Role.DPO, "pb_lahore")


def test_policy_change_keeps_old_deadlines(
    store_settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    strict = tmp_path / "strict.toml"
    strict.write_text(
        'name = "strict"\n[first_contact]\ndefault = "PT1H"\n[reply]\ndefault = "PT2H"\n'
        '[escalation]\ninterval = "PT1H"\n'
    )
    container = build_container(store_settings, clock=clock)
    try:
        old = lodge_bribery(container)
    finally:
        container.close()
    stricter = build_container(
        store_settings.model_copy(update={"sla_policy": strict}), clock=clock
    )
    try:
        new = lodge_bribery(stricter)
        clock.advance(timedelta(hours=2))
        assert sweep(stricter) == {EscalationOutcome.ESCALATED: 1}
        assert escalations_of(stricter, old) == []
        assert len(escalations_of(stricter, new)) == 1
        plan = stricter.event_store.get_complaint(old).deadline_plan  # type: ignore[arg-type]
        assert plan.policy_name == "punjab-published-2026"
    finally:
        stricter.close()


def test_threads_schedule_every_deadline(timed: Container) -> None:
    keys = {lodge_bribery(timed) for _ in range(12)}
    scheduled: list[object] = []
    timed.deadline_listeners.append(
        lambda deadlines: scheduled.extend(d.complaint_id for d in deadlines)
    )
    timed.escalation_projection.batch_size = 2
    threads = [threading.Thread(target=timed.escalation_projection.catch_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(scheduled) == keys
    assert len(scheduled) == len(keys)


def test_deadline_keeps_clock_correlation_id(timed: Container, clock: ManualClock) -> None:
    scheduled: list[tuple[DeadlineStep, str | None]] = []
    timed.deadline_listeners.append(
        lambda deadlines: scheduled.extend((d.step, d.correlation_id) for d in deadlines)
    )
    lodger = Principal.anonymous().with_request(None, "lodge-1")
    complaint_id = timed.complaints.lodge(lodger, lodge_command()).complaint_id
    timed.catch_up_all()
    after_lodging = list(scheduled)

    # A note leaves the deadline as it is, so the lodging still started its clock.
    noter = SDPO.with_request(None, "note-2")
    timed.complaints.add_note(noter, complaint_id, text="Called the station", internal=True)
    timed.catch_up_all()
    after_note = scheduled[len(after_lodging) :]

    acknowledger = SDPO.with_request(None, "ack-3")
    timed.complaints.acknowledge(acknowledger, complaint_id, None)
    timed.catch_up_all()
    after_acknowledging = scheduled[len(after_lodging) + len(after_note) :]

    clock.advance(timedelta(days=60))
    (due,) = timed.escalations.due_deadlines()
    sweep(timed)
    (escalation, *_later) = escalations_of(timed, complaint_id)

    assert after_lodging == [(DeadlineStep.FIRST_CONTACT, "lodge-1")]
    assert after_note == [(DeadlineStep.FIRST_CONTACT, "lodge-1")]
    assert len(after_acknowledging) == 1
    assert after_acknowledging[0][0] != DeadlineStep.FIRST_CONTACT
    assert after_acknowledging[0][1] == "ack-3"
    assert due.correlation_id == "ack-3"
    assert escalation.actor.kind == "SYSTEM"
    assert escalation.actor.correlation_id == "ack-3"
    # The escalation started the next clock, so the next deadline keeps the same id.
    assert scheduled[-1][1] == "ack-3"


def test_deadline_without_correlation_id(timed: Container, clock: ManualClock) -> None:
    scheduled: list[str | None] = []
    timed.deadline_listeners.append(
        lambda deadlines: scheduled.extend(d.correlation_id for d in deadlines)
    )
    complaint_id = timed.complaints.lodge(Principal.anonymous(), lodge_command()).complaint_id
    timed.catch_up_all()

    clock.advance(timedelta(hours=9))
    sweep(timed)
    (escalation,) = escalations_of(timed, complaint_id)

    assert scheduled[0] is None
    assert escalation.actor.correlation_id is None
