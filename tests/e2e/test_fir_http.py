"""FIR conversion and duplicate lookup over real HTTP, with the PSRMS stand-in on 127.0.0.1.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cms_graph.domain.values import Role
from cms_graph.settings import Settings
from tests.e2e.conftest import GraphQLClient, TokenMaker
from tests.e2e.test_lifecycle_http import CIRCLE, STATION, Desk, lodge_input
from tests.psrms_server import RunningStandin, running_standin

CONVERT = """
mutation($input: ConvertToFirInput!) {
  convertToFir(input: $input) {
    firNumber
    complaint { id firNumber firRegisteredAt }
    userErrors { field message code }
  }
}
"""
DUPLICATES = """
query($cnic: String, $phone: String) {
  possibleDuplicates(cnic: $cnic, phone: $phone) {
    complaintId trackingNumber status category lodgedAt firNumber matchedBy
  }
}
"""
TRACK = """
query($number: String!, $phone: String!) {
  trackComplaint(trackingNumber: $number, phone: $phone) {
    firNumber timeline { eventType text { en ur } }
  }
}
"""
COMPLAINT_FIR = "query($id: ID!) { complaint(id: $id) { firNumber firRegisteredAt } }"


@pytest.fixture
def standin() -> Iterator[RunningStandin]:
    with running_standin() as running:
        yield running


@pytest.fixture
def store_settings(store_settings: Settings, standin: RunningStandin) -> Settings:
    """The shared store settings, pointed at the stand-in served over HTTP."""
    return store_settings.model_copy(update={"psrms_url": standin.url})


def test_lookup_then_convert_over_http(
    graphql: GraphQLClient, tokens: TokenMaker, standin: RunningStandin
) -> None:
    desk = Desk(graphql, tokens)
    tracking_number, complaint_id = desk.lodge_with_id(category="NON_REGISTRATION_OF_FIR")
    helpline = tokens(Role.HELPLINE_AGENT, "pb", subject="agent-1")
    sho = tokens(Role.SHO, STATION, subject="sho-ps1")
    sdpo = tokens(Role.SDPO, CIRCLE, subject="sdpo-c1")

    # Before lodging again, the helpline finds the earlier complaint by phone.
    phone = lodge_input()["complainant"]["phone"]
    found = graphql.data(DUPLICATES, {"phone": "+92 300 1234567"}, token=helpline)
    matches = found["possibleDuplicates"]
    assert [match["trackingNumber"] for match in matches] == [tracking_number]
    assert matches[0]["matchedBy"] == ["PHONE"]
    assert matches[0]["firNumber"] is None

    # PSRMS down: a clear user error and nothing written.
    standin.standin.fail_next(1)
    variables = {
        "input": {
            "complaintId": complaint_id,
            "sections": ["379 PPC"],
            "offenceSummary": "Motorcycle stolen outside the market.",
        }
    }
    failed = graphql.data(CONVERT, variables, token=sho)["convertToFir"]
    assert failed["firNumber"] is None
    assert failed["userErrors"] == [
        {
            "field": ["input", "complaintId"],
            "message": "PSRMS failed with status 503 Service Unavailable; nothing was changed;"
            " try again",
            "code": "UPSTREAM_UNAVAILABLE",
        }
    ]
    assert graphql.data(COMPLAINT_FIR, {"id": complaint_id}, token=sdpo)["complaint"] == {
        "firNumber": None,
        "firRegisteredAt": None,
    }

    # The SHO converts; the complaint stays outside an SHO's sight, so it comes back null.
    converted = graphql.data(CONVERT, variables, token=sho)["convertToFir"]
    assert converted["userErrors"] == []
    fir_number = converted["firNumber"]
    assert fir_number.startswith(f"{STATION}-1/")
    assert converted["complaint"] is None

    # Repeating it returns the same number and changes nothing.
    repeated = graphql.data(CONVERT, variables, token=sdpo)["convertToFir"]
    assert repeated == {"firNumber": fir_number, "complaint": None, "userErrors": []}
    assert standin.standin.registrations == 1

    complaint = graphql.data(COMPLAINT_FIR, {"id": complaint_id}, token=sdpo)["complaint"]
    assert complaint["firNumber"] == fir_number
    assert complaint["firRegisteredAt"] is not None
    tracked = graphql.data(TRACK, {"number": tracking_number, "phone": phone})["trackComplaint"]
    assert tracked["firNumber"] == fir_number
    assert tracked["timeline"][-1] == {
        "eventType": "FirRegistered",
        "text": {
            "en": "An FIR has been registered on your complaint. You may collect a free copy"
            " at the police station.",
            "ur": "آپ کی شکایت پر ایف آئی آر درج کر لی گئی ہے۔ آپ اس کی مفت نقل تھانے سے"
            " حاصل کر سکتے ہیں۔",
        },
    }
    again = graphql.data(DUPLICATES, {"cnic": "3520212345671"}, token=helpline)
    assert again["possibleDuplicates"][0]["firNumber"] == fir_number


def test_lookup_rejects_bad_cnic_without_echo(graphql: GraphQLClient, tokens: TokenMaker) -> None:
    helpline = tokens(Role.HELPLINE_AGENT, "pb", subject="agent-1")
    body = graphql.execute(DUPLICATES, {"cnic": "85202-1234567-1"}, token=helpline)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == ["cnic"]
    assert "85202" not in error["message"]
