"""The identity and card scripts (pipeline/lua/) called directly against real Redis: merges carry
the merged client's visits, redelivery changes nothing, hits are pruned to the lookback and
the cap, and merges made before a crash are still reported."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from pipeline import anchors
from pipeline.keys import account_base, account_key, deployment_pattern, id_key
from pipeline.store import ClientStore, ResolveRequest, lua
from pipeline.touches import WEB, Hit
from touchline.services.stack import Endpoints

pytestmark = pytest.mark.integration
LOOP = asyncio.new_event_loop()
DAY = 86_400_000


@pytest.fixture
def store(services: Endpoints) -> Iterator[ClientStore]:
    s = ClientStore(services.redis_url, f"lua{uuid.uuid4().hex[:8]}", max_share=2)
    yield s
    LOOP.run_until_complete(s.close())


def resolve(store: ClientStore, event_id: str, at: int, *ids: str) -> Any:
    request = ResolveRequest("acc", event_id, f"c-{event_id}", at, list(ids))
    return LOOP.run_until_complete(store.resolve_many([request]))[0]


def record(store: ClientStore, event_id: str, client: str, at: int, **ctx: Any) -> Any:
    context = {
        "occurred_at": at,
        "lookback_ms": 30 * DAY,
        "min_channels": 2,
        "is_touch": True,
        "is_contact": False,
        "channel": "organic_search",
        "enrichment": {"processed_at": 1},
        **ctx,
    }
    return LOOP.run_until_complete(store.record_many([("acc", event_id, client, context)]))[0]


def visit(session_id: str, at: int) -> dict[str, Any]:
    state = {"session_id": session_id, "started_at": at, "last_seen_at": at, "seq": 1}
    return {"sessions": [{**state, "landing_page": None, "campaign_key": None, "channel": "x"}]}


def test_the_scripts_build_the_keys_pipeline_keys_defines(store: ClientStore) -> None:
    """common.lua builds each account's key base itself: it must be pipeline/keys.py's (the
    Python readers, erasure and the CLI find the keys by that one)."""
    client = resolve(store, "e1", 1000, "email:k@x.de", "cid:9.9").client_id
    record(store, "e1", client, 1000)

    async def written() -> set[str]:
        pattern = deployment_pattern(store.prefix)
        return {k.decode() async for k in store.redis.scan_iter(match=pattern)}

    base = account_base(store.prefix, "acc")
    assert base == f"{store.prefix}:{{acc}}:"
    assert {base + name for name in ("card:" + client, "inflight:e1")} | {
        id_key(store.prefix, "acc", k, store.id_shards) for k in ("email:k@x.de", "cid:9.9")
    } <= LOOP.run_until_complete(written())
    assert all(key.startswith(base) for key in LOOP.run_until_complete(written()))


def test_includes_are_resolved() -> None:
    for name in ("resolve", "record"):
        text = lua(name)
        assert "-- include:" not in text and "local function run_batch" in text


def test_a_merge_carries_the_merged_clients_visits(store: ClientStore) -> None:
    old = resolve(store, "e1", 1000, "email:a@x.de")
    record(store, "e1", old.client_id, 1000, session=visit("s-old", 1000))
    new = resolve(store, "e2", 2000, "cid:1.1")
    record(store, "e2", new.client_id, 2000, session=visit("s-new", 2000))
    both = resolve(store, "e3", 3000, "email:a@x.de", "cid:1.1")
    assert both.client_id == old.client_id and both.merged == (new.client_id,)
    ids = sorted(s["session_id"] for s in (both.session or {})["sessions"])
    assert ids == ["s-new", "s-old"]
    gone = account_key(store.prefix, "acc", "session:c-e2")
    assert LOOP.run_until_complete(store.redis.exists(gone)) == 0


def test_a_session_recorded_for_a_client_merged_meanwhile_joins_the_canonical(
    store: ClientStore,
) -> None:
    old = resolve(store, "e1", 1000, "email:b@x.de")
    record(store, "e1", old.client_id, 1000, session=visit("s-old", 1000))
    new = resolve(store, "e2", 2000, "cid:2.2")
    resolve(store, "e3", 3000, "email:b@x.de", "cid:2.2")  # merges before e2 is recorded
    record(store, "e2", new.client_id, 2000, session=visit("s-new", 2000))
    raw = LOOP.run_until_complete(
        store.redis.get(account_key(store.prefix, "acc", f"session:{old.client_id}"))
    )
    # stored as the list of visits (objects here, as visit() gives them)
    assert sorted(s["session_id"] for s in orjson.loads(raw)) == ["s-new", "s-old"]


def test_visits_stored_as_an_object_before_are_read_and_carried(store: ClientStore) -> None:
    """session:<client> holds the list of visits; a client's visits stored before as the
    object {"sessions": [...]} are still read, and a merge carries them into the list."""
    old = resolve(store, "e1", 1000, "email:o@x.de")
    key = account_key(store.prefix, "acc", f"session:{old.client_id}")
    LOOP.run_until_complete(store.redis.set(key, orjson.dumps(visit("s-old", 1000))))
    assert resolve(store, "e2", 2000, "email:o@x.de").session == visit("s-old", 1000)
    new = resolve(store, "e3", 3000, "cid:4.4")
    record(store, "e3", new.client_id, 3000, session=visit("s-new", 3000))
    both = resolve(store, "e4", 4000, "email:o@x.de", "cid:4.4")
    assert both.client_id == old.client_id
    stored = orjson.loads(LOOP.run_until_complete(store.redis.get(key)))
    assert sorted(s["session_id"] for s in stored) == ["s-new", "s-old"]


def test_redelivery_returns_the_stored_result_and_changes_nothing(store: ClientStore) -> None:
    client = resolve(store, "e1", 1000, "cid:3.3").client_id
    first = record(store, "e1", client, 1000)
    again = record(store, "e1", client, 1000, channel="email")
    assert again == first
    card = LOOP.run_until_complete(store.card("acc", client))
    assert card["card"]["touch_count"] == "1"
    assert resolve(store, "e1", 1000, "cid:3.3").prior == first


def test_hits_are_pruned_to_the_lookback_and_the_cap(store: ClientStore) -> None:
    client = resolve(store, "t0", 0, "cid:4.4").client_id
    for n, at in enumerate([0, 40 * DAY, 41 * DAY, 42 * DAY, 43 * DAY]):
        hit = Hit(at, f"t{n}", WEB, "organic_search", None, None).member()
        record(store, f"t{n}", client, at, hit=hit, hit_cap=3)
    hits = LOOP.run_until_complete(store.card("acc", client))["hits"]
    # day 0 is outside the 30-day lookback of day 43; the cap keeps the newest 3 of the rest
    assert [h.at for h in hits] == [41 * DAY, 42 * DAY, 43 * DAY]


def test_merges_made_before_a_crash_are_still_reported(store: ClientStore) -> None:
    a = resolve(store, "m1", 1000, "email:c@x.de").client_id
    record(store, "m1", a, 1000)
    b = resolve(store, "m2", 2000, "cid:5.5").client_id
    record(store, "m2", b, 2000)
    resolve(store, "m3", 3000, "email:c@x.de", "cid:5.5")  # merges, then the worker dies
    retried = resolve(store, "m3", 3000, "email:c@x.de", "cid:5.5")  # redelivered
    assert retried.merged == ()  # nothing left to merge
    result = record(store, "m3", retried.client_id, 3000)
    assert result["merged_from"] == [b]  # the merge made before the crash is reported


def test_an_identifier_keeps_its_anchors_until_it_proves_shared(store: ClientStore) -> None:
    """The anchors of an identifier are the strong identifiers seen with it (max_share 2 here):
    the third email makes the front-desk phone shared, and its anchors go (it needs no more)."""
    phone = "phone:+49305550100"
    key = anchors.key(store.prefix, "acc", phone, store.id_shards)
    held = []
    for n in range(1, 6):
        resolve(store, f"a{n}", n * 1000, phone, f"email:p{n}@x.de")
        text = LOOP.run_until_complete(store.redis.hget(key, phone))
        held.append(sorted(text.decode().split()) if text is not None else None)
    first, second = (str(anchors.entry(f"email:p{n}@x.de")) for n in (1, 2))
    assert held == [[first], sorted([first, second]), None, None, None]
    base = account_base(store.prefix, "acc")
    assert LOOP.run_until_complete(store.redis.get(base + "shared:" + phone)) == b"email"


def test_anchors_of_the_layout_before_are_moved_and_still_count(store: ClientStore) -> None:
    phone = "phone:+49305550100"
    legacy = account_base(store.prefix, "acc") + "anchors:" + phone
    mapping = {"email:p1@x.de": "email", "email:p2@x.de": "email"}
    LOOP.run_until_complete(store.redis.hset(legacy, mapping=mapping))
    resolve(store, "a3", 3000, phone, "email:p3@x.de")  # the third email: shared
    base = account_base(store.prefix, "acc")
    assert LOOP.run_until_complete(store.redis.get(base + "shared:" + phone)) == b"email"
    assert LOOP.run_until_complete(store.redis.exists(legacy)) == 0
