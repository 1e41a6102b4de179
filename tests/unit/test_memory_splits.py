"""The in-memory mirror of pipeline/lua/split.lua (pipeline/memory_splits.py) on the scenarios the
Lua scripts are tested with against Redis (tests/integration/test_lua_splits.py)."""

from __future__ import annotations

import asyncio

from pipeline.memory_store import MemoryStore
from tests.split_scenarios import (
    E1,
    E2,
    E3,
    PHONE,
    claim_split,
    merge_split,
    owner,
    run,
    split_client,
)

LOOP = asyncio.new_event_loop()


def test_a_claim_through_a_shared_phone_moves_to_a_client_of_its_own() -> None:
    store = MemoryStore(max_share=2)
    out = claim_split(LOOP, store)
    s = split_client(E2)
    assert out["third"]["splits"] == [
        {
            "kind": "claim",
            "to_client_id": s,
            "from_client_id": out["a"],
            "identifiers": [E2],
            "via": "phone",
        }
    ]
    assert owner(LOOP, store, E2) == s and owner(LOOP, store, E1) == out["a"]
    assert run(LOOP, store, "later", 4000, E2)["client_id"] == s


def test_a_merge_through_a_shared_phone_is_undone() -> None:
    store = MemoryStore(max_share=2)
    out = merge_split(LOOP, store)
    assert out["third"]["splits"] == [
        {
            "kind": "unmerge",
            "to_client_id": out["b"],
            "from_client_id": out["a"],
            "identifiers": [E2],
            "via": "phone",
        }
    ]
    assert owner(LOOP, store, E2) == out["b"] and store.accounts["acc"].merged == {}


def test_a_link_that_did_not_depend_on_the_shared_phone_is_kept() -> None:
    store = MemoryStore(max_share=2)
    a = run(LOOP, store, "p1", 1000, E1, PHONE, "cid:1.1")["client_id"]
    assert run(LOOP, store, "p2", 2000, E2, PHONE, "cid:1.1")["client_id"] == a
    assert run(LOOP, store, "p3", 3000, E3, PHONE)["splits"] == []
    assert owner(LOOP, store, E2) == a
