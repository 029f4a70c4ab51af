"""Rules of the Integration aggregate: two-person approval, rejection, revocation, rotation."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from cms_graph.application.integration_credentials import (
    api_key_matches,
    derive_signing_secret,
    hash_api_key,
    new_api_key,
)
from cms_graph.application.integration_directory import IntegrationKind
from cms_graph.domain.errors import Forbidden, InvalidInput, InvalidTransition
from cms_graph.domain.integration import Integration, IntegrationStatus, complaint_event_types
from cms_graph.domain.values import Actor, Role

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
REQUESTER = Actor.staff("admin-requester", Role.ADMIN, "pb")
FIRST = Actor.staff("admin-first", Role.ADMIN, "pb")
SECOND = Actor.staff("addl-igp-second", Role.ADDL_IGP, "pb")
HASH = "sha256:" + "ab" * 32


def requested(kind: IntegrationKind = IntegrationKind.WEBHOOK) -> Integration:
    integration = Integration.request(
        integration_id=uuid4(),
        name="PSRMS FIR link",
        kind=kind,
        endpoint="https://psrms.example.pk/hooks/cms" if kind is IntegrationKind.WEBHOOK else None,
        event_types=["ComplaintLodged"] if kind is not IntegrationKind.EXPORT else [],
        allowed_fields=("trackingNumber", "status"),
        actor=REQUESTER,
        at=AT,
    )
    integration.collect_events()
    return integration


def active() -> Integration:
    integration = requested()
    integration.approve(actor=FIRST, second_factor=True, api_key_hash=HASH, at=AT)
    integration.approve(actor=SECOND, second_factor=True, api_key_hash=HASH, at=AT)
    integration.collect_events()
    return integration


def test_request_starts_pending() -> None:
    integration = requested()
    assert integration.status is IntegrationStatus.PENDING_APPROVAL
    assert integration.approvals_missing == 2
    assert integration.principal == f"integration:{integration.id}"


def test_request_needs_administrator() -> None:
    with pytest.raises(Forbidden, match="role SDPO may not request an integration"):
        Integration.request(
            integration_id=uuid4(),
            name="x",
            kind=IntegrationKind.EXPORT,
            endpoint=None,
            event_types=[],
            allowed_fields=("status",),
            actor=Actor.staff("sdpo-1", Role.SDPO, "pb_lahore-c1"),
            at=AT,
        )


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        (None, "endpoint is required for a WEBHOOK integration"),
        ("ftp://psrms.example.pk/in", "endpoint 'ftp://psrms.example.pk/in' is not a valid URL"),
        ("https:///no-host", "is not a valid URL"),
        ("https://user:pw@psrms.example.pk/", "must not contain a user name or password"),
    ],
)
def test_webhook_endpoint_validated(endpoint: str | None, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        Integration.request(
            integration_id=uuid4(),
            name="PSRMS",
            kind=IntegrationKind.WEBHOOK,
            endpoint=endpoint,
            event_types=["ComplaintLodged"],
            allowed_fields=("status",),
            actor=REQUESTER,
            at=AT,
        )
    assert raised.value.field == ("endpoint",)


def test_export_takes_no_endpoint() -> None:
    with pytest.raises(InvalidInput, match="endpoint is only for WEBHOOK integrations"):
        Integration.request(
            integration_id=uuid4(),
            name="Citizen's Portal export",
            kind=IntegrationKind.EXPORT,
            endpoint="https://portal.example.pk/",
            event_types=[],
            allowed_fields=("status",),
            actor=REQUESTER,
            at=AT,
        )


def test_unknown_event_type_named() -> None:
    with pytest.raises(InvalidInput) as raised:
        Integration.request(
            integration_id=uuid4(),
            name="Safe City 15",
            kind=IntegrationKind.SUBSCRIPTION,
            endpoint=None,
            event_types=["ComplaintLodged", "ComplaintDeleted"],
            allowed_fields=("status",),
            actor=REQUESTER,
            at=AT,
        )
    assert "unknown event type 'ComplaintDeleted'" in raised.value.message
    assert "ComplaintEscalated" in raised.value.message
    assert raised.value.field == ("eventTypes",)


def test_complaint_event_types_listed() -> None:
    types = complaint_event_types()
    assert "ComplaintLodged" in types
    assert "ComplaintClosed" in types
    assert "Event" not in types


def test_requester_cannot_approve() -> None:
    integration = requested()
    with pytest.raises(Forbidden, match=r"requested integration .* and may not approve it"):
        integration.approve(actor=REQUESTER, second_factor=True, api_key_hash=HASH, at=AT)
    assert integration.collect_events() == []


def test_approval_needs_second_factor() -> None:
    integration = requested()
    with pytest.raises(Forbidden, match="needs a second factor"):
        integration.approve(actor=FIRST, second_factor=False, api_key_hash=HASH, at=AT)
    assert integration.collect_events() == []
    assert integration.approvals == []


def test_approval_needs_administrator() -> None:
    integration = requested()
    igp = Actor.staff("igp", Role.IGP, "pb")
    with pytest.raises(Forbidden, match="role IGP may not approve an integration"):
        integration.approve(actor=igp, second_factor=True, api_key_hash=HASH, at=AT)


def test_one_approval_not_enough() -> None:
    integration = requested()
    activated = integration.approve(actor=FIRST, second_factor=True, api_key_hash=HASH, at=AT)
    assert activated is False
    assert integration.status is IntegrationStatus.PENDING_APPROVAL
    assert integration.api_key_hash is None
    (event,) = integration.collect_events()
    assert isinstance(event, Integration.IntegrationApproved)
    assert event.api_key_hash is None


def test_same_approver_twice_rejected() -> None:
    integration = requested()
    integration.approve(actor=FIRST, second_factor=True, api_key_hash=HASH, at=AT)
    integration.collect_events()
    with pytest.raises(Forbidden, match="user admin-first already approved integration"):
        integration.approve(actor=FIRST, second_factor=True, api_key_hash=HASH, at=AT)
    assert integration.collect_events() == []
    assert integration.status is IntegrationStatus.PENDING_APPROVAL


def test_second_distinct_approval_activates() -> None:
    integration = requested()
    integration.approve(actor=FIRST, second_factor=True, api_key_hash=HASH, at=AT)
    activated = integration.approve(actor=SECOND, second_factor=True, api_key_hash=HASH, at=AT)
    assert activated is True
    assert integration.status is IntegrationStatus.ACTIVE
    assert integration.credential_generation == 1
    assert integration.api_key_hash == HASH
    assert [approval.user_id for approval in integration.approvals] == [
        "admin-first",
        "addl-igp-second",
    ]


def test_active_cannot_be_approved_again() -> None:
    integration = active()
    third = Actor.staff("admin-third", Role.ADMIN, "pb")
    with pytest.raises(InvalidTransition, match="its status is ACTIVE"):
        integration.approve(actor=third, second_factor=True, api_key_hash=HASH, at=AT)


def test_rejection_ends_request() -> None:
    integration = requested()
    integration.reject(reason="Fields exceed what PSRMS needs", actor=FIRST, at=AT)
    assert integration.status is IntegrationStatus.REJECTED
    with pytest.raises(InvalidTransition, match="its status is REJECTED"):
        integration.approve(actor=SECOND, second_factor=True, api_key_hash=HASH, at=AT)


def test_rejection_needs_reason() -> None:
    integration = requested()
    with pytest.raises(InvalidInput, match="reason is required"):
        integration.reject(reason="  ", actor=FIRST, at=AT)
    assert integration.collect_events() == []


def test_revoke_active() -> None:
    integration = active()
    integration.revoke(reason="Contract ended", actor=FIRST, at=AT)
    assert integration.status is IntegrationStatus.REVOKED
    assert integration.ended_reason == "Contract ended"


def test_revoke_pending_rejected() -> None:
    integration = requested()
    with pytest.raises(InvalidTransition, match=r"cannot revoke integration .* PENDING_APPROVAL"):
        integration.revoke(reason="never mind", actor=FIRST, at=AT)


def test_rotation_next_generation() -> None:
    integration = active()
    generation = integration.rotate_credentials(
        actor=FIRST, second_factor=True, api_key_hash="sha256:" + "cd" * 32, at=AT
    )
    assert generation == 2
    assert integration.credential_generation == 2
    assert integration.api_key_hash == "sha256:" + "cd" * 32


def test_rotation_needs_second_factor() -> None:
    integration = active()
    with pytest.raises(Forbidden, match="needs a second factor"):
        integration.rotate_credentials(actor=FIRST, second_factor=False, api_key_hash=HASH, at=AT)
    assert integration.collect_events() == []


def test_api_key_hash_matches_only_key() -> None:
    key = new_api_key()
    assert key.startswith("cmsi_")
    stored = hash_api_key(key)
    assert key not in stored
    assert api_key_matches(key, stored)
    assert not api_key_matches(new_api_key(), stored)
    assert not api_key_matches(key, None)


def test_signing_secret_changes_per_generation() -> None:
    key = b"k" * 32
    integration_id = uuid4()
    first = derive_signing_secret(key, integration_id, 1)
    assert first == derive_signing_secret(key, integration_id, 1)
    assert first != derive_signing_secret(key, integration_id, 2)
    assert first != derive_signing_secret(b"o" * 32, integration_id, 1)
    assert first.startswith("whsec_")
