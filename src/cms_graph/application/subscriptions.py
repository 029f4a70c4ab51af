"""Who may subscribe to what, and what each subscriber receives per event.

The rules are the queries' rules. Staff follow a complaint their unit may see. A citizen
follows their own complaint with its tracking number and phone, and receives only the
public view. Integrators receive every complaint event in their unit's scope, limited to
the fields their active integration allows. The complaint data comes from the complaint
projection, caught up to the event's position first. It is the complaint at the time
when the item is built, so a replayed item can show later changes than its event.

Every method here blocks on the database; the GraphQL layer runs them in a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from cms_graph.adapters.clock import Clock
from cms_graph.application import field_limits
from cms_graph.application.citizen_texts import PUBLIC_EVENT_TYPES
from cms_graph.application.event_feed import FeedItem
from cms_graph.application.identity import PROVINCE_WIDE_ROLES, AccessPolicy, Principal
from cms_graph.application.integration_directory import (
    ActiveIntegration,
    IntegrationDirectory,
    IntegrationKind,
)
from cms_graph.application.queries import ComplaintFilter, ComplaintQueries
from cms_graph.application.views import ComplaintRecord, TimelineRecord
from cms_graph.domain.errors import Forbidden, NotFound
from cms_graph.domain.values import OPEN_STATUSES, Role

EVENTS_OPERATION = "complaintEvents"
UPDATES_OPERATION = "complaintUpdated"
EVENT_STREAM_ROLES = PROVINCE_WIDE_ROLES | {Role.INTEGRATOR}
# Integrators receive complaint data only through complaintEvents, limited to the fields
# of their integration, so they cannot follow a whole complaint by id.
COMPLAINT_WATCH_ROLES = frozenset(Role) - {Role.INTEGRATOR}


@dataclass(frozen=True)
class ComplaintWatch:
    """An authorised ``complaintUpdated`` subscription on one complaint."""

    complaint_id: UUID
    principal: Principal
    # True for a complainant who proved ownership: they see only the public view.
    citizen: bool

    def wants(self, item: FeedItem) -> bool:
        if item.complaint_id != self.complaint_id:
            return False
        return not self.citizen or item.event_type in PUBLIC_EVENT_TYPES


@dataclass(frozen=True)
class ComplaintChange:
    """One item of ``complaintUpdated``: the event, and the complaint after it."""

    item: FeedItem
    record: ComplaintRecord
    # The public timeline, for citizens only; staff read the full one through the API.
    public_timeline: list[TimelineRecord] | None


@dataclass(frozen=True)
class EventStream:
    """An authorised ``complaintEvents`` subscription."""

    principal: Principal
    filter: ComplaintFilter
    # The unit path the subscriber may see, or None for the whole province.
    scope: str | None
    # Fields for oversight roles; None for integrators, whose fields are read per event.
    fixed_fields: tuple[str, ...] | None


@dataclass(frozen=True)
class StreamedEvent:
    """One item of ``complaintEvents``: the envelope and the allowed complaint fields."""

    item: FeedItem
    fields: dict[str, Any]


def matches_filter(
    record: ComplaintRecord, criteria: ComplaintFilter, unit_path: str | None, now: datetime
) -> bool:
    """Return whether the complaint meets every condition of the filter.

    ``unit_path`` is the path of ``criteria.unit_id``, resolved by the caller.
    """
    checks = (
        not criteria.statuses or record.status in criteria.statuses,
        not criteria.categories or record.category in criteria.categories,
        not criteria.channels or record.channel in criteria.channels,
        criteria.district_id is None or record.district_id == criteria.district_id,
        unit_path is None or record.unit_path.startswith(unit_path),
        criteria.escalation_level is None or record.escalation_level == criteria.escalation_level,
        criteria.lodged_after is None or record.lodged_at >= criteria.lodged_after,
        criteria.lodged_before is None or record.lodged_at < criteria.lodged_before,
    )
    if not all(checks):
        return False
    if criteria.overdue is not None:
        open_statuses = {status.value for status in OPEN_STATUSES}
        overdue = (
            record.due_at is not None and record.due_at < now and record.status in open_statuses
        )
        return overdue == criteria.overdue
    return True


class ComplaintSubscriptions:
    def __init__(
        self,
        queries: ComplaintQueries,
        access: AccessPolicy,
        catch_up: Callable[[int], object],
        directory: Callable[[], IntegrationDirectory],
        clock: Clock,
    ) -> None:
        self.queries = queries
        self.access = access
        # Brings the complaint projection up to a position (ProjectionRunner.catch_up).
        self._catch_up = catch_up
        # Read per call, so a directory swapped into the container is used at once.
        self._directory = directory
        self.clock = clock

    def watch_as_staff(self, principal: Principal, complaint_id: UUID) -> ComplaintWatch:
        """Authorise a staff user on a complaint their unit may see.

        Raises Unauthenticated without a token, Forbidden for an integrator, and NotFound
        for a complaint that does not exist or is outside the caller's units (recorded as
        a denied access).
        """
        self.access.require_role(principal, COMPLAINT_WATCH_ROLES, "follow a complaint by id")
        if self.queries.get(principal, complaint_id) is None:
            raise NotFound(
                # The caller sent a global id, so the message names the argument instead
                # of repeating the internal key.
                "the complaint in complaintId was not found or is outside your units",
                field=("complaintId",),
            )
        return ComplaintWatch(complaint_id, principal, citizen=False)

    def watch_as_complainant(
        self, principal: Principal, tracking_number: str, phone: str
    ) -> ComplaintWatch:
        """Authorise a complainant by tracking number and phone, as ``trackComplaint`` does.

        Raises NotFound when they do not match (recorded as a denied access).
        """
        record = self.queries.track(tracking_number, phone, principal)
        return ComplaintWatch(record.id, principal, citizen=True)

    def change(self, watch: ComplaintWatch, item: FeedItem) -> ComplaintChange:
        """Return the complaint after ``item`` as the watcher may see it.

        Raises Forbidden when the complaint has moved out of a staff watcher's sight.
        """
        self._catch_up(item.position)
        record = self.queries.get_record(watch.complaint_id)
        if watch.citizen:
            timeline = self.queries.timelines([record.id], include_internal=False)[record.id]
            return ComplaintChange(item, record, timeline)
        if not self.access.can_see_complaint(
            watch.principal, record.unit_path, record.assigned_officer_id
        ):
            reason = "the complaint moved outside the subscriber's units"
            self.access.deny(watch.principal, record.id, UPDATES_OPERATION, reason)
            raise Forbidden(
                f"complaint {record.tracking_number} moved outside your units;"
                " the subscription has ended"
            )
        return ComplaintChange(item, record, None)

    def open_event_stream(self, principal: Principal, criteria: ComplaintFilter) -> EventStream:
        """Authorise ``complaintEvents`` for an integrator or a province-wide role.

        Raises Unauthenticated without a token, Forbidden for other roles or for an
        integrator without an active integration of kind SUBSCRIPTION, and InvalidInput
        for a filter naming an unknown unit.
        """
        self.access.require_role(principal, EVENT_STREAM_ROLES, "subscribe to complaint events")
        if criteria.unit_id is not None:
            self.access.units.path(criteria.unit_id)
        scope = self.access.scope_path(principal, for_integration=True)
        if principal.role is Role.INTEGRATOR:
            self._integration(principal)
            return EventStream(principal, criteria, scope, fixed_fields=None)
        return EventStream(principal, criteria, scope, fixed_fields=field_limits.COMPLAINT_FIELDS)

    def streamed_event(self, stream: EventStream, item: FeedItem) -> StreamedEvent | None:
        """Return the item for this subscriber, or None when it does not qualify.

        An integrator's integration is looked up for every event, so a revoked one ends
        the stream at its next event with Forbidden.
        """
        allowed = stream.fixed_fields
        if allowed is None:
            integration = self._integration(stream.principal)
            if not integration.wants(item.event_type):
                return None
            allowed = integration.allowed_fields

        self._catch_up(item.position)
        record = self.queries.get_record(item.complaint_id)
        if stream.scope is not None and not (
            record.unit_path.startswith(stream.scope)
            or record.assigned_officer_id == stream.principal.user_id
        ):
            return None
        unit_path = self.access.units.path(stream.filter.unit_id) if stream.filter.unit_id else None
        if not matches_filter(record, stream.filter, unit_path, self.clock.now()):
            return None

        complainant = None
        if field_limits.includes_personal_data(allowed):
            complainant = self.queries.vault.open(record.id, record.complainant_sealed)
            if complainant is not None:
                self.queries.audit.personal_data_viewed(
                    stream.principal, record.id, EVENTS_OPERATION
                )
        values = field_limits.complaint_fields(record, complainant)
        return StreamedEvent(item, field_limits.limit(values, allowed))

    def _integration(self, principal: Principal) -> ActiveIntegration:
        assert principal.user_id is not None
        integration = self._directory().active_for_principal(principal.user_id)
        if integration is None or integration.kind != IntegrationKind.SUBSCRIPTION:
            reason = "no active integration of kind SUBSCRIPTION"
            self.access.deny(principal, None, EVENTS_OPERATION, reason)
            raise Forbidden(
                f"integrator {principal.user_id} has no active integration of kind"
                " SUBSCRIPTION; an approved subscription integration is needed"
            )
        return integration


__all__ = [
    "ComplaintChange",
    "ComplaintSubscriptions",
    "ComplaintWatch",
    "EventStream",
    "StreamedEvent",
    "matches_filter",
]
