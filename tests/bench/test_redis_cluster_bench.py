"""The worker's client store on a 3-node Redis Cluster beside one redis-server with the same
settings (no persistence), both started here, in the same run: events/s through ``resolve_many``
then ``record_many`` (the worker's two script calls per batch), script calls per batch, and CPU
µs per event of this process (the client side of a worker) and of Redis (every node, from /proc).
Batches of 500 events over 10 and over 100 accounts: on a cluster a batch goes out as one call
per hash slot (one pipeline), on one Redis as one call. Median of three alternating runs. Set
TOUCHLINE_BENCH_CLUSTER_EVENTS (default 20,000). Writes bench-results/redis_cluster.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from pipeline.store import ClientStore, Resolution, ResolveRequest
from tests import redis_cluster
from tests.bench.results import write as write_result
from tests.integration.test_redis_cluster import T0, context

pytestmark = pytest.mark.bench
EVENTS = int(os.environ.get("TOUCHLINE_BENCH_CLUSTER_EVENTS", "20000"))
BATCH = 500
RUNS = 3
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def stream(accounts: int) -> list[tuple[ResolveRequest, bool]]:
    """EVENTS events over ``accounts`` accounts and 200 people each: cookie ids, an email on one in
    five, a second cookie (a merge) on one in twenty, a phone contact on one in ten."""
    rng = random.Random(15)
    out = []
    for i in range(EVENTS):
        account, person = f"acc-{rng.randrange(accounts)}", rng.randrange(200)
        ids = [f"cid:{person}.1"]
        if rng.random() < 0.2:
            ids.append(f"email:p{person}@x.de")
        if rng.random() < 0.05:
            ids.append(f"cid:{rng.randrange(200)}.1")
        req = ResolveRequest(account, f"e{i}", f"c-{account}-{i}", T0 + i * 1000, ids)
        out.append((req, rng.random() < 0.1))
    return out


async def drive(url: str, events: list[tuple[ResolveRequest, bool]]) -> dict[str, float]:
    store = ClientStore(url, f"b{uuid.uuid4().hex[:8]}")
    calls = 0
    try:
        started, cpu = time.perf_counter(), time.process_time()
        for at in range(0, len(events), BATCH):
            batch = events[at : at + BATCH]
            calls += len({store._group(r.account) for r, _ in batch})
            resolved = await store.resolve_many([r for r, _ in batch])
            todo = [
                (r.account, r.event_id, res.client_id, context(r, contact))
                for (r, contact), res in zip(batch, resolved, strict=True)
                if isinstance(res, Resolution)
            ]
            recorded = await store.record_many(todo)
            assert not [x for x in [*resolved, *recorded] if isinstance(x, Exception)]
        wall, client = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await store.close()
    batches = -(-len(events) // BATCH)
    return {
        "events_per_s": round(len(events) / wall),
        "script_calls_per_batch": round(calls / batches, 1),
        "client_cpu_us_per_event": round(client / len(events) * 1e6, 1),
    }


def measure(url: str, pids: list[int], events: list[tuple[ResolveRequest, bool]]) -> dict[str, Any]:
    before = cpu_s(pids)
    out: dict[str, Any] = asyncio.run(drive(url, events))
    out["redis_cpu_us_per_event"] = round((cpu_s(pids) - before) / len(events) * 1e6, 1)
    return out


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def test_store_throughput_on_a_cluster_beside_one_redis(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "cluster").mkdir()
    port, single = redis_cluster.start_standalone(tmp_path / "one")
    ports, nodes = redis_cluster.start(tmp_path / "cluster")
    try:
        one_url = f"redis://127.0.0.1:{port}/0"
        cluster_url = "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
        results: dict[str, Any] = {}
        for accounts in (10, 100):
            events = stream(accounts)
            bases, spreads = [], []
            for _ in range(RUNS):  # alternating, so both see the same machine
                bases.append(measure(one_url, [single.pid], events))
                spreads.append(measure(cluster_url, [n.pid for n in nodes], events))
            base, spread = median_of(bases), median_of(spreads)
            results[f"{accounts}_accounts_per_batch"] = {
                "one_redis_baseline": base,
                "cluster_3_primaries": spread,
                "cluster_to_baseline_events_per_s": round(
                    spread["events_per_s"] / base["events_per_s"], 2
                ),
            }
    finally:
        redis_cluster.stop([single, *nodes])
    result = {
        "bench": "worker client store: 3-node Redis Cluster vs one redis-server, same run",
        "events": EVENTS,
        "batch": BATCH,
        "figures": f"median of {RUNS} runs each, alternating, each on fresh keys",
        "results": results,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    write_result("redis_cluster", result)
    print(json.dumps(result, indent=2))
