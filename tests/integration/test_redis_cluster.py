"""The worker's client store on a real 3-node Redis Cluster (tests/redis_cluster.py): accounts
whose hash tags land on different nodes go through resolve and record in shared batches, merges
and a redelivery included, and everything comes out as on a standalone Redis with the same code."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis
from redis.crc import key_slot

from pipeline import rebuild
from pipeline.app import TRANSIENT
from pipeline.erasure import RedisEraser
from pipeline.keys import ROUTING_KEY, account_base, account_key
from pipeline.processor import Processor
from pipeline.store import ClientStore, ResolveRequest
from tests.redis_cluster import accounts_per_node
from tests.support import wait_for
from touchline.codec import Codec
from touchline.contracts import load
from touchline.errors import TouchlineError
from touchline.services.process import free_port
from touchline.services.redis import ping
from touchline.services.stack import Endpoints
from touchline.settings import REPO_ROOT
from touchline.validation import coerce

pytestmark = pytest.mark.integration
DAY = 86_400_000
T0 = 1_750_000_000_000
CONTRACTS = load(REPO_ROOT / "schemas")
CODEC = Codec(CONTRACTS)


def request(account: str, n: int, *ids: str) -> ResolveRequest:
    return ResolveRequest(account, f"e{n}", f"c-{account}-e{n}", T0 + n * 60_000, list(ids))


def context(req: ResolveRequest, contact: bool) -> dict[str, Any]:
    return {
        "occurred_at": req.occurred_at,
        "lookback_ms": 30 * DAY,
        "touch_cap": 10,
        "hit_cap": 10,
        "min_channels": 2,
        "is_touch": not contact,
        "is_contact": contact,
        "channel": "phone" if contact else f"paid_search_{req.event_id}",
        "name": "Ada" if contact else None,
        "phone": "+4930123" if contact else None,
        "revenue_minor": 1500 if contact else 0,
        "currency": "EUR",
        "enrichment": {"processed_at": req.occurred_at},
    }


async def run(store: ClientStore, accounts: list[str]) -> dict[str, Any]:
    """Two batches over every account, interleaved: visits by email and by cookie, then one event
    with both (a merge); then a phone contact, and the merge batch delivered again."""

    async def batch(reqs: list[tuple[ResolveRequest, bool]]) -> list[Any]:
        resolved = await store.resolve_many([r for r, _ in reqs])
        todo = [
            (r.account, r.event_id, res.client_id, context(r, contact))
            for (r, contact), res in zip(reqs, resolved, strict=True)
            if not isinstance(res, Exception)
        ]
        recorded = await store.record_many(todo)
        return [*resolved, *recorded]

    first = [(request(a, 1, f"email:{a}@x.de"), False) for a in accounts]
    first += [(request(a, 2, "cid:1.2"), False) for a in accounts]
    first += [(request(a, 3, f"email:{a}@x.de", "cid:1.2"), False) for a in accounts]
    out: dict[str, Any] = {"first": await batch(first)}
    second = [(request(a, 4, "cid:1.2", "phone:+4930123"), True) for a in accounts]
    out["second"] = await batch(second + first[-len(accounts) :])
    out["cards"] = {a: await store.card(a, f"c-{a}-e2") for a in accounts}
    out["owners"] = {a: await store.lookup(a, "phone:+4930123") for a in accounts}
    return out


def test_the_store_on_a_redis_cluster_equals_the_store_on_one_redis(
    redis_cluster: str, services: Endpoints
) -> None:
    prefix = f"rc{uuid.uuid4().hex[:8]}"
    placed = accounts_per_node(redis_cluster, prefix)
    assert len(set(placed.values())) == 3, f"the accounts should span the 3 nodes: {placed}"
    accounts = list(placed)

    async def on(url: str) -> dict[str, Any]:
        store = ClientStore(url, prefix)
        try:
            return await run(store, accounts)
        finally:
            await store.close()

    clustered = asyncio.run(on(redis_cluster))
    errors = [r for r in clustered["first"] + clustered["second"] if isinstance(r, Exception)]
    assert not errors, f"script errors on the cluster: {[str(e) for e in errors[:2]]}"

    # the merges happened (each account's events kept their order in a batch of many accounts)
    merges = clustered["first"][3 * len(accounts) - len(accounts) : 3 * len(accounts)]
    assert [m.merged for m in merges] == [(f"c-{a}-e2",) for a in accounts]
    for a in accounts:
        card = clustered["cards"][a]
        assert card["client_id"] == f"c-{a}-e1" and card["card"]["contact_count"] == "1"
        assert card["card"]["touch_count"] == "3" and card["card"]["revenue:EUR"] == "1500"
        assert clustered["owners"][a] == f"c-{a}-e1"
    # the redelivered merge events changed nothing and answered as the first time
    redelivered = clustered["second"][len(accounts) : 2 * len(accounts)]
    assert [r.prior for r in redelivered] == clustered["first"][-len(accounts) :]

    # each account's keys live on the node its hash tag says, and only there
    for a, port in placed.items():
        for node in set(placed.values()):
            client = redis.Redis(port=node)
            found = list(client.scan_iter(match=account_base(prefix, a) + "*", count=1000))
            client.close()
            assert bool(found) == (node == port), (a, node, port)
            if found:
                assert account_key(prefix, a, ROUTING_KEY).encode() in found

    standalone = asyncio.run(on(services.redis_url))
    assert clustered == standalone


def page_view(account: str) -> bytes:
    datum, errors = coerce(
        CONTRACTS.expanded["touchline.events.WebTouch"],
        {
            "envelope": {
                "event_id": str(uuid.uuid4()),
                "event_type": "page_view",
                "occurred_at": T0,
                "received_at": T0,
                "source": "web",
                "account_id": account,
                "ids": {"cid": "1.2"},
            }
        },
    )
    assert errors == []
    return CODEC.encode("touchline.events.WebTouch", datum)


def test_a_slot_no_node_serves_is_retried_not_dead_lettered(redis_cluster: str) -> None:
    """CLUSTERDOWN (here: the account's slot taken from its node, as in a failover) raises one of
    the worker's transient errors, which it retries, and the event goes through once the slot is
    served again."""
    prefix = f"rc{uuid.uuid4().hex[:8]}"
    account, port = next(iter(accounts_per_node(redis_cluster, prefix).items()))
    slot = key_slot(account_key(prefix, account, ROUTING_KEY).encode())
    node = redis.Redis(port=port)
    record = (page_view(account), "raw", 0, 0)

    async def handle() -> Any:
        store = ClientStore(redis_cluster, prefix)
        try:
            return await Processor(CODEC, store).handle_batch([record])
        finally:
            await store.close()

    node.execute_command("CLUSTER DELSLOTS", slot)
    try:
        with pytest.raises(TRANSIENT) as caught:
            asyncio.run(handle())
        assert isinstance(caught.value, redis.exceptions.ClusterDownError)
    finally:
        node.execute_command("CLUSTER ADDSLOTS", slot)
        wait_for(lambda: node.execute_command("CLUSTER INFO")["cluster_state"] == "ok", 30, "ok")
        node.close()
    (out,) = asyncio.run(handle())
    assert out.outcome == "enriched"


def test_erasure_removes_one_person_on_the_cluster_and_leaves_the_others(
    redis_cluster: str,
) -> None:
    prefix = f"rc{uuid.uuid4().hex[:8]}"
    gone, kept = list(accounts_per_node(redis_cluster, prefix))[:2]
    events = {"e1", "e2", "e3", "e4"}

    async def go() -> tuple[Any, int, int, dict[str, Any], list[bytes]]:
        store = ClientStore(redis_cluster, prefix)
        try:
            await run(store, [gone, kept])
            eraser = RedisEraser(store)
            person = await eraser.find(gone, set(), {f"email:{gone}@x.de"})
            removed = await eraser.erase(gone, person, events)
            left = await eraser.remaining(gone, person, events)
            keys = [k async for k in store.redis.scan_iter(match=account_base(prefix, gone) + "*")]
            return person, removed, left, await store.card(kept, f"c-{kept}-e1"), keys
        finally:
            await store.close()

    person, removed, left, other, keys = asyncio.run(go())
    assert person.clients == {f"c-{gone}-e1", f"c-{gone}-e2"}
    assert person.identifiers == {f"email:{gone}@x.de", "cid:1.2", "phone:+4930123"}
    assert removed > 0 and left == 0 and keys == []
    assert other["card"]["touch_count"] == "3" and other["client_id"] == f"c-{kept}-e1"


def test_services_status_sees_the_cluster(redis_cluster: str) -> None:
    """`touchline services status` with TOUCHLINE_REDIS_URL=redis+cluster://... says up."""
    assert ping(redis_cluster)
    assert not ping(f"redis+cluster://127.0.0.1:{free_port()}")  # nothing listens there


def test_rebuild_sees_and_flushes_the_state_on_every_node(redis_cluster: str) -> None:
    """`touchline rebuild` refuses over a live state and `--flush` deletes it: on a cluster the
    state is spread over every node, and the scans must cover them all."""
    prefix = f"rc{uuid.uuid4().hex[:8]}"
    accounts = list(accounts_per_node(redis_cluster, prefix, per_node=1))

    async def fill() -> None:
        store = ClientStore(redis_cluster, prefix)
        try:
            await run(store, accounts)
        finally:
            await store.close()

    asyncio.run(fill())
    with pytest.raises(TouchlineError, match="already holds keys"):
        asyncio.run(rebuild._prepare(redis_cluster, prefix, flush=False))
    asyncio.run(rebuild._prepare(redis_cluster, prefix, flush=True))
    for port in set(accounts_per_node(redis_cluster, prefix, per_node=1).values()):
        client = redis.Redis(port=port)
        assert list(client.scan_iter(match=f"{prefix}:*")) == [], port
        client.close()
