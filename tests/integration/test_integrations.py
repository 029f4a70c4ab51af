"""Integrations on SQLite and PostgreSQL: two-person approval, the directory, credentials."""

from __future__ import annotations

from uuid import UUID

import pytest

from cms_graph.application.identity import Principal
from cms_graph.application.integration_directory import IntegrationKind
from cms_graph.application.integrations import IntegrationResult
from cms_graph.bootstrap import Container, build_projectors
from cms_graph.domain.errors import Forbidden, InvalidInput, InvalidTransition, Unauthenticated
from cms_graph.domain.integration import IntegrationStatus
from cms_graph.domain.values import Role
from cms_graph.projections.digest import TABLE_KEYS, projection_digest
from cms_graph.projections.rebuild import rebuild

REQUESTER = Principal("admin-requester", Role.ADMIN, "pb", amr=("pwd", "otp"))
APPROVER = Principal("admin-approver", Role.ADMIN, "pb", amr=("pwd", "otp"))
SECOND_APPROVER = Principal("addl-igp-approver", Role.ADDL_IGP, "pb", amr=("pwd", "otp"))
APPROVER_WITHOUT_OTP = Principal("admin-no-otp", Role.ADMIN, "pb", amr=("pwd",))
INTEGRITY = Principal("integrity-1", Role.INTEGRITY_UNIT, "pb")


def event_count(container: Container) -> int:
    return container.event_store.recorder.max_notification_id() or 0


def request_webhook(container: Container) -> UUID:
    result = container.integrations.request(
        REQUESTER,
        name="PSRMS FIR link",
        kind=IntegrationKind.WEBHOOK,
        endpoint="https://psrms.example.pk/hooks/cms",
        event_types=["ComplaintLodged", "ComplaintResolved"],
        allowed_fields=["status", "trackingNumber"],
    )
    return result.integration_id


def activate(container: Container, integration_id: UUID) -> IntegrationResult:
    container.integrations.approve(APPROVER, integration_id)
    return container.integrations.approve(SECOND_APPROVER, integration_id)


def test_two_person_flow(container: Container) -> None:
    directory = container.integration_directory
    integration_id = request_webhook(container)
    assert directory.active() == []

    before = event_count(container)
    with pytest.raises(Forbidden, match=r"requested integration .* and may not approve it"):
        container.integrations.approve(REQUESTER, integration_id)
    with pytest.raises(Forbidden, match="needs a second factor"):
        container.integrations.approve(APPROVER_WITHOUT_OTP, integration_id)
    # Denials are recorded as access records, but no integration event was written.
    record = directory.get_record(integration_id)
    assert record is not None
    assert record.approvals == ()
    assert record.version == 1

    first = container.integrations.approve(APPROVER, integration_id)
    assert first.credentials is None
    assert directory.active() == []
    assert directory.signing_secret(integration_id) is None

    with pytest.raises(Forbidden, match="already approved"):
        container.integrations.approve(APPROVER, integration_id)
    assert directory.active() == []

    second = container.integrations.approve(SECOND_APPROVER, integration_id)
    assert second.credentials is not None
    assert second.credentials.generation == 1
    (active,) = directory.active()
    assert active.id == integration_id
    assert active.kind is IntegrationKind.WEBHOOK
    assert active.endpoint == "https://psrms.example.pk/hooks/cms"
    assert active.event_types == frozenset({"ComplaintLodged", "ComplaintResolved"})
    assert active.allowed_fields == ("trackingNumber", "status")
    assert active.wants("ComplaintLodged")
    assert directory.active(kind=IntegrationKind.WEBHOOK) == [active]
    assert directory.active(kind=IntegrationKind.EXPORT) == []
    assert directory.active_for_principal(f"integration:{integration_id}") == active
    assert directory.signing_secret(integration_id) == second.credentials.signing_secret.encode()
    assert event_count(container) > before

    record = directory.get_record(integration_id)
    assert record is not None
    assert record.status is IntegrationStatus.ACTIVE
    assert [approval.user_id for approval in record.approvals] == [
        "admin-approver",
        "addl-igp-approver",
    ]
    assert all(approval.second_factor for approval in record.approvals)


def test_rejected_command_writes_no_event(container: Container) -> None:
    integration_id = request_webhook(container)
    container.integrations.approve(APPROVER, integration_id)
    record = container.integration_directory.get_record(integration_id)
    assert record is not None
    with pytest.raises(Forbidden):
        container.integrations.approve(APPROVER, integration_id)
    with pytest.raises(InvalidTransition):
        container.integrations.revoke(APPROVER, integration_id, "not active yet")
    after = container.integration_directory.get_record(integration_id)
    assert after is not None
    assert after.version == record.version


def test_rejection_ends_request(container: Container) -> None:
    integration_id = request_webhook(container)
    container.integrations.reject(APPROVER, integration_id, "Asks for more than PSRMS needs")
    record = container.integration_directory.get_record(integration_id)
    assert record is not None
    assert record.status is IntegrationStatus.REJECTED
    assert record.ended_by == "admin-approver"
    with pytest.raises(InvalidTransition, match="its status is REJECTED"):
        container.integrations.approve(SECOND_APPROVER, integration_id)


def test_revocation_takes_effect_at_once(container: Container) -> None:
    integration_id = request_webhook(container)
    credentials = activate(container, integration_id).credentials
    assert credentials is not None
    assert container.integration_directory.active() != []

    container.integrations.revoke(SECOND_APPROVER, integration_id, "PSRMS contract ended")

    # No catch-up here: the revoke call itself brought the directory up to date.
    assert container.integration_directory.active() == []
    assert (
        container.integration_directory.active_for_principal(f"integration:{integration_id}")
        is None
    )
    assert container.integration_directory.signing_secret(integration_id) is None
    with pytest.raises(Unauthenticated, match="the API key is not valid"):
        container.integrations.issue_token(integration_id, credentials.api_key)


def test_rotation_replaces_key_and_secret(container: Container) -> None:
    integration_id = request_webhook(container)
    old = activate(container, integration_id).credentials
    assert old is not None
    issued = container.integrations.issue_token(integration_id, old.api_key)
    principal = container.integrations.tokens.verify(issued.token)
    assert principal.user_id == f"integration:{integration_id}"
    assert principal.role is Role.INTEGRATOR

    with pytest.raises(Forbidden, match="needs a second factor"):
        container.integrations.rotate_credentials(APPROVER_WITHOUT_OTP, integration_id)
    new = container.integrations.rotate_credentials(APPROVER, integration_id).credentials
    assert new is not None
    assert new.generation == 2
    assert new.api_key != old.api_key
    assert new.signing_secret != old.signing_secret
    assert container.integration_directory.signing_secret(integration_id) == (
        new.signing_secret.encode()
    )
    with pytest.raises(Unauthenticated, match="the API key is not valid"):
        container.integrations.issue_token(integration_id, old.api_key)
    assert container.integrations.issue_token(integration_id, new.api_key).token


def test_wrong_key_rejected_and_recorded(container: Container) -> None:
    integration_id = request_webhook(container)
    activate(container, integration_id)
    with pytest.raises(Unauthenticated):
        container.integrations.issue_token(integration_id, "cmsi_not-the-key")
    container.catch_up_all()
    with container.database.read() as cursor:
        cursor.execute(
            "SELECT operation, detail FROM audit_trail WHERE record_type = 'AccessDenied'"
        )
        rows = cursor.fetchall()
    assert {"operation": "issueIntegratorToken", "detail": "API key rejected"} in [
        dict(row) for row in rows
    ]


def test_secrets_absent_from_store(container: Container) -> None:
    integration_id = request_webhook(container)
    issued = activate(container, integration_id).credentials
    rotated = container.integrations.rotate_credentials(APPROVER, integration_id).credentials
    assert issued is not None and rotated is not None
    container.catch_up_all()

    notifications = container.event_store.recorder.select_notifications(start=None, limit=1000)
    stored = b"".join(notification.state for notification in notifications)
    assert b'"credential_generation":2' in stored
    for credentials in (issued, rotated):
        assert credentials.api_key.encode() not in stored
        assert credentials.signing_secret.encode() not in stored
        # Without its prefix, in case the encoder split or escaped it.
        assert credentials.api_key.removeprefix("cmsi_").encode() not in stored
        assert credentials.signing_secret.removeprefix("whsec_").encode() not in stored

    with container.database.read() as cursor:
        cursor.execute("SELECT * FROM integrations_view")
        projected = repr(cursor.fetchall())
        cursor.execute("SELECT * FROM audit_trail")
        projected += repr(cursor.fetchall())
    for credentials in (issued, rotated):
        assert credentials.api_key not in projected
        assert credentials.signing_secret not in projected


def test_request_validates_fields(container: Container) -> None:
    before = event_count(container)
    with pytest.raises(InvalidInput) as raised:
        container.integrations.request(
            REQUESTER,
            name="Citizen's Portal",
            kind=IntegrationKind.EXPORT,
            endpoint=None,
            event_types=[],
            allowed_fields=["status", "officerHomeAddress"],
        )
    assert "unknown field 'officerHomeAddress'" in raised.value.message
    assert raised.value.field == ("allowedFields",)
    assert event_count(container) == before


def test_request_needs_administrator(container: Container) -> None:
    with pytest.raises(Forbidden, match="role IGP may not request an integration"):
        container.integrations.request(
            Principal("igp", Role.IGP, "pb", amr=("otp",)),
            name="x",
            kind=IntegrationKind.EXPORT,
            endpoint=None,
            event_types=[],
            allowed_fields=["status"],
        )


def test_listing_needs_reader_role(container: Container) -> None:
    request_webhook(container)
    assert len(container.integration_directory.list_integrations(INTEGRITY)) == 1
    pending = container.integration_directory.list_integrations(
        INTEGRITY, (IntegrationStatus.ACTIVE,)
    )
    assert pending == []
    with pytest.raises(Forbidden, match="role SDPO may not list integrations"):
        container.integration_directory.list_integrations(
            Principal("sdpo-1", Role.SDPO, "pb_lahore-c1")
        )


def test_rebuild_matches_live(container: Container) -> None:
    revoked = request_webhook(container)
    activate(container, revoked)
    container.integrations.rotate_credentials(APPROVER, revoked)
    container.integrations.revoke(APPROVER, revoked, "Replaced by a new link")
    rejected = request_webhook(container)
    container.integrations.reject(APPROVER, rejected, "Duplicate request")
    pending = request_webhook(container)
    container.integrations.approve(APPROVER, pending)
    container.catch_up_all()

    projector = build_projectors(container.settings, container.units)["integrations"]
    assert set(projector.tables) <= set(TABLE_KEYS)
    before = projection_digest(container.database, projector.tables)
    result = rebuild(
        container.database,
        container.event_store,
        projector,
        data_dir=container.settings.data_dir,
        batch_size=3,
    )
    assert result.events == event_count(container)
    assert projection_digest(container.database, projector.tables) == before
    statuses = sorted(
        record.status.value
        for record in container.integration_directory.list_integrations(INTEGRITY)
    )
    assert statuses == ["PENDING_APPROVAL", "REJECTED", "REVOKED"]
