"""Complaint exports on SQLite and PostgreSQL: allowed fields, scope, the export record."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from uuid import UUID

import pytest

from cms_graph.application.identity import Principal
from cms_graph.application.integration_directory import IntegrationKind
from cms_graph.application.queries import ComplaintFilter
from cms_graph.bootstrap import Container, build_container
from cms_graph.domain.errors import Forbidden, InvalidInput, Unauthenticated
from cms_graph.domain.export_record import ExportRecord
from cms_graph.domain.values import Role
from cms_graph.settings import Settings
from tests.factories import NAME, OTHER_SDPO, SDPO, SHO, lodge_command
from tests.recording_database import RecordingDatabase

REQUESTER = Principal("admin-requester", Role.ADMIN, "pb", amr=("pwd", "otp"))
APPROVER = Principal("admin-approver", Role.ADMIN, "pb", amr=("pwd", "otp"))
SECOND_APPROVER = Principal("addl-igp-approver", Role.ADDL_IGP, "pb", amr=("pwd", "otp"))


def lodge(container: Container, count: int, **overrides: object) -> list[UUID]:
    return [
        container.complaints.lodge(
            Principal.anonymous(),
            lodge_command(**overrides),  # type: ignore[arg-type]
        ).complaint_id
        for _ in range(count)
    ]


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def export_records(container: Container) -> list[ExportRecord.ComplaintsExported]:
    notifications = container.event_store.recorder.select_notifications(start=None, limit=1000)
    events = [container.event_store.mapper.to_domain_event(n) for n in notifications]
    return [event for event in events if isinstance(event, ExportRecord.ComplaintsExported)]


def export_integration(container: Container, fields: list[str]) -> Principal:
    """Activate an EXPORT integration; return the principal its token would carry."""
    integration_id = container.integrations.request(
        REQUESTER,
        name="Citizen's Portal export",
        kind=IntegrationKind.EXPORT,
        endpoint=None,
        event_types=[],
        allowed_fields=fields,
    ).integration_id
    container.integrations.approve(APPROVER, integration_id)
    container.integrations.approve(SECOND_APPROVER, integration_id)
    return Principal(f"integration:{integration_id}", Role.INTEGRATOR, "pb")


@pytest.fixture
def personal_container(store_settings: Settings) -> Iterator[Container]:
    """A container over the same store whose staff allowlist includes a personal field."""
    settings = store_settings.model_copy(
        update={"export_fields": ("trackingNumber", "status", "complainantName")}
    )
    built = build_container(settings)
    yield built
    built.close()


def test_export_staff_scope(container: Container) -> None:
    lodge(container, 3)
    lodge(container, 2, station_id="pb_lahore-c2-ps1")

    export = container.exports.export(SDPO, ComplaintFilter(), ["status", "trackingNumber"])
    rows = rows_of(export.csv)
    assert rows[0] == ["trackingNumber", "status"]
    assert export.row_count == 3
    assert len(rows) == 4
    assert {row[1] for row in rows[1:]} == {"LODGED"}
    expected = container.queries.page(SDPO, ComplaintFilter(), first=100).records
    assert [row[0] for row in rows[1:]] == [record.tracking_number for record in expected]

    other = container.exports.export(OTHER_SDPO, ComplaintFilter(), ["trackingNumber"])
    assert other.row_count == 2


def test_export_pages_through_all(container: Container) -> None:
    keys = lodge(container, 5)
    container.exports.page_size = 2
    export = container.exports.export(SDPO, ComplaintFilter(), ["trackingNumber"])
    assert export.row_count == 5
    numbers = [row[0] for row in rows_of(export.csv)[1:]]
    assert len(set(numbers)) == 5
    (record,) = export_records(container)
    assert sorted(record.complaint_ids) == sorted(str(key) for key in keys)


def test_export_counts_first_page_only(container: Container) -> None:
    lodge(container, 5)
    container.exports.page_size = 2
    recording = RecordingDatabase(container.queries.database)
    container.queries.database = recording  # type: ignore[assignment]  # same read() contract

    export = container.exports.export(SDPO, ComplaintFilter(), ["trackingNumber"])

    assert export.row_count == 5
    assert recording.count_star_statements() == 1


def test_export_follows_filter(container: Container) -> None:
    lodge(container, 2)
    (acknowledged,) = lodge(container, 1)
    container.complaints.acknowledge(SDPO, acknowledged, "called back")
    export = container.exports.export(SDPO, ComplaintFilter(statuses=("ACKNOWLEDGED",)), ["status"])
    assert export.row_count == 1
    assert rows_of(export.csv)[1] == ["ACKNOWLEDGED"]


def test_export_recorded_with_row_count(container: Container) -> None:
    keys = lodge(container, 2)
    export = container.exports.export(
        SDPO, ComplaintFilter(statuses=("LODGED",)), ["trackingNumber", "status"]
    )
    (record,) = export_records(container)
    assert record.originator_id == export.export_id
    assert record.row_count == 2
    assert record.fields == ["trackingNumber", "status"]
    assert record.filter == {"statuses": ["LODGED"]}
    assert sorted(record.complaint_ids) == sorted(str(key) for key in keys)
    assert record.actor.user_id == "sdpo-lahore-c1"
    assert record.integration_id is None

    container.catch_up_all()
    with container.database.read() as cursor:
        cursor.execute(
            "SELECT actor_user_id, operation, detail FROM audit_trail"
            " WHERE record_type = 'ComplaintsExported'"
        )
        row = cursor.fetchone()
    assert row is not None
    assert dict(row) == {
        "actor_user_id": "sdpo-lahore-c1",
        "operation": "exportComplaints",
        "detail": "2 rows; fields: trackingNumber, status",
    }


def test_field_outside_allowlist_named(container: Container) -> None:
    lodge(container, 1)
    with pytest.raises(Forbidden) as raised:
        container.exports.export(SDPO, ComplaintFilter(), ["status", "complainantName"])
    assert raised.value.message.startswith(
        "fields: 'complainantName' is not allowed in exports; allowed fields are"
        " trackingNumber, status, category"
    )
    assert raised.value.field == ("fields",)
    assert export_records(container) == []


def test_unknown_field_named(container: Container) -> None:
    with pytest.raises(InvalidInput) as raised:
        container.exports.export(SDPO, ComplaintFilter(), ["status", "officerSalary"])
    assert raised.value.message.startswith(
        "fields has unknown field 'officerSalary': valid fields are trackingNumber"
    )
    assert export_records(container) == []


def test_export_needs_token(container: Container) -> None:
    with pytest.raises(Unauthenticated):
        container.exports.export(Principal.anonymous(), ComplaintFilter(), ["status"])


def test_personal_field_when_allowed(personal_container: Container) -> None:
    lodge(personal_container, 1)
    export = personal_container.exports.export(
        SDPO, ComplaintFilter(), ["trackingNumber", "complainantName"]
    )
    rows = rows_of(export.csv)
    assert rows[0] == ["trackingNumber", "complainantName"]
    assert rows[1][1] == NAME


def test_personal_field_needs_role(personal_container: Container) -> None:
    lodge(personal_container, 1)
    sho = SHO
    with pytest.raises(Forbidden) as raised:
        personal_container.exports.export(sho, ComplaintFilter(), ["complainantName"])
    assert raised.value.message == (
        "fields: role SHO may not export personal data such as 'complainantName'; allowed"
        " fields are trackingNumber, status"
    )


def test_personal_field_outside_allowlist(personal_container: Container) -> None:
    with pytest.raises(Forbidden, match="'complainantCnic' is not allowed in exports"):
        personal_container.exports.export(SDPO, ComplaintFilter(), ["complainantCnic"])


def test_formula_cells_neutralised(container: Container) -> None:
    lodge(container, 1, description='=HYPERLINK("http://198.51.100.7/x","click")')
    lodge(container, 1, description="@SUM(A1:A9) was the officer's reply")
    export = container.exports.export(SDPO, ComplaintFilter(), ["description"])
    cells = sorted(row[0] for row in rows_of(export.csv)[1:])
    assert cells == [
        '\'=HYPERLINK("http://198.51.100.7/x","click")',
        "'@SUM(A1:A9) was the officer's reply",
    ]


def test_integrator_exports_allowed_fields(container: Container) -> None:
    lodge(container, 2)
    integrator = export_integration(container, ["trackingNumber", "complainantPhone"])

    export = container.exports.export(
        integrator, ComplaintFilter(), ["trackingNumber", "complainantPhone"]
    )
    rows = rows_of(export.csv)
    assert export.row_count == 2
    # The phone is stored as +92…, which a spreadsheet would read as a formula.
    assert {row[1] for row in rows[1:]} == {"'+923001234567"}
    (record,) = export_records(container)
    assert record.integration_id == integrator.user_id.removeprefix("integration:")  # type: ignore[union-attr]

    with pytest.raises(Forbidden) as raised:
        container.exports.export(integrator, ComplaintFilter(), ["status"])
    assert raised.value.message == (
        "fields: 'status' is not allowed in exports; allowed fields are trackingNumber,"
        " complainantPhone"
    )


def test_integrator_without_export_integration(container: Container) -> None:
    webhook = container.integrations.request(
        REQUESTER,
        name="SMS gateway",
        kind=IntegrationKind.WEBHOOK,
        endpoint="https://sms.example.pk/in",
        event_types=["ComplaintLodged"],
        allowed_fields=["trackingNumber"],
    ).integration_id
    container.integrations.approve(APPROVER, webhook)
    container.integrations.approve(SECOND_APPROVER, webhook)
    principal = Principal(f"integration:{webhook}", Role.INTEGRATOR, "pb")
    with pytest.raises(Forbidden, match="has no active EXPORT integration"):
        container.exports.export(principal, ComplaintFilter(), ["trackingNumber"])


def test_revoked_integrator_cannot_export(container: Container) -> None:
    integrator = export_integration(container, ["trackingNumber"])
    container.exports.export(integrator, ComplaintFilter(), ["trackingNumber"])
    assert integrator.user_id is not None
    integration_id = UUID(integrator.user_id.removeprefix("integration:"))
    container.integrations.revoke(APPROVER, integration_id, "Portal link retired")
    with pytest.raises(Forbidden, match="has no active EXPORT integration"):
        container.exports.export(integrator, ComplaintFilter(), ["trackingNumber"])


def test_export_row_limit(store_settings: Settings) -> None:
    settings = store_settings.model_copy(update={"export_max_rows": 2})
    container = build_container(settings)
    try:
        lodge(container, 3)
        with pytest.raises(
            InvalidInput, match="the filter matches 3 complaints, but an export may contain"
        ):
            container.exports.export(SDPO, ComplaintFilter(), ["status"])
        assert container.exports.export(OTHER_SDPO, ComplaintFilter(), ["status"]).row_count == 0
    finally:
        container.close()
