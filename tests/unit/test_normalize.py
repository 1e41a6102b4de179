from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from touchline.normalize import normalize_email, normalize_external_id, normalize_phone


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("anna@example.com", "anna@example.com"),
        ("  Anna.Schmidt@Example.DE ", "anna.schmidt@example.de"),
        ("j.doe+yoga@gmail.com", "j.doe+yoga@gmail.com"),  # gmail dots and +tags are kept
        ("jdoe@googlemail.com", "jdoe@googlemail.com"),
        ("mailto:anna@example.com", "anna@example.com"),
        ("<anna@example.com>", "anna@example.com"),
        ("anna@example.com.", "anna@example.com"),
        ("anna@sub.example.co.uk", "anna@sub.example.co.uk"),
        ("anna@bücher.de", "anna@bücher.de"),
        ("o'brien@example.ie", "o'brien@example.ie"),
    ],
)
def test_email_normalised(value: str, expected: str) -> None:
    assert normalize_email(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "anna",
        "anna@",
        "@example.com",
        "anna@example",
        "anna@@example.com",
        "an na@example.com",
        "anna@exa mple.com",
        "anna@-example.com",
        "anna@example-.com",
        "anna@example.c",
        "anna@example.123",
        ".anna@example.com",
        "anna.@example.com",
        "an..na@example.com",
        "anna@example..com",
        "a" * 65 + "@example.com",
        "anna@" + "b" * 250 + ".com",
        "anna@example.com\n<script>",
        "(not set)",
    ],
)
def test_email_garbage(value: str | None) -> None:
    assert normalize_email(value) is None


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("030 1234567", "DE", "+49301234567"),
        ("+49 (30) 1234 5678", "DE", "+493012345678"),
        ("0049 30 12345678", "DE", "+493012345678"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("tel:+49-30-123456", "DE", "+4930123456"),
        ("+7 916 123-45-67", "DE", "+79161234567"),
        ("8 (916) 123-45-67", "RU", "+79161234567"),
        ("(650) 253-0000", "US", "+16502530000"),
        ("+1 650 253 0000", "de", "+16502530000"),
        ("22 123 45 67", "PL", "+48221234567"),
    ],
)
def test_phone_e164(value: str, region: str, expected: str) -> None:
    assert normalize_phone(value, region) == expected


@pytest.mark.parametrize(
    "value", [None, "", "   ", "abc", "123", "+49 0", "+999 123456789", "1" * 80, "unknown"]
)
def test_phone_garbage(value: str | None) -> None:
    assert normalize_phone(value) is None


def test_phone_strictness() -> None:
    # right length for Germany but not an assigned range: possible, not valid
    assert normalize_phone("+49 123") is None
    assert normalize_phone("+49 123", strict=False) == "+49123"


def test_external_id() -> None:
    assert normalize_external_id("Studio ", " c-123 ") == "studio:c-123"
    assert normalize_external_id("crm", "AbC") == "crm:AbC"  # value case is kept
    for system, value in [("", "1"), ("crm", "  "), ("c:rm", "1"), ("my crm", "1")]:
        with pytest.raises(ValueError, match="external id"):
            normalize_external_id(system, value)


@given(st.text(max_size=80))
def test_never_raises(value: str) -> None:
    email = normalize_email(value)
    assert email is None or (email == email.lower() and email.count("@") == 1)
    assert normalize_email(email) == email
    phone = normalize_phone(value)
    assert phone is None or (phone.startswith("+") and phone[1:].isdigit())
    if phone is not None:
        assert normalize_phone(phone) == phone
