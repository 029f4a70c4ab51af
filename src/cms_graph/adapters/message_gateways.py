"""Gateways that deliver SMS and WhatsApp messages to complainants.

``HttpMessageGateway`` posts each message as JSON to a provider's endpoint with a bearer
token and an ``Idempotency-Key`` header, so the provider can drop a message it already
accepted. ``FileMessageGateway`` is the embedded default: it appends each message as one
JSON line to a file, which takes the place of the phone network. Log lines, errors and the
message's repr show neither the phone number, not even in part, nor the token.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx

from cms_graph.settings import Settings

logger = logging.getLogger(__name__)

# Client errors that a later attempt may cure: timeout, rate limit, and a provider that
# is still busy with the same idempotency key.
RETRYABLE_CLIENT_STATUSES = frozenset({408, 409, 425, 429})


@dataclass(frozen=True)
class OutgoingMessage:
    idempotency_key: str
    channel: str
    phone: str
    text: str
    language: str
    template: str

    def __repr__(self) -> str:
        return (
            f"OutgoingMessage(idempotency_key={self.idempotency_key!r},"
            f" channel={self.channel!r}, phone=<hidden>,"
            f" language={self.language!r}, template={self.template!r})"
        )


class GatewayError(Exception):
    """Raised when a gateway did not accept a message. ``retryable`` is False when
    sending the same message again cannot succeed (the provider rejected it)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class MessageGateway(Protocol):
    def send(self, message: OutgoingMessage) -> None:
        """Deliver ``message`` or raise GatewayError."""
        ...

    def close(self) -> None: ...


class HttpMessageGateway:
    """Posts ``{"to", "text", "channel", "language", "template", "idempotency_key"}``.

    Any 2xx response counts as accepted. A 5xx response, a timeout or a lost connection
    raises a retryable GatewayError. A 4xx response other than those in
    ``RETRYABLE_CLIENT_STATUSES`` raises one that is not retryable. The error carries the
    status code only, because a provider's body may repeat the phone number.
    """

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        name: str,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.name = name
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(
            headers=headers, timeout=timeout_seconds, transport=transport, follow_redirects=False
        )

    def send(self, message: OutgoingMessage) -> None:
        body = {
            "to": message.phone,
            "text": message.text,
            "channel": message.channel,
            "language": message.language,
            "template": message.template,
            "idempotency_key": message.idempotency_key,
        }
        try:
            response = self._client.post(
                self.url, json=body, headers={"Idempotency-Key": message.idempotency_key}
            )
        except httpx.TimeoutException:
            raise GatewayError(f"{self.name} gateway timed out") from None
        except httpx.TransportError as error:
            raise GatewayError(f"{self.name} gateway unreachable: {type(error).__name__}") from None
        if response.is_success:
            logger.debug("%s gateway accepted %s", self.name, message.idempotency_key)
            return
        status = response.status_code
        retryable = status >= 500 or status in RETRYABLE_CLIENT_STATUSES
        raise GatewayError(f"{self.name} gateway returned HTTP {status}", retryable=retryable)

    def close(self) -> None:
        self._client.close()


class FileMessageGateway:
    """Appends each message to ``path`` as one JSON line, with the time it was written.

    The file contains phone numbers, as a phone network would; keep it where the data
    directory's other personal data is. Writes from threads of one process take turns;
    each line is written with one ``write`` call in append mode.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> None:
        line = json.dumps(
            {
                "written_at": datetime.now(UTC).isoformat(),
                "idempotency_key": message.idempotency_key,
                "channel": message.channel,
                "to": message.phone,
                "language": message.language,
                "template": message.template,
                "text": message.text,
            },
            ensure_ascii=False,
        )
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as file:
                    file.write(line + "\n")
        except OSError as error:
            raise GatewayError(f"cannot append to {self.path}: {error.strerror}") from None
        logger.info("%s %s written to %s", message.channel, message.idempotency_key, self.path)

    def close(self) -> None:
        pass


def build_gateways(settings: Settings) -> dict[str, MessageGateway]:
    """Return a gateway per channel name: HTTP where a URL is set, else the file."""
    file_gateway = FileMessageGateway(settings.sent_messages_path)
    gateways: dict[str, MessageGateway] = {}
    configured = {
        "SMS": (settings.sms_gateway_url, settings.sms_gateway_token),
        "WHATSAPP": (settings.whatsapp_gateway_url, settings.whatsapp_gateway_token),
    }
    for channel, (url, token) in configured.items():
        if url is None:
            gateways[channel] = file_gateway
            continue
        secret = token.get_secret_value() if token is not None else None
        gateways[channel] = HttpMessageGateway(url, secret, name=channel)
    return gateways


__all__ = [
    "FileMessageGateway",
    "GatewayError",
    "HttpMessageGateway",
    "MessageGateway",
    "OutgoingMessage",
    "build_gateways",
]
