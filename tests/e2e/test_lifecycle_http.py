"""The complaint lifecycle over real HTTP, against the app served by uvicorn.

Every test runs on SQLite and on PostgreSQL. Reads that follow a mutation run at once,
without waiting, because the API promises read-your-writes: a mutation returns only after
the read model contains its events.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from cms_graph.adapters.tokens import TokenService
from cms_graph.domain.tracking_number import new_tracking_number
from cms_graph.domain.values import Role
from tests.e2e.conftest import GRAPHQL_RESPONSE_MEDIA_TYPE, GraphQLClient, TokenMaker
from tests.factories import CNIC, NAME, NORMALISED_PHONE, PHONE

COMPLAINT_FIELDS = """
    id trackingNumber status category channel description districtId stationId unitId
    assignedOfficerId escalationLevel lodgedAt acknowledgedAt dueAt overdue resolvedAt
    closedAt withdrawnAt outcome feedbackSatisfied version
"""
TIMELINE_FIELDS = """
    timeline { version eventType internal reason details actor { kind userId role unitId } }
"""
USER_ERROR_FIELDS = "userErrors { field message code }"
PUBLIC_STATUS_FIELDS = """
    trackingNumber status statusText { en ur } category language lodgedAt nextDeadline
    timeline { eventType occurredAt text { en ur } }
"""

COMPLAINT_BY_ID = (
    f"query($id: ID!) {{ complaint(id: $id) {{ {COMPLAINT_FIELDS} {TIMELINE_FIELDS} }} }}"
)
COMPLAINT_BY_TRACKING_NUMBER = (
    f"query($number: String!) {{ complaint(trackingNumber: $number) {{ {COMPLAINT_FIELDS} }} }}"
)
NODE = "query($id: ID!) { node(id: $id) { id ... on Complaint { trackingNumber status } } }"
COMPLAINTS = """
query($filter: ComplaintFilter, $first: Int, $after: String, $last: Int, $before: String) {
  complaints(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id trackingNumber status lodgedAt version } }
  }
}
"""
TRACK = f"""
query($number: String!, $phone: String!) {{
  trackComplaint(trackingNumber: $number, phone: $phone) {{ {PUBLIC_STATUS_FIELDS} }}
}}
"""
COMPLAINANT = """
query($id: ID!) { complaint(id: $id) { complainant { name cnic phone address masked } } }
"""

# Units of the demo hierarchy. Lodging at station pb_lahore-c1-ps1 files the complaint
# with its circle, pb_lahore-c1, and complaints are marked to a circle or higher. OFFICER,
# an SHO of the station, can read a complaint only once it is assigned to them.
STATION = "pb_lahore-c1-ps1"
CIRCLE = "pb_lahore-c1"
OFFICER = "inspector-7"
NOT_A_JWT = "not-a-jwt"


def mutation_document(name: str, extra_fields: str = "") -> str:
    """Return the document of mutation ``name`` with its ``input`` as the variable."""
    input_type = name[0].upper() + name[1:] + "Input"
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) {{"
        f" complaint {{ {COMPLAINT_FIELDS} }} {USER_ERROR_FIELDS} {extra_fields} }} }}"
    )


def lodge_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "channel": "WEB_PORTAL",
        "category": "BRIBERY",
        "description": "The duty officer asked for money to record my statement.",
        "districtId": "pb_lahore",
        "stationId": STATION,
        "language": "UR",
        "complainant": {"name": NAME, "cnic": CNIC, "phone": PHONE, "address": "House 1, Lahore"},
    }
    values.update(overrides)
    return values


class Desk:
    """Lifecycle steps over HTTP, as a complainant and as staff of the demo units."""

    def __init__(self, graphql: GraphQLClient, tokens: TokenMaker) -> None:
        self.graphql = graphql
        self.tokens = tokens
        self.sdpo = tokens(Role.SDPO, CIRCLE, subject="sdpo-lahore-c1")
        self.cell = tokens(Role.COMPLAINT_CELL, "pb", subject="cell-1")

    def mutate(
        self, name: str, values: dict[str, Any], *, token: str | None = None, extra: str = ""
    ) -> dict[str, Any]:
        """Run mutation ``name`` and return its payload; fail on GraphQL errors."""
        data = self.graphql.data(mutation_document(name, extra), {"input": values}, token=token)
        payload: dict[str, Any] = data[name]
        return payload

    def succeed(
        self, name: str, values: dict[str, Any], *, token: str | None = None
    ) -> dict[str, Any]:
        """Run mutation ``name``, require no user errors, and return its payload."""
        payload = self.mutate(name, values, token=token)
        assert payload["userErrors"] == [], payload["userErrors"]
        return payload

    def lodge(self, **overrides: Any) -> str:
        """Lodge a complaint anonymously on the web portal and return its tracking number."""
        payload = self.mutate("lodgeComplaint", lodge_input(**overrides), extra="trackingNumber")
        assert payload["userErrors"] == [], payload["userErrors"]
        tracking_number: str = payload["trackingNumber"]
        return tracking_number

    def lodge_with_id(self, **overrides: Any) -> tuple[str, str]:
        """Lodge a complaint and return its tracking number and global id."""
        tracking_number = self.lodge(**overrides)
        complaint = self.find(tracking_number, self.cell)
        assert complaint is not None
        return tracking_number, complaint["id"]

    def find(self, tracking_number: str, token: str) -> dict[str, Any] | None:
        variables = {"number": tracking_number}
        data = self.graphql.data(COMPLAINT_BY_TRACKING_NUMBER, variables, token=token)
        complaint: dict[str, Any] | None = data["complaint"]
        return complaint

    def get(self, complaint_id: str, token: str) -> dict[str, Any] | None:
        data = self.graphql.data(COMPLAINT_BY_ID, {"id": complaint_id}, token=token)
        complaint: dict[str, Any] | None = data["complaint"]
        return complaint

    def listing(self, token: str, **variables: Any) -> dict[str, Any]:
        data = self.graphql.data(COMPLAINTS, variables, token=token)
        connection: dict[str, Any] = data["complaints"]
        return connection

    def listed_numbers(self, token: str, **variables: Any) -> list[str]:
        edges = self.listing(token, **variables)["edges"]
        return [edge["node"]["trackingNumber"] for edge in edges]

    def acknowledge(self, complaint_id: str) -> dict[str, Any]:
        return self.succeed(
            "acknowledgeComplaint",
            {"complaintId": complaint_id, "note": "Phoned the complainant."},
            token=self.sdpo,
        )

    def assign(self, complaint_id: str) -> dict[str, Any]:
        return self.succeed(
            "assignComplaint",
            {"complaintId": complaint_id, "officerId": OFFICER, "unitId": CIRCLE},
            token=self.sdpo,
        )

    def resolve(self, complaint_id: str, *, token: str | None = None) -> dict[str, Any]:
        return self.succeed(
            "resolveComplaint",
            {
                "complaintId": complaint_id,
                "outcome": "RELIEF_GRANTED",
                "summary": "The statement was recorded and the officer was warned.",
            },
            token=token or self.sdpo,
        )

    def feedback(self, tracking_number: str) -> dict[str, Any]:
        """Record the complainant's positive feedback on the resolution."""
        return self.succeed(
            "recordFeedback",
            {"trackingNumber": tracking_number, "phone": PHONE, "satisfied": True},
        )

    def close(self, complaint_id: str, *, token: str | None = None) -> dict[str, Any]:
        return self.succeed(
            "closeComplaint",
            {"complaintId": complaint_id, "reason": "Complainant satisfied."},
            token=token or self.sdpo,
        )

    def withdraw(self, tracking_number: str) -> dict[str, Any]:
        return self.succeed(
            "withdrawComplaint",
            {"trackingNumber": tracking_number, "phone": PHONE, "reason": "Settled at home."},
        )

    def resolved(self) -> tuple[str, str]:
        """Lodge a complaint and take it to RESOLVED; return its tracking number and id."""
        tracking_number, complaint_id = self.lodge_with_id()
        self.acknowledge(complaint_id)
        self.assign(complaint_id)
        self.resolve(complaint_id)
        return tracking_number, complaint_id

    def closed(self) -> tuple[str, str]:
        """Lodge a complaint and take it to CLOSED; return its tracking number and id."""
        tracking_number, complaint_id = self.resolved()
        self.feedback(tracking_number)
        self.close(complaint_id)
        return tracking_number, complaint_id


@pytest.fixture
def desk(graphql: GraphQLClient, tokens: TokenMaker) -> Desk:
    return Desk(graphql, tokens)


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def listed_with_status(desk: Desk, status: str) -> list[str]:
    """Return the tracking numbers that a status filter lists, as the complaint cell."""
    return desk.listed_numbers(desk.cell, filter={"status": [status]})


# Lodging.


def test_lodge_anonymous_web_portal(desk: Desk) -> None:
    payload = desk.mutate(
        "lodgeComplaint", lodge_input(), extra="trackingNumber trackedComplaint { status }"
    )

    assert payload["userErrors"] == []
    assert payload["complaint"] is None  # an anonymous caller gets no staff view
    assert payload["trackedComplaint"] == {"status": "LODGED"}
    complaint = desk.find(payload["trackingNumber"], desk.sdpo)
    assert complaint is not None
    assert complaint["status"] == "LODGED"
    assert complaint["channel"] == "WEB_PORTAL"
    assert complaint["districtId"] == "pb_lahore"
    assert complaint["stationId"] == STATION
    assert complaint["unitId"] == CIRCLE
    assert complaint["escalationLevel"] == 0
    assert complaint["version"] == 1


def test_lodge_front_desk_with_token(desk: Desk) -> None:
    front_desk = desk.tokens(Role.FRONT_DESK, STATION, subject="front-desk-9")

    payload = desk.mutate(
        "lodgeComplaint",
        lodge_input(channel="FRONT_DESK"),
        token=front_desk,
        extra="trackingNumber",
    )

    assert payload["userErrors"] == []
    assert payload["trackingNumber"] is not None
    found = desk.find(payload["trackingNumber"], desk.sdpo)
    assert found is not None
    assert found["channel"] == "FRONT_DESK"
    assert found["status"] == "LODGED"
    complaint = desk.get(found["id"], desk.sdpo)
    assert complaint is not None
    lodged = complaint["timeline"][0]
    assert lodged["eventType"] == "ComplaintLodged"
    assert lodged["actor"] == {
        "kind": "STAFF",
        "userId": "front-desk-9",
        "role": "FRONT_DESK",
        "unitId": STATION,
    }


def test_lodge_front_desk_without_token(desk: Desk) -> None:
    body = desk.graphql.execute(
        mutation_document("lodgeComplaint"), {"input": lodge_input(channel="FRONT_DESK")}
    )

    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == (
        "this operation needs a staff token in the Authorization header"
    )
    assert desk.listing(desk.cell)["totalCount"] == 0


def test_lodge_invalid_token_not_anonymous(desk: Desk) -> None:
    body = desk.graphql.execute(
        mutation_document("lodgeComplaint"), {"input": lodge_input()}, token=NOT_A_JWT
    )

    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert desk.listing(desk.cell)["totalCount"] == 0


@pytest.mark.parametrize(
    ("complainant", "field", "message"),
    [
        (
            {"cnic": "35202-1234567-0"},
            ["input", "complainant", "cnic"],
            "cnic is invalid: the last digit of a CNIC is never 0",
        ),
        (
            {"cnic": "3520212345"},
            ["input", "complainant", "cnic"],
            "cnic has 10 digits, but a CNIC has 13: write it as #####-#######-# or as 13 digits",
        ),
        (
            {"phone": "0423-1234567"},
            ["input", "complainant", "phone"],
            "phone is not a Pakistani mobile number (11 digits): expected 03XX-XXXXXXX or"
            " +92 3XX XXXXXXX, that is 11 digits starting with 03, or 92 followed by 10 digits"
            " starting with 3",
        ),
    ],
    ids=["cnic-last-digit", "cnic-short", "phone-landline"],
)
def test_lodge_bad_personal_data(
    desk: Desk, complainant: dict[str, str], field: list[str], message: str
) -> None:
    details = lodge_input()["complainant"] | complainant

    payload = desk.mutate("lodgeComplaint", lodge_input(complainant=details))

    assert payload["complaint"] is None
    assert payload["userErrors"] == [{"field": field, "message": message, "code": "BAD_USER_INPUT"}]
    assert desk.listing(desk.cell)["totalCount"] == 0


def test_lodge_bad_district(desk: Desk) -> None:
    payload = desk.mutate("lodgeComplaint", lodge_input(districtId="pb_atlantis", stationId=None))

    assert payload["complaint"] is None
    assert payload["userErrors"] == [
        {
            "field": ["input", "districtId"],
            "message": "districtId 'pb_atlantis' is not a district; use the id of one of the"
            " 36 configured districts, such as pb_lahore",
            "code": "BAD_USER_INPUT",
        }
    ]


# Each step of the lifecycle, read back at once.


def test_acknowledge_read_back(desk: Desk) -> None:
    tracking_number, complaint_id = desk.lodge_with_id()

    payload = desk.acknowledge(complaint_id)

    assert payload["complaint"]["status"] == "ACKNOWLEDGED"
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["status"] == "ACKNOWLEDGED"
    assert complaint["acknowledgedAt"] is not None
    assert complaint["version"] == 2
    assert tracking_number in listed_with_status(desk, "ACKNOWLEDGED")
    assert tracking_number not in listed_with_status(desk, "LODGED")


def test_assign_read_back(desk: Desk) -> None:
    tracking_number, complaint_id = desk.lodge_with_id()
    desk.acknowledge(complaint_id)

    payload = desk.assign(complaint_id)

    assert payload["complaint"]["assignedOfficerId"] == OFFICER
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["status"] == "ASSIGNED"
    assert complaint["assignedOfficerId"] == OFFICER
    assert complaint["unitId"] == CIRCLE
    assert tracking_number in listed_with_status(desk, "ASSIGNED")


def test_add_note_read_back(desk: Desk) -> None:
    _, complaint_id = desk.lodge_with_id()

    payload = desk.succeed(
        "addNote",
        {"complaintId": complaint_id, "text": "Station diary checked.", "internal": True},
        token=desk.sdpo,
    )

    assert payload["complaint"]["version"] == 2
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    note = complaint["timeline"][-1]
    assert note["eventType"] == "NoteAdded"
    assert note["internal"] is True
    assert note["details"]["text"] == "Station diary checked."
    assert complaint["status"] == "LODGED"


def test_escalate_read_back(desk: Desk) -> None:
    tracking_number, complaint_id = desk.lodge_with_id()
    lahore_dpo = desk.tokens(Role.DPO, "pb_lahore")

    desk.succeed(
        "escalateComplaint",
        {"complaintId": complaint_id, "reason": "No contact for two days."},
        token=desk.sdpo,
    )

    complaint = desk.get(complaint_id, lahore_dpo)
    assert complaint is not None
    assert complaint["escalationLevel"] == 1
    assert complaint["unitId"] == "pb_lahore"
    assert complaint["status"] == "LODGED"
    escalated = desk.listed_numbers(lahore_dpo, filter={"escalationLevel": 1})
    assert escalated == [tracking_number]
    assert desk.get(complaint_id, desk.sdpo) is None  # now above the SDPO's circle


def test_resolve_read_back(desk: Desk) -> None:
    tracking_number, complaint_id = desk.lodge_with_id()
    desk.acknowledge(complaint_id)
    desk.assign(complaint_id)

    payload = desk.resolve(complaint_id)

    assert payload["complaint"]["status"] == "RESOLVED"
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["status"] == "RESOLVED"
    assert complaint["outcome"] == "RELIEF_GRANTED"
    assert complaint["resolvedAt"] is not None
    assert tracking_number in listed_with_status(desk, "RESOLVED")


def test_resolve_by_assigned_officer(desk: Desk) -> None:
    _, complaint_id = desk.lodge_with_id()
    desk.acknowledge(complaint_id)
    desk.assign(complaint_id)
    officer = desk.tokens(Role.SHO, STATION, subject=OFFICER)

    payload = desk.succeed(
        "resolveComplaint",
        {"complaintId": complaint_id, "outcome": "FIR_REGISTERED", "summary": "FIR 12/2026."},
        token=officer,
    )

    assert payload["complaint"]["status"] == "RESOLVED"
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["outcome"] == "FIR_REGISTERED"


def test_feedback_read_back(desk: Desk) -> None:
    tracking_number, complaint_id = desk.resolved()

    payload = desk.mutate(
        "recordFeedback",
        {"trackingNumber": tracking_number, "phone": PHONE, "satisfied": True, "comment": "Thanks"},
        extra="trackedComplaint { status }",
    )

    assert payload["userErrors"] == []
    assert payload["complaint"] is None  # the complainant has no staff view
    assert payload["trackedComplaint"] == {"status": "RESOLVED"}
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["feedbackSatisfied"] is True
    assert complaint["timeline"][-1]["actor"]["kind"] == "COMPLAINANT"


def test_feedback_international_phone(desk: Desk) -> None:
    tracking_number, complaint_id = desk.resolved()

    desk.succeed(
        "recordFeedback",
        {"trackingNumber": tracking_number, "phone": "+92 300 1234567", "satisfied": True},
    )

    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["feedbackSatisfied"] is True


def test_feedback_negative_reopens_higher(desk: Desk) -> None:
    tracking_number, complaint_id = desk.resolved()
    lahore_dpo = desk.tokens(Role.DPO, "pb_lahore")

    payload = desk.mutate(
        "recordFeedback",
        {"trackingNumber": tracking_number, "phone": PHONE, "satisfied": False},
        extra="trackedComplaint { status }",
    )

    assert payload["userErrors"] == []
    assert payload["trackedComplaint"] == {"status": "REOPENED"}
    complaint = desk.get(complaint_id, lahore_dpo)
    assert complaint is not None
    assert complaint["status"] == "REOPENED"
    assert complaint["escalationLevel"] == 1
    assert complaint["unitId"] == "pb_lahore"
    assert [entry["eventType"] for entry in complaint["timeline"][-3:]] == [
        "FeedbackRecorded",
        "ComplaintReopened",
        "ComplaintEscalated",
    ]
    assert desk.get(complaint_id, desk.sdpo) is None  # out of the resolving circle's scope
    assert tracking_number in listed_with_status(desk, "REOPENED")


def test_close_read_back(desk: Desk) -> None:
    tracking_number, complaint_id = desk.resolved()
    desk.feedback(tracking_number)

    payload = desk.close(complaint_id)

    assert payload["complaint"]["status"] == "CLOSED"
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["status"] == "CLOSED"
    assert complaint["closedAt"] is not None
    assert tracking_number in listed_with_status(desk, "CLOSED")


def test_reopen_by_complainant(desk: Desk) -> None:
    tracking_number, complaint_id = desk.closed()

    payload = desk.mutate(
        "reopenComplaint",
        {"trackingNumber": tracking_number, "phone": PHONE, "reason": "The officer came back."},
        extra="trackedComplaint { status }",
    )

    assert payload["userErrors"] == []
    assert payload["trackedComplaint"] == {"status": "REOPENED"}
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["status"] == "REOPENED"
    assert complaint["closedAt"] is None
    assert complaint["outcome"] is None
    assert complaint["timeline"][-1]["actor"]["kind"] == "COMPLAINANT"
    assert tracking_number in listed_with_status(desk, "REOPENED")


def test_reopen_by_supervisor(desk: Desk) -> None:
    _, complaint_id = desk.closed()

    payload = desk.succeed(
        "reopenComplaint",
        {"complaintId": complaint_id, "reason": "Inquiry report was incomplete."},
        token=desk.sdpo,
    )

    assert payload["complaint"]["status"] == "REOPENED"
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["status"] == "REOPENED"
    reopened = complaint["timeline"][-1]
    assert reopened["eventType"] == "ComplaintReopened"
    assert reopened["actor"]["userId"] == "sdpo-lahore-c1"
    assert reopened["reason"] == "Inquiry report was incomplete."


def test_withdraw_read_back(desk: Desk) -> None:
    tracking_number, complaint_id = desk.lodge_with_id()

    payload = desk.withdraw(tracking_number)

    assert payload["complaint"] is None
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["status"] == "WITHDRAWN"
    assert complaint["withdrawnAt"] is not None
    assert tracking_number in listed_with_status(desk, "WITHDRAWN")


def test_lifecycle_end_to_end(desk: Desk) -> None:
    tracking_number, complaint_id = desk.lodge_with_id()
    lahore_dpo = desk.tokens(Role.DPO, "pb_lahore")
    desk.acknowledge(complaint_id)
    desk.assign(complaint_id)
    desk.succeed(
        "addNote", {"complaintId": complaint_id, "text": "Diary checked."}, token=desk.sdpo
    )
    desk.succeed(
        "escalateComplaint",
        {"complaintId": complaint_id, "reason": "Needs the DPO."},
        token=desk.sdpo,
    )
    desk.resolve(complaint_id, token=lahore_dpo)
    desk.feedback(tracking_number)
    desk.close(complaint_id, token=lahore_dpo)
    desk.succeed(
        "reopenComplaint",
        {"trackingNumber": tracking_number, "phone": PHONE, "reason": "He came back."},
    )
    desk.withdraw(tracking_number)

    complaint = desk.get(complaint_id, lahore_dpo)
    assert complaint is not None
    assert complaint["status"] == "WITHDRAWN"
    assert complaint["version"] == 10
    assert [entry["eventType"] for entry in complaint["timeline"]] == [
        "ComplaintLodged",
        "ComplaintAcknowledged",
        "ComplaintAssigned",
        "NoteAdded",
        "ComplaintEscalated",
        "ComplaintResolved",
        "FeedbackRecorded",
        "ComplaintClosed",
        "ComplaintReopened",
        "ComplaintWithdrawn",
    ]


# Rule violations: a user error, no event written.


def test_resolve_withdrawn_invalid(desk: Desk) -> None:
    tracking_number, complaint_id = desk.lodge_with_id()
    desk.withdraw(tracking_number)

    payload = desk.mutate(
        "resolveComplaint",
        {"complaintId": complaint_id, "outcome": "RELIEF_GRANTED", "summary": "Done."},
        token=desk.sdpo,
    )

    assert payload["complaint"] is None
    assert payload["userErrors"] == [
        {
            "field": None,
            "message": f"cannot resolve complaint {tracking_number}: its status is WITHDRAWN;"
            " allowed only when ACKNOWLEDGED, ASSIGNED, REOPENED",
            "code": "INVALID_TRANSITION",
        }
    ]
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["version"] == 2


def test_close_unresolved_invalid(desk: Desk) -> None:
    tracking_number, complaint_id = desk.lodge_with_id()
    desk.acknowledge(complaint_id)

    payload = desk.mutate("closeComplaint", {"complaintId": complaint_id}, token=desk.sdpo)

    assert payload["complaint"] is None
    assert payload["userErrors"] == [
        {
            "field": None,
            "message": f"cannot close complaint {tracking_number}: its status is ACKNOWLEDGED;"
            " allowed only when RESOLVED",
            "code": "INVALID_TRANSITION",
        }
    ]
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["status"] == "ACKNOWLEDGED"
    assert complaint["version"] == 2


def test_feedback_twice_invalid(desk: Desk) -> None:
    tracking_number, complaint_id = desk.resolved()
    desk.feedback(tracking_number)

    payload = desk.mutate(
        "recordFeedback", {"trackingNumber": tracking_number, "phone": PHONE, "satisfied": False}
    )

    assert payload["complaint"] is None
    assert payload["userErrors"] == [
        {
            "field": None,
            "message": f"cannot record feedback on complaint {tracking_number}: feedback on"
            " this resolution was already recorded",
            "code": "INVALID_TRANSITION",
        }
    ]
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["feedbackSatisfied"] is True


@pytest.mark.parametrize(
    ("mutation", "values", "as_staff"),
    [
        ("acknowledgeComplaint", {}, True),
        ("addNote", {"text": "One more thing."}, True),
        ("escalateComplaint", {"reason": "Too slow."}, True),
        ("assignComplaint", {"officerId": "inspector-8", "unitId": CIRCLE}, True),
        ("closeComplaint", {}, True),
        ("withdrawComplaint", {"phone": PHONE}, False),
        ("recordFeedback", {"phone": PHONE, "satisfied": False}, False),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_closed_complaint_invalid(
    desk: Desk, mutation: str, values: dict[str, Any], as_staff: bool
) -> None:
    tracking_number, complaint_id = desk.closed()
    key = {"complaintId": complaint_id} if as_staff else {"trackingNumber": tracking_number}

    payload = desk.mutate(mutation, key | values, token=desk.sdpo if as_staff else None)

    assert payload["complaint"] is None
    assert [error["code"] for error in payload["userErrors"]] == ["INVALID_TRANSITION"]
    assert "its status is CLOSED" in payload["userErrors"][0]["message"]
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["status"] == "CLOSED"
    assert complaint["version"] == 6


def test_feedback_wrong_phone_not_found(desk: Desk) -> None:
    tracking_number, complaint_id = desk.resolved()

    payload = desk.mutate(
        "recordFeedback",
        {"trackingNumber": tracking_number, "phone": "0321-7654321", "satisfied": False},
    )

    assert payload["complaint"] is None
    assert payload["userErrors"] == [
        {
            "field": ["input", "trackingNumber"],
            "message": "no complaint matches this tracking number and phone number",
            "code": "NOT_FOUND",
        }
    ]
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["feedbackSatisfied"] is None


def test_withdraw_wrong_phone_not_found(desk: Desk) -> None:
    tracking_number, complaint_id = desk.lodge_with_id()

    payload = desk.mutate(
        "withdrawComplaint", {"trackingNumber": tracking_number, "phone": "0321-7654321"}
    )

    assert [error["code"] for error in payload["userErrors"]] == ["NOT_FOUND"]
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["status"] == "LODGED"


# Listing, filters and keyset paging.


def test_complaints_filter_lodged(desk: Desk) -> None:
    tracking_number = desk.lodge()

    lodged = desk.listing(desk.sdpo, filter={"status": ["LODGED"]})
    closed = desk.listing(desk.sdpo, filter={"status": ["CLOSED"]})

    assert [edge["node"]["trackingNumber"] for edge in lodged["edges"]] == [tracking_number]
    assert lodged["totalCount"] == 1
    assert closed["edges"] == []
    assert closed["totalCount"] == 0


def test_complaints_filter_needs_token(desk: Desk) -> None:
    desk.lodge()

    body = desk.graphql.execute(COMPLAINTS, {"filter": {"status": ["LODGED"]}})

    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]


def test_paging_forward_each_once(desk: Desk) -> None:
    lodged = {desk.lodge() for _ in range(7)}

    pages: list[dict[str, Any]] = [desk.listing(desk.sdpo, first=3)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        assert len(pages) < 7, "paging does not end"
        pages.append(desk.listing(desk.sdpo, first=3, after=pages[-1]["pageInfo"]["endCursor"]))

    numbers = [edge["node"]["trackingNumber"] for page in pages for edge in page["edges"]]
    assert [len(page["edges"]) for page in pages] == [3, 3, 1]
    assert len(numbers) == 7
    assert set(numbers) == lodged
    assert [page["totalCount"] for page in pages] == [7, 7, 7]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    lodged_at = [
        datetime.fromisoformat(edge["node"]["lodgedAt"]) for page in pages for edge in page["edges"]
    ]
    assert lodged_at == sorted(lodged_at, reverse=True)
    assert numbers == desk.listed_numbers(desk.sdpo, first=100)


def test_paging_backward_each_once(desk: Desk) -> None:
    for _ in range(7):
        desk.lodge()
    newest_first = desk.listed_numbers(desk.sdpo, first=100)

    pages: list[dict[str, Any]] = [desk.listing(desk.sdpo, last=3)]
    while pages[-1]["pageInfo"]["hasPreviousPage"]:
        assert len(pages) < 7, "paging does not end"
        pages.append(desk.listing(desk.sdpo, last=3, before=pages[-1]["pageInfo"]["startCursor"]))

    assert [len(page["edges"]) for page in pages] == [3, 3, 1]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [False, True, True]
    numbers = [edge["node"]["trackingNumber"] for page in reversed(pages) for edge in page["edges"]]
    assert numbers == newest_first


def test_paging_first_101_rejected(desk: Desk) -> None:
    body = desk.graphql.execute(COMPLAINTS, {"first": 101}, token=desk.sdpo)

    assert body["data"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"] == "first must be between 0 and 100, got 101"
    assert body["errors"][0]["extensions"]["field"] == ["first"]


def test_paging_last_101_rejected(desk: Desk) -> None:
    body = desk.graphql.execute(COMPLAINTS, {"last": 101}, token=desk.sdpo)

    assert error_codes(body) == ["BAD_USER_INPUT"]


def test_paging_foreign_cursor_rejected(desk: Desk) -> None:
    not_a_cursor = "bm90LWEtY3Vyc29y"  # base64 of "not-a-cursor"

    body = desk.graphql.execute(COMPLAINTS, {"first": 3, "after": not_a_cursor}, token=desk.sdpo)

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == ["after"]


def test_total_count_honours_filters(desk: Desk) -> None:
    _, first_id = desk.lodge_with_id()
    desk.lodge(category="NEGLIGENCE")
    desk.lodge(districtId="pb_multan", stationId="pb_multan-c1-ps1")
    desk.acknowledge(first_id)

    def total(**filter_values: Any) -> int:
        count: int = desk.listing(desk.cell, filter=filter_values, first=1)["totalCount"]
        return count

    assert total() == 3
    assert total(status=["ACKNOWLEDGED"]) == 1
    assert total(status=["LODGED"]) == 2
    assert total(category=["NEGLIGENCE"]) == 1
    assert total(districtId="pb_multan") == 1
    assert total(unitId="pb_lahore") == 2
    assert total(unitId=CIRCLE, status=["LODGED"]) == 1
    assert desk.listing(desk.sdpo)["totalCount"] == 2  # the SDPO's own circle only


# Unit scoping: other units see nothing and change nothing.

OUTSIDERS = [(Role.SDPO, "pb_lahore-c2"), (Role.DPO, "pb_multan")]
OVERSEERS = [(Role.DPO, "pb_lahore"), (Role.COMPLAINT_CELL, "pb")]


@pytest.mark.parametrize(("role", "unit_id"), OUTSIDERS, ids=lambda value: str(value))
def test_scope_hides_from_outsider(desk: Desk, role: Role, unit_id: str) -> None:
    tracking_number, complaint_id = desk.lodge_with_id()
    outsider = desk.tokens(role, unit_id)

    by_id = desk.get(complaint_id, outsider)
    by_number = desk.find(tracking_number, outsider)
    listing = desk.listing(outsider)
    node = desk.graphql.data(NODE, {"id": complaint_id}, token=outsider)["node"]

    assert by_id is None
    assert by_number is None
    assert listing["edges"] == []
    assert listing["totalCount"] == 0
    assert node is None


@pytest.mark.parametrize(("role", "unit_id"), OUTSIDERS, ids=lambda value: str(value))
def test_scope_blocks_outsider_mutations(desk: Desk, role: Role, unit_id: str) -> None:
    _, complaint_id = desk.lodge_with_id()
    outsider = desk.tokens(role, unit_id)
    attempts = {
        "acknowledgeComplaint": {},
        "assignComplaint": {"officerId": "inspector-8", "unitId": unit_id},
        "addNote": {"text": "Looked at it."},
        "escalateComplaint": {"reason": "Not ours."},
        "resolveComplaint": {"outcome": "NO_ACTION_WARRANTED", "summary": "Nothing to do."},
        "closeComplaint": {},
        "reopenComplaint": {"reason": "Again."},
    }

    for mutation, values in attempts.items():
        payload = desk.mutate(mutation, {"complaintId": complaint_id} | values, token=outsider)
        assert payload["complaint"] is None, mutation
        assert [error["code"] for error in payload["userErrors"]] == ["NOT_FOUND"], mutation

    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["version"] == 1


@pytest.mark.parametrize(("role", "unit_id"), OVERSEERS, ids=lambda value: str(value))
def test_scope_shows_to_overseer(desk: Desk, role: Role, unit_id: str) -> None:
    tracking_number, complaint_id = desk.lodge_with_id()
    overseer = desk.tokens(role, unit_id)

    by_id = desk.get(complaint_id, overseer)
    by_number = desk.find(tracking_number, overseer)
    listing = desk.listing(overseer)
    node = desk.graphql.data(NODE, {"id": complaint_id}, token=overseer)["node"]

    assert by_id is not None
    assert by_id["trackingNumber"] == tracking_number
    assert by_number is not None
    assert by_number["id"] == complaint_id
    assert [edge["node"]["id"] for edge in listing["edges"]] == [complaint_id]
    assert listing["totalCount"] == 1
    assert node == {"id": complaint_id, "trackingNumber": tracking_number, "status": "LODGED"}


@pytest.mark.parametrize(("role", "unit_id"), OVERSEERS, ids=lambda value: str(value))
def test_scope_lets_overseer_act(desk: Desk, role: Role, unit_id: str) -> None:
    _, complaint_id = desk.lodge_with_id()
    overseer = desk.tokens(role, unit_id)

    payload = desk.succeed("acknowledgeComplaint", {"complaintId": complaint_id}, token=overseer)

    assert payload["complaint"]["status"] == "ACKNOWLEDGED"
    complaint = desk.get(complaint_id, desk.sdpo)
    assert complaint is not None
    assert complaint["status"] == "ACKNOWLEDGED"


# The complainant's tracking view.


def test_track_public_timeline(desk: Desk) -> None:
    tracking_number, complaint_id = desk.lodge_with_id()
    desk.acknowledge(complaint_id)
    desk.assign(complaint_id)
    desk.succeed(
        "addNote",
        {"complaintId": complaint_id, "text": "Suspect the ASI on duty.", "internal": True},
        token=desk.sdpo,
    )

    response = desk.graphql.post(TRACK, {"number": tracking_number, "phone": PHONE})

    assert response.status_code == 200
    tracked = response.json()["data"]["trackComplaint"]
    assert tracked["status"] == "ASSIGNED"
    assert tracked["statusText"] == {"en": "Under inquiry", "ur": "زیرِ انکوائری"}
    assert [entry["eventType"] for entry in tracked["timeline"]] == [
        "ComplaintLodged",
        "ComplaintAcknowledged",
        "ComplaintAssigned",
    ]
    assert tracked["timeline"][0]["text"] == {
        "en": "Your complaint has been registered.",
        "ur": "آپ کی شکایت درج کر لی گئی ہے۔",  # Urdu full stop
    }
    assert all(entry["text"]["en"] and entry["text"]["ur"] for entry in tracked["timeline"])
    assert OFFICER not in response.text
    assert "sdpo-lahore-c1" not in response.text
    assert "Suspect the ASI" not in response.text
    assert "Phoned the complainant" not in response.text


def test_track_wrong_phone_not_found(desk: Desk) -> None:
    tracking_number = desk.lodge()

    body = desk.graphql.execute(TRACK, {"number": tracking_number, "phone": "0321-7654321"})

    assert body["data"] is None
    assert error_codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["message"] == (
        "no complaint matches this tracking number and phone number"
    )


def test_track_unknown_number_not_found(desk: Desk) -> None:
    tracking_number = desk.lodge()
    unknown = new_tracking_number(tracking_number[:3])

    body = desk.graphql.execute(TRACK, {"number": unknown, "phone": PHONE})

    assert body["data"] is None
    assert error_codes(body) == ["NOT_FOUND"]


def test_track_malformed_number_bad_input(desk: Desk) -> None:
    body = desk.graphql.execute(TRACK, {"number": "LHR-0000-0000", "phone": PHONE})

    assert body["data"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == ["trackingNumber"]


# Complainant personal data.


def test_personal_data_sdpo_sees(desk: Desk) -> None:
    _, complaint_id = desk.lodge_with_id()

    data = desk.graphql.data(COMPLAINANT, {"id": complaint_id}, token=desk.sdpo)

    assert data["complaint"]["complainant"] == {
        "name": NAME,
        "cnic": CNIC,
        "phone": NORMALISED_PHONE,
        "address": "House 1, Lahore",
        "masked": False,
    }


def test_personal_data_sho_masked(desk: Desk) -> None:
    _, complaint_id = desk.lodge_with_id()
    desk.assign(complaint_id)  # the assigned officer may see the complaint
    sho = desk.tokens(Role.SHO, STATION, subject=OFFICER)

    data = desk.graphql.data(COMPLAINANT, {"id": complaint_id}, token=sho)

    complainant = data["complaint"]["complainant"]
    assert complainant["masked"] is True
    assert complainant["name"] == "A*** S***"
    assert complainant["cnic"] == "*****-*******-1"
    assert complainant["phone"] == "+92*******67"
    assert complainant["address"] is None


# Tokens.


def test_token_garbage_unauthenticated(desk: Desk) -> None:
    body = desk.graphql.execute(COMPLAINTS, {}, token=NOT_A_JWT)

    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == "the token is not a JWT; send 'Bearer <token>'"


def test_token_wrong_secret_unauthenticated(desk: Desk) -> None:
    forger = TokenService(
        "another-secret-that-is-long-enough-0123456789",
        issuer=desk.tokens.service.issuer,
        units=desk.tokens.service.units,
    )
    forged = forger.issue(subject="mallory", role=Role.IGP, unit_id="pb")

    body = desk.graphql.execute(COMPLAINTS, {}, token=forged)

    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == (
        "the token's signature does not match this server's key; make a new one with"
        " 'cms-graph token' using the server's CMS_JWT_SECRET or CMS_DATA_DIR"
    )


def test_token_expired_unauthenticated(desk: Desk) -> None:
    expired = desk.tokens(Role.SDPO, CIRCLE, lifetime=timedelta(minutes=-5))

    body = desk.graphql.execute(COMPLAINTS, {}, token=expired)

    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == "the token has expired; sign in again"


def test_token_wrong_scheme_unauthenticated(desk: Desk, http_client: httpx.Client) -> None:
    response = http_client.post(
        "/graphql",
        json={"query": "{ complaints { totalCount } }"},
        headers={"Authorization": f"Basic {desk.sdpo}"},
    )

    body = response.json()
    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]


# GraphQL over HTTP.


def test_http_graphql_response_media_type(desk: Desk) -> None:
    response = desk.graphql.post(
        "{ complaints { totalCount } }",
        token=desk.sdpo,
        headers={"Accept": GRAPHQL_RESPONSE_MEDIA_TYPE},
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_MEDIA_TYPE)
    assert response.json() == {"data": {"complaints": {"totalCount": 0}}}


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (GRAPHQL_RESPONSE_MEDIA_TYPE, GRAPHQL_RESPONSE_MEDIA_TYPE),
        (f"{GRAPHQL_RESPONSE_MEDIA_TYPE}, application/json", GRAPHQL_RESPONSE_MEDIA_TYPE),
        (f"application/json;q=0.9, {GRAPHQL_RESPONSE_MEDIA_TYPE}", GRAPHQL_RESPONSE_MEDIA_TYPE),
        (f"{GRAPHQL_RESPONSE_MEDIA_TYPE};q=0.5, application/json", "application/json"),
        (f"{GRAPHQL_RESPONSE_MEDIA_TYPE};q=0, */*", "application/json"),
    ],
    ids=lambda value: value or "none",
)
def test_http_media_type_negotiation(
    http_client: httpx.Client, accept: str | None, media_type: str
) -> None:
    request = http_client.build_request("POST", "/graphql", json={"query": "{ __typename }"})
    del request.headers["accept"]  # httpx sends "Accept: */*" by default
    if accept is not None:
        request.headers["accept"] = accept

    response = http_client.send(request)

    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.json() == {"data": {"__typename": "Query"}}


def test_http_request_error_400(desk: Desk) -> None:
    response = desk.graphql.post(
        "query($n: Int) { complaints(first: $n) { totalCount } }",
        {"n": "three"},
        token=desk.sdpo,
        headers={"Accept": GRAPHQL_RESPONSE_MEDIA_TYPE},
    )

    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_MEDIA_TYPE)
    body = response.json()
    assert "data" not in body
    assert error_codes(body) == ["BAD_USER_INPUT"]


def test_http_field_error_200(desk: Desk) -> None:
    response = desk.graphql.post(
        "{ complaints { totalCount } }", headers={"Accept": GRAPHQL_RESPONSE_MEDIA_TYPE}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]


def test_http_get_query(desk: Desk, http_client: httpx.Client) -> None:
    tracking_number = desk.lodge()

    response = http_client.get(
        "/graphql",
        params={
            "query": COMPLAINT_BY_TRACKING_NUMBER,
            "variables": json.dumps({"number": tracking_number}),
        },
        headers={"Authorization": f"Bearer {desk.sdpo}", "Accept": "application/json"},
    )

    assert response.status_code == 200
    assert response.json()["data"]["complaint"]["trackingNumber"] == tracking_number


def test_http_get_mutation_rejected(desk: Desk, http_client: httpx.Client) -> None:
    response = http_client.get(
        "/graphql",
        params={
            "query": mutation_document("lodgeComplaint"),
            "variables": json.dumps({"input": lodge_input()}),
        },
        headers={"Accept": "application/json"},
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert desk.listing(desk.cell)["totalCount"] == 0
