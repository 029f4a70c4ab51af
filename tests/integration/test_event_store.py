"""Events round-trip through the store with their Python types intact."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.values import Actor, ActorKind, ComplaintCategory, ComplaintStatus, Language
from tests.factories import SDPO, lodge_command


def test_stored_event_types_round_trip(container: Container) -> None:
    command = lodge_command()
    incident = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    result = container.complaints.lodge(
        Principal.anonymous(), replace(command, incident_at=incident)
    )
    container.complaints.acknowledge(SDPO, result.complaint_id, "called")
    notifications = container.event_store.recorder.select_notifications(start=None, limit=10)
    lodged, acknowledged = (container.event_store.mapper.to_domain_event(n) for n in notifications)

    assert isinstance(lodged, Complaint.ComplaintLodged)
    assert isinstance(lodged.actor, Actor)
    assert lodged.actor.kind is ActorKind.COMPLAINANT
    assert isinstance(lodged.complainant_sealed, bytes)
    assert lodged.incident_at == incident
    assert isinstance(acknowledged, Complaint.ComplaintAcknowledged)
    assert acknowledged.actor == SDPO.as_actor()


def test_reloaded_aggregate_has_enums(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    complaint = container.event_store.get_complaint(result.complaint_id)
    assert complaint.status is ComplaintStatus.LODGED
    assert complaint.category is ComplaintCategory.BRIBERY
    assert complaint.language is Language.UR
    assert complaint.tracking_number == result.tracking_number


def test_historic_version_loads(container: Container) -> None:
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    container.complaints.acknowledge(SDPO, result.complaint_id, None)
    first = container.event_store.get_complaint(result.complaint_id, version=1)
    assert first.status is ComplaintStatus.LODGED
    assert first.version == 1
