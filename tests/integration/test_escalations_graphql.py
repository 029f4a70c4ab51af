"""The escalations query and the deadline fields of Complaint, through the schema."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cms_graph.adapters.clock import ManualClock
from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container, build_container
from cms_graph.domain.values import ComplaintCategory, Role
from cms_graph.graphql.context import Context
from cms_graph.graphql.schema import build_schema
from tests.conftest import make_settings
from tests.factories import LAHORE_DPO, MULTAN_DPO, lodge_command

START = datetime(2026, 6, 1, 8, tzinfo=UTC)
QUERY = """
query($filter: EscalationFilter) {
  escalations(filter: $filter, first: 10) {
    totalCount
    edges { node { trackingNumber deadline toRank toUnitId fromLevel toLevel actor { kind userId } } }
  }
}
"""


@pytest.fixture
def container(tmp_path: Path) -> Iterator[tuple[Container, ManualClock]]:
    clock = ManualClock(START)
    built = build_container(make_settings(tmp_path), clock=clock)
    yield built, clock
    built.close()


def run(
    container: Container, principal: Principal, query: str, variables: dict[str, Any] | None = None
) -> Any:
    context = Context(container, None, _principal=principal)
    result = asyncio.run(
        build_schema().execute(query, variable_values=variables, context_value=context)
    )
    assert result.errors is None, result.errors
    return result.data


def test_escalations_listed_for_new_holder(container: tuple[Container, ManualClock]) -> None:
    built, clock = container
    result = built.complaints.lodge(
        Principal.anonymous(), lodge_command(category=ComplaintCategory.BRIBERY)
    )
    built.catch_up_all()
    clock.advance(timedelta(hours=8))
    built.escalations.sweep()
    built.catch_up_all()

    data = run(
        built, LAHORE_DPO, QUERY, {"filter": {"automatic": True, "deadline": ["FIRST_CONTACT"]}}
    )
    assert data["escalations"]["totalCount"] == 1
    node = data["escalations"]["edges"][0]["node"]
    assert node["trackingNumber"] == result.tracking_number
    assert node["toRank"] == "DISTRICT"
    assert node["toUnitId"] == "pb_lahore"
    assert node["actor"] == {"kind": "SYSTEM", "userId": "system"}

    assert run(built, MULTAN_DPO, QUERY)["escalations"]["totalCount"] == 0
    manual_only = run(built, LAHORE_DPO, QUERY, {"filter": {"automatic": False}})
    assert manual_only["escalations"]["totalCount"] == 0


def test_complaint_deadline_fields(container: tuple[Container, ManualClock]) -> None:
    built, clock = container
    result = built.complaints.lodge(
        Principal.anonymous(), lodge_command(category=ComplaintCategory.BRIBERY)
    )
    query = "query($n: String) { complaint(trackingNumber: $n) { dueAt overdue deadlineStep holderRank } }"
    sdpo = Principal("sdpo", Role.SDPO, "pb_lahore-c1")
    before = run(built, sdpo, query, {"n": result.tracking_number})["complaint"]
    assert before["dueAt"] == (START + timedelta(hours=8)).isoformat()
    assert before["overdue"] is False
    assert before["deadlineStep"] == "FIRST_CONTACT"
    assert before["holderRank"] == "CIRCLE"
    clock.advance(timedelta(hours=8, seconds=1))
    assert run(built, sdpo, query, {"n": result.tracking_number})["complaint"]["overdue"] is True


def test_case_history_and_audit_trail(container: tuple[Container, ManualClock]) -> None:
    built, clock = container
    result = built.complaints.lodge(Principal.anonymous(), lodge_command())
    sdpo = Principal("sdpo", Role.SDPO, "pb_lahore-c1")
    built.complaints.acknowledge(sdpo, result.complaint_id, "called")
    built.complaints.escalate(sdpo, result.complaint_id, "No reply from the station")
    built.catch_up_all()
    integrity = Principal("integrity-1", Role.INTEGRITY_UNIT, "pb")
    query = """
    query($id: ID!) {
      caseHistory(complaintId: $id, version: 1) {
        complaint { status version }
        events { eventType }
      }
      latest: caseHistory(complaintId: $id) {
        complaint { status }
        events { eventType reason }
        changesSince(version: 1) { field before after }
      }
      auditTrail(first: 5) { edges { node { recordType actor { userId } } } }
    }
    """
    data = run(built, integrity, query, {"id": str(result.complaint_id)})
    assert data["caseHistory"]["complaint"] == {"status": "LODGED", "version": 1}
    assert [e["eventType"] for e in data["caseHistory"]["events"]] == ["ComplaintLodged"]
    assert {"field": "status", "before": "LODGED", "after": "ACKNOWLEDGED"} in data["latest"][
        "changesSince"
    ]
    assert data["latest"]["events"][-1] == {
        "eventType": "ComplaintEscalated",
        "reason": "No reply from the station",
    }
    assert [edge["node"]["recordType"] for edge in data["auditTrail"]["edges"]] == [
        "ComplaintLodged",
        "ComplaintAcknowledged",
        "ComplaintEscalated",
    ]
