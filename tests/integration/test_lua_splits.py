"""resolve.lua / record.lua splits (pipeline/lua/split.lua) against real Redis: when an identifier
proves shared, its client is regrouped into the connected components of its links without it
(claims and merges made through it move out, with what they linked without it), a call that made
the client through it alone goes its own way, a redelivery gives the same result, and a link that
did not depend on the shared identifier is kept."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from pipeline import lookups
from pipeline.keys import account_base
from pipeline.store import ClientStore
from pipeline.touches import CONTACT, Hit
from tests.split_scenarios import (
    ALL_SHARED,
    COUNTER_CARDS,
    E1,
    E2,
    E3,
    LOOKUP_AFTER_CLAIM,
    PHONE,
    a_lookup_after_its_identifier_was_claimed,
    call_first,
    claim_split,
    counters_follow_a_split,
    forms_whose_identifiers_all_prove_shared,
    hit_events,
    hits_follow_a_split,
    lookup_then_merge_in_one_batch,
    lookup_then_shared_in_one_batch,
    made,
    merge_split,
    merge_through_a_claim,
    new_client,
    own_client,
    owner,
    record,
    release,
    resolve,
    resolved_then_split_in_one_batch,
    run,
    split_client,
)
from touchline.services.stack import Endpoints

pytestmark = pytest.mark.integration
LOOP = asyncio.new_event_loop()


@pytest.fixture
def store(services: Endpoints) -> Iterator[ClientStore]:
    s = ClientStore(services.redis_url, f"split{uuid.uuid4().hex[:8]}", max_share=2)
    yield s
    LOOP.run_until_complete(s.close())


def test_a_claim_through_a_phone_that_proves_shared_moves_to_a_client_of_its_own(
    store: ClientStore,
) -> None:
    out = claim_split(LOOP, store)
    s = split_client(E2)
    assert made(out["third"]) == [
        {
            "kind": "claim",
            "to_client_id": s,
            "from_client_id": out["a"],
            "identifiers": [E2],
            "via": "phone",
        },
        release(out["a"]),
    ]
    assert owner(LOOP, store, E2) == s and owner(LOOP, store, E1) == out["a"]
    assert run(LOOP, store, "later", 4000, E2)["client_id"] == s  # profile 2's next event
    card = LOOP.run_until_complete(store.card("acc", s))
    assert card["card"]["created_at"] == "2000"  # when the identifier was claimed
    # a call from the phone alone now gets a client of its own
    assert run(LOOP, store, "call", 5000, PHONE)["client_id"] == new_client("call")


def test_a_client_merged_in_through_a_phone_that_proves_shared_moves_out_with_what_it_linked(
    store: ClientStore,
) -> None:
    out = merge_split(LOOP, store)
    s = split_client("cid:2.2")
    assert made(out["third"]) == [
        {
            "kind": "claim",
            "to_client_id": s,
            "from_client_id": out["a"],
            "identifiers": ["cid:2.2", E2],
            "via": "phone",
        },
        release(out["a"]),
    ]
    assert owner(LOOP, store, E2) == owner(LOOP, store, "cid:2.2") == s
    assert owner(LOOP, store, E1) == out["a"]
    assert run(LOOP, store, "later", 4000, "cid:2.2")["client_id"] == s


def test_a_redelivered_event_gives_the_same_splits_once(
    store: ClientStore, services: Endpoints
) -> None:
    run(LOOP, store, "p1", 1000, E1, PHONE)
    run(LOOP, store, "p2", 2000, E2, PHONE)
    first = resolve(LOOP, store, "p3", 3000, E3, PHONE)  # splits, then the worker dies
    again = resolve(LOOP, store, "p3", 3000, E3, PHONE)  # redelivered before it was recorded
    assert again.client_id == first.client_id
    result = record(LOOP, store, "p3", again.client_id, 3000)
    assert [s["identifiers"] for s in result["splits"]] == [[E2], [PHONE]]
    assert record(LOOP, store, "p3", again.client_id, 3000) == result  # redelivered after
    assert resolve(LOOP, store, "p3", 3000, E3, PHONE).prior == result
    # the same events in a fresh store give the same split-off client
    fresh = ClientStore(services.redis_url, f"split{uuid.uuid4().hex[:8]}", max_share=2)
    try:
        assert made(claim_split(LOOP, fresh)["third"]) == made(result)
    finally:
        LOOP.run_until_complete(fresh.close())


def test_a_link_that_did_not_depend_on_the_shared_phone_is_kept(store: ClientStore) -> None:
    a = run(LOOP, store, "p1", 1000, E1, PHONE, "cid:1.1")["client_id"]
    # E2 arrives with the phone and profile 1's web client id: the claim rests on both
    assert run(LOOP, store, "p2", 2000, E2, PHONE, "cid:1.1")["client_id"] == a
    third = run(LOOP, store, "p3", 3000, E3, PHONE)
    assert made(third) == [release(a)]
    assert owner(LOOP, store, E2) == a


def test_erasing_a_person_removes_the_links_recorded_about_them(store: ClientStore) -> None:
    from pipeline import erasure

    a = run(LOOP, store, "p1", 1000, E1, PHONE)["client_id"]
    b = run(LOOP, store, "b1", 1500, E2, "cid:2.2")["client_id"]
    run(LOOP, store, "p2", 2000, E2, PHONE)  # b merged into p1's client through the phone
    run(LOOP, store, "p2b", 2100, E2)  # looked up through E2 alone
    base = account_base(store.prefix, "acc")
    assert LOOP.run_until_complete(store.redis.hlen(base + "links:" + a)) == 3
    # p2b's entry, and the client it is stored with as the hash's default (lookups.lua)
    assert LOOP.run_until_complete(store.redis.hlen(base + "lookedupvia:" + E2)) == 2
    clients, identifiers, events = {b}, {E2, "cid:2.2"}, {"b1", "p2", "p2b"}
    LOOP.run_until_complete(erasure.erase(store, "acc", clients, identifiers, events))
    assert LOOP.run_until_complete(store.redis.hkeys(base + "links:" + a)) == [
        f'["{E1}","{PHONE}"]'.encode()
    ]
    assert LOOP.run_until_complete(store.redis.exists(base + "lookedupvia:" + E2)) == 0
    left = erasure.remaining(store, "acc", clients, identifiers, events)
    assert LOOP.run_until_complete(left) == 0


def test_a_merge_through_a_claimed_identifier_moves_with_it(store: ClientStore) -> None:
    out = merge_through_a_claim(LOOP, store)
    s = split_client("cid:9.9")
    assert [(x["kind"], x["to_client_id"], x["identifiers"]) for x in made(out["third"])] == [
        ("claim", s, ["cid:9.9", E2]),
        ("release", "", [PHONE]),
    ]
    assert owner(LOOP, store, "cid:9.9") == owner(LOOP, store, E2) == s


def test_a_call_that_made_the_phone_s_client_goes_its_own_way(store: ClientStore) -> None:
    out = call_first(LOOP, store)
    assert [
        (x["kind"], x["to_client_id"], x["from_client_id"], x["identifiers"])
        for x in made(out["third"])
    ] == [
        ("claim", split_client("cid:2.2"), out["call"], ["cid:2.2", E2]),
        ("release", "", out["call"], [PHONE]),
        ("lookup", own_client("call"), out["call"], ["event:call"]),
    ]
    assert owner(LOOP, store, E1) == out["call"]  # profile 1's link is the oldest left
    assert owner(LOOP, store, E2) == split_client("cid:2.2")


def test_a_lookup_split_names_the_client_the_call_is_stored_with(store: ClientStore) -> None:
    out = lookup_then_merge_in_one_batch(LOOP, store)
    assert out["stored"] == out["b"] != out["a"]  # merged between its resolve and its record
    lookups = [x for x in made(out["third"]) if x["kind"] == "lookup"]
    assert [(x["from_client_id"], x["to_client_id"]) for x in lookups] == [
        (out["b"], new_client("call"))
    ]


def test_a_call_resolved_before_the_phone_proved_shared_and_recorded_after_is_its_own(
    store: ClientStore,
) -> None:
    out = lookup_then_shared_in_one_batch(LOOP, store)
    lookups = [x for x in made(out["third"]) if x["kind"] == "lookup"]
    assert [(x["from_client_id"], x["to_client_id"]) for x in lookups] == [
        (out["a"], new_client("call"))
    ]
    assert out["call"]["client_id"] == new_client("call")  # recorded where the split moved it


def test_a_lookup_kept_in_the_layout_before_still_moves(store: ClientStore) -> None:
    a = run(LOOP, store, "p1", 1000, E1, PHONE)["client_id"]
    run(LOOP, store, "p2", 2000, E2, PHONE)
    # a call looked up through the phone, recorded by a worker of the layout before (JSON field)
    entry = f'["old","{a}","c-old","1500"]'
    key = account_base(store.prefix, "acc") + "lookedupvia:" + PHONE
    LOOP.run_until_complete(store.redis.hset(key, entry, ""))
    third = run(LOOP, store, "p3", 3000, E3, PHONE)
    lookups = [x for x in made(third) if x["kind"] == "lookup"]
    assert [(x["from_client_id"], x["to_client_id"], x["identifiers"]) for x in lookups] == [
        (a, "c-old", ["event:old"])
    ]
    assert LOOP.run_until_complete(store.card("acc", "c-old"))["card"]["created_at"] == "1500"


@pytest.mark.parametrize("stored_before", [False, True])
def test_a_lookup_of_a_uuid_event_is_kept_in_its_16_bytes_and_moves(
    store: ClientStore, stored_before: bool
) -> None:
    call = "3ba14bf2-c897-4890-927d-e2a5cdb02406"
    a = run(LOOP, store, "p1", 1000, E1, PHONE)["client_id"]
    # a call looked up through the phone, with its hit
    assert resolve(LOOP, store, call, 1500, PHONE).client_id == a
    hit = Hit(1500, call, CONTACT, "phone_call", None, None)
    record(LOOP, store, call, a, 1500, hit=hit.member())
    base = account_base(store.prefix, "acc")
    entries = LOOP.run_until_complete(store.redis.hgetall(base + "lookedupvia:" + PHONE))
    assert entries.pop(lookups.DEFAULT) == a.encode()  # the client its first entry names
    ((raw, value),) = entries.items()
    assert raw == b"\x00" + bytes.fromhex(call.replace("-", ""))
    assert lookups.event_id_of(raw) == call
    # its value: the time in 6 bytes, the client being the hash's default (pipeline/lookups.py)
    assert value == lookups.packed(a, "1500", "", a) and len(value) == 7
    assert lookups.parts(value, a) == (a, "1500", "")
    (member,) = LOOP.run_until_complete(store.redis.zrange(base + "hits:" + a, 0, -1))
    assert member == b"\x01" + raw[1:] + b"2\x1fphone_call"  # the hit's id in its 16 bytes too
    assert LOOP.run_until_complete(store.card("acc", a))["hits"] == [hit]
    if stored_before:  # the hit as a worker of the layout before kept it: the array's rest
        before = raw + b'[2,"phone_call",null]'
        LOOP.run_until_complete(store.redis.zrem(base + "hits:" + a, member))
        LOOP.run_until_complete(store.redis.zadd(base + "hits:" + a, {before: 1500}))
        assert LOOP.run_until_complete(store.card("acc", a))["hits"] == [hit]
    run(LOOP, store, "p2", 2000, E2, PHONE)
    third = run(LOOP, store, "p3", 3000, E3, PHONE)
    moved = [(x["to_client_id"], x["identifiers"]) for x in made(third) if x["kind"] == "lookup"]
    assert moved == [(new_client(call), [f"event:{call}"])]
    assert LOOP.run_until_complete(store.card("acc", new_client(call)))["hits"] == [hit]
    assert LOOP.run_until_complete(store.card("acc", a))["hits"] == []


def test_hits_move_with_the_identifiers_of_their_events(store: ClientStore) -> None:
    out = hits_follow_a_split(LOOP, store)
    ev = out["events"]
    assert hit_events(LOOP, store, out["a"]) == [ev["p1"]]
    assert hit_events(LOOP, store, out["s"]) == [ev["b1"], "b2", ev["p2"], ev["f"], ev["l"]]


def test_an_event_resolved_before_a_split_is_recorded_where_its_identifiers_went(
    store: ClientStore,
) -> None:
    out = resolved_then_split_in_one_batch(LOOP, store)
    assert out["stored"] == split_client("cid:2.2") != out["a"]
    assert hit_events(LOOP, store, out["stored"]) == ["v"]
    assert hit_events(LOOP, store, out["a"]) == []


@pytest.mark.parametrize("layout_before", [False, True])
def test_revenue_and_contacts_move_with_the_identifiers_of_their_events(
    store: ClientStore, layout_before: bool
) -> None:
    cards = counters_follow_a_split(LOOP, store, layout_before)
    assert cards == COUNTER_CARDS


def test_a_lookup_follows_its_identifier_s_claim_before_it_proves_shared(
    store: ClientStore,
) -> None:
    assert a_lookup_after_its_identifier_was_claimed(LOOP, store) == LOOKUP_AFTER_CLAIM


def test_an_event_whose_identifiers_all_prove_shared_goes_to_its_own_client(
    store: ClientStore,
) -> None:
    assert forms_whose_identifiers_all_prove_shared(LOOP, store) == ALL_SHARED
