"""Split scenarios (issue 10, item 4) run against any client store: the Lua scripts in real
Redis (tests/integration/test_lua_splits.py) and their mirror (tests/unit/test_memory_splits.py).

Three studio profiles share the phone "030 5550100" (max_share 2), each with its own email."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from pipeline.memory_store import MemoryStore
from pipeline.store import ClientStore, Resolution, ResolveRequest, Store

PHONE = "phone:+49305550100"
E1, E2, E3 = "email:one@x.de", "email:two@x.de", "email:three@x.de"
ACCOUNT = "acc"


def split_client(identifier: str) -> str:
    """The split-off client of a claim group whose first identifier is ``identifier``."""
    return "s" + hashlib.sha1(f"{ACCOUNT}|{identifier}".encode()).hexdigest()[:19]


def resolve(loop: asyncio.AbstractEventLoop, store: Store, event: str, at: int, *ids: str) -> Any:
    request = ResolveRequest(ACCOUNT, event, f"c-{event}", at, list(ids))
    res = loop.run_until_complete(store.resolve_many([request]))[0]
    assert isinstance(res, Resolution), res
    return res


def record(loop: asyncio.AbstractEventLoop, store: Store, event: str, client: str, at: int) -> Any:
    ctx = {
        "occurred_at": at,
        "lookback_ms": 30 * 86_400_000,
        "touch_cap": 10,
        "hit_cap": 10,
        "min_channels": 2,
        "is_touch": True,
        "is_contact": False,
        "channel": "organic_search",
        "revenue_minor": 0,
        "enrichment": {"processed_at": 1},
    }
    out = loop.run_until_complete(store.record_many([(ACCOUNT, event, client, ctx)]))[0]
    assert isinstance(out, dict), out
    return out


def run(loop: asyncio.AbstractEventLoop, store: Store, event: str, at: int, *ids: str) -> Any:
    """Resolve and record one event; its stored result."""
    return record(loop, store, event, resolve(loop, store, event, at, *ids).client_id, at)


def owner(loop: asyncio.AbstractEventLoop, store: Store, identifier: str) -> str | None:
    """The canonical client that owns ``identifier`` now."""
    if isinstance(store, MemoryStore):
        a = store.accounts[ACCOUNT]
        return a.canonical(a.ids[identifier]) if identifier in a.ids else None
    assert isinstance(store, ClientStore)
    found = loop.run_until_complete(store.lookup(ACCOUNT, identifier))
    if found is None:
        return None
    return str(loop.run_until_complete(store.card(ACCOUNT, found))["client_id"])


def claim_split(loop: asyncio.AbstractEventLoop, store: Store) -> dict[str, Any]:
    """Profile 2 claims its email through the phone profile 1 owns; profile 3 proves the phone
    shared: profile 2's email moves to a client of its own."""
    a = run(loop, store, "p1", 1000, E1, PHONE)["client_id"]
    assert run(loop, store, "p2", 2000, E2, PHONE)["client_id"] == a  # claims E2 through PHONE
    third = run(loop, store, "p3", 3000, E3, PHONE)
    return {"a": a, "third": third}


def merge_split(loop: asyncio.AbstractEventLoop, store: Store) -> dict[str, Any]:
    """Client b (E2 alone) is merged into a through the phone; the phone proves shared: undone."""
    a = run(loop, store, "p1", 1000, E1, PHONE)["client_id"]
    b = run(loop, store, "b1", 1500, E2, "cid:2.2")["client_id"]
    second = run(loop, store, "p2", 2000, E2, PHONE)
    assert second["client_id"] == a and second["merged_from"] == [b]
    third = run(loop, store, "p3", 3000, E3, PHONE)
    return {"a": a, "b": b, "third": third}
