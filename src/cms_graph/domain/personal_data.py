"""Validation, normalisation and masking of a complainant's personal data.

Error messages never repeat a phone number or CNIC, because both identify a person and
messages end up in logs and API responses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from cms_graph.domain.errors import InvalidInput

MAX_NAME_LENGTH = 200
MAX_ADDRESS_LENGTH = 500

_PHONE_EXAMPLES = "03XX-XXXXXXX or +92 3XX XXXXXXX"
_ASCII_DIGITS = frozenset("0123456789")
# Subscriber part after the country code: 3 (mobile), then 9 digits.
_MOBILE_NATIONAL = re.compile(r"3[0-9]{9}")

_CNIC_FORMAT = "#####-#######-#"
_CNIC_DASHED = re.compile(r"[0-9]{5}-[0-9]{7}-[0-9]")
_CNIC_PLAIN = re.compile(r"[0-9]{13}")

# Line breaks and tabs are allowed in an address, which is often written on several lines.
_ADDRESS_CONTROL_ALLOWED = frozenset("\n\r\t")


def _label(field: tuple[str, ...], default: str) -> str:
    return field[-1] if field else default


def _is_dash(char: str) -> bool:
    # Category Pd covers "-" and the Unicode hyphens and dashes that word processors and
    # phones substitute for it.
    return unicodedata.category(char) == "Pd"


def normalise_phone(raw: str, field: tuple[str, ...] = ("phone",)) -> str:
    """Validate a Pakistani mobile number and return it as ``+923XXXXXXXXX``.

    Accepted prefixes are ``0`` (national), ``92``, ``+92`` and ``0092``, with spaces and
    dashes anywhere. Any mobile network code starting with 3 is accepted, because
    operators gain new codes over time.
    """
    label = _label(field, "phone")
    compact = raw.strip()
    if not compact:
        raise InvalidInput(
            f"{label} is missing: enter a Pakistani mobile number such as {_PHONE_EXAMPLES}",
            field=field,
        )

    has_plus = compact.startswith("+")
    digits = ""
    for char in compact.removeprefix("+"):
        if char in _ASCII_DIGITS:
            digits += char
        elif not (char.isspace() or _is_dash(char)):
            raise InvalidInput(
                f"{label} contains {char!r}, but only digits, spaces, dashes and a leading +"
                f" are allowed in a mobile number such as {_PHONE_EXAMPLES}",
                field=field,
            )

    national: str | None = None
    if has_plus and digits.startswith("92"):
        national = digits[2:]
    elif not has_plus and digits.startswith("0092"):
        national = digits[4:]
    elif not has_plus and digits.startswith("92") and len(digits) == 12:
        national = digits[2:]
    elif not has_plus and digits.startswith("03"):
        national = digits[1:]

    if national is None or not _MOBILE_NATIONAL.fullmatch(national):
        raise InvalidInput(
            f"{label} is not a Pakistani mobile number ({len(digits)} digits): expected"
            f" {_PHONE_EXAMPLES}, that is 11 digits starting with 03, or 92 followed by"
            " 10 digits starting with 3",
            field=field,
        )
    return "+92" + national


def normalise_cnic(raw: str, field: tuple[str, ...] = ("cnic",)) -> str:
    """Validate a CNIC and return it as ``#####-#######-#``.

    The input is 13 digits, either plain or with dashes after the 5th and 12th digit. The
    first digit is the province code, 1 to 7, and the last digit is never 0 (it is odd
    for men and even for women).
    """
    label = _label(field, "cnic")
    compact = raw.strip()
    if not compact:
        raise InvalidInput(
            f"{label} is missing: enter the 13-digit CNIC written {_CNIC_FORMAT}",
            field=field,
        )

    compact = "".join("-" if _is_dash(char) else char for char in compact)
    for char in compact:
        if char not in _ASCII_DIGITS and char != "-":
            raise InvalidInput(
                f"{label} contains {char!r}, but a CNIC has only digits and dashes:"
                f" write it as {_CNIC_FORMAT} or as 13 digits",
                field=field,
            )

    digits = compact.replace("-", "")
    if len(digits) != 13:
        raise InvalidInput(
            f"{label} has {len(digits)} digits, but a CNIC has 13: write it as"
            f" {_CNIC_FORMAT} or as 13 digits",
            field=field,
        )
    if not (_CNIC_DASHED.fullmatch(compact) or _CNIC_PLAIN.fullmatch(compact)):
        raise InvalidInput(
            f"{label} has dashes in the wrong places: write it as {_CNIC_FORMAT} or as"
            " 13 digits without dashes",
            field=field,
        )

    province = digits[0]
    if province not in "1234567":
        raise InvalidInput(
            f"{label} is invalid: its first digit is the province code, which is 1 to 7,"
            f" not {province}",
            field=field,
        )
    if digits[-1] == "0":
        raise InvalidInput(f"{label} is invalid: the last digit of a CNIC is never 0", field=field)
    return f"{digits[:5]}-{digits[5:12]}-{digits[12]}"


def _clean_text(
    raw: str,
    field: tuple[str, ...],
    max_length: int,
    allowed_controls: frozenset[str] = frozenset(),
) -> str:
    """Trim whitespace and check length and control characters.

    Apart from trimming, the text is kept as given. No Unicode normalisation is applied,
    so Urdu text, including zero-width non-joiners and direction marks, stays byte for
    byte.
    """
    label = _label(field, "text")
    text = raw.strip()
    if len(text) > max_length:
        raise InvalidInput(
            f"{label} is too long: {len(text)} characters, the maximum is {max_length}",
            field=field,
        )
    for char in text:
        if unicodedata.category(char) == "Cc" and char not in allowed_controls:
            raise InvalidInput(
                f"{label} contains the control character U+{ord(char):04X}: remove it",
                field=field,
            )
    return text


def _mask_name(name: str) -> str:
    # A fixed run of asterisks hides the length of each word.
    return " ".join(word[0] + "***" for word in name.split())


@dataclass(frozen=True, repr=False)
class Complainant:
    """Identity and contact details of the person who lodged a complaint.

    Build instances with ``create`` or ``from_dict``, which validate and normalise. The
    ``repr`` shows the masked values, so a logged instance shows only initials and the
    last digits of the CNIC and phone.
    """

    name: str
    cnic: str | None
    phone: str
    address: str | None

    @classmethod
    def create(
        cls,
        name: str,
        cnic: str | None,
        phone: str,
        address: str | None,
        *,
        field_prefix: tuple[str, ...] = (),
    ) -> Complainant:
        """Validate and normalise the details and return a new complainant.

        A CNIC or address that is empty or only whitespace is stored as ``None``.
        ``field_prefix`` is prepended to each error's ``field``, for example
        ``("input", "complainant")``.
        """
        clean_name = _clean_text(name, (*field_prefix, "name"), MAX_NAME_LENGTH)
        if not clean_name:
            raise InvalidInput(
                "name is missing: enter the complainant's name", field=(*field_prefix, "name")
            )

        clean_cnic: str | None = None
        if cnic is not None and cnic.strip():
            clean_cnic = normalise_cnic(cnic, (*field_prefix, "cnic"))

        clean_phone = normalise_phone(phone, (*field_prefix, "phone"))

        clean_address: str | None = None
        if address is not None:
            clean_address = _clean_text(
                address,
                (*field_prefix, "address"),
                MAX_ADDRESS_LENGTH,
                _ADDRESS_CONTROL_ALLOWED,
            )
            clean_address = clean_address or None

        return cls(name=clean_name, cnic=clean_cnic, phone=clean_phone, address=clean_address)

    def to_dict(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "cnic": self.cnic,
            "phone": self.phone,
            "address": self.address,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Complainant:
        """Rebuild a complainant from ``to_dict`` output, validating it again.

        Keys ``name`` and ``phone`` are required, ``cnic`` and ``address`` may be missing
        or null. A masked copy does not pass, because its CNIC and phone are not valid.

        NOTE: stored records go through today's validation rules, so tightening a rule
        can make older records unreadable. Keep rules backward compatible or migrate.
        """
        unknown = sorted(set(data) - {"name", "cnic", "phone", "address"})
        if unknown:
            raise InvalidInput(
                f"complainant has unknown keys {unknown}: expected name, cnic, phone and address",
                field=(unknown[0],),
            )

        name = data.get("name")
        phone = data.get("phone")
        cnic = data.get("cnic")
        address = data.get("address")
        if not isinstance(name, str):
            raise InvalidInput(f"name must be a string, not {type(name).__name__}", field=("name",))
        if not isinstance(phone, str):
            raise InvalidInput(
                f"phone must be a string, not {type(phone).__name__}", field=("phone",)
            )
        if cnic is not None and not isinstance(cnic, str):
            raise InvalidInput(
                f"cnic must be a string or null, not {type(cnic).__name__}", field=("cnic",)
            )
        if address is not None and not isinstance(address, str):
            raise InvalidInput(
                f"address must be a string or null, not {type(address).__name__}",
                field=("address",),
            )
        return cls.create(name, cnic, phone, address)

    def masked(self) -> Complainant:
        """Return a copy for display to users who must not see the complainant's identity.

        The name becomes initials followed by ``***``, the CNIC keeps only its last
        digit, the phone only its last two digits, and the address is dropped. The copy
        is for display and does not pass ``create`` or ``from_dict``.
        """
        masked_cnic = None if self.cnic is None else "*****-*******-" + self.cnic[-1]
        return Complainant(
            name=_mask_name(self.name),
            cnic=masked_cnic,
            phone="+92*******" + self.phone[-2:],
            address=None,
        )

    def __repr__(self) -> str:
        masked_copy = self.masked()
        address = "None" if self.address is None else "'<hidden>'"
        return (
            f"Complainant(name={masked_copy.name!r}, cnic={masked_copy.cnic!r},"
            f" phone={masked_copy.phone!r}, address={address})"
        )


__all__ = [
    "MAX_ADDRESS_LENGTH",
    "MAX_NAME_LENGTH",
    "Complainant",
    "normalise_cnic",
    "normalise_phone",
]
