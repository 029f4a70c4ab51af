"""The complainant key and tracking number written before a complaint's first event."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from uuid import uuid4

from cms_graph.adapters.lodging_rows import create_key_and_reserve_number
from cms_graph.bootstrap import Container
from cms_graph.domain.tracking_number import new_tracking_number


def numbers(*candidates: str) -> Callable[[], str]:
    remaining: Iterator[str] = iter(candidates)
    return lambda: next(remaining)


def key_rows(container: Container) -> int:
    with container.database.read() as cursor:
        cursor.execute("SELECT COUNT(*) AS n FROM complainant_keys")
        row = cursor.fetchone()
    assert row is not None
    return int(row["n"])


def test_key_and_number_are_stored(container: Container) -> None:
    complaint_id = uuid4()
    number = new_tracking_number("LHR")

    key_material, reserved = create_key_and_reserve_number(
        container.vault, container.tracking_numbers, complaint_id, numbers(number)
    )

    assert reserved == number
    assert container.vault.key_for(complaint_id) == key_material
    assert container.tracking_numbers.complaint_id_for(number) == complaint_id


def test_taken_number_is_replaced(container: Container) -> None:
    reserved_elsewhere = new_tracking_number("LHR")
    spare = new_tracking_number("LHR")
    create_key_and_reserve_number(
        container.vault, container.tracking_numbers, uuid4(), numbers(reserved_elsewhere)
    )
    complaint_id = uuid4()

    key_material, reserved = create_key_and_reserve_number(
        container.vault,
        container.tracking_numbers,
        complaint_id,
        numbers(reserved_elsewhere, spare),
    )

    assert reserved == spare
    assert container.tracking_numbers.complaint_id_for(spare) == complaint_id
    assert container.tracking_numbers.complaint_id_for(reserved_elsewhere) != complaint_id
    assert container.vault.key_for(complaint_id) == key_material
    assert key_rows(container) == 2
