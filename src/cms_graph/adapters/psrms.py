"""The HTTP client for PSRMS, the police-station records system that registers FIRs.

PSRMS publishes no API to this project, so the protocol is the one the stand-in
(``adapters/psrms_standin.py``) serves:

``POST {CMS_PSRMS_URL}/firs`` with the header ``Idempotency-Key: <complaint id>`` and the
JSON body of ``FirRequest.to_json``. PSRMS responds 201 with ``{"firNumber", "stationId",
"registeredAt"}`` for a new FIR, 200 with the same fields for a key it has seen, 4xx with
``{"code", "message"}`` when it rejects the request, and 5xx when it fails.

NOTE: the real PSRMS interface and its authentication are not known here; no
credentials are sent. Adapt this module when the interface is agreed.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

import httpx

from cms_graph.application.fir_registry import (
    FirReceipt,
    FirRegistryRejected,
    FirRegistryUnavailable,
    FirRequest,
)

FIRS_PATH = "/firs"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# PSRMS's rejection text is shown to the user; this many characters at most.
MAX_REASON_LENGTH = 200


def _clean_reason(text: str) -> str:
    printable = "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)
    return printable.strip()[:MAX_REASON_LENGTH]


class PsrmsClient:
    """A ``FirRegistry`` over HTTP. One request per call, no automatic retry: the user
    retries, and the idempotency key makes that safe.

    ``transport`` is for tests that need an httpx transport of their own.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            headers={"Accept": "application/json"},
        )

    def register(self, request: FirRequest) -> FirReceipt:
        try:
            response = self.http.post(
                FIRS_PATH,
                json=request.to_json(),
                headers={IDEMPOTENCY_HEADER: request.idempotency_key},
            )
        except httpx.TimeoutException:
            raise FirRegistryUnavailable(
                f"PSRMS did not respond within {self.timeout_seconds:g} s"
            ) from None
        except httpx.ConnectError:
            raise FirRegistryUnavailable(
                "PSRMS could not be reached: the connection was refused or timed out"
            ) from None
        except httpx.TransportError as error:
            raise FirRegistryUnavailable(
                f"the connection to PSRMS failed ({type(error).__name__})"
            ) from None

        status = response.status_code
        if status >= 500:
            raise FirRegistryUnavailable(
                f"PSRMS failed with status {status} {response.reason_phrase}".rstrip()
            )
        if 400 <= status < 500:
            code, message = self._rejection_of(response)
            raise FirRegistryRejected(
                f"PSRMS rejected the FIR ({code}): {message}", status=status, reason_code=code
            )
        if status not in (200, 201):
            raise FirRegistryUnavailable(f"PSRMS responded with unexpected status {status}")
        return self._receipt_of(response)

    @staticmethod
    def _rejection_of(response: httpx.Response) -> tuple[str, str]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return f"HTTP_{response.status_code}", "no reason given"
        code = body.get("code")
        message = body.get("message")
        if not (isinstance(code, str) and code.strip()):
            code = f"HTTP_{response.status_code}"
        if not (isinstance(message, str) and message.strip()):
            message = "no reason given"
        return _clean_reason(code), _clean_reason(message)

    @staticmethod
    def _receipt_of(response: httpx.Response) -> FirReceipt:
        try:
            body: Any = response.json()
            fir_number = body["firNumber"]
            station_id = body["stationId"]
            registered_at = datetime.fromisoformat(body["registeredAt"])
        except (ValueError, KeyError, TypeError):
            raise FirRegistryUnavailable(
                "PSRMS responded without a readable FIR number, station and registration time"
            ) from None
        if not (isinstance(fir_number, str) and fir_number.strip()):
            raise FirRegistryUnavailable("PSRMS responded with an empty FIR number")
        if not isinstance(station_id, str) or registered_at.tzinfo is None:
            raise FirRegistryUnavailable(
                "PSRMS responded without a station id or with a registration time lacking"
                " a time zone"
            )
        return FirReceipt(fir_number.strip(), station_id, registered_at)

    def close(self) -> None:
        self.http.close()


class PsrmsNotConfigured:
    """The registry in production when CMS_PSRMS_URL is unset. Every call fails with a
    message naming the setting, so no FIR number is ever made up."""

    def register(self, request: FirRequest) -> FirReceipt:
        raise FirRegistryUnavailable("PSRMS is not configured on this server (CMS_PSRMS_URL)")

    def close(self) -> None:
        pass


__all__ = ["FIRS_PATH", "IDEMPOTENCY_HEADER", "PsrmsClient", "PsrmsNotConfigured"]
