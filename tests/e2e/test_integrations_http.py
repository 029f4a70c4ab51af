"""Integrations and exports over real HTTP, against the app served by uvicorn.

Every test runs on SQLite and on PostgreSQL. Administrators use tokens with OTP where the
rules need a second factor. The integrator authenticates with the token it gets for its
API key, as an outside system would.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from cms_graph.domain.values import Role
from tests.e2e.conftest import GraphQLClient, RunningServer, TokenMaker
from tests.factories import NAME

USER_ERRORS = "userErrors { field message code }"
INTEGRATION_FIELDS = """
    id name kind endpoint eventTypes allowedFields principal status requestedBy
    approvals { userId role approvedAt } approvalsMissing activatedAt endedAt endedReason
    credentialGeneration
"""
CREDENTIALS = "credentials { apiKey signingSecret generation }"
REQUEST = f"""
mutation($input: RequestIntegrationInput!) {{
  requestIntegration(input: $input) {{ integration {{ {INTEGRATION_FIELDS} }} {USER_ERRORS} }}
}}
"""
APPROVE = f"""
mutation($input: ApproveIntegrationInput!) {{
  approveIntegration(input: $input) {{
    integration {{ {INTEGRATION_FIELDS} }} {CREDENTIALS} {USER_ERRORS}
  }}
}}
"""
REJECT = f"""
mutation($input: RejectIntegrationInput!) {{
  rejectIntegration(input: $input) {{ integration {{ status endedReason }} {USER_ERRORS} }}
}}
"""
REVOKE = f"""
mutation($input: RevokeIntegrationInput!) {{
  revokeIntegration(input: $input) {{ integration {{ status endedReason }} {USER_ERRORS} }}
}}
"""
ROTATE = f"""
mutation($input: RotateIntegrationCredentialsInput!) {{
  rotateIntegrationCredentials(input: $input) {{
    integration {{ credentialGeneration }} {CREDENTIALS} {USER_ERRORS}
  }}
}}
"""
ISSUE_TOKEN = f"""
mutation($input: IssueIntegratorTokenInput!) {{
  issueIntegratorToken(input: $input) {{ token expiresAt {USER_ERRORS} }}
}}
"""
INTEGRATIONS = f"""
query($status: [IntegrationStatus!]) {{ integrations(status: $status) {{ {INTEGRATION_FIELDS} }} }}
"""
INTEGRATION = f"query($id: ID!) {{ integration(id: $id) {{ {INTEGRATION_FIELDS} }} }}"
EXPORT = """
query($fields: [String!]!, $filter: ComplaintFilter) {
  exportComplaints(fields: $fields, filter: $filter) { csv fields rowCount exportId }
}
"""
LODGE = """
mutation($input: LodgeComplaintInput!) {
  lodgeComplaint(input: $input) { trackingNumber userErrors { message } }
}
"""


def staff_token(
    tokens: TokenMaker, subject: str, role: Role = Role.ADMIN, *, otp: bool = True
) -> str:
    return tokens.service.issue(
        subject=subject, role=role, unit_id="pb", mfa=otp, lifetime=timedelta(hours=1)
    )


def lodge(graphql: GraphQLClient) -> str:
    data = graphql.data(
        LODGE,
        {
            "input": {
                "channel": "WEB_PORTAL",
                "category": "BRIBERY",
                "districtId": "pb_lahore",
                "stationId": "pb_lahore-c1-ps1",
                "language": "EN",
                "description": "The duty officer asked for money to record my statement.",
                "complainant": {"name": NAME, "phone": "0300-1234567"},
            }
        },
    )
    number: str = data["lodgeComplaint"]["trackingNumber"]
    return number


def request_export(graphql: GraphQLClient, token: str, fields: list[str]) -> dict[str, Any]:
    data = graphql.data(
        REQUEST,
        {
            "input": {
                "name": "Citizen's Portal export",
                "kind": "EXPORT",
                "allowedFields": fields,
            }
        },
        token=token,
    )
    payload: dict[str, Any] = data["requestIntegration"]
    assert payload["userErrors"] == []
    return payload


def approve(graphql: GraphQLClient, token: str, integration_id: str) -> dict[str, Any]:
    data = graphql.data(APPROVE, {"input": {"integrationId": integration_id}}, token=token)
    payload: dict[str, Any] = data["approveIntegration"]
    return payload


def exchange(graphql: GraphQLClient, integration_id: str, api_key: str) -> dict[str, Any]:
    data = graphql.data(
        ISSUE_TOKEN, {"input": {"integrationId": integration_id, "apiKey": api_key}}
    )
    payload: dict[str, Any] = data["issueIntegratorToken"]
    return payload


def test_two_person_approval_over_http(
    graphql: GraphQLClient, tokens: TokenMaker, server: RunningServer
) -> None:
    requester = staff_token(tokens, "admin-requester", otp=False)
    approver = staff_token(tokens, "admin-approver")
    approver_without_otp = staff_token(tokens, "addl-igp-no-otp", Role.ADDL_IGP, otp=False)
    second_approver = staff_token(tokens, "addl-igp-approver", Role.ADDL_IGP)
    requester_with_otp = staff_token(tokens, "admin-requester")

    requested = graphql.data(
        REQUEST,
        {
            "input": {
                "name": "PSRMS FIR link",
                "kind": "WEBHOOK",
                "endpoint": "https://psrms.example.pk/hooks/cms",
                "eventTypes": ["ComplaintLodged"],
                "allowedFields": ["trackingNumber", "status"],
            }
        },
        token=requester,
    )["requestIntegration"]
    assert requested["userErrors"] == []
    integration = requested["integration"]
    integration_id = integration["id"]
    assert integration["status"] == "PENDING_APPROVAL"
    assert integration["approvalsMissing"] == 2
    assert integration["principal"].startswith("integration:")

    own = approve(graphql, requester_with_otp, integration_id)
    assert own["integration"] is None
    assert own["userErrors"][0]["code"] == "FORBIDDEN"
    assert "may not approve it" in own["userErrors"][0]["message"]

    without_otp = approve(graphql, approver_without_otp, integration_id)
    assert without_otp["userErrors"][0]["code"] == "FORBIDDEN"
    assert "needs a second factor" in without_otp["userErrors"][0]["message"]

    first = approve(graphql, approver, integration_id)
    assert first["userErrors"] == []
    assert first["credentials"] is None
    assert first["integration"]["status"] == "PENDING_APPROVAL"
    assert first["integration"]["approvalsMissing"] == 1
    assert graphql.data(INTEGRATIONS, {"status": ["ACTIVE"]}, token=approver) == {
        "integrations": []
    }

    again = approve(graphql, approver, integration_id)
    assert again["userErrors"][0]["code"] == "FORBIDDEN"
    assert "already approved" in again["userErrors"][0]["message"]

    second = approve(graphql, second_approver, integration_id)
    assert second["userErrors"] == []
    assert second["integration"]["status"] == "ACTIVE"
    assert [a["userId"] for a in second["integration"]["approvals"]] == [
        "admin-approver",
        "addl-igp-approver",
    ]
    credentials = second["credentials"]
    assert credentials["apiKey"].startswith("cmsi_")
    assert credentials["signingSecret"].startswith("whsec_")
    assert credentials["generation"] == 1

    # The credentials are shown once: no later read contains them or their hash.
    listed = graphql.post(INTEGRATIONS, {"status": ["ACTIVE"]}, token=approver)
    assert credentials["apiKey"] not in listed.text
    assert credentials["signingSecret"] not in listed.text
    assert "sha256:" not in listed.text
    assert len(listed.json()["data"]["integrations"]) == 1
    single = graphql.data(INTEGRATION, {"id": integration_id}, token=approver)["integration"]
    assert single["status"] == "ACTIVE"

    revoked = graphql.data(
        REVOKE,
        {"input": {"integrationId": integration_id, "reason": "PSRMS contract ended"}},
        token=second_approver,
    )["revokeIntegration"]
    assert revoked["userErrors"] == []
    assert revoked["integration"] == {"status": "REVOKED", "endedReason": "PSRMS contract ended"}
    assert graphql.data(INTEGRATIONS, {"status": ["ACTIVE"]}, token=approver) == {
        "integrations": []
    }
    refused = exchange(graphql, integration_id, credentials["apiKey"])
    assert refused["token"] is None
    assert refused["userErrors"][0]["code"] == "UNAUTHENTICATED"


def test_rejection_over_http(graphql: GraphQLClient, tokens: TokenMaker) -> None:
    requester = staff_token(tokens, "admin-requester", otp=False)
    approver = staff_token(tokens, "admin-approver")
    integration_id = request_export(graphql, requester, ["status"])["integration"]["id"]
    rejected = graphql.data(
        REJECT,
        {"input": {"integrationId": integration_id, "reason": "Not needed"}},
        token=approver,
    )["rejectIntegration"]
    assert rejected == {
        "integration": {"status": "REJECTED", "endedReason": "Not needed"},
        "userErrors": [],
    }
    late = approve(graphql, approver, integration_id)
    assert late["userErrors"][0]["code"] == "INVALID_TRANSITION"


def test_request_errors_name_fields(graphql: GraphQLClient, tokens: TokenMaker) -> None:
    requester = staff_token(tokens, "admin-requester", otp=False)
    payload = graphql.data(
        REQUEST,
        {
            "input": {
                "name": "Safe City 15",
                "kind": "WEBHOOK",
                "endpoint": "ftp://safecity.example.pk/in",
                "eventTypes": ["ComplaintLodged"],
                "allowedFields": ["status"],
            }
        },
        token=requester,
    )["requestIntegration"]
    assert payload["integration"] is None
    (error,) = payload["userErrors"]
    assert error["field"] == ["input", "endpoint"]
    assert error["code"] == "BAD_USER_INPUT"

    sdpo = staff_token(tokens, "sdpo-1", Role.SDPO)
    forbidden = graphql.data(
        REQUEST,
        {"input": {"name": "x", "kind": "EXPORT", "allowedFields": ["status"]}},
        token=sdpo,
    )["requestIntegration"]
    assert forbidden["userErrors"][0]["code"] == "FORBIDDEN"

    listing = graphql.execute(INTEGRATIONS, token=sdpo)
    assert listing["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_integrator_export_over_http(graphql: GraphQLClient, tokens: TokenMaker) -> None:
    requester = staff_token(tokens, "admin-requester", otp=False)
    approver = staff_token(tokens, "admin-approver")
    second_approver = staff_token(tokens, "addl-igp-approver", Role.ADDL_IGP)
    numbers = {lodge(graphql) for _ in range(2)}

    integration_id = request_export(graphql, requester, ["trackingNumber", "status"])[
        "integration"
    ]["id"]
    approve(graphql, approver, integration_id)
    credentials = approve(graphql, second_approver, integration_id)["credentials"]
    issued = exchange(graphql, integration_id, credentials["apiKey"])
    assert issued["userErrors"] == []
    integrator = issued["token"]

    export = graphql.data(EXPORT, {"fields": ["trackingNumber", "status"]}, token=integrator)[
        "exportComplaints"
    ]
    assert export["rowCount"] == 2
    assert export["fields"] == ["trackingNumber", "status"]
    rows = list(csv.reader(io.StringIO(export["csv"])))
    assert rows[0] == ["trackingNumber", "status"]
    assert {row[0] for row in rows[1:]} == numbers

    direct = graphql.execute(
        "{ complaints(first: 5) { totalCount edges { node { description } } } }",
        token=integrator,
    )
    assert direct["data"] is None
    assert direct["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "may not query complaints directly" in direct["errors"][0]["message"]

    outside = graphql.execute(EXPORT, {"fields": ["status", "description"]}, token=integrator)
    (error,) = outside["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["message"] == (
        "fields: 'description' is not allowed in exports; allowed fields are trackingNumber, status"
    )

    rotated = graphql.data(ROTATE, {"input": {"integrationId": integration_id}}, token=approver)[
        "rotateIntegrationCredentials"
    ]
    assert rotated["userErrors"] == []
    assert rotated["integration"] == {"credentialGeneration": 2}
    assert rotated["credentials"]["signingSecret"] != credentials["signingSecret"]
    old = exchange(graphql, integration_id, credentials["apiKey"])
    assert old["userErrors"][0]["code"] == "UNAUTHENTICATED"
    assert exchange(graphql, integration_id, rotated["credentials"]["apiKey"])["token"]

    graphql.data(
        REVOKE,
        {"input": {"integrationId": integration_id, "reason": "Portal link retired"}},
        token=approver,
    )
    after_revocation = graphql.execute(EXPORT, {"fields": ["status"]}, token=integrator)
    assert after_revocation["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "has no active EXPORT integration" in after_revocation["errors"][0]["message"]


def test_staff_export_over_http(graphql: GraphQLClient, tokens: TokenMaker) -> None:
    lodge(graphql)
    sdpo = tokens(Role.SDPO, "pb_lahore-c1")
    export = graphql.data(
        EXPORT,
        {"fields": ["trackingNumber", "category"], "filter": {"status": ["LODGED"]}},
        token=sdpo,
    )["exportComplaints"]
    assert export["rowCount"] == 1
    assert list(csv.reader(io.StringIO(export["csv"])))[1][1] == "BRIBERY"

    personal = graphql.execute(EXPORT, {"fields": ["complainantName"]}, token=sdpo)
    (error,) = personal["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["field"] == ["fields"]
    assert "'complainantName' is not allowed in exports" in error["message"]

    unknown = graphql.execute(EXPORT, {"fields": ["officerSalary"]}, token=sdpo)
    assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "unknown field 'officerSalary'" in unknown["errors"][0]["message"]
