"""The in-memory mirror of pipeline/lua/split.lua (pipeline/memory_splits.py) on the scenarios the
Lua scripts are tested with against Redis (tests/integration/test_lua_splits.py)."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.memory_splits import components
from pipeline.memory_store import MemoryStore
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
    release,
    resolved_then_split_in_one_batch,
    run,
    split_client,
)

LOOP = asyncio.new_event_loop()


def test_a_claim_through_a_shared_phone_moves_to_a_client_of_its_own() -> None:
    store = MemoryStore(max_share=2)
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
    assert run(LOOP, store, "later", 4000, E2)["client_id"] == s


def test_a_client_merged_in_through_a_shared_phone_moves_out_with_what_it_linked() -> None:
    store = MemoryStore(max_share=2)
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


def test_a_link_that_did_not_depend_on_the_shared_phone_is_kept() -> None:
    store = MemoryStore(max_share=2)
    a = run(LOOP, store, "p1", 1000, E1, PHONE, "cid:1.1")["client_id"]
    assert run(LOOP, store, "p2", 2000, E2, PHONE, "cid:1.1")["client_id"] == a
    assert made(run(LOOP, store, "p3", 3000, E3, PHONE)) == [release(a)]
    assert owner(LOOP, store, E2) == a


def test_the_worker_emits_each_split_once_and_counts_it() -> None:
    from prometheus_client import REGISTRY

    from pipeline import metrics
    from pipeline.processor import Processor
    from tests.split_scenarios import CODEC, journeys
    from touchline.contracts import SPLIT

    def counted() -> float:
        found = [
            REGISTRY.get_sample_value("touchline_identity_splits_total", {"kind": kind})
            for kind in metrics.SPLIT_KINDS
        ]
        assert None not in found  # every kind is exported from the start, at 0
        return sum(v or 0.0 for v in found)

    processor = Processor(CODEC, MemoryStore(max_share=2))
    batch = [(value, "raw", 0, n) for n, (_, value) in enumerate(journeys())]
    before = counted()
    first = LOOP.run_until_complete(processor.handle_batch(batch))
    splits = [CODEC.decode(v) for o in first for _, v in o.splits]
    assert [(name, s["kind"], s["identifiers"]) for name, s in splits] == [
        (SPLIT, "claim", ["cid:222.333", "email:two@x.de"]),
        (SPLIT, "release", [PHONE]),
    ]
    assert counted() == before + 2
    again = LOOP.run_until_complete(processor.handle_batch(batch))  # redelivered
    assert [o.splits for o in again] == [o.splits for o in first]  # the same records again
    assert counted() == before + 2  # counted once


def test_a_merge_through_a_claimed_identifier_moves_with_it() -> None:
    store = MemoryStore(max_share=2)
    out = merge_through_a_claim(LOOP, store)
    s = split_client("cid:9.9")
    assert [(x["kind"], x["to_client_id"], x["identifiers"]) for x in made(out["third"])] == [
        ("claim", s, ["cid:9.9", E2]),
        ("release", "", [PHONE]),
    ]
    assert owner(LOOP, store, "cid:9.9") == owner(LOOP, store, E2) == s


def test_a_call_that_made_the_phone_s_client_goes_its_own_way() -> None:
    store = MemoryStore(max_share=2)
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


def test_components_leave_shared_identifiers_out_and_come_oldest_first() -> None:
    links = {'["a","p"]': 5, '["b","p"]': 3, '["b","c"]': 9, '["p"]': 1}
    assert components(links, {"p"}) == [
        (3, ["b", "c"], {'["b"]': 3, '["b","c"]': 9}),
        (5, ["a"], {'["a"]': 5}),
    ]
    assert components(links, set()) == [
        (1, ["a", "b", "c", "p"], {'["a","p"]': 5, '["b","p"]': 3, '["b","c"]': 9, '["p"]': 1})
    ]


def test_a_lookup_split_names_the_client_the_call_is_stored_with() -> None:
    store = MemoryStore(max_share=2)
    out = lookup_then_merge_in_one_batch(LOOP, store)
    assert out["stored"] == out["b"] != out["a"]  # merged between its resolve and its record
    lookups = [x for x in made(out["third"]) if x["kind"] == "lookup"]
    assert [(x["from_client_id"], x["to_client_id"]) for x in lookups] == [
        (out["b"], new_client("call"))
    ]


def test_a_call_resolved_before_the_phone_proved_shared_and_recorded_after_is_its_own() -> None:
    store = MemoryStore(max_share=2)
    out = lookup_then_shared_in_one_batch(LOOP, store)
    lookups = [x for x in made(out["third"]) if x["kind"] == "lookup"]
    assert [(x["from_client_id"], x["to_client_id"]) for x in lookups] == [
        (out["a"], new_client("call"))
    ]
    assert out["call"]["client_id"] == new_client("call")  # recorded where the split moved it


def test_hits_move_with_the_identifiers_of_their_events() -> None:
    store = MemoryStore(max_share=2)
    out = hits_follow_a_split(LOOP, store)
    ev = out["events"]
    assert hit_events(LOOP, store, out["a"]) == [ev["p1"]]
    assert hit_events(LOOP, store, out["s"]) == [ev["b1"], "b2", ev["p2"], ev["f"], ev["l"]]


def test_an_event_resolved_before_a_split_is_recorded_where_its_identifiers_went() -> None:
    store = MemoryStore(max_share=2)
    out = resolved_then_split_in_one_batch(LOOP, store)
    assert out["stored"] == split_client("cid:2.2") != out["a"]
    assert hit_events(LOOP, store, out["stored"]) == ["v"]
    assert hit_events(LOOP, store, out["a"]) == []


@pytest.mark.parametrize("layout_before", [False, True])
def test_revenue_and_contacts_move_with_the_identifiers_of_their_events(
    layout_before: bool,
) -> None:
    store = MemoryStore(max_share=2)
    cards = counters_follow_a_split(LOOP, store, layout_before)
    assert cards == COUNTER_CARDS


def test_a_lookup_follows_its_identifier_s_claim_before_it_proves_shared() -> None:
    store = MemoryStore(max_share=2)
    assert a_lookup_after_its_identifier_was_claimed(LOOP, store) == LOOKUP_AFTER_CLAIM


def test_an_event_whose_identifiers_all_prove_shared_goes_to_its_own_client() -> None:
    store = MemoryStore(max_share=2)
    assert forms_whose_identifiers_all_prove_shared(LOOP, store) == ALL_SHARED
