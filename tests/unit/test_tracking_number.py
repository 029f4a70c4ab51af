from __future__ import annotations

import random
import re
import string

import pytest

from cms_graph.domain.errors import InvalidInput
from cms_graph.domain.tracking_number import (
    ALPHABET,
    district_code_of,
    new_tracking_number,
    normalise_tracking_number,
)

VALID = "LHR-7K3M-Q9X8"
CANONICAL = re.compile(r"[A-Z]{3}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")
SAMPLE_SIZE = 40


def _sample_numbers() -> list[str]:
    rng = random.Random(20240501)  # noqa: S311 - repeatable test data, not a secret
    districts = ["LHR", "MLN", "RWP", "DGK", "ILU", "OUZ", "AAA", "ZZZ"]
    return [new_tracking_number(districts[i % len(districts)], rng) for i in range(SAMPLE_SIZE)]


def _is_rejected(number: str) -> bool:
    try:
        normalise_tracking_number(number)
    except InvalidInput:
        return True
    return False


def _with_valid_check(number: str) -> str:
    """Replace the last symbol of ``number`` with the one that makes it valid."""
    for symbol in ALPHABET:
        candidate = number[:-1] + symbol
        if not _is_rejected(candidate):
            return candidate
    raise AssertionError(f"no check symbol makes {number} valid")


def test_alphabet_is_crockford_base32() -> None:
    assert len(ALPHABET) == 32
    assert len(set(ALPHABET)) == 32
    assert set(ALPHABET).isdisjoint("ILOU")


def test_new_number_shape_and_validity() -> None:
    for number in _sample_numbers():
        assert CANONICAL.fullmatch(number), number
        assert normalise_tracking_number(number) == number


def test_new_number_default_randomness() -> None:
    numbers = {new_tracking_number("LHR") for _ in range(50)}

    assert len(numbers) == 50
    assert all(number.startswith("LHR-") for number in numbers)


def test_new_number_seeded_is_repeatable() -> None:
    first = new_tracking_number("LHR", random.Random(7))  # noqa: S311 - test data
    second = new_tracking_number("LHR", random.Random(7))  # noqa: S311 - test data

    assert first == second


@pytest.mark.parametrize("code", ["LH", "LHRX", "lhr", "L1R", "", "ŁHR"])
def test_new_number_invalid_district_code(code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        new_tracking_number(code)

    assert caught.value.field == ("districtCode",)
    assert caught.value.message == (
        f"district code {code!r} is invalid: expected 3 uppercase letters A-Z, such as LHR"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "LHR-7K3M-Q9X8",
        "lhr-7k3m-q9x8",
        "LHR7K3MQ9X8",
        " LHR 7K3M Q9X8 ",
        "LHR-7K3MQ9X8",
        "LHR\u20137K3M\u2014Q9X8",  # en and em dashes
        "LHR-7K3M-Q9X8\n",
    ],
)
def test_normalise_accepted_spellings(raw: str) -> None:
    assert normalise_tracking_number(raw) == VALID


def test_normalise_maps_look_alikes() -> None:
    number = new_tracking_number("LHR", random.Random(3))  # noqa: S311 - test data
    symbols = number[4:].replace("-", "")
    # Build a number whose random part contains 0 and 1, then type them as O, I and L.
    with_zero_one = "LHR-01" + symbols[2:4] + "-" + symbols[4:]
    fixed = _with_valid_check(with_zero_one)

    assert normalise_tracking_number(fixed.replace("0", "O")) == fixed
    assert normalise_tracking_number(fixed[:5] + "I" + fixed[6:]) == fixed
    assert normalise_tracking_number(fixed[:5] + "l" + fixed[6:]) == fixed


def test_normalise_district_look_alikes_kept() -> None:
    # In the district code, O, I and L are letters and must not become digits.
    number = new_tracking_number("OIL", random.Random(5))  # noqa: S311 - test data

    assert normalise_tracking_number(number.lower()) == number
    assert district_code_of(number) == "OIL"


def test_single_substitutions_detected() -> None:
    for number in _sample_numbers():
        compact = number.replace("-", "")
        for position, original in enumerate(compact):
            replacements = string.ascii_uppercase if position < 3 else ALPHABET
            for symbol in replacements:
                if symbol == original:
                    continue
                mistyped = compact[:position] + symbol + compact[position + 1 :]
                assert _is_rejected(mistyped), f"{mistyped} (from {number}) was accepted"


def test_adjacent_swaps_detected() -> None:
    for number in _sample_numbers():
        compact = number.replace("-", "")
        for position in range(3, len(compact) - 1):
            left, right = compact[position], compact[position + 1]
            if left == right or {left, right} == {"0", "Z"}:
                continue
            swapped = compact[:position] + right + left + compact[position + 2 :]
            assert _is_rejected(swapped), f"{swapped} (from {number}) was accepted"


def test_district_letter_swaps_detected() -> None:
    for number in _sample_numbers():
        district = number[:3]
        for position in range(2):
            left, right = district[position], district[position + 1]
            if left == right:
                continue
            swapped = district[:position] + right + left + district[position + 2 :]
            assert _is_rejected(swapped + number[3:]), f"{swapped} (from {number}) accepted"


def test_zero_z_swap_not_detected() -> None:
    # Luhn mod 32 misses a swap of the values 0 and 31 (0 and Z), as decimal Luhn misses
    # a swap of 0 and 9.
    number = _with_valid_check("LHR-0Z00-0000")
    swapped = "LHR-Z000-0000"[:-1] + number[-1]

    assert normalise_tracking_number(swapped) == swapped


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            "",
            "trackingNumber is missing: enter the tracking number from the SMS, such as"
            " LHR-7K3M-Q9X8",
        ),
        (
            "LHR-7K3M-Q9X",
            "trackingNumber 'LHR-7K3M-Q9X' has 10 letters and digits, but a tracking number"
            " has 11, as in LHR-7K3M-Q9X8",
        ),
        (
            "LHR-7K3M-Q9X88",
            "trackingNumber 'LHR-7K3M-Q9X88' has 12 letters and digits, but a tracking number"
            " has 11, as in LHR-7K3M-Q9X8",
        ),
        (
            "L4R-7K3M-Q9X8",
            "trackingNumber 'L4R-7K3M-Q9X8' is invalid: it must start with a 3-letter"
            " district code, as in LHR-7K3M-Q9X8",
        ),
        (
            "LHR-7K3M-Q9U8",
            "trackingNumber 'LHR-7K3M-Q9U8' contains 'U', which is not used in tracking"
            " numbers: after the district code only digits and letters other than I, L, O"
            " and U appear",
        ),
        (
            "LHR-7K3M_Q9X8",
            "trackingNumber 'LHR-7K3M_Q9X8' has 12 letters and digits, but a tracking number"
            " has 11, as in LHR-7K3M-Q9X8",
        ),
        (
            "LHR-7K3M-Q9X*",
            "trackingNumber 'LHR-7K3M-Q9X*' contains '*', which is not used in tracking"
            " numbers: after the district code only digits and letters other than I, L, O"
            " and U appear",
        ),
        (
            "LHR-7K3M-Q9X9",
            "trackingNumber 'LHR-7K3M-Q9X9' is invalid: its last symbol does not match the"
            " others, so a symbol was probably mistyped. Check the number against the SMS",
        ),
        (
            "LHŔ-7K3M-Q9X8",
            "trackingNumber 'LHŔ-7K3M-Q9X8' contains 'Ŕ': use only the letters A-Z and"
            " digits, as in LHR-7K3M-Q9X8",
        ),
    ],
)
def test_normalise_invalid_messages(raw: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_tracking_number(raw)

    assert caught.value.message == message
    assert caught.value.field == ("trackingNumber",)


def test_normalise_long_input_truncated() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_tracking_number("A" * 1000)

    assert f"'{'A' * 32}...'" in caught.value.message
    assert len(caught.value.message) < 200


def test_district_code_of_valid_and_invalid() -> None:
    assert district_code_of("mln " + new_tracking_number("MLN")[4:]) == "MLN"

    with pytest.raises(InvalidInput) as caught:
        district_code_of("LHR-7K3M-Q9X9")

    assert caught.value.field == ("trackingNumber",)
