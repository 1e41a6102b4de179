from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from touchline.clientid import client_id_from_ga


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("GA1.2.147852369.3692587411", "147852369.3692587411"),  # the seed's example
        ("GA1.1.147852369.3692587411", "147852369.3692587411"),  # GA4 on a top-level domain
        ("GA1.3.1.2", "1.2"),
        ("GA1.2-2.147852369.3692587411", "147852369.3692587411"),  # legacy depth-count form
        ("ga1.2.147852369.3692587411", "147852369.3692587411"),
        ("  GA1.2.147852369.3692587411\n", "147852369.3692587411"),
        ('"GA1.2.147852369.3692587411"', "147852369.3692587411"),
        ("_ga=GA1.2.147852369.3692587411", "147852369.3692587411"),
        ("147852369.3692587411", "147852369.3692587411"),
        (" 147852369.3692587411 ", "147852369.3692587411"),
    ],
)
def test_accepted_forms(value: str, expected: str) -> None:
    assert client_id_from_ga(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "GA1.2",
        "GA1.2.147852369",
        "GA1.2.abc.3692587411",
        "GS1.1.1692012345.3.1.1692012399.0.0.0",  # GA4 session cookie, not a client id
        "GS2.1.s1692012345$o3$g1$t1692012399",
        "147852369",
        "147852369.3692587411.5",
        "147852369-3692587411",
        "1" * 21 + ".1",
        "GA1.2.147852369.3692587411 extra",
        "undefined",
        "null",
    ],
)
def test_garbage_is_none(value: str | None) -> None:
    assert client_id_from_ga(value) is None


@given(st.integers(0, 2**31), st.integers(0, 2**33), st.integers(1, 4))
def test_raw_and_normalised_agree(random: int, ts: int, depth: int) -> None:
    cid = f"{random}.{ts}"
    assert client_id_from_ga(f"GA1.{depth}.{cid}") == cid
    assert client_id_from_ga(cid) == cid
    assert client_id_from_ga(client_id_from_ga(f"GA1.{depth}.{cid}")) == cid


@given(st.text(max_size=40))
def test_never_raises(value: str) -> None:
    result = client_id_from_ga(value)
    assert result is None or result.replace(".", "").isdigit()


def test_only_ascii_digits_make_a_client_id() -> None:
    """Python's \\d matches every script's digits; a client id is ASCII digits only."""
    assert client_id_from_ga("١٢٣.٤٥٦") is None  # Arabic-Indic digits
    assert client_id_from_ga("GA1.2.１２.３４") is None  # fullwidth digits
    assert client_id_from_ga("GA1.2.12.34") == "12.34"
