"""Duplicate lookup by CNIC or phone through the blind index, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from cms_graph.adapters.lookup_index import ComplainantLookupIndex
from cms_graph.application.duplicate_lookup import DuplicateLookup, reindex_complaints
from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container
from cms_graph.domain.access_record import AccessRecord
from cms_graph.domain.errors import Forbidden, InvalidInput
from cms_graph.domain.values import Role
from tests.factories import (
    CNIC,
    COMPLAINT_CELL,
    HELPLINE,
    OTHER_SDPO,
    PHONE,
    SDPO,
    SHO,
    lodge_command,
)
from tests.integration.test_fir_conversion import convert_command

OTHER_PHONE = "0321-7654321"
OTHER_CNIC = "35202-7654321-2"
FRONT_DESK_C1 = Principal("desk-c1", Role.FRONT_DESK, "pb_lahore-c1")


def viewed_records(container: Container) -> list[AccessRecord.PersonalDataViewed]:
    notifications = container.event_store.recorder.select_notifications(start=None, limit=1000)
    events = [container.event_store.mapper.to_domain_event(n) for n in notifications]
    return [
        event
        for event in events
        if isinstance(event, AccessRecord.PersonalDataViewed)
        and event.operation.startswith("possibleDuplicates")
    ]


@pytest.mark.parametrize("written", ["35202-1234567-1", "3520212345671", " 35202‐1234567‐1 "])
def test_finds_by_cnic_in_any_accepted_format(container: Container, written: str) -> None:
    lodged = container.complaints.lodge(Principal.anonymous(), lodge_command())
    matches = container.duplicates.find(HELPLINE, cnic=written)
    assert [match.complaint_id for match in matches] == [lodged.complaint_id]
    assert matches[0].tracking_number == lodged.tracking_number
    assert matches[0].status == "LODGED"
    assert matches[0].category == "BRIBERY"
    assert [kind.value for kind in matches[0].matched_by] == ["CNIC"]


@pytest.mark.parametrize(
    "written",
    ["0300-1234567", "03001234567", "+92 300 1234567", "0092 300 1234567", "923001234567"],
)
def test_finds_by_phone_in_any_accepted_format(container: Container, written: str) -> None:
    lodged = container.complaints.lodge(Principal.anonymous(), lodge_command())
    matches = container.duplicates.find(HELPLINE, phone=written)
    assert [match.complaint_id for match in matches] == [lodged.complaint_id]
    assert [kind.value for kind in matches[0].matched_by] == ["PHONE"]


def test_both_details_match_once_newest_first(container: Container) -> None:
    older = container.complaints.lodge(Principal.anonymous(), lodge_command())
    newer = container.complaints.lodge(Principal.anonymous(), lodge_command(cnic=None))
    container.complaints.lodge(
        Principal.anonymous(), lodge_command(phone=OTHER_PHONE, cnic=OTHER_CNIC)
    )
    matches = container.duplicates.find(COMPLAINT_CELL, cnic=CNIC, phone=PHONE)
    assert [match.complaint_id for match in matches] == [newer.complaint_id, older.complaint_id]
    assert [kind.value for kind in matches[1].matched_by] == ["CNIC", "PHONE"]
    assert [kind.value for kind in matches[0].matched_by] == ["PHONE"]


def test_matches_show_fir_number(container: Container) -> None:
    lodged = container.complaints.lodge(Principal.anonymous(), lodge_command())
    converted = container.firs.convert(SHO, convert_command(lodged.complaint_id))
    matches = container.duplicates.find(HELPLINE, phone=PHONE)
    assert matches[0].fir_number == converted.fir_number


def test_scope_hides_other_units(container: Container) -> None:
    container.complaints.lodge(Principal.anonymous(), lodge_command())
    assert len(container.duplicates.find(SDPO, cnic=CNIC)) == 1
    assert len(container.duplicates.find(FRONT_DESK_C1, cnic=CNIC)) == 1
    assert container.duplicates.find(OTHER_SDPO, cnic=CNIC) == []


def test_sho_may_not_look_up(container: Container) -> None:
    container.complaints.lodge(Principal.anonymous(), lodge_command())
    with pytest.raises(Forbidden):
        container.duplicates.find(SHO, phone=PHONE)


def test_each_lookup_is_recorded(container: Container) -> None:
    lodged = container.complaints.lodge(Principal.anonymous(), lodge_command())
    container.duplicates.find(HELPLINE, cnic=CNIC)
    container.duplicates.find(HELPLINE, phone=OTHER_PHONE)
    records = viewed_records(container)
    assert [record.complaint_id for record in records] == [lodged.complaint_id, None]
    assert [record.operation for record in records] == [
        "possibleDuplicates by CNIC",
        "possibleDuplicates by PHONE: no match",
    ]
    assert all(record.actor.user_id == HELPLINE.user_id for record in records)


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        (
            {"cnic": "35202-1234567-0"},
            ("cnic",),
            "cnic is invalid: the last digit of a CNIC is never 0",
        ),
        (
            {"phone": "0400-1234567"},
            ("phone",),
            "phone is not a Pakistani mobile number (11 digits): expected 03XX-XXXXXXX or"
            " +92 3XX XXXXXXX, that is 11 digits starting with 03, or 92 followed by 10"
            " digits starting with 3",
        ),
        ({}, ("cnic",), "pass cnic (#####-#######-#) or phone (03XX-XXXXXXX), or both"),
    ],
)
def test_bad_input_names_field_not_value(
    container: Container, arguments: dict[str, str], field: tuple[str, ...], message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        container.duplicates.find(HELPLINE, **arguments)
    assert raised.value.field == field
    assert raised.value.message == message
    assert viewed_records(container) == []


def test_index_holds_no_plaintext(container: Container) -> None:
    lodged = container.complaints.lodge(Principal.anonymous(), lodge_command())
    with container.database.read() as cursor:
        cursor.execute("SELECT complaint_id, kind, digest FROM complainant_lookup")
        rows = cursor.fetchall()
    assert sorted(row["kind"] for row in rows) == ["CNIC", "PHONE"]
    assert {str(row["complaint_id"]) for row in rows} == {str(lodged.complaint_id)}
    for row in rows:
        assert len(row["digest"]) == 64
        for plain in ("1234567", "35202", "3001234567"):
            assert plain not in row["digest"]


def test_shredding_the_key_removes_index_rows(container: Container) -> None:
    lodged = container.complaints.lodge(Principal.anonymous(), lodge_command())
    remaining = container.complaints.lodge(Principal.anonymous(), lodge_command())
    container.vault.shred(lodged.complaint_id)
    matches = container.duplicates.find(HELPLINE, cnic=CNIC)
    assert [match.complaint_id for match in matches] == [remaining.complaint_id]
    with container.database.read() as cursor:
        cursor.execute(
            "SELECT COUNT(*) AS n FROM complainant_lookup WHERE complaint_id = :id",
            {"id": str(lodged.complaint_id)},
        )
        row = cursor.fetchone()
    assert row is not None and row["n"] == 0


def test_reindex_backfills_missing_rows(container: Container) -> None:
    lodged = container.complaints.lodge(Principal.anonymous(), lodge_command())
    shredded = container.complaints.lodge(Principal.anonymous(), lodge_command())
    container.vault.shred(shredded.complaint_id)
    with container.database.transaction() as cursor:
        cursor.execute("DELETE FROM complainant_lookup")
    assert container.duplicates.find(HELPLINE, cnic=CNIC) == []

    indexed = reindex_complaints(container.database, container.vault, container.duplicates.index)
    assert indexed == 1
    matches = container.duplicates.find(HELPLINE, cnic=CNIC)
    assert [match.complaint_id for match in matches] == [lodged.complaint_id]


def test_reindex_moves_rows_to_new_key(container: Container) -> None:
    lodged = container.complaints.lodge(Principal.anonymous(), lodge_command())
    new_index = ComplainantLookupIndex(container.database, b"n" * 32)
    new_lookup = DuplicateLookup(
        container.database, new_index, container.access, container.duplicates.audit
    )
    assert new_lookup.find(HELPLINE, phone=PHONE) == []

    assert reindex_complaints(container.database, container.vault, new_index) == 1
    assert [match.complaint_id for match in new_lookup.find(HELPLINE, phone=PHONE)] == [
        lodged.complaint_id
    ]
    assert container.duplicates.find(HELPLINE, phone=PHONE) == []
