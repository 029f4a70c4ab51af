from __future__ import annotations

import pytest

from cms_graph.domain.errors import InvalidInput
from cms_graph.domain.personal_data import Complainant, normalise_cnic, normalise_phone

URDU_NAME = "محمد علی خان"
ALEF = "\u0627"
# Contains a zero-width non-joiner (U+200C) and a right-to-left mark (U+200F), which
# Urdu keyboards produce and Unicode normalisation or careless trimming could drop.
URDU_ADDRESS = "مکان نمبر ۱۲، گلی\u200c نمبر ۳\u200f، لاہور"


@pytest.mark.parametrize(
    "raw",
    [
        "0300-1234567",
        "03001234567",
        "0300 1234567",
        "+92 300 1234567",
        "+923001234567",
        "+92-300-1234567",
        "923001234567",
        "92 300 1234567",
        "00923001234567",
        "0092 300 1234567",
        "  0300-1234567  ",
        "0300\u20111234567",  # non-breaking hyphen, as some phones send it
    ],
)
def test_phone_accepted_forms(raw: str) -> None:
    assert normalise_phone(raw) == "+923001234567"


@pytest.mark.parametrize(
    "raw",
    [
        "0300-123456",  # 10 digits
        "0300-12345678",  # 12 digits
        "3001234567",  # no trunk prefix
        "0423-1234567",  # landline-style code, not a mobile
        "+92 0300 1234567",  # trunk 0 kept after the country code
        "+44 300 1234567",  # another country
        "92300123456",  # 92 with 9 digits
        "+0092 300 1234567",
        "0092 0300 1234567",
    ],
)
def test_phone_wrong_shape_rejected(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_phone(raw)

    assert caught.value.field == ("phone",)
    assert "is not a Pakistani mobile number" in caught.value.message


def test_phone_wrong_shape_message() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_phone("0300-123456")

    assert caught.value.message == (
        "phone is not a Pakistani mobile number (10 digits): expected 03XX-XXXXXXX or"
        " +92 3XX XXXXXXX, that is 11 digits starting with 03, or 92 followed by 10"
        " digits starting with 3"
    )


def test_phone_message_hides_number() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_phone("0300-765432")

    assert "765432" not in caught.value.message
    assert "0300" not in caught.value.message


def test_phone_bad_character_message() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_phone("0300/1234567")

    assert caught.value.message == (
        "phone contains '/', but only digits, spaces, dashes and a leading + are allowed"
        " in a mobile number such as 03XX-XXXXXXX or +92 3XX XXXXXXX"
    )


def test_phone_plus_inside_rejected() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_phone("92+3001234567")

    assert "contains '+'" in caught.value.message


def test_phone_non_ascii_digits_rejected() -> None:
    # Extended Arabic-Indic digits, as typed on an Urdu keyboard.
    with pytest.raises(InvalidInput) as caught:
        normalise_phone("۰۳۰۰۱۲۳۴۵۶۷")

    assert "contains '\u06f0'" in caught.value.message


def test_phone_empty_message() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_phone("   ")

    assert caught.value.message == (
        "phone is missing: enter a Pakistani mobile number such as 03XX-XXXXXXX or +92 3XX XXXXXXX"
    )


def test_phone_custom_field_in_error() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_phone("12", field=("input", "contactPhone"))

    assert caught.value.field == ("input", "contactPhone")
    assert caught.value.message.startswith("contactPhone is not")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("35202-1234567-1", "35202-1234567-1"),
        ("3520212345671", "35202-1234567-1"),
        ("  35202-1234567-8  ", "35202-1234567-8"),
        ("17301-1234567-9", "17301-1234567-9"),  # Khyber Pakhtunkhwa
        ("42101\u20131234567\u20132", "42101-1234567-2"),  # en dashes
        ("71101-1234567-5", "71101-1234567-5"),
    ],
)
def test_cnic_accepted_forms(raw: str, expected: str) -> None:
    assert normalise_cnic(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "cnic is missing: enter the 13-digit CNIC written #####-#######-#"),
        (
            "35202-1234567",
            "cnic has 12 digits, but a CNIC has 13: write it as #####-#######-# or as 13 digits",
        ),
        (
            "35202-1234567-12",
            "cnic has 14 digits, but a CNIC has 13: write it as #####-#######-# or as 13 digits",
        ),
        (
            "3520-21234567-1",
            "cnic has dashes in the wrong places: write it as #####-#######-# or as 13 digits"
            " without dashes",
        ),
        (
            "35202 1234567 1",
            "cnic contains ' ', but a CNIC has only digits and dashes: write it as"
            " #####-#######-# or as 13 digits",
        ),
        (
            "05202-1234567-1",
            "cnic is invalid: its first digit is the province code, which is 1 to 7, not 0",
        ),
        (
            "85202-1234567-1",
            "cnic is invalid: its first digit is the province code, which is 1 to 7, not 8",
        ),
        (
            "95202-1234567-1",
            "cnic is invalid: its first digit is the province code, which is 1 to 7, not 9",
        ),
        ("35202-1234567-0", "cnic is invalid: the last digit of a CNIC is never 0"),
    ],
)
def test_cnic_invalid_messages(raw: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_cnic(raw)

    assert caught.value.message == message
    assert caught.value.field == ("cnic",)


def test_cnic_message_hides_number() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_cnic("35202-7654321-0")

    assert "7654321" not in caught.value.message
    assert "35202" not in caught.value.message


def test_complainant_create_normalises() -> None:
    complainant = Complainant.create(
        "  Ayesha Bibi ", "3520212345678", "0300 1234567", "  House 12, Street 3, Lahore "
    )

    assert complainant.name == "Ayesha Bibi"
    assert complainant.cnic == "35202-1234567-8"
    assert complainant.phone == "+923001234567"
    assert complainant.address == "House 12, Street 3, Lahore"


def test_complainant_optional_fields_empty() -> None:
    complainant = Complainant.create("Ali", None, "03001234567", None)
    blank = Complainant.create("Ali", "   ", "03001234567", "  \n ")

    assert complainant.cnic is None
    assert complainant.address is None
    assert blank.cnic is None
    assert blank.address is None


def test_complainant_keeps_urdu_bytes() -> None:
    complainant = Complainant.create(URDU_NAME, None, "03001234567", URDU_ADDRESS)

    assert complainant.name.encode() == URDU_NAME.encode()
    assert complainant.address is not None
    assert complainant.address.encode() == URDU_ADDRESS.encode()


def test_complainant_keeps_decomposed_text() -> None:
    # "آ" written as alef + combining madda (U+0627 U+0653). NFC would compose it to U+0622.
    decomposed = "\u0627\u0653صف"

    complainant = Complainant.create(decomposed, None, "03001234567", None)

    assert complainant.name == decomposed
    assert len(complainant.name) == 4


def test_complainant_empty_name_rejected() -> None:
    with pytest.raises(InvalidInput) as caught:
        Complainant.create("   ", None, "03001234567", None)

    assert caught.value.message == "name is missing: enter the complainant's name"
    assert caught.value.field == ("name",)


def test_complainant_name_length_limit() -> None:
    accepted = Complainant.create(ALEF * 200, None, "03001234567", None)

    with pytest.raises(InvalidInput) as caught:
        Complainant.create(ALEF * 201, None, "03001234567", None)

    assert len(accepted.name) == 200
    assert caught.value.message == "name is too long: 201 characters, the maximum is 200"
    assert caught.value.field == ("name",)


def test_complainant_address_length_limit() -> None:
    accepted = Complainant.create("Ali", None, "03001234567", "x" * 500)

    with pytest.raises(InvalidInput) as caught:
        Complainant.create("Ali", None, "03001234567", "x" * 501)

    assert accepted.address == "x" * 500
    assert caught.value.message == "address is too long: 501 characters, the maximum is 500"
    assert caught.value.field == ("address",)


def test_complainant_control_characters() -> None:
    multiline = Complainant.create("Ali", None, "03001234567", "House 12\nLahore")

    with pytest.raises(InvalidInput) as in_name:
        Complainant.create("Ali\nKhan", None, "03001234567", None)
    with pytest.raises(InvalidInput) as in_address:
        Complainant.create("Ali", None, "03001234567", "House\x0012")

    assert multiline.address == "House 12\nLahore"
    assert in_name.value.message == "name contains the control character U+000A: remove it"
    assert in_address.value.field == ("address",)


def test_complainant_field_prefix_in_errors() -> None:
    prefix = ("input", "complainant")

    with pytest.raises(InvalidInput) as bad_phone:
        Complainant.create("Ali", None, "123", None, field_prefix=prefix)
    with pytest.raises(InvalidInput) as bad_cnic:
        Complainant.create("Ali", "123", "03001234567", None, field_prefix=prefix)
    with pytest.raises(InvalidInput) as bad_name:
        Complainant.create("", None, "03001234567", None, field_prefix=prefix)

    assert bad_phone.value.field == ("input", "complainant", "phone")
    assert bad_cnic.value.field == ("input", "complainant", "cnic")
    assert bad_name.value.field == ("input", "complainant", "name")


def test_complainant_dict_round_trip() -> None:
    complainant = Complainant.create(URDU_NAME, "35202-1234567-8", "03001234567", URDU_ADDRESS)

    data = complainant.to_dict()

    assert data == {
        "name": URDU_NAME,
        "cnic": "35202-1234567-8",
        "phone": "+923001234567",
        "address": URDU_ADDRESS,
    }
    assert Complainant.from_dict(data) == complainant


def test_from_dict_optional_keys_missing() -> None:
    complainant = Complainant.from_dict({"name": "Ali", "phone": "+923001234567"})

    assert complainant.cnic is None
    assert complainant.address is None


@pytest.mark.parametrize(
    ("data", "message", "field"),
    [
        ({"phone": "+923001234567"}, "name must be a string, not NoneType", ("name",)),
        ({"name": "Ali", "phone": 923001234567}, "phone must be a string, not int", ("phone",)),
        (
            {"name": "Ali", "phone": "+923001234567", "cnic": 3520212345678},
            "cnic must be a string or null, not int",
            ("cnic",),
        ),
        (
            {"name": "Ali", "phone": "+923001234567", "address": ["x"]},
            "address must be a string or null, not list",
            ("address",),
        ),
        (
            {"name": "Ali", "phone": "+923001234567", "email": "a@example.com"},
            "complainant has unknown keys ['email']: expected name, cnic, phone and address",
            ("email",),
        ),
    ],
)
def test_from_dict_invalid_data(
    data: dict[str, object], message: str, field: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidInput) as caught:
        Complainant.from_dict(data)

    assert caught.value.message == message
    assert caught.value.field == field


def test_from_dict_validates_values() -> None:
    with pytest.raises(InvalidInput) as caught:
        Complainant.from_dict({"name": "Ali", "phone": "+92*******67"})

    assert caught.value.field == ("phone",)


def test_masked_hides_personal_data() -> None:
    complainant = Complainant.create(
        "Muhammad Ali Khan", "35202-1234567-3", "0300-1234567", "House 12, Lahore"
    )

    masked = complainant.masked()

    assert masked.name == "M*** A*** K***"
    assert masked.cnic == "*****-*******-3"
    assert masked.phone == "+92*******67"
    assert masked.address is None


def test_masked_urdu_name_and_no_cnic() -> None:
    masked = Complainant.create(URDU_NAME, None, "03001234567", None).masked()

    assert masked.name == "م*** ع*** خ***"
    assert masked.cnic is None


def test_repr_hides_personal_data() -> None:
    complainant = Complainant.create(
        "Muhammad Ali Khan", "35202-1234567-3", "0300-1234567", "House 12, Lahore"
    )

    text = repr(complainant)

    assert text == (
        "Complainant(name='M*** A*** K***', cnic='*****-*******-3',"
        " phone='+92*******67', address='<hidden>')"
    )
    assert "Muhammad" not in str(complainant)
