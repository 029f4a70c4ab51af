"""Complaint use cases against a real store, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from cms_graph.application.commands import ComplainantDetails, ComplainantProof
from cms_graph.application.identity import Principal
from cms_graph.application.queries import ComplaintFilter
from cms_graph.bootstrap import Container
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    Unauthenticated,
)
from cms_graph.domain.ladder import Rank
from cms_graph.domain.values import Channel, Outcome
from tests.factories import (
    CNIC,
    COMPLAINT_CELL,
    HELPLINE,
    LAHORE_DPO,
    MULTAN_DPO,
    NAME,
    NORMALISED_PHONE,
    OFFICER,
    OTHER_SDPO,
    PHONE,
    SDPO,
    SHO,
    lodge_command,
)


def head(container: Container) -> int:
    """Count the complaint events stored; access records are left out."""
    notifications = container.event_store.recorder.select_notifications(start=None, limit=1000)
    events = [container.event_store.mapper.to_domain_event(n) for n in notifications]
    return sum(isinstance(event, Complaint.Event) for event in events)


def test_lodge_marks_circle_of_station(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    record = container.queries.get(SDPO, result.complaint_id)
    assert record is not None
    assert record.unit_id == "pb_lahore-c1"
    assert record.district_id == "pb_lahore"
    assert record.tracking_number.startswith("LHR-")
    assert record.status == "LODGED"


def test_lodge_without_station_marks_district(container: Container) -> None:
    result = container.complaints.lodge(
        HELPLINE, lodge_command(station_id=None, channel=Channel.SHORT_CODE_VOICE)
    )
    record = container.queries.get(LAHORE_DPO, result.complaint_id)
    assert record is not None
    assert record.unit_id == "pb_lahore"


def test_staff_channel_needs_token(container: Container) -> None:
    with pytest.raises(Unauthenticated):
        container.complaints.lodge(Principal.anonymous(), lodge_command(channel=Channel.FRONT_DESK))
    assert head(container) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": "0400-1234567"}, ("complainant", "phone")),
        ({"cnic": "35202-1234567-0"}, ("complainant", "cnic")),
        ({"name": "   "}, ("complainant", "name")),
        ({"district_id": "pb_atlantis"}, ("districtId",)),
        ({"station_id": "pb_multan-c1-ps1"}, ("stationId",)),
        ({"description": ""}, ("description",)),
    ],
)
def test_invalid_lodging_writes_nothing(
    container: Container, change: dict[str, str], field: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidInput) as raised:
        container.complaints.lodge(Principal.anonymous(), lodge_command(**change))
    assert raised.value.field == field
    assert head(container) == 0


def test_bad_input_keeps_stored_state(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    container.complaints.acknowledge(SDPO, result.complaint_id, None)
    with pytest.raises(InvalidInput):
        container.complaints.resolve(
            SDPO, result.complaint_id, outcome=Outcome.REFERRED, summary=" "
        )
    with pytest.raises(InvalidTransition):
        container.complaints.close(SDPO, result.complaint_id, None)
    assert head(container) == 2
    record = container.queries.get(SDPO, result.complaint_id)
    assert record is not None
    assert record.version == 2
    assert record.status == "ACKNOWLEDGED"


def test_full_lifecycle_projected(container: Container) -> None:
    service = container.complaints
    result = service.lodge(Principal.anonymous(), lodge_command())
    key = result.complaint_id
    proof = ComplainantProof(result.tracking_number, PHONE)
    service.acknowledge(SDPO, key, "Spoke by phone")
    service.assign(SDPO, key, officer_id=OFFICER.user_id or "", unit_id="pb_lahore-c1", reason=None)
    service.add_note(SDPO, key, text="Visited the station", internal=True)
    service.resolve(OFFICER, key, outcome=Outcome.RELIEF_GRANTED, summary="Released")
    service.record_feedback(proof, satisfied=True, comment="Thank you")
    service.close(SDPO, key, "Complainant satisfied")

    record = container.queries.get(SDPO, key)
    assert record is not None
    assert record.status == "CLOSED"
    assert record.outcome == "RELIEF_GRANTED"
    assert record.feedback_satisfied is True
    assert record.assigned_officer_id == "inspector-7"
    assert record.version == 7
    timeline = container.queries.timelines([key], include_internal=True)[key]
    assert [entry.event_type for entry in timeline] == [
        "ComplaintLodged",
        "ComplaintAcknowledged",
        "ComplaintAssigned",
        "NoteAdded",
        "ComplaintResolved",
        "FeedbackRecorded",
        "ComplaintClosed",
    ]
    public = container.queries.timelines([key], include_internal=False)[key]
    assert "NoteAdded" not in [entry.event_type for entry in public]


def test_complainant_commands_need_matching_phone(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    wrong = ComplainantProof(result.tracking_number, "0300-7654321")
    with pytest.raises(NotFound) as raised:
        container.complaints.withdraw(wrong, "changed my mind")
    assert raised.value.message == "no complaint matches this tracking number and phone number"
    assert head(container) == 1


def test_withdraw_then_resolve_rejected(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    container.complaints.withdraw(ComplainantProof(result.tracking_number, NORMALISED_PHONE), None)
    with pytest.raises(InvalidTransition):
        container.complaints.resolve(
            SDPO, result.complaint_id, outcome=Outcome.REFERRED, summary="x"
        )
    assert head(container) == 2


def test_staff_outside_unit_sees_nothing(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    for outsider in (OTHER_SDPO, MULTAN_DPO):
        assert container.queries.get(outsider, result.complaint_id) is None
        assert container.queries.page(outsider, ComplaintFilter()).total_count == 0
        with pytest.raises(NotFound):
            container.complaints.acknowledge(outsider, result.complaint_id, None)
    assert container.queries.get(LAHORE_DPO, result.complaint_id) is not None
    assert container.queries.get(COMPLAINT_CELL, result.complaint_id) is not None
    assert head(container) == 1


def test_only_supervisors_close(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    with pytest.raises(Forbidden, match="role SHO may not close complaints"):
        container.complaints.close(SHO, result.complaint_id, None)


def test_found_false_needs_supervisor(container: Container) -> None:
    service = container.complaints
    result = service.lodge(Principal.anonymous(), lodge_command())
    service.assign(
        SDPO, result.complaint_id, officer_id="inspector-7", unit_id="pb_lahore-c1", reason=None
    )
    with pytest.raises(Forbidden, match="FOUND_FALSE"):
        service.resolve(
            OFFICER, result.complaint_id, outcome=Outcome.FOUND_FALSE, summary="Made up"
        )
    service.resolve(SDPO, result.complaint_id, outcome=Outcome.FOUND_FALSE, summary="Made up")
    assert head(container) == 3


def test_manual_escalation_climbs_one_unit(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    container.complaints.escalate(SDPO, result.complaint_id, "No reply from the station")
    record = container.queries.get(LAHORE_DPO, result.complaint_id)
    assert record is not None
    assert record.escalation_level == 1
    assert record.unit_id == "pb_lahore"
    # The complaint moved to the district, so the circle's SDPO can no longer read it.
    assert container.queries.get(SDPO, result.complaint_id) is None


def test_racing_commands_one_conflicts(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    store = container.event_store
    first = store.get_complaint(result.complaint_id)
    second = store.get_complaint(result.complaint_id)
    first.acknowledge(note=None, **container.complaints._context(SDPO))
    second.assign(
        officer_id="x",
        unit_id="pb_lahore-c1",
        holder_rank=Rank.CIRCLE,
        reason=None,
        **container.complaints._context(SDPO),
    )
    store.save_complaint(first)
    with pytest.raises(Conflict, match="was changed by someone else"):
        store.save_complaint(second)
    assert head(container) == 2


def test_parallel_commands_never_both_succeed(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def acknowledge() -> None:
        barrier.wait()
        try:
            container.complaints.acknowledge(SDPO, result.complaint_id, None)
            outcomes.append("ok")
        except (Conflict, InvalidTransition) as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=acknowledge) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 1
    assert len(outcomes) == 8
    assert head(container) == 2


def test_personal_data_not_in_event_log(container: Container) -> None:
    container.complaints.lodge(Principal.anonymous(), lodge_command())
    notifications = container.event_store.recorder.select_notifications(start=None, limit=10)
    stored = b"".join(notification.state for notification in notifications)
    for secret in (NAME, CNIC, CNIC.replace("-", ""), NORMALISED_PHONE, "3001234567", "House 1"):
        assert secret.encode() not in stored


def test_personal_data_visible_by_role(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    record = container.queries.get(SDPO, result.complaint_id)
    assert record is not None
    shown = container.queries.complainant(SDPO, record)
    masked = container.queries.complainant(SHO, record)
    assert shown is not None and shown.cnic == CNIC
    assert shown.phone == NORMALISED_PHONE
    assert masked is not None and masked.cnic == "*****-*******-1"
    assert masked.name != NAME


def test_shredded_key_hides_personal_data(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    container.vault.shred(result.complaint_id)
    record = container.queries.get(SDPO, result.complaint_id)
    assert record is not None
    assert container.queries.complainant(SDPO, record) is None
    with pytest.raises(NotFound):
        container.queries.track(result.tracking_number, PHONE)
    # History is untouched: the complaint still loads from its events.
    assert container.event_store.get_complaint(result.complaint_id).version == 1


def test_urdu_round_trips(container: Container) -> None:
    urdu_name = "عائشہ صدیقہ"
    urdu_text = "تھانے میں ایف آئی آر درج نہیں کی گئی۔"
    command = lodge_command(description=urdu_text)
    command = replace(command, complainant=ComplainantDetails(name=urdu_name, phone=PHONE))
    result = container.complaints.lodge(Principal.anonymous(), command)
    record = container.queries.get(SDPO, result.complaint_id)
    assert record is not None
    assert record.description == urdu_text
    complainant = container.queries.complainant(SDPO, record)
    assert complainant is not None
    assert complainant.name == urdu_name


def test_keyset_pages_cover_all(container: Container) -> None:
    keys = {
        container.complaints.lodge(Principal.anonymous(), lodge_command()).complaint_id
        for _ in range(7)
    }
    seen = []
    after = None
    while True:
        page = container.queries.page(LAHORE_DPO, ComplaintFilter(), first=3, after=after)
        seen.extend(record.id for record in page.records)
        assert page.total_count == 7
        if not page.has_next_page:
            break
        from cms_graph.application.queries import encode_cursor

        after = encode_cursor(page.records[-1])
    assert len(seen) == 7
    assert set(seen) == keys


def test_broken_listener_keeps_commit(container: Container) -> None:
    def broker_down(_notification_id: int) -> None:
        raise ConnectionRefusedError("broker unreachable")

    container.commit_listeners.append(broker_down)
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    assert result.tracking_number.startswith("LHR-")
    assert container.queries.get(SDPO, result.complaint_id) is not None


def test_wrong_phone_tracking_recorded(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    with pytest.raises(NotFound):
        container.queries.track(result.tracking_number, "0300-7654321")
    container.catch_up_all()
    with container.database.read() as cursor:
        cursor.execute("SELECT operation FROM audit_trail WHERE record_type = 'AccessDenied'")
        rows = cursor.fetchall()
    assert [row["operation"] for row in rows] == ["trackComplaint"]
