"""A stand-in webhook receiver on 127.0.0.1 that checks signatures and fails on request."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ReceivedRequest:
    idempotency_key: str
    timestamp: str
    signature_valid: bool
    content_type: str
    body: bytes
    # The status the receiver returned.
    status: int

    @property
    def payload(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded


class WebhookReceiver:
    """Records every request. Returns ``fail_status`` for the first ``fail_first``
    requests, while ``failing`` is set, and for complaints in ``failing_complaints``."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.fail_first = 0
        self.fail_status = 500
        self.failing = False
        self.failing_complaints: set[str] = set()
        self.requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hooks"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def accepted(self) -> list[ReceivedRequest]:
        with self._lock:
            return [request for request in self.requests if 200 <= request.status < 300]

    def all_requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self.requests)

    def _answer(self, body: bytes, signature_valid: bool) -> int:
        if not signature_valid:
            return 401
        if self.fail_first > 0:
            self.fail_first -= 1
            return self.fail_status
        if self.failing:
            return self.fail_status
        if json.loads(body).get("complaintId") in self.failing_complaints:
            return self.fail_status
        return 204

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                timestamp = self.headers.get("X-CMS-Timestamp", "")
                expected = hmac.new(
                    receiver.secret, timestamp.encode() + b"." + body, hashlib.sha256
                ).hexdigest()
                given = self.headers.get("X-CMS-Signature", "")
                valid = bool(timestamp) and hmac.compare_digest(given, f"v1={expected}")
                with receiver._lock:
                    status = receiver._answer(body, valid)
                    receiver.requests.append(
                        ReceivedRequest(
                            idempotency_key=self.headers.get("Idempotency-Key", ""),
                            timestamp=timestamp,
                            signature_valid=valid,
                            content_type=self.headers.get("Content-Type", ""),
                            body=body,
                            status=status,
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def running_receiver(secret: bytes) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
