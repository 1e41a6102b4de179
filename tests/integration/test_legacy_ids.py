"""Identifier owners stored by a deployment before the ``ids:<shard>`` hashes (one key
``id:<identifier>`` each, pipeline/keys.py) against real Redis: the scripts read them, move them
into their hash on first use, and resolve, merge, split and erase exactly as with the new layout;
and a changed ``identity_id_shards`` is refused instead of losing every identity."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from pipeline import erasure, id_layout
from pipeline.keys import account_key, account_pattern, id_key, legacy_id_key
from pipeline.store import ClientStore
from tests.split_scenarios import E1, E2, E3, PHONE, made, merge_through_a_claim, owner, run
from touchline.errors import TouchlineError
from touchline.services.stack import Endpoints

pytestmark = pytest.mark.integration
LOOP = asyncio.new_event_loop()


def new_store(url: str) -> ClientStore:
    return ClientStore(url, f"legacy{uuid.uuid4().hex[:8]}", max_share=2)


@pytest.fixture
def store(services: Endpoints) -> Iterator[ClientStore]:
    s = new_store(services.redis_url)
    yield s
    LOOP.run_until_complete(s.close())


def downgrade(store: ClientStore, account: str = "acc") -> int:
    """Rewrite every owner into the layout before (a key ``id:<identifier>`` each, no
    ``ids:`` hash), as a deployment older than the hashes holds them; how many."""

    async def go() -> int:
        moved = 0
        pattern = account_pattern(store.prefix, account, "ids")
        async for key in store.redis.scan_iter(match=pattern, count=10_000):
            for ident, client in (await store.redis.hgetall(key)).items():
                await store.redis.set(legacy_id_key(store.prefix, account, ident.decode()), client)
                moved += 1
            await store.redis.delete(key)
        return moved

    return LOOP.run_until_complete(go())


def legacy_owner(store: ClientStore, identifier: str) -> Any:
    return LOOP.run_until_complete(store.redis.get(legacy_id_key(store.prefix, "acc", identifier)))


def hashed_owner(store: ClientStore, identifier: str) -> Any:
    key = id_key(store.prefix, "acc", identifier, store.id_shards)
    return LOOP.run_until_complete(store.redis.hget(key, identifier))


def test_an_old_owner_key_is_read_then_moved_into_its_hash(store: ClientStore) -> None:
    old = run(LOOP, store, "o1", 1000, "email:old@x.de")["client_id"]
    assert downgrade(store) == 1 and hashed_owner(store, "email:old@x.de") is None
    assert LOOP.run_until_complete(store.lookup("acc", "email:old@x.de")) == old

    again = run(LOOP, store, "o2", 2000, "email:old@x.de", "cid:7.7")
    assert again["client_id"] == old and again["merged_from"] == []
    assert legacy_owner(store, "email:old@x.de") is None  # moved on first use
    assert hashed_owner(store, "email:old@x.de") == old.encode()
    assert hashed_owner(store, "cid:7.7") == old.encode()
    assert LOOP.run_until_complete(store.lookup("acc", "cid:7.7")) == old


def test_an_old_owner_merges_with_a_new_one(store: ClientStore) -> None:
    old = run(LOOP, store, "m1", 1000, "email:m@x.de")["client_id"]
    downgrade(store)
    new = run(LOOP, store, "m2", 2000, "cid:8.8")["client_id"]
    both = run(LOOP, store, "m3", 3000, "email:m@x.de", "cid:8.8")
    assert both["client_id"] == old and both["merged_from"] == [new]
    assert owner(LOOP, store, "cid:8.8") == old


def test_splits_over_old_owner_keys_match_the_new_layout(services: Endpoints) -> None:
    """merge_through_a_claim with every owner in the old layout before the phone proves shared:
    the same splits and owners as with the hashes all along."""
    fresh, old = new_store(services.redis_url), new_store(services.redis_url)
    try:
        expected = merge_through_a_claim(LOOP, fresh)
        a = run(LOOP, old, "p1", 1000, E1, PHONE)["client_id"]
        run(LOOP, old, "p2", 2000, E2, PHONE)
        x = run(LOOP, old, "x1", 2500, "cid:9.9")["client_id"]
        run(LOOP, old, "x2", 2600, E2, "cid:9.9")
        assert downgrade(old) == 4
        third = run(LOOP, old, "p3", 3000, E3, PHONE)
        assert (a, x) == (expected["a"], expected["x"])
        assert made(third) == made(expected["third"]) and third["splits"]
        for ident in (E1, E2, E3, PHONE, "cid:9.9"):
            assert owner(LOOP, old, ident) == owner(LOOP, fresh, ident), ident
    finally:
        LOOP.run_until_complete(fresh.close())
        LOOP.run_until_complete(old.close())


def test_erasure_finds_and_deletes_old_owner_keys(store: ClientStore) -> None:
    gone = run(LOOP, store, "g1", 1000, "email:gone@x.de", "phone:+4930999")["client_id"]
    downgrade(store)
    run(LOOP, store, "g2", 2000, "email:gone@x.de", "cid:6.6")  # moves the email, adds cid
    kept = run(LOOP, store, "k1", 1500, "email:kept@x.de")["client_id"]
    assert legacy_owner(store, "phone:+4930999") == gone.encode()

    cluster = LOOP.run_until_complete(erasure.find_cluster(store, "acc", set(), {"cid:6.6"}))
    assert cluster.identifiers == {"email:gone@x.de", "phone:+4930999", "cid:6.6"}
    args: tuple[ClientStore, str, set[str], set[str], set[str]] = (
        store,
        "acc",
        cluster.clients,
        cluster.identifiers,
        {"g1", "g2"},
    )
    assert LOOP.run_until_complete(erasure.erase(*args)) > 0
    assert LOOP.run_until_complete(erasure.remaining(*args)) == 0
    assert legacy_owner(store, "phone:+4930999") is None
    for ident in cluster.identifiers:
        assert hashed_owner(store, ident) is None, ident
    assert LOOP.run_until_complete(store.lookup("acc", "email:kept@x.de")) == kept
    card = account_key(store.prefix, "acc", f"card:{gone}")
    assert LOOP.run_until_complete(store.redis.exists(card)) == 0


def test_a_changed_shard_count_is_refused(services: Endpoints) -> None:
    prefix = f"layout{uuid.uuid4().hex[:8]}"
    try:
        id_layout.check(services.redis_url, prefix, 256)
        id_layout.check(services.redis_url, prefix, 256)  # the same value starts again
        with pytest.raises(TouchlineError, match=r"TOUCHLINE_IDENTITY_ID_SHARDS is 64, .* in 256 "):
            id_layout.check(services.redis_url, prefix, 64)
    finally:
        redis.Redis.from_url(services.redis_url).delete(f"{prefix}:{id_layout.KEY}")
