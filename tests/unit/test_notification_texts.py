"""Message texts for complainants, and how the gateways handle responses and personal data."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from cms_graph.adapters.message_gateways import (
    FileMessageGateway,
    GatewayError,
    HttpMessageGateway,
    OutgoingMessage,
)
from cms_graph.application.notification_texts import (
    MESSAGE_TEMPLATES,
    STEP_OF_EVENT,
    NotificationChannel,
    NotificationStep,
    render_message,
)
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.values import Language
from cms_graph.settings import SettingsError, load_settings

NUMBER = "LHR-AB12-CD34"
TOKEN = "secret-gateway-token-0123456789"
PHONE = "+923001234567"
# Urdu letters that none of the English texts contain.
URDU_LETTERS = set("آپکیشاتدرجہے")
# A single SMS holds 160 GSM or 70 UCS-2 characters. A message of several parts leaves 153
# or 67 per part for the text, and the limit here is three parts.
MAX_ENGLISH_SMS = 3 * 153
MAX_URDU_SMS = 3 * 67


def message(**overrides: str) -> OutgoingMessage:
    values = {
        "idempotency_key": "c0ffee00-0000-4000-8000-000000000001:1:SMS",
        "channel": "SMS",
        "phone": PHONE,
        "text": "Punjab Police: your complaint is registered.",
        "language": "EN",
        "template": "lodged",
    }
    return OutgoingMessage(**(values | overrides))


@pytest.mark.parametrize("step", list(NotificationStep))
def test_every_step_has_both_texts(step: NotificationStep) -> None:
    parameters = {"tracking_number": NUMBER, "fir_number": "pb_lahore-c1-ps1-1234/2026"}
    english = render_message(step, Language.EN, NotificationChannel.SMS, parameters)
    urdu = render_message(step, Language.UR, NotificationChannel.SMS, parameters)

    assert NUMBER in english
    assert NUMBER in urdu
    assert not URDU_LETTERS & set(english)
    assert URDU_LETTERS & set(urdu)
    assert "Punjab Police" not in urdu
    assert len(english) <= MAX_ENGLISH_SMS
    assert len(urdu) <= MAX_URDU_SMS


def test_every_step_event_exists() -> None:
    for event_name in STEP_OF_EVENT:
        assert issubclass(getattr(Complaint, event_name), Complaint.Event), event_name
    assert set(STEP_OF_EVENT.values()) == set(MESSAGE_TEMPLATES)


def test_lodging_says_how_to_track() -> None:
    english = render_message(
        NotificationStep.LODGED, Language.EN, NotificationChannel.SMS, {"tracking_number": NUMBER}
    )
    assert "Track it on the complaint portal" in english
    assert "1787" in english


def test_resolution_asks_for_feedback() -> None:
    parameters = {"tracking_number": NUMBER}
    english = render_message(
        NotificationStep.RESOLVED, Language.EN, NotificationChannel.SMS, parameters
    )
    urdu = render_message(
        NotificationStep.RESOLVED, Language.UR, NotificationChannel.SMS, parameters
    )
    assert "Are you satisfied?" in english
    assert "Give feedback on the complaint portal" in english
    assert "کیا آپ مطمئن ہیں؟" in urdu


def test_urdu_whatsapp_adds_english() -> None:
    parameters = {"tracking_number": NUMBER}
    whatsapp = render_message(
        NotificationStep.CLOSED, Language.UR, NotificationChannel.WHATSAPP, parameters
    )
    urdu, english = whatsapp.split("\n\n")
    assert urdu == render_message(
        NotificationStep.CLOSED, Language.UR, NotificationChannel.SMS, parameters
    )
    assert english == render_message(
        NotificationStep.CLOSED, Language.EN, NotificationChannel.SMS, parameters
    )


def test_missing_parameter_raises() -> None:
    with pytest.raises(KeyError):
        render_message(NotificationStep.LODGED, Language.EN, NotificationChannel.SMS, {})


def test_message_repr_hides_phone() -> None:
    shown = repr(message())
    assert PHONE not in shown
    assert PHONE[-4:] not in shown
    assert "phone=<hidden>" in shown


def gateway_answering(status: int, seen: list[httpx.Request]) -> HttpMessageGateway:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={"echo": PHONE})

    return HttpMessageGateway(
        "https://gateway.test/messages", TOKEN, name="SMS", transport=httpx.MockTransport(answer)
    )


def test_http_gateway_sends_key_and_token() -> None:
    seen: list[httpx.Request] = []
    gateway_answering(202, seen).send(message())

    (request,) = seen
    assert request.headers["Idempotency-Key"] == message().idempotency_key
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content)["to"] == PHONE


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (401, False)]
)
def test_http_gateway_error_kinds(status: int, retryable: bool) -> None:
    gateway = gateway_answering(status, [])
    with pytest.raises(GatewayError) as raised:
        gateway.send(message())

    assert raised.value.retryable is retryable
    assert str(raised.value) == f"SMS gateway returned HTTP {status}"


def test_http_gateway_logs_no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    gateway_answering(200, []).send(message())
    with pytest.raises(GatewayError):
        gateway_answering(500, []).send(message())

    assert TOKEN not in caplog.text
    assert PHONE not in caplog.text


def test_file_gateway_appends_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "messages" / "sent.jsonl"
    gateway = FileMessageGateway(path)
    gateway.send(message())
    gateway.send(message(text="آپ کی شکایت درج کر لی گئی ہے۔", language="UR"))

    first, second = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    assert first["to"] == PHONE
    assert first["text"] == "Punjab Police: your complaint is registered."
    assert second["text"] == "آپ کی شکایت درج کر لی گئی ہے۔"
    assert PHONE not in caplog.text


def test_gateway_url_must_be_http(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, data_dir=tmp_path, sms_gateway_url="ftp://gateway.test/")
    assert "CMS_SMS_GATEWAY_URL: Value error, must start with http:// or https://" in str(
        raised.value
    )


def test_gateway_token_hidden_in_settings(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path, sms_gateway_token=TOKEN)
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings.model_dump())
