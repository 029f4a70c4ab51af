"""Complainant notifications on the running app: the file gateway of the embedded default
and the staff query ``citizenNotifications``, over HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cms_graph.domain.values import Role
from tests.e2e.conftest import GraphQLClient, RunningServer, TokenMaker
from tests.factories import CNIC, NAME, NORMALISED_PHONE, PHONE

WAIT_LIMIT_SECONDS = 60

LODGE = """
mutation($input: LodgeComplaintInput!) {
  lodgeComplaint(input: $input) { trackingNumber userErrors { field message code } }
}
"""
FIND = "query($number: String!) { complaint(trackingNumber: $number) { id } }"
NOTIFICATIONS = """
query($id: ID!) {
  citizenNotifications(complaintId: $id) {
    complaintId version step channel language status attempts createdAt sentAt error
  }
}
"""


def lodge(graphql: GraphQLClient) -> str:
    values = {
        "channel": "WEB_PORTAL",
        "category": "BRIBERY",
        "description": "The duty officer asked for money to record my statement.",
        "districtId": "pb_lahore",
        "stationId": "pb_lahore-c1-ps1",
        "language": "UR",
        "complainant": {"name": NAME, "cnic": CNIC, "phone": PHONE},
    }
    payload = graphql.data(LODGE, {"input": values})["lodgeComplaint"]
    assert payload["userErrors"] == [], payload["userErrors"]
    number: str = payload["trackingNumber"]
    return number


def wait_for_messages(path: Path, count: int) -> list[dict[str, Any]]:
    """Read the file gateway's messages once ``count`` are there, or after the wait limit."""
    for _ in range(WAIT_LIMIT_SECONDS * 10):
        if path.exists() and len(path.read_text(encoding="utf-8").splitlines()) >= count:
            break
        time.sleep(0.1)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_lodging_writes_urdu_sms_to_file(
    server: RunningServer, graphql: GraphQLClient, tokens: TokenMaker
) -> None:
    number = lodge(graphql)
    cell = tokens(Role.COMPLAINT_CELL, "pb")
    complaint_id = graphql.data(FIND, {"number": number}, token=cell)["complaint"]["id"]

    (message,) = wait_for_messages(server.settings.sent_messages_path, 1)
    assert message["to"] == NORMALISED_PHONE
    assert message["channel"] == "SMS"
    assert message["language"] == "UR"
    assert number in message["text"]
    assert "آپ کی شکایت درج کر لی گئی ہے" in message["text"]

    sdpo = tokens(Role.SDPO, "pb_lahore-c1")
    (row,) = graphql.data(NOTIFICATIONS, {"id": complaint_id}, token=sdpo)["citizenNotifications"]
    assert row["complaintId"] == complaint_id
    assert row["step"] == "LODGED"
    assert row["channel"] == "SMS"
    assert row["language"] == "UR"
    assert row["status"] == "SENT"
    assert row["attempts"] == 1
    assert row["sentAt"] is not None
    assert row["error"] is None


def test_notifications_scoped_to_staff(
    server: RunningServer, graphql: GraphQLClient, tokens: TokenMaker
) -> None:
    number = lodge(graphql)
    cell = tokens(Role.COMPLAINT_CELL, "pb")
    complaint_id = graphql.data(FIND, {"number": number}, token=cell)["complaint"]["id"]

    other_circle = tokens(Role.SDPO, "pb_lahore-c2")
    hidden = graphql.data(NOTIFICATIONS, {"id": complaint_id}, token=other_circle)
    anonymous = graphql.execute(NOTIFICATIONS, {"id": complaint_id})

    assert hidden["citizenNotifications"] == []
    assert [error["extensions"]["code"] for error in anonymous["errors"]] == ["UNAUTHENTICATED"]
