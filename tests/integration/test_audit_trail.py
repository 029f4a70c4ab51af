"""The audit trail, personal-data reads and denials, and case history as of any moment."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from cms_graph.application.audit_queries import AuditFilter
from cms_graph.application.case_history import differences
from cms_graph.application.commands import ComplainantProof
from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container
from cms_graph.domain.errors import Forbidden, InvalidInput, NotFound
from cms_graph.domain.values import Outcome, Role
from tests.factories import OTHER_SDPO, SDPO, lodge_command

INTEGRITY = Principal("integrity-1", Role.INTEGRITY_UNIT, "pb")
CLIENT_SDPO = SDPO.with_request("10.1.2.3", "corr-42")


def trail(container: Container, **criteria: object) -> list[tuple[str, str | None, str | None]]:
    container.catch_up_all()
    page = container.audit_queries.page(INTEGRITY, AuditFilter(**criteria), first=100, after=None)  # type: ignore[arg-type]
    return [(entry.record_type, entry.actor_user_id, entry.operation) for entry in page.entries]


def test_events_attributed_with_request(container: Container) -> None:
    key = container.complaints.lodge(Principal.anonymous(), lodge_command()).complaint_id
    container.complaints.acknowledge(CLIENT_SDPO, key, None)
    container.catch_up_all()
    page = container.audit_queries.page(
        INTEGRITY, AuditFilter(complaint_id=key), first=10, after=None
    )
    acknowledged = page.entries[1]
    assert acknowledged.record_type == "ComplaintAcknowledged"
    assert acknowledged.actor_user_id == "sdpo-lahore-c1"
    assert acknowledged.actor_role == "SDPO"
    assert acknowledged.actor_unit_id == "pb_lahore-c1"
    assert acknowledged.client_address == "10.1.2.3"
    assert acknowledged.correlation_id == "corr-42"
    assert acknowledged.channel == "STAFF_CONSOLE"


def test_personal_data_read_recorded(container: Container) -> None:
    key = container.complaints.lodge(Principal.anonymous(), lodge_command()).complaint_id
    record = container.queries.get(CLIENT_SDPO, key)
    assert record is not None
    container.queries.complainant(CLIENT_SDPO, record, "Complaint.complainant")
    assert ("PersonalDataViewed", "sdpo-lahore-c1", "Complaint.complainant") in trail(
        container, complaint_id=key
    )


def test_masked_read_not_recorded(container: Container) -> None:
    key = container.complaints.lodge(Principal.anonymous(), lodge_command()).complaint_id
    sho = Principal("sho-1", Role.SHO, "pb_lahore-c1")
    record = container.queries.get(sho, key)
    assert record is not None
    container.queries.complainant(sho, record)
    assert [
        row for row in trail(container, complaint_id=key) if row[0] == "PersonalDataViewed"
    ] == []


def test_denied_accesses_recorded(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    key = result.complaint_id
    assert container.queries.get(OTHER_SDPO, key) is None
    with pytest.raises(NotFound):
        container.complaints.acknowledge(OTHER_SDPO, key, None)
    with pytest.raises(Forbidden):
        container.complaints.close(Principal("sho-1", Role.SHO, "pb_lahore-c1"), key, None)
    with pytest.raises(NotFound):
        container.complaints.withdraw(
            ComplainantProof(result.tracking_number, "0300-9999999"), None
        )
    denied = [row for row in trail(container, complaint_id=key) if row[0] == "AccessDenied"]
    assert denied == [
        ("AccessDenied", "sdpo-lahore-c2", "complaint"),
        ("AccessDenied", "sdpo-lahore-c2", "acknowledge"),
        ("AccessDenied", "sho-1", "close complaints"),
        ("AccessDenied", None, "complainant proof"),
    ]


def test_trail_filters_by_actor(container: Container) -> None:
    key = container.complaints.lodge(Principal.anonymous(), lodge_command()).complaint_id
    container.complaints.acknowledge(SDPO, key, None)
    assert trail(container, actor_id="sdpo-lahore-c1") == [
        ("ComplaintAcknowledged", "sdpo-lahore-c1", None)
    ]


def test_trail_integrity_unit_only(container: Container) -> None:
    with pytest.raises(Forbidden, match="may not read the audit trail"):
        container.audit_queries.page(SDPO, AuditFilter(), first=10, after=None)


def test_trail_export_csv(container: Container) -> None:
    container.complaints.lodge(Principal.anonymous(), lodge_command())
    container.catch_up_all()
    text = "".join(container.audit_queries.export_csv(INTEGRITY, AuditFilter()))
    lines = text.splitlines()
    assert lines[0].startswith("notification_id,recorded_at,occurred_at,complaint_id,record_type")
    assert len(lines) == 2
    assert ",ComplaintLodged,COMPLAINANT," in lines[1]


def history(container: Container) -> UUID:
    key = container.complaints.lodge(Principal.anonymous(), lodge_command()).complaint_id
    container.complaints.acknowledge(SDPO, key, "called")
    container.complaints.assign(
        SDPO, key, officer_id="inspector-7", unit_id="pb_lahore-c1", reason=None
    )
    container.complaints.resolve(SDPO, key, outcome=Outcome.RELIEF_GRANTED, summary="Done")
    return key


def test_as_of_each_boundary(container: Container) -> None:
    key = history(container)
    latest = container.case_history.at(INTEGRITY, key)
    times = [event.recorded_at for event in latest.events]
    expected_status = ["LODGED", "ACKNOWLEDGED", "ASSIGNED", "RESOLVED"]
    tick = timedelta(microseconds=1)
    for index, moment in enumerate(times):
        at_boundary = container.case_history.at(INTEGRITY, key, as_of=moment)
        assert at_boundary.snapshot.version == index + 1
        assert at_boundary.snapshot.status == expected_status[index]
        assert len(at_boundary.events) == index + 1
        if index > 0:
            before = container.case_history.at(INTEGRITY, key, as_of=moment - tick)
            assert before.snapshot.version == index
        after = container.case_history.at(INTEGRITY, key, as_of=moment + tick)
        assert after.snapshot.version == index + 1


def test_as_of_before_lodging_rejected(container: Container) -> None:
    key = history(container)
    first = container.case_history.at(INTEGRITY, key, version=1).snapshot.recorded_at
    with pytest.raises(InvalidInput, match="did not exist at"):
        container.case_history.at(INTEGRITY, key, as_of=first - timedelta(microseconds=1))


def test_version_and_differences(container: Container) -> None:
    key = history(container)
    second = container.case_history.at(INTEGRITY, key, version=2).snapshot
    fourth = container.case_history.at(INTEGRITY, key, version=4).snapshot
    changes = {
        change.field: (change.before, change.after) for change in differences(second, fourth)
    }
    assert changes["status"] == ("ACKNOWLEDGED", "RESOLVED")
    assert changes["assigned_officer_id"] == (None, "inspector-7")
    assert changes["outcome"] == (None, "RELIEF_GRANTED")
    assert "tracking_number" not in changes


def test_history_needs_province_role(container: Container) -> None:
    key = history(container)
    with pytest.raises(Forbidden):
        container.case_history.at(SDPO, key)


def test_unknown_version_rejected(container: Container) -> None:
    key = history(container)
    with pytest.raises(InvalidInput, match="has 4 versions, not 9"):
        container.case_history.at(INTEGRITY, key, version=9)


def test_forbidden_history_recorded(container: Container) -> None:
    key = history(container)
    with pytest.raises(Forbidden):
        container.case_history.at(SDPO, key)
    assert ("AccessDenied", "sdpo-lahore-c1", "replay case history") in trail(
        container, complaint_id=key
    )
