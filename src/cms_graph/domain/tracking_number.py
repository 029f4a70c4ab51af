"""Tracking numbers (e-tags) given to complainants, such as ``LHR-7K3M-Q9X8``.

A tracking number is a 3-letter district code, 7 random symbols and 1 check symbol. The
symbols come from Crockford's base32 alphabet, which leaves out I, L, O and U so that a
number read out on the phone or copied from an SMS is hard to get wrong.

The check symbol is computed with the Luhn mod N algorithm for N = 32 over the district
letters and the random symbols. The district letters take part as their position in A-Z
(A = 0 to Z = 25), so that I, L, O and U, which the alphabet leaves out, still count.
The check detects every single-symbol substitution. It also detects every swap of two
adjacent symbols within the district code or within the other 8 symbols, except a swap
of ``0`` with ``Z`` (values 0 and 31).
"""

from __future__ import annotations

import random
import secrets
import unicodedata

from cms_graph.domain.errors import InvalidInput

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_LENGTH = 7
DISTRICT_CODE_LENGTH = 3

_BASE = len(ALPHABET)
_VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
# Crockford's decoding of look-alike letters, applied after the district code only.
_LOOK_ALIKES = {"O": "0", "I": "1", "L": "1"}
_SYMBOL_COUNT = DISTRICT_CODE_LENGTH + RANDOM_LENGTH + 1
_EXAMPLE = "LHR-7K3M-Q9X8"
_FIELD = ("trackingNumber",)
_MAX_SHOWN_LENGTH = 32


def _is_district_code(code: str) -> bool:
    return len(code) == DISTRICT_CODE_LENGTH and all("A" <= char <= "Z" for char in code)


def _code_points(district_code: str, symbols: str) -> list[int]:
    district_points = [ord(char) - ord("A") for char in district_code]
    return district_points + [_VALUES[symbol] for symbol in symbols]


def _luhn_sum(points: list[int], double_rightmost: bool) -> int:
    total = 0
    double = double_rightmost
    for point in reversed(points):
        addend = point * 2 if double else point
        # Add the base-32 digits of the doubled value, as Luhn adds decimal digits.
        total += addend // _BASE + addend % _BASE
        double = not double
    return total % _BASE


def _check_symbol(district_code: str, random_part: str) -> str:
    remainder = _luhn_sum(_code_points(district_code, random_part), double_rightmost=True)
    return ALPHABET[(_BASE - remainder) % _BASE]


def _is_check_valid(district_code: str, symbols: str) -> bool:
    return _luhn_sum(_code_points(district_code, symbols), double_rightmost=False) == 0


def _format(district_code: str, symbols: str) -> str:
    return f"{district_code}-{symbols[:4]}-{symbols[4:]}"


def new_tracking_number(
    district_code: str, rng: secrets.SystemRandom | random.Random | None = None
) -> str:
    """Generate a tracking number for a complaint in the district with ``district_code``.

    Random symbols come from ``secrets`` unless ``rng`` is given, which tests use to get
    repeatable numbers. The number is not checked for uniqueness. A district has 32**7
    (about 34 billion) numbers, so collisions are rare, but a caller that stores numbers
    must still reject a duplicate.
    """
    if not _is_district_code(district_code):
        raise InvalidInput(
            f"district code {district_code!r} is invalid: expected 3 uppercase letters A-Z,"
            " such as LHR",
            field=("districtCode",),
        )
    choose = secrets.choice if rng is None else rng.choice
    random_part = "".join(choose(ALPHABET) for _ in range(RANDOM_LENGTH))
    return _format(district_code, random_part + _check_symbol(district_code, random_part))


def _quote_input(raw: str) -> str:
    text = raw.strip()
    if len(text) > _MAX_SHOWN_LENGTH:
        text = text[:_MAX_SHOWN_LENGTH] + "..."
    return repr(text)


def normalise_tracking_number(raw: str) -> str:
    """Validate a tracking number as typed by a person and return its canonical form.

    Letters may be lowercase, and spaces and dashes may appear anywhere or not at all.
    After the district code, O is read as 0 and I and L as 1. The result looks like
    ``LHR-7K3M-Q9X8``. Errors have field ``("trackingNumber",)``.
    """
    compact = "".join(
        char for char in raw if not (char.isspace() or unicodedata.category(char) == "Pd")
    )
    if not compact:
        raise InvalidInput(
            f"trackingNumber is missing: enter the tracking number from the SMS, such as"
            f" {_EXAMPLE}",
            field=_FIELD,
        )
    if not compact.isascii():
        bad_char = next(char for char in compact if not char.isascii())
        raise InvalidInput(
            f"trackingNumber {_quote_input(raw)} contains {bad_char!r}: use only the letters A-Z"
            f" and digits, as in {_EXAMPLE}",
            field=_FIELD,
        )

    compact = compact.upper()
    if len(compact) != _SYMBOL_COUNT:
        raise InvalidInput(
            f"trackingNumber {_quote_input(raw)} has {len(compact)} letters and digits, but a"
            f" tracking number has {_SYMBOL_COUNT}, as in {_EXAMPLE}",
            field=_FIELD,
        )

    district_code = compact[:DISTRICT_CODE_LENGTH]
    if not _is_district_code(district_code):
        raise InvalidInput(
            f"trackingNumber {_quote_input(raw)} is invalid: it must start with a 3-letter"
            f" district code, as in {_EXAMPLE}",
            field=_FIELD,
        )

    symbols = "".join(_LOOK_ALIKES.get(char, char) for char in compact[DISTRICT_CODE_LENGTH:])
    for char in symbols:
        if char not in _VALUES:
            raise InvalidInput(
                f"trackingNumber {_quote_input(raw)} contains {char!r}, which is not used in"
                " tracking numbers: after the district code only digits and letters"
                " other than I, L, O and U appear",
                field=_FIELD,
            )

    if not _is_check_valid(district_code, symbols):
        raise InvalidInput(
            f"trackingNumber {_quote_input(raw)} is invalid: its last symbol does not match the"
            " others, so a symbol was probably mistyped. Check the number against the SMS",
            field=_FIELD,
        )
    return _format(district_code, symbols)


def district_code_of(number: str) -> str:
    """Return the district code of a tracking number, validating the number first."""
    return normalise_tracking_number(number)[:DISTRICT_CODE_LENGTH]


__all__ = [
    "ALPHABET",
    "district_code_of",
    "new_tracking_number",
    "normalise_tracking_number",
]
