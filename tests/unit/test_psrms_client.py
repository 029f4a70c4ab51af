"""How the PSRMS client reads responses, with httpx's mock transport in place of a server."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from cms_graph.adapters.psrms import PsrmsClient
from cms_graph.application.fir_registry import (
    FirRegistryRejected,
    FirRegistryUnavailable,
    FirRequest,
)
from cms_graph.domain.personal_data import Complainant

COMPLAINANT = Complainant.create("Ayesha Siddiqa", "35202-1234567-1", "0300-1234567", None)
REQUEST = FirRequest(
    idempotency_key="0f6c1d2e-0000-4000-8000-000000000001",
    station_id="pb_lahore-c1-ps1",
    sections=("379 PPC",),
    offence_summary="Motorcycle stolen.",
    tracking_number="LHR-7K3M-Q9X8",
    category="NON_REGISTRATION_OF_FIR",
    district_id="pb_lahore",
    incident_at=datetime(2026, 3, 1, tzinfo=UTC),
    description="The SHO refused to register my FIR.",
    complainant=COMPLAINANT,
)


def client_responding(status: int, body: object) -> tuple[PsrmsClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content)

    client = PsrmsClient(
        "http://psrms.test", timeout_seconds=5.0, transport=httpx.MockTransport(handle)
    )
    return client, seen


def test_request_carries_key_and_complainant() -> None:
    body = {
        "firNumber": "X-1/2026",
        "stationId": "pb_lahore-c1-ps1",
        "registeredAt": "2026-03-02T10:00:00+00:00",
    }
    client, seen = client_responding(201, body)
    receipt = client.register(REQUEST)
    assert receipt.fir_number == "X-1/2026"
    assert receipt.registered_at == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert seen[0].url.path == "/firs"
    assert seen[0].headers["Idempotency-Key"] == REQUEST.idempotency_key
    sent = json.loads(seen[0].content)
    assert sent["complainant"]["cnic"] == "35202-1234567-1"
    assert sent["sections"] == ["379 PPC"]


def test_request_repr_hides_complainant() -> None:
    assert "Ayesha" not in repr(REQUEST)
    assert "35202" not in repr(REQUEST)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        {"stationId": "pb_lahore-c1-ps1", "registeredAt": "2026-03-02T10:00:00+00:00"},
        {"firNumber": " ", "stationId": "s", "registeredAt": "2026-03-02T10:00:00+00:00"},
        {"firNumber": "X-1/2026", "stationId": "s", "registeredAt": "2026-03-02T10:00:00"},
    ],
)
def test_unreadable_success_is_unavailable(body: object) -> None:
    client, _seen = client_responding(201, body)
    with pytest.raises(FirRegistryUnavailable):
        client.register(REQUEST)


def test_rejection_without_json_names_status() -> None:
    client, _seen = client_responding(409, b"<html>conflict</html>")
    with pytest.raises(FirRegistryRejected) as raised:
        client.register(REQUEST)
    assert raised.value.message == "PSRMS rejected the FIR (HTTP_409): no reason given"
    assert raised.value.reason_code == "HTTP_409"


def test_rejection_reason_is_cleaned_and_cut() -> None:
    client, _seen = client_responding(422, {"code": "BAD", "message": "line\nbreak " + "x" * 300})
    with pytest.raises(FirRegistryRejected) as raised:
        client.register(REQUEST)
    reason = raised.value.message.removeprefix("PSRMS rejected the FIR (BAD): ")
    assert "\n" not in reason
    assert len(reason) == 200


def test_redirect_is_unavailable() -> None:
    client, _seen = client_responding(302, {})
    with pytest.raises(FirRegistryUnavailable, match="unexpected status 302"):
        client.register(REQUEST)
