"""The FIR rules of the Complaint aggregate and the FIR input checks, without storage."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cms_graph.application.fir_conversion import check_sections
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.errors import InvalidInput, InvalidTransition
from cms_graph.domain.values import ComplaintStatus
from tests.unit.test_complaint_aggregate import NOW, STAFF_CONTEXT, at_status, lodged

REGISTERED_AT = NOW - timedelta(minutes=5)


def register(complaint: Complaint, fir_number: str = "pb_lahore-c1-ps1-1/2026") -> None:
    complaint.register_fir(
        fir_number=fir_number,
        station_id="pb_lahore-c1-ps1",
        sections=("379 PPC", "411 PPC"),
        offence_summary="Motorcycle stolen outside the market.",
        registered_at=REGISTERED_AT,
        **STAFF_CONTEXT,
    )


@pytest.mark.parametrize("status", list(ComplaintStatus))
def test_register_fir_by_status(status: ComplaintStatus) -> None:
    complaint = at_status(status)
    if status in (ComplaintStatus.CLOSED, ComplaintStatus.WITHDRAWN):
        with pytest.raises(InvalidTransition, match=f"its status is {status.value}"):
            register(complaint)
        assert complaint.collect_events() == []
    else:
        register(complaint)
        assert len(complaint.collect_events()) == 1


def test_register_fir_records_number_and_keeps_status() -> None:
    complaint = lodged()
    register(complaint)
    event = complaint.collect_events()[-1]
    assert isinstance(event, Complaint.FirRegistered)
    assert event.fir_number == "pb_lahore-c1-ps1-1/2026"
    assert event.sections == ["379 PPC", "411 PPC"]
    assert event.registered_at == REGISTERED_AT
    assert complaint.fir_number == "pb_lahore-c1-ps1-1/2026"
    assert complaint.fir_registered_at == REGISTERED_AT
    assert complaint.status is ComplaintStatus.LODGED


def test_second_fir_rejected() -> None:
    complaint = lodged()
    register(complaint)
    with pytest.raises(InvalidTransition) as raised:
        register(complaint, "pb_lahore-c1-ps1-2/2026")
    assert raised.value.message == (
        "cannot convert complaint LHR-7K3M-Q9X8 to an FIR: FIR pb_lahore-c1-ps1-1/2026"
        " is already registered on it"
    )
    assert complaint.fir_number == "pb_lahore-c1-ps1-1/2026"


def test_blank_fir_number_rejected() -> None:
    complaint = lodged()
    with pytest.raises(InvalidInput) as raised:
        register(complaint, "  ")
    assert raised.value.field == ("firNumber",)
    assert complaint.fir_number is None


def test_sections_are_stripped() -> None:
    assert check_sections((" 379 PPC ", "489-F PPC", "13-20-65 Arms Ordinance")) == (
        "379 PPC",
        "489-F PPC",
        "13-20-65 Arms Ordinance",
    )


def test_empty_sections_rejected() -> None:
    with pytest.raises(InvalidInput) as raised:
        check_sections(())
    assert raised.value.field == ("sections",)
    assert raised.value.message == (
        "sections is empty: name at least one section of law, such as 379 PPC"
    )


def test_malformed_section_named_by_index() -> None:
    with pytest.raises(InvalidInput) as raised:
        check_sections(("379 PPC", "<script>"))
    assert raised.value.field == ("sections", "1")


def test_too_many_sections_rejected() -> None:
    with pytest.raises(InvalidInput, match="sections has 21 entries; the maximum is 20"):
        check_sections(tuple(f"{number} PPC" for number in range(300, 321)))
