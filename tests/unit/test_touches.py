"""pipeline.touches: a card's touches derived in event time from its hits, whatever their order."""

from __future__ import annotations

import hashlib
import random

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.sessions import campaign_in_key, campaign_key
from pipeline.touches import (
    CONTACT,
    LEAD,
    WEB,
    Hit,
    Touch,
    derive,
    hit_tags,
    session_starts,
    stored_member,
)
from pipeline.utm import Campaign

MIN = 60_000
T = 30 * MIN
RULES = {"timeout_ms": T, "lookback_ms": 30 * 86_400_000, "min_channels": 2}


def web(at: int, eid: str, channel: str = "direct", key: str | None = None) -> Hit:
    return Hit(at, eid, WEB, channel, key, None)


def test_sessions_break_on_a_gap_of_the_timeout_and_on_a_new_campaign() -> None:
    hits = [
        web(0, "a", "paid_search", "google|cpc"),
        web(T - 1, "b"),  # inside the visit
        web(2 * T - 1, "c"),  # exactly the timeout after b: a new visit
        web(2 * T, "d", "email", "news|email"),  # a new campaign
        web(2 * T + MIN, "e", "email", "news|email"),  # the same campaign again: same visit
        web(2 * T + 2 * MIN, "f"),  # no campaign: never splits
    ]
    assert session_starts(hits, T) == {"a", "c", "d"}


def test_a_session_opened_without_a_campaign_splits_on_the_first_campaign() -> None:
    assert session_starts([web(0, "a"), web(MIN, "b", "email", "k")], T) == {"a", "b"}


def test_the_late_page_view_of_issue_10_is_the_first_touch() -> None:
    """booking_start at 09:03 arrives first, then the page view at 09:00 that began the visit:
    the first touch is 09:00, on the page view's channel."""
    nine = 9 * 60 * MIN
    late_first = [web(nine + 3 * MIN, "step"), web(nine, "view", "paid_search", "g|cpc")]
    touches = derive(late_first, **RULES)
    assert [(t.at, t.event_id, t.channel) for t in touches] == [(nine, "view", "paid_search")]


def test_contacts_are_multichannel_with_distinct_channels_before_them_in_the_lookback() -> None:
    day = 86_400_000
    hits = [
        web(0, "w1", "paid_search", "a"),
        web(40 * day, "w2", "organic_search"),
        web(41 * day, "w3", "email", "n"),
        Hit(41 * day, "lead", LEAD, "crm_offline", None, None),
        Hit(42 * day, "call", CONTACT, "phone_call", None, None),
        Hit(42 * day + MIN, "form", WEB | CONTACT, "email", None, None),  # a web form: one touch
    ]
    touches = {t.event_id: t for t in derive(hits, **RULES)}
    assert set(touches) == {"w1", "w2", "w3", "lead", "call", "form"}
    call = touches["call"]
    # w1 is older than 30 days; touches at one time are ordered by event id ("lead" < "w3")
    assert call.channels_before == ("organic_search", "crm_offline", "email")
    assert call.multichannel and call.since_previous_contact_ms is None
    form = touches["form"]
    assert form.channels_before == ("organic_search", "crm_offline", "email", "phone_call")
    assert form.since_previous_contact_ms == MIN


def test_a_contact_never_counts_touches_at_its_own_time() -> None:
    hits = [Hit(5, "c", CONTACT, "phone_call", None, None), web(5, "a", "email", "k")]
    (first, second) = derive(hits, **RULES)
    assert first.event_id == "a" and second.channels_before == ()


def test_member_round_trip() -> None:
    key = campaign_key(Campaign(source="news|letter", medium="email", campaign="spr\\ing|24"))
    hit = Hit(7, "e", WEB | CONTACT, "email", key, "spr\\ing|24")
    assert Hit.from_member(hit.member().encode(), 7.0) == hit
    # a member stored before the campaign left it (its fifth value) reads the same
    old = orjson.dumps(["e", WEB | CONTACT, "email", key, "spr\\ing|24"])
    assert Hit.from_member(old, 7.0) == hit


@given(
    st.builds(
        Campaign,
        source=st.none() | st.text(min_size=1),
        medium=st.none() | st.text(min_size=1),
        campaign=st.none() | st.text(min_size=1),
        term=st.none() | st.text(min_size=1),
        content=st.none() | st.text(min_size=1),
    )
)
def test_the_campaign_key_holds_the_campaign(c: Campaign) -> None:
    assert campaign_in_key(campaign_key(c)) == c.campaign


hits_strategy = st.lists(
    st.builds(
        Hit,
        at=st.integers(0, 6 * T),
        event_id=st.uuids().map(str),
        flags=st.sampled_from([WEB, WEB, WEB, CONTACT, LEAD, WEB | CONTACT]),
        channel=st.sampled_from(["direct", "email", "paid_search", "phone_call"]),
        campaign_key=st.sampled_from([None, None, "a", "b"]),
        campaign=st.none(),
    ),
    max_size=30,
)


@given(hits_strategy, st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_same_touches(hits: list[Hit], rnd: random.Random) -> None:
    expected: list[Touch] = derive(hits, **RULES)
    shuffled = list(hits)
    rnd.shuffle(shuffled)
    assert derive(shuffled, **RULES) == expected


def test_a_member_redis_keeps_with_the_uuid_in_its_16_bytes_reads_the_same() -> None:
    event_id = "3ba14bf2-c897-4890-927d-e2a5cdb02406"
    hit = Hit(7, event_id, CONTACT, "phone_call", None, None)
    stored = b"\x01" + bytes.fromhex(event_id.replace("-", "")) + b"2\x1fphone_call"
    assert Hit.from_member(stored, 7.0) == hit
    # the form before: the rest of the JSON array after a zero byte and the 16 bytes
    before = b"\x00" + bytes.fromhex(event_id.replace("-", "")) + b'[2,"phone_call",null]'
    assert Hit.from_member(before, 7.0) == hit


def test_a_stored_campaign_key_may_hold_the_separator() -> None:
    event_id = "3ba14bf2-c897-4890-927d-e2a5cdb02406"
    key = campaign_key(Campaign(source="a\x1fb", medium="email", campaign="sp\x1fring"))
    hit = Hit(7, event_id, WEB, "email", key, "sp\x1fring")
    stored = b"\x01" + bytes.fromhex(event_id.replace("-", "")) + f"1\x1femail\x1f{key}".encode()
    assert Hit.from_member(stored, 7.0) == hit


@pytest.mark.parametrize(
    ("event_id", "channel", "key", "compact"),
    [
        ("3ba14bf2-c897-4890-927d-e2a5cdb02406", "email", "news|email|spring||v2|", True),
        ("3ba14bf2-c897-4890-927d-e2a5cdb02406", "phone_call", None, True),
        ("3ba14bf2-c897-4890-927d-e2a5cdb02406", "odd\x1fchannel", None, False),
        ("3BA14BF2-C897-4890-927D-E2A5CDB02406", "email", None, False),  # not canonical
        ("call-7", "phone_call", "k", False),
    ],
)
@pytest.mark.parametrize("tags", ["", hit_tags(["email:a@x.de", "ext.studio:7", "cid:1.2"])])
def test_the_stored_member_reads_back_as_the_hit(
    event_id: str, channel: str, key: str | None, compact: bool, tags: str
) -> None:
    hit = Hit(7, event_id, CONTACT, channel, key, campaign_in_key(key), tags)
    stored = stored_member(hit.member())
    assert Hit.from_member(stored, 7.0) == hit
    if compact:  # a byte 1 and the id's 16 bytes, then no JSON: 27 bytes less, 6 more if no key
        # (a byte 2 with tags, each in 4 bytes instead of 8 hex digits)
        assert stored[:1] == (b"\x02" if tags else b"\x01")
        assert len(stored) <= len(hit.member()) - 21 - len(tags) // 2
    else:
        assert stored == hit.member().encode()


def test_a_hit_is_tagged_with_its_source_system_ids_email_phone_and_web_client_id() -> None:
    ids = ["ext.studio:7", "email:a@x.de", "phone:+4930555", "cid:1.2"]
    assert hit_tags([*ids, "other:9"]) == "".join(
        hashlib.sha1(k.encode()).hexdigest()[:8] for k in ids
    )
