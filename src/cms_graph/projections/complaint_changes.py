"""The complaint fields each event changes, shared by every projection of a complaint's
current state, so a new event type is taught to all of them at once."""

from __future__ import annotations

from typing import Any

from cms_graph.domain.complaint import Complaint


def lodged_fields(event: Complaint.ComplaintLodged) -> dict[str, Any]:
    """Return the fields a lodging sets besides the deadline state and the complainant."""
    return {
        "tracking_number": event.tracking_number,
        "category": str(event.category),
        "channel": str(event.channel),
        "description": event.description,
        "language": str(event.language),
        "district_id": event.district_id,
        "station_id": event.station_id,
        "unit_id": event.unit_id,
        "escalation_level": 0,
        "incident_at": event.incident_at,
        "lodged_at": event.occurred_at,
    }


def event_changes(event: Complaint.Event) -> dict[str, Any]:
    """Return the fields an event changes besides the deadline state, as the aggregate's
    apply methods change them."""
    at = event.occurred_at
    if isinstance(event, Complaint.ComplaintAssigned):
        return {"assigned_officer_id": event.officer_id, "unit_id": event.unit_id}
    if isinstance(event, Complaint.ComplaintEscalated):
        return {"escalation_level": event.to_level, "unit_id": event.to_unit_id}
    if isinstance(event, Complaint.ComplaintResolved):
        return {"outcome": str(event.outcome), "resolved_at": at, "feedback_satisfied": None}
    if isinstance(event, Complaint.FeedbackRecorded):
        return {"feedback_satisfied": event.satisfied}
    if isinstance(event, Complaint.ComplaintReopened):
        return {"outcome": None, "resolved_at": None, "closed_at": None, "feedback_satisfied": None}
    if isinstance(event, Complaint.ComplaintClosed):
        return {"closed_at": at}
    if isinstance(event, Complaint.ComplaintWithdrawn):
        return {"withdrawn_at": at}
    if isinstance(event, Complaint.FirRegistered):
        return {"fir_number": event.fir_number, "fir_registered_at": event.registered_at}
    if isinstance(event, Complaint.LegacyRecordImported):
        return {"legacy_reference": f"{event.source}:{event.reference}"}
    return {}


__all__ = ["event_changes", "lodged_fields"]
