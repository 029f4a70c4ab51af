"""``matches_filter``: the ComplaintFilter of complaintEvents, applied to one complaint."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from cms_graph.application.queries import ComplaintFilter
from cms_graph.application.subscriptions import matches_filter
from cms_graph.application.views import ComplaintRecord

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CIRCLE_PATH = "/pb/pb-rgn-lahore/pb_lahore/pb_lahore-c1/"
RECORD = ComplaintRecord(
    id=uuid4(),
    tracking_number="LHR-AAAA-AAAA",
    status="ACKNOWLEDGED",
    category="BRIBERY",
    channel="WEB_PORTAL",
    description="The duty officer asked for money.",
    language="UR",
    district_id="pb_lahore",
    station_id="pb_lahore-c1-ps1",
    unit_id="pb_lahore-c1",
    unit_path=CIRCLE_PATH,
    assigned_officer_id=None,
    escalation_level=1,
    incident_at=None,
    lodged_at=NOW - timedelta(days=2),
    acknowledged_at=NOW - timedelta(days=1),
    resolved_at=None,
    closed_at=None,
    withdrawn_at=None,
    due_at=NOW - timedelta(hours=1),
    outcome=None,
    feedback_satisfied=None,
    complainant_sealed=b"",
    phone_digest="",
    version=3,
    holder_rank="SDPO",
    deadline_step="REPLY",
    fir_number=None,
    fir_registered_at=None,
)


@pytest.mark.parametrize(
    ("criteria", "unit_path", "expected"),
    [
        (ComplaintFilter(), None, True),
        (ComplaintFilter(statuses=("ACKNOWLEDGED", "ASSIGNED")), None, True),
        (ComplaintFilter(statuses=("LODGED",)), None, False),
        (ComplaintFilter(categories=("BRIBERY",)), None, True),
        (ComplaintFilter(categories=("ILLEGAL_DETENTION",)), None, False),
        (ComplaintFilter(channels=("FRONT_DESK",)), None, False),
        (ComplaintFilter(district_id="pb_lahore"), None, True),
        (ComplaintFilter(district_id="pb_multan"), None, False),
        (ComplaintFilter(unit_id="pb_lahore"), "/pb/pb-rgn-lahore/pb_lahore/", True),
        (
            ComplaintFilter(unit_id="pb_lahore-c2"),
            "/pb/pb-rgn-lahore/pb_lahore/pb_lahore-c2/",
            False,
        ),
        (ComplaintFilter(escalation_level=1), None, True),
        (ComplaintFilter(escalation_level=0), None, False),
        (ComplaintFilter(lodged_after=NOW - timedelta(days=3)), None, True),
        (ComplaintFilter(lodged_after=NOW - timedelta(days=1)), None, False),
        (ComplaintFilter(lodged_before=NOW), None, True),
        (ComplaintFilter(lodged_before=NOW - timedelta(days=2)), None, False),
        (ComplaintFilter(overdue=True), None, True),
        (ComplaintFilter(overdue=False), None, False),
    ],
)
def test_filter_condition(criteria: ComplaintFilter, unit_path: str | None, expected: bool) -> None:
    assert matches_filter(RECORD, criteria, unit_path, NOW) is expected


def test_filter_closed_never_overdue() -> None:
    closed = replace(RECORD, status="CLOSED")

    assert matches_filter(closed, ComplaintFilter(overdue=True), None, NOW) is False
    assert matches_filter(closed, ComplaintFilter(overdue=False), None, NOW) is True


def test_filter_needs_every_condition() -> None:
    criteria = ComplaintFilter(statuses=("ACKNOWLEDGED",), district_id="pb_multan")

    assert matches_filter(RECORD, criteria, None, NOW) is False
