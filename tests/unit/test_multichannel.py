from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.multichannel import Touch, channels_before, in_window, is_multichannel, prune

DAY = 86_400_000
LOOKBACK = 90 * DAY
CONTACT = 1_700_000_000_000


def t(at: int, channel: str, event_id: str | None = None) -> Touch:
    return Touch(at=at, channel=channel, event_id=event_id or f"{channel}-{at}")


def test_distinct_channels_in_first_seen_order() -> None:
    touches = [
        t(CONTACT - 1 * DAY, "email"),
        t(CONTACT - 3 * DAY, "paid_search"),
        t(CONTACT - 2 * DAY, "organic_social"),
        t(CONTACT - 4 * DAY, "email"),
        t(CONTACT - 5 * DAY, "paid_search"),
    ]
    assert channels_before(touches, CONTACT, LOOKBACK) == [
        "paid_search",
        "email",
        "organic_social",
    ]


def test_window_boundaries() -> None:
    oldest_counted = t(CONTACT - LOOKBACK, "referral")
    too_old = t(CONTACT - LOOKBACK - 1, "display")
    at_contact = t(CONTACT, "phone_call")
    after = t(CONTACT + 1, "email")
    just_before = t(CONTACT - 1, "organic_search")
    touches = [too_old, oldest_counted, at_contact, after, just_before]
    assert channels_before(touches, CONTACT, LOOKBACK) == ["referral", "organic_search"]


def test_zero_lookback_counts_nothing() -> None:
    assert channels_before([t(CONTACT - 1, "email")], CONTACT, 0) == []
    with pytest.raises(ValueError, match="lookback_ms"):
        channels_before([], CONTACT, -1)


def test_is_multichannel_threshold() -> None:
    one = [t(CONTACT - DAY, "email"), t(CONTACT - 2 * DAY, "email")]
    two = [*one, t(CONTACT - 3 * DAY, "paid_search")]
    assert not is_multichannel([], CONTACT, LOOKBACK)
    assert not is_multichannel(one, CONTACT, LOOKBACK)
    assert is_multichannel(two, CONTACT, LOOKBACK)
    assert is_multichannel(two, CONTACT, LOOKBACK, 2)
    assert not is_multichannel(two, CONTACT, LOOKBACK, 3)
    assert is_multichannel(one, CONTACT, LOOKBACK, 1)
    with pytest.raises(ValueError, match="min_channels"):
        is_multichannel(two, CONTACT, LOOKBACK, 0)


def test_exclude_channels() -> None:
    touches = [t(CONTACT - DAY, "direct"), t(CONTACT - 2 * DAY, "email")]
    assert channels_before(touches, CONTACT, LOOKBACK, exclude=frozenset({"direct"})) == ["email"]
    assert not is_multichannel(touches, CONTACT, LOOKBACK, 2, exclude=frozenset({"direct"}))


def test_ties_ordered_by_event_id() -> None:
    a = Touch(CONTACT - DAY, "sms", "b-event")
    b = Touch(CONTACT - DAY, "email", "a-event")
    assert channels_before([a, b], CONTACT, LOOKBACK) == ["email", "sms"]
    assert in_window([a, b], CONTACT, LOOKBACK) == [b, a]


def test_prune() -> None:
    now = CONTACT
    touches = [
        t(now - LOOKBACK - 1, "old"),
        t(now - LOOKBACK, "edge"),
        t(now - 10, "a", "e1"),
        t(now - 10, "a", "e1"),  # duplicate event id (redelivery)
        t(now - 5, "b"),
        t(now + 1000, "future"),
    ]
    kept = prune(touches, now, LOOKBACK, cap=10)
    assert [x.channel for x in kept] == ["edge", "a", "b", "future"]
    assert [x.channel for x in prune(touches, now, LOOKBACK, cap=2)] == ["b", "future"]
    assert prune(touches, now, LOOKBACK, cap=0) == []
    with pytest.raises(ValueError, match="cap"):
        prune(touches, now, LOOKBACK, cap=-1)


touch_lists = st.lists(
    st.builds(
        Touch,
        at=st.integers(CONTACT - 100 * DAY, CONTACT + 10 * DAY),
        channel=st.sampled_from(["email", "paid_search", "direct", "sms", "referral"]),
        event_id=st.uuids().map(str),
    ),
    max_size=25,
    unique_by=lambda x: x.event_id,  # one event is one touch
)


@given(touch_lists, touch_lists)
def test_touches_at_or_after_contact_never_count(before: list[Touch], extra: list[Touch]) -> None:
    later = [Touch(max(x.at, CONTACT), x.channel, x.event_id) for x in extra]
    assert channels_before(before + later, CONTACT, LOOKBACK) == channels_before(
        before, CONTACT, LOOKBACK
    )


@given(touch_lists, st.randoms())
def test_order_of_arrival_does_not_matter(touches: list[Touch], rnd: object) -> None:
    shuffled = list(touches)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert channels_before(shuffled, CONTACT, LOOKBACK) == channels_before(
        touches, CONTACT, LOOKBACK
    )


@given(touch_lists, st.integers(0, 30))
def test_prune_keeps_what_the_window_needs(touches: list[Touch], cap: int) -> None:
    kept = prune(touches, CONTACT, LOOKBACK, cap)
    assert len(kept) <= cap
    assert len({x.event_id for x in kept}) == len(kept)
    if cap >= len(touches):
        # with room for everything, pruning changes nothing for a contact now
        assert channels_before(kept, CONTACT, LOOKBACK) == channels_before(
            touches, CONTACT, LOOKBACK
        )


def test_prune_cap_larger_than_history_keeps_all() -> None:
    touches = [t(CONTACT - 3, "a"), t(CONTACT - 2, "b"), t(CONTACT - 1, "c")]
    for cap in (3, 4, 5, 100):
        assert prune(touches, CONTACT, LOOKBACK, cap) == touches
