"""A stand-in SMS and WhatsApp gateway: an HTTP server on 127.0.0.1 that records requests.

It responds ``fail_status`` (500 by default) to the first ``fail_first`` requests, or to
every request while ``failing`` is set, and 200 otherwise, so tests can watch the sender retry and recover.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int

    @property
    def idempotency_key(self) -> str:
        return self.headers.get("idempotency-key", "")


class GatewayStandIn:
    def __init__(
        self, *, fail_first: int = 0, fail_status: int = 500, delay_seconds: float = 0.0
    ) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        # Holding each request open a moment widens the window in which a second
        # worker could send the same message, if claiming did not stop it.
        self.delay_seconds = delay_seconds
        self.failing = threading.Event()
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="gateway-stand-in", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/messages"

    def accepted(self) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.status == 200]

    def all_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self.requests)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _answer(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> int:
        with self._lock:
            failing = self.failing.is_set() or len(self.requests) < self.fail_first
            status = self.fail_status if failing else 200
            self.requests.append(RecordedRequest(path, headers, body, status))
        return status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # name fixed by http.server
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                if stand_in.delay_seconds:
                    time.sleep(stand_in.delay_seconds)
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = stand_in._answer(self.path, headers, body)
                payload = json.dumps({"accepted": status == 200}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # The requests are recorded; stderr stays quiet.

        return Handler


@contextmanager
def running_gateway(
    *, fail_first: int = 0, fail_status: int = 500, delay_seconds: float = 0.0
) -> Iterator[GatewayStandIn]:
    gateway = GatewayStandIn(
        fail_first=fail_first, fail_status=fail_status, delay_seconds=delay_seconds
    )
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()
