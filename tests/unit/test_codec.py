from __future__ import annotations

import pytest

from touchline.codec import SINGLE_OBJECT_MAGIC, Codec, DecodeError
from touchline.contracts import load
from touchline.settings import REPO_ROOT
from touchline.validation import coerce

CONTRACTS = load(REPO_ROOT / "schemas")
CODEC = Codec(CONTRACTS)
NAME = "touchline.events.BookingStep"


def datum() -> dict[str, object]:
    value, errors = coerce(
        CONTRACTS.expanded[NAME],
        {
            "envelope": {
                "event_id": "0b8e6b4e-6a0e-4c1e-9a39-6c6a1c0e0a11",
                "event_type": "appointment_booking",
                "occurred_at": 1,
                "received_at": 2,
                "source": "booking_widget",
                "account_id": "a",
                "ids": {"phone": "+4930123"},
            },
            "appointments": [{"store_id": "s1"}],
        },
    )
    assert errors == []
    return value


def test_single_object_round_trip() -> None:
    data = CODEC.encode(NAME, datum())
    assert data.startswith(SINGLE_OBJECT_MAGIC)
    assert CODEC.decode(data) == (NAME, datum())


@pytest.mark.parametrize("data", [b"", b"junk", b"\xc3\x01" + b"\x00" * 8 + b"x", b"\x00\x00"])
def test_garbage_is_a_decode_error_not_a_crash(data: bytes) -> None:
    with pytest.raises(DecodeError):
        CODEC.decode(data)


def test_truncated_body_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        CODEC.decode(CODEC.encode(NAME, datum())[:-5])
