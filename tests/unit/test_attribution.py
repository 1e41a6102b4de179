from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.attribution import (
    DEFAULT_HALF_LIFE_MS,
    MODELS,
    credit,
)
from pipeline.multichannel import Touch

DAY = 86_400_000
LOOKBACK = 90 * DAY
CONV = 1_700_000_000_000


def t(days_before: float, channel: str, event_id: str | None = None) -> Touch:
    at = CONV - int(days_before * DAY)
    return Touch(at=at, channel=channel, event_id=event_id or f"{channel}-{at}")


JOURNEY = [
    t(10, "paid_search"),
    t(7, "email"),
    t(3, "organic_social"),
    t(1, "direct"),
]


def test_empty_goes_to_direct() -> None:
    for model in MODELS:
        assert credit([], CONV, model, lookback_ms=LOOKBACK) == {"direct": 1.0}
        # touches outside the window are as good as none
        assert credit([t(-1, "email"), t(91, "sms")], CONV, model, lookback_ms=LOOKBACK) == {
            "direct": 1.0
        }


def test_first_and_last_touch() -> None:
    assert credit(JOURNEY, CONV, "first_touch", lookback_ms=LOOKBACK) == {
        "paid_search": 1.0,
        "email": 0.0,
        "organic_social": 0.0,
        "direct": 0.0,
    }
    assert credit(JOURNEY, CONV, "last_touch", lookback_ms=LOOKBACK)["direct"] == 1.0


def test_last_non_direct() -> None:
    assert credit(JOURNEY, CONV, "last_non_direct", lookback_ms=LOOKBACK)["organic_social"] == 1.0
    only_direct = [t(2, "direct", "a"), t(1, "direct", "b")]
    assert credit(only_direct, CONV, "last_non_direct", lookback_ms=LOOKBACK) == {"direct": 1.0}


def test_linear_sums_repeated_channels() -> None:
    touches = [t(5, "email"), t(4, "paid_search"), t(3, "email"), t(2, "sms")]
    got = credit(touches, CONV, "linear", lookback_ms=LOOKBACK)
    assert got == pytest.approx({"email": 0.5, "paid_search": 0.25, "sms": 0.25})


def test_time_decay_halves_per_half_life() -> None:
    touches = [t(15, "paid_search"), t(8, "email"), t(1, "sms")]
    got = credit(touches, CONV, "time_decay", lookback_ms=LOOKBACK)
    # weights 1/4, 1/2, 1 (only the gaps between touches matter) -> normalised over 1.75
    assert got == pytest.approx({"paid_search": 0.25 / 1.75, "email": 0.5 / 1.75, "sms": 1 / 1.75})
    one_day = credit(touches, CONV, "time_decay", lookback_ms=LOOKBACK, half_life_ms=DAY)
    assert one_day["sms"] > got["sms"]


def test_time_decay_does_not_underflow() -> None:
    touches = [t(80, "email"), t(60, "sms")]
    got = credit(touches, CONV, "time_decay", lookback_ms=LOOKBACK, half_life_ms=1)
    assert got == {"email": 0.0, "sms": 1.0}


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, [1.0]),
        (2, [0.5, 0.5]),
        (3, [0.4, 0.2, 0.4]),
        (4, [0.4, 0.1, 0.1, 0.4]),
        (6, [0.4, 0.05, 0.05, 0.05, 0.05, 0.4]),
    ],
)
def test_position_based(n: int, expected: list[float]) -> None:
    touches = [t(n - i, f"ch{i}") for i in range(n)]
    got = credit(touches, CONV, "position_based", lookback_ms=LOOKBACK)
    assert got == pytest.approx({f"ch{i}": w for i, w in enumerate(expected)})


def test_boundaries_match_multichannel() -> None:
    edge = Touch(CONV - LOOKBACK, "referral", "edge")
    at_conversion = Touch(CONV, "phone_call", "conv")
    got = credit([edge, at_conversion], CONV, "last_touch", lookback_ms=LOOKBACK)
    assert got == {"referral": 1.0}


def test_custom_key() -> None:
    touches = [t(2, "email", "newsletter-42"), t(1, "email", "promo-7")]
    got = credit(touches, CONV, "linear", lookback_ms=LOOKBACK, key=lambda x: x.event_id)
    assert got == pytest.approx({"newsletter-42": 0.5, "promo-7": 0.5})


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown attribution model"):
        credit(JOURNEY, CONV, "shapley", lookback_ms=LOOKBACK)
    with pytest.raises(ValueError, match="half_life_ms"):
        credit(JOURNEY, CONV, "time_decay", lookback_ms=LOOKBACK, half_life_ms=0)


def test_default_half_life_is_seven_days() -> None:
    assert DEFAULT_HALF_LIFE_MS == 7 * DAY


touch_lists = st.lists(
    st.builds(
        Touch,
        at=st.integers(CONV - 120 * DAY, CONV + DAY),
        channel=st.sampled_from(["email", "paid_search", "direct", "sms", "referral"]),
        event_id=st.uuids().map(str),
    ),
    max_size=30,
)


@given(touch_lists, st.sampled_from(MODELS), st.integers(1, 30 * DAY))
def test_credits_sum_to_one_and_are_non_negative(
    touches: list[Touch], model: str, half_life: int
) -> None:
    got = credit(touches, CONV, model, lookback_ms=LOOKBACK, half_life_ms=half_life)
    assert math.isclose(sum(got.values()), 1.0, rel_tol=1e-9)
    assert all(v >= 0 for v in got.values())
    counted = {x.channel for x in touches if CONV - LOOKBACK <= x.at < CONV}
    assert set(got) == (counted or {"direct"})


@given(touch_lists, st.sampled_from(MODELS), st.randoms())
def test_order_of_arrival_does_not_matter(touches: list[Touch], model: str, rnd: object) -> None:
    shuffled = list(touches)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert credit(shuffled, CONV, model, lookback_ms=LOOKBACK) == credit(
        touches, CONV, model, lookback_ms=LOOKBACK
    )
