"""A stand-in for PSRMS, for development and tests. It registers no real FIR.

``PsrmsStandin`` keeps the registrations in memory and issues FIR numbers of the form
``<station id>-<serial>/<year>``, a serial per station and year. A request with an
idempotency key it has seen gets the FIR registered first, whatever its body.

Fault switches make it fail on purpose: the next N requests get status 503, or are
rejected with a code and message, or wait some seconds before they are handled.

It is served two ways:

- over HTTP by ``create_standin_app`` (``cms-graph psrms-standin``), speaking the protocol
  that ``adapters/psrms.py`` expects, with ``POST /_standin/faults`` to set the switches
  and ``GET /_standin/state`` to read the counts;
- in process by ``InProcessPsrmsStandin``, the registry that a development server uses
  when CMS_PSRMS_URL is unset. It honours the 503 and rejection switches, not delays.

State is lost when the process stops, so serials start again at 1.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cms_graph.adapters.psrms import FIRS_PATH, IDEMPOTENCY_HEADER
from cms_graph.application.fir_registry import (
    FirReceipt,
    FirRegistryRejected,
    FirRegistryUnavailable,
    FirRequest,
)

logger = logging.getLogger(__name__)

MAX_DELAY_SECONDS = 120.0


class StandinRejection(Exception):
    """Raised by ``PsrmsStandin.register`` for a request PSRMS would reject."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Fault:
    """A failure the stand-in injects into one request, in place of or before handling it."""

    kind: str  # "fail", "reject" or "delay"
    status: int = 503
    code: str = ""
    message: str = ""
    seconds: float = 0.0


class PsrmsStandin:
    """FIR registrations and fault switches, safe to use from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._receipts: dict[str, FirReceipt] = {}
        self._serials: dict[tuple[str, int], int] = {}
        self._faults: list[Fault] = []
        self.requests = 0

    @property
    def registrations(self) -> int:
        """The number of FIRs registered, not counting repeated requests."""
        with self._lock:
            return len(self._receipts)

    def receipt_for(self, idempotency_key: str) -> FirReceipt | None:
        with self._lock:
            return self._receipts.get(idempotency_key)

    def fail_next(self, count: int, status: int = 503) -> None:
        """Respond to the next ``count`` requests with ``status`` (a 5xx), registering nothing."""
        self._add_faults(count, Fault("fail", status=status))

    def reject_next(self, count: int, code: str, message: str) -> None:
        """Reject the next ``count`` requests with status 422, ``code`` and ``message``."""
        self._add_faults(count, Fault("reject", status=422, code=code, message=message))

    def delay_next(self, count: int, seconds: float) -> None:
        """Hold each of the next ``count`` requests ``seconds`` before handling it."""
        if not 0 < seconds <= MAX_DELAY_SECONDS:
            raise ValueError(f"seconds must be above 0 and at most {MAX_DELAY_SECONDS:g}")
        self._add_faults(count, Fault("delay", seconds=seconds))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add_faults(self, count: int, fault: Fault) -> None:
        if count < 0:
            raise ValueError(f"count must be 0 or more, got {count}")
        with self._lock:
            self._faults.extend([fault] * count)

    def take_fault(self) -> Fault | None:
        """Count one request and return the fault it gets, if any."""
        with self._lock:
            self.requests += 1
            return self._faults.pop(0) if self._faults else None

    def register(self, idempotency_key: str, body: Any) -> tuple[FirReceipt, bool]:
        """Register an FIR for ``body``; return the receipt and whether it is new.

        Raises StandinRejection for a missing key or a body without a station, sections
        or a complainant name.
        """
        if not idempotency_key.strip():
            raise StandinRejection(
                "MISSING_IDEMPOTENCY_KEY", f"the {IDEMPOTENCY_HEADER} header is required"
            )
        with self._lock:
            known = self._receipts.get(idempotency_key)
            if known is not None:
                return known, False
        station_id = self._check_body(body)
        now = datetime.now(UTC)
        with self._lock:
            known = self._receipts.get(idempotency_key)
            if known is not None:
                return known, False
            serial = self._serials.get((station_id, now.year), 0) + 1
            self._serials[(station_id, now.year)] = serial
            receipt = FirReceipt(f"{station_id}-{serial}/{now.year}", station_id, now)
            self._receipts[idempotency_key] = receipt
        logger.info("stand-in registered FIR %s", receipt.fir_number)
        return receipt, True

    @staticmethod
    def _check_body(body: Any) -> str:
        if not isinstance(body, dict):
            raise StandinRejection("INVALID_REQUEST", "the body must be a JSON object")
        station_id = body.get("stationId")
        if not isinstance(station_id, str) or not station_id.strip():
            raise StandinRejection("INVALID_REQUEST", "stationId is required")
        sections = body.get("sections")
        if not isinstance(sections, list) or not sections:
            raise StandinRejection("INVALID_REQUEST", "sections must list at least one section")
        complainant = body.get("complainant")
        if not isinstance(complainant, dict) or not complainant.get("name"):
            raise StandinRejection("INVALID_REQUEST", "complainant.name is required")
        return station_id.strip()


def _receipt_json(receipt: FirReceipt) -> dict[str, str]:
    return {
        "firNumber": receipt.fir_number,
        "stationId": receipt.station_id,
        "registeredAt": receipt.registered_at.isoformat(),
    }


def create_standin_app(standin: PsrmsStandin) -> Starlette:
    """Return the stand-in's ASGI app, serving ``standin``."""

    async def register_fir(request: Request) -> JSONResponse:
        fault = standin.take_fault()
        if fault is not None and fault.kind == "fail":
            return JSONResponse(
                {"code": "UNAVAILABLE", "message": "the stand-in fails this request on purpose"},
                status_code=fault.status,
            )
        if fault is not None and fault.kind == "reject":
            return JSONResponse({"code": fault.code, "message": fault.message}, status_code=422)
        try:
            body = await request.json()
        except ValueError:
            body = None
        try:
            receipt, created = standin.register(request.headers.get(IDEMPOTENCY_HEADER, ""), body)
        except StandinRejection as rejection:
            return JSONResponse(
                {"code": rejection.code, "message": rejection.message}, status_code=422
            )
        if fault is not None and fault.kind == "delay":
            # The FIR is registered before the delay, as when PSRMS registers it and its
            # reply is lost: a client that timed out gets the same number on retry.
            await asyncio.sleep(fault.seconds)
        return JSONResponse(_receipt_json(receipt), status_code=201 if created else 200)

    async def set_faults(request: Request) -> JSONResponse:
        """Set fault switches from a JSON object such as ``{"failNext": 2}``,
        ``{"rejectNext": 1, "code": "UNKNOWN_STATION", "message": "…"}``,
        ``{"delayNext": 1, "delaySeconds": 6}`` or ``{"clear": true}``."""
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            if body.get("clear"):
                standin.clear_faults()
            standin.fail_next(int(body.get("failNext", 0)), int(body.get("status", 503)))
            standin.reject_next(
                int(body.get("rejectNext", 0)),
                str(body.get("code", "REJECTED")),
                str(body.get("message", "the stand-in rejects this request on purpose")),
            )
            if body.get("delayNext"):
                standin.delay_next(int(body["delayNext"]), float(body.get("delaySeconds", 0)))
        except (ValueError, TypeError) as error:
            return JSONResponse({"code": "INVALID_REQUEST", "message": str(error)}, 400)
        return JSONResponse({"ok": True})

    async def state(request: Request) -> JSONResponse:
        return JSONResponse({"registrations": standin.registrations, "requests": standin.requests})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route(FIRS_PATH, register_fir, methods=["POST"]),
            Route("/_standin/faults", set_faults, methods=["POST"]),
            Route("/_standin/state", state, methods=["GET"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )


class InProcessPsrmsStandin:
    """A ``FirRegistry`` that registers with a ``PsrmsStandin`` in this process.

    For development servers without CMS_PSRMS_URL: its FIR numbers are not real.
    """

    def __init__(self, standin: PsrmsStandin | None = None) -> None:
        self.standin = standin or PsrmsStandin()
        self._warned = False

    def register(self, request: FirRequest) -> FirReceipt:
        if not self._warned:
            # Warned at first use, so commands that never convert an FIR stay quiet.
            logger.warning(
                "CMS_PSRMS_URL is not set: FIR numbers come from the in-process PSRMS"
                " stand-in and are not real"
            )
            self._warned = True
        fault = self.standin.take_fault()
        if fault is not None and fault.kind == "fail":
            raise FirRegistryUnavailable(f"PSRMS failed with status {fault.status}")
        if fault is not None and fault.kind == "reject":
            raise FirRegistryRejected(
                f"PSRMS rejected the FIR ({fault.code}): {fault.message}",
                status=fault.status,
                reason_code=fault.code,
            )
        try:
            receipt, _created = self.standin.register(request.idempotency_key, request.to_json())
        except StandinRejection as rejection:
            raise FirRegistryRejected(
                f"PSRMS rejected the FIR ({rejection.code}): {rejection.message}",
                status=422,
                reason_code=rejection.code,
            ) from None
        return receipt

    def close(self) -> None:
        pass


__all__ = ["InProcessPsrmsStandin", "PsrmsStandin", "StandinRejection", "create_standin_app"]
