"""FIR conversion against a real store (SQLite and PostgreSQL) and the PSRMS stand-in
served over HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any
from uuid import UUID

import pytest

from cms_graph.adapters.psrms import PsrmsClient
from cms_graph.application.commands import ComplainantProof
from cms_graph.application.fir_conversion import ConvertToFir, FirConversionResult
from cms_graph.application.fir_registry import FirReceipt, FirRequest
from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container, build_container
from cms_graph.domain.access_record import AccessRecord
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.errors import (
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    UpstreamRejected,
    UpstreamUnavailable,
)
from cms_graph.domain.values import ComplaintCategory, Role
from cms_graph.settings import Settings
from tests.factories import (
    CNIC,
    COMPLAINT_CELL,
    HELPLINE,
    NAME,
    OTHER_SDPO,
    PHONE,
    SDPO,
    SHO,
    lodge_command,
)
from tests.psrms_server import RunningStandin, closed_port_url, running_standin

STATION = "pb_lahore-c1-ps1"
OTHER_CIRCLE_SHO = Principal("sho-lahore-c2-ps1", Role.SHO, "pb_lahore-c2-ps1")
# Short, so the timeout test is quick; the stand-in's delay is well above it.
CLIENT_TIMEOUT_SECONDS = 0.5
STANDIN_DELAY_SECONDS = 3.0


@pytest.fixture
def standin() -> Iterator[RunningStandin]:
    with running_standin() as running:
        yield running


@pytest.fixture
def fir_container(store_settings: Settings, standin: RunningStandin) -> Iterator[Container]:
    settings = store_settings.model_copy(
        update={"psrms_url": standin.url, "psrms_timeout_seconds": CLIENT_TIMEOUT_SECONDS}
    )
    built = build_container(settings)
    yield built
    built.close()


def convert_command(complaint_id: UUID, **changes: Any) -> ConvertToFir:
    command = ConvertToFir(
        complaint_id=complaint_id,
        sections=("379 PPC",),
        offence_summary="Motorcycle stolen outside the market; the SHO refused an FIR.",
    )
    return replace(command, **changes)


def lodge(container: Container) -> Complaint:
    command = lodge_command(category=ComplaintCategory.NON_REGISTRATION_OF_FIR)
    result = container.complaints.lodge(Principal.anonymous(), command)
    return container.event_store.get_complaint(result.complaint_id)


def fir_events(container: Container) -> list[Complaint.FirRegistered]:
    notifications = container.event_store.recorder.select_notifications(start=None, limit=1000)
    events = [container.event_store.mapper.to_domain_event(n) for n in notifications]
    return [event for event in events if isinstance(event, Complaint.FirRegistered)]


def access_records(container: Container, operation: str) -> list[AccessRecord.Recorded]:
    notifications = container.event_store.recorder.select_notifications(start=None, limit=1000)
    events = [container.event_store.mapper.to_domain_event(n) for n in notifications]
    return [
        event
        for event in events
        if isinstance(event, AccessRecord.Recorded) and event.operation == operation
    ]


def test_sho_converts_and_number_is_projected(
    fir_container: Container, standin: RunningStandin
) -> None:
    complaint = lodge(fir_container)
    result = fir_container.firs.convert(SHO, convert_command(complaint.id))
    assert result.registered_now
    assert result.fir_number.startswith(f"{STATION}-1/")
    record = fir_container.queries.get(SDPO, complaint.id)
    assert record is not None
    assert record.fir_number == result.fir_number
    assert record.fir_registered_at is not None
    timeline = fir_container.queries.timelines([complaint.id], include_internal=False)
    last = timeline[complaint.id][-1]
    assert last.event_type == "FirRegistered"
    assert last.details["fir_number"] == result.fir_number
    assert last.details["sections"] == ["379 PPC"]
    assert standin.standin.registrations == 1


def test_psrms_receives_complainant_in_clear(
    fir_container: Container, standin: RunningStandin
) -> None:
    complaint = lodge(fir_container)
    result = fir_container.firs.convert(SDPO, convert_command(complaint.id))
    receipt = standin.standin.receipt_for(str(complaint.id))
    assert receipt is not None
    assert receipt.fir_number == result.fir_number
    recorded = access_records(fir_container, "convertToFir: sent to PSRMS")
    assert [record.complaint_id for record in recorded] == [complaint.id]


def test_second_call_is_idempotent(fir_container: Container, standin: RunningStandin) -> None:
    complaint = lodge(fir_container)
    first = fir_container.firs.convert(SHO, convert_command(complaint.id))
    second = fir_container.firs.convert(SDPO, convert_command(complaint.id, sections=("420 PPC",)))
    assert second.fir_number == first.fir_number
    assert not second.registered_now
    assert len(fir_events(fir_container)) == 1
    assert standin.standin.requests == 1
    assert standin.standin.registrations == 1


@pytest.mark.parametrize("status", [503, 500])
def test_server_error_changes_nothing(
    fir_container: Container, standin: RunningStandin, status: int
) -> None:
    complaint = lodge(fir_container)
    standin.standin.fail_next(1, status)
    with pytest.raises(UpstreamUnavailable) as raised:
        fir_container.firs.convert(SHO, convert_command(complaint.id))
    reason = "Service Unavailable" if status == 503 else "Internal Server Error"
    assert raised.value.message == (
        f"PSRMS failed with status {status} {reason}; nothing was changed; try again"
    )
    assert fir_events(fir_container) == []
    assert fir_container.event_store.get_complaint(complaint.id).version == complaint.version

    # Recovery: the next attempt registers the FIR.
    result = fir_container.firs.convert(SHO, convert_command(complaint.id))
    assert result.registered_now
    assert len(fir_events(fir_container)) == 1


def test_rejection_changes_nothing(fir_container: Container, standin: RunningStandin) -> None:
    complaint = lodge(fir_container)
    standin.standin.reject_next(1, "STATION_CLOSED", "the station does not register FIRs today")
    with pytest.raises(UpstreamRejected) as raised:
        fir_container.firs.convert(SHO, convert_command(complaint.id))
    assert raised.value.message == (
        "PSRMS rejected the FIR (STATION_CLOSED): the station does not register FIRs today;"
        " nothing was changed"
    )
    assert fir_events(fir_container) == []
    assert standin.standin.registrations == 0


def test_timeout_then_retry_gets_one_fir(fir_container: Container, standin: RunningStandin) -> None:
    complaint = lodge(fir_container)
    standin.standin.delay_next(1, STANDIN_DELAY_SECONDS)
    with pytest.raises(UpstreamUnavailable) as raised:
        fir_container.firs.convert(SHO, convert_command(complaint.id))
    assert raised.value.message == (
        "PSRMS did not respond within 0.5 s; nothing was changed; try again"
    )
    assert fir_events(fir_container) == []

    # The slow request still registers in PSRMS; the idempotency key maps both to one FIR.
    result = fir_container.firs.convert(SHO, convert_command(complaint.id))
    assert result.registered_now
    assert len(fir_events(fir_container)) == 1
    assert standin.standin.registrations == 1


def test_refused_connection_changes_nothing(
    fir_container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    complaint = lodge(fir_container)
    working = fir_container.firs.registry
    fir_container.firs.registry = PsrmsClient(closed_port_url(), timeout_seconds=5.0)
    try:
        with (
            caplog.at_level(logging.WARNING, logger="cms_graph.application.fir_conversion"),
            pytest.raises(UpstreamUnavailable) as raised,
        ):
            fir_container.firs.convert(SHO, convert_command(complaint.id))
    finally:
        fir_container.firs.registry.close()
        fir_container.firs.registry = working
    assert raised.value.message == (
        "PSRMS could not be reached: the connection was refused or timed out;"
        " nothing was changed; try again"
    )
    assert fir_events(fir_container) == []
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 1
    assert str(complaint.id) in lines[0]
    assert NAME not in lines[0]
    assert CNIC not in lines[0]


class BarrierRegistry:
    """Let two conversions pass PSRMS together, so both save from the same version."""

    def __init__(self, inner: PsrmsClient) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(2, timeout=30)

    def register(self, request: FirRequest) -> FirReceipt:
        receipt = self.inner.register(request)
        self.barrier.wait()
        return receipt

    def close(self) -> None:
        self.inner.close()


def test_concurrent_conversions_write_one_event(
    fir_container: Container, standin: RunningStandin
) -> None:
    complaint = lodge(fir_container)
    working = fir_container.firs.registry
    fir_container.firs.registry = BarrierRegistry(PsrmsClient(standin.url, timeout_seconds=5.0))
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [
                pool.submit(fir_container.firs.convert, principal, convert_command(complaint.id))
                for principal in (SHO, SDPO)
            ]
            results: list[FirConversionResult] = [future.result() for future in futures]
    finally:
        fir_container.firs.registry.close()
        fir_container.firs.registry = working
    assert results[0].fir_number == results[1].fir_number
    assert sorted(result.registered_now for result in results) == [False, True]
    assert len(fir_events(fir_container)) == 1
    assert standin.standin.registrations == 1


def test_withdrawn_complaint_rejected_before_psrms(
    fir_container: Container, standin: RunningStandin
) -> None:
    complaint = lodge(fir_container)
    fir_container.complaints.withdraw(ComplainantProof(complaint.tracking_number, PHONE), "settled")
    with pytest.raises(InvalidTransition, match="its status is WITHDRAWN"):
        fir_container.firs.convert(SHO, convert_command(complaint.id))
    assert standin.standin.requests == 0


def test_sho_outside_complaint_unit_sees_not_found(
    fir_container: Container, standin: RunningStandin
) -> None:
    complaint = lodge(fir_container)
    with pytest.raises(NotFound):
        fir_container.firs.convert(OTHER_CIRCLE_SHO, convert_command(complaint.id))
    with pytest.raises(NotFound):
        fir_container.firs.convert(OTHER_SDPO, convert_command(complaint.id))
    assert standin.standin.requests == 0


def test_sho_only_at_own_station(fir_container: Container, standin: RunningStandin) -> None:
    complaint = lodge(fir_container)
    command = convert_command(complaint.id, police_station_id="pb_lahore-c1-ps2")
    with pytest.raises(InvalidInput) as raised:
        fir_container.firs.convert(SHO, command)
    assert raised.value.field == ("policeStationId",)
    assert raised.value.message == (
        "policeStationId 'pb_lahore-c1-ps2' is not your station: an SHO registers FIRs at"
        " their own station, pb_lahore-c1-ps1"
    )
    assert standin.standin.requests == 0


def test_supervisor_picks_station_in_district(
    fir_container: Container, standin: RunningStandin
) -> None:
    complaint = lodge(fir_container)
    with pytest.raises(InvalidInput, match="is not in the complaint's district"):
        fir_container.firs.convert(
            COMPLAINT_CELL, convert_command(complaint.id, police_station_id="pb_multan-c1-ps1")
        )
    result = fir_container.firs.convert(
        COMPLAINT_CELL, convert_command(complaint.id, police_station_id="pb_lahore-c1-ps2")
    )
    assert result.fir_number.startswith("pb_lahore-c1-ps2-1/")


def test_intake_roles_forbidden(fir_container: Container, standin: RunningStandin) -> None:
    complaint = lodge(fir_container)
    with pytest.raises(Forbidden):
        fir_container.firs.convert(HELPLINE, convert_command(complaint.id))
    assert standin.standin.requests == 0


def test_shredded_complainant_cannot_convert(
    fir_container: Container, standin: RunningStandin
) -> None:
    complaint = lodge(fir_container)
    fir_container.vault.shred(complaint.id)
    with pytest.raises(InvalidTransition, match="PSRMS needs the complainant's name"):
        fir_container.firs.convert(SHO, convert_command(complaint.id))
    assert standin.standin.requests == 0


def test_embedded_default_uses_in_process_standin(
    store_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="cms_graph.bootstrap"):
        container = build_container(store_settings)
    try:
        complaint = lodge(container)
        result = container.firs.convert(SHO, convert_command(complaint.id))
        assert result.fir_number.startswith(f"{STATION}-1/")
    finally:
        container.close()
    assert any("in-process PSRMS stand-in" in record.getMessage() for record in caplog.records)


def test_case_history_shows_fir_from_its_version(
    fir_container: Container, standin: RunningStandin
) -> None:
    complaint = lodge(fir_container)
    result = fir_container.firs.convert(SHO, convert_command(complaint.id))
    before = fir_container.case_history.at(COMPLAINT_CELL, complaint.id, version=complaint.version)
    after = fir_container.case_history.at(COMPLAINT_CELL, complaint.id)
    assert before.snapshot.fir_number is None
    assert after.snapshot.fir_number == result.fir_number
    assert after.events[-1].event_type == "FirRegistered"
