"""Does Redis' append-only-file rewrite stall the worker? A redis-server started as the local
stack starts it (``touchline.services.redis``: appendonly, fsync every second, listpack sizes) is
filled with the cards of TOUCHLINE_BENCH_REWRITE_CLIENTS generated clients (default 3,000); then
the same stream of new events goes through the worker's Processor three times (each time under a
prefix of its own, so every event is new), in batches of 100, timing each batch (Redis calls
and the worker's own work):

* ``quiet``: no rewrite (the same-run baseline);
* ``rewriting``: a BGREWRITEAOF started again as soon as the previous one ends;
* ``rewriting_no_fsync``: the same with ``no-appendfsync-on-rewrite yes``.

Reports per-batch wall time p50 / p99 / max, each rewrite's duration, and the dataset size.
Writes bench-results/redis_rewrite.json.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from pipeline.processor import Processor, processor_config
from pipeline.store import ClientStore
from producers.events import Prepared, prepare
from synthetic import GeneratorConfig, generate
from tests.bench.freshness import pct
from tests.bench.results import write as write_result
from tests.support import wait_for
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.services import redis as local_redis
from touchline.services.process import free_port
from touchline.settings import REPO_ROOT, Settings

pytestmark = [pytest.mark.bench, pytest.mark.timeout(1800)]
CLIENTS = int(os.environ.get("TOUCHLINE_BENCH_REWRITE_CLIENTS", "3000"))
BATCH = 100  # events per timed batch (a worker's batch is up to 500): more samples for the p99


def records(clients: int, seed: int) -> list[bytes]:
    contracts = load_cached(REPO_ROOT / "schemas")
    codec = Codec(contracts)
    out = []
    for event in generate(GeneratorConfig(clients=clients, seed=seed)).events:
        prepared = prepare(contracts, event, event["envelope"]["occurred_at"])
        if isinstance(prepared, Prepared):
            out.append(codec.encode(prepared.family.name, prepared.datum))
    return out


def run(url: str, prefix: str, raw: list[bytes]) -> list[float]:
    """Process ``raw`` as the worker does (batches, then forget); each batch's wall seconds."""
    settings = Settings()

    async def go() -> list[float]:
        store = ClientStore.from_settings(url, settings.model_copy(update={"topic_prefix": prefix}))
        codec = Codec(load_cached(REPO_ROOT / "schemas"))
        processor = Processor(codec, store, processor_config(settings))
        size, took = BATCH, []
        for start in range(0, len(raw), size):
            batch = [(r, "raw", 0, n) for n, r in enumerate(raw[start : start + size], start)]
            began = time.perf_counter()
            outputs = await processor.handle_batch(batch)
            await store.forget([o.applied for o in outputs if o.applied is not None])
            took.append(time.perf_counter() - began)
        await store.close()
        return took

    return asyncio.run(go())


class Rewrites:
    """BGREWRITEAOF, again and again, until stopped; the duration of each."""

    def __init__(self, r: redis.Redis) -> None:
        self.r, self.stop, self.durations = r, threading.Event(), list[float]()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            began = time.perf_counter()
            try:
                self.r.bgrewriteaof()
            except redis.ResponseError:  # one already running
                time.sleep(0.05)
                continue
            while self.r.info("persistence")["aof_rewrite_in_progress"]:
                time.sleep(0.02)
            self.durations.append(time.perf_counter() - began)

    def __enter__(self) -> Rewrites:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def summary(took: list[float]) -> dict[str, Any]:
    ms = sorted(t * 1000 for t in took)
    return {
        "batches": len(ms),
        "p50_ms": round(pct(ms, 0.5) or 0.0, 1),
        "p99_ms": round(pct(ms, 0.99) or 0.0, 1),
        "max_ms": round(ms[-1], 1),
        "mean_ms": round(statistics.fmean(ms), 1),
    }


def test_aof_rewrite_stall(tmp_path: Path) -> None:
    port = free_port()
    local_redis.start(tmp_path, port)
    url = f"redis://127.0.0.1:{port}/0"
    r = redis.Redis.from_url(url)
    try:
        run(url, "fill", records(CLIENTS, seed=21))
        stream = records(max(CLIENTS // 2, 100), seed=22)
        result: dict[str, Any] = {
            "clients_filled": CLIENTS,
            "used_memory_mb": round(r.info("memory")["used_memory"] / 2**20, 1),
            "stream_events": len(stream),
        }
        result["quiet"] = summary(run(url, f"q{uuid.uuid4().hex[:6]}", stream))
        for name, no_fsync in (("rewriting", "no"), ("rewriting_no_fsync", "yes")):
            r.config_set("no-appendfsync-on-rewrite", no_fsync)
            with Rewrites(r) as rewrites:
                took = run(url, f"w{uuid.uuid4().hex[:6]}", stream)
            result[name] = {
                **summary(took),
                "rewrites": len(rewrites.durations),
                "rewrite_s_median": round(statistics.median(rewrites.durations or [0.0]), 3),
            }
    finally:
        r.shutdown(nosave=True)
        r.close()
        wait_for(lambda: not local_redis.ping(url), 30, "redis-server to stop")
    for name in ("quiet", "rewriting", "rewriting_no_fsync"):
        print(f"\n{name:20} {result[name]}")
    print(f"dataset {result['used_memory_mb']} MB for {CLIENTS} clients")
    write_result("redis_rewrite", result)
    assert result["rewriting"]["rewrites"] > 0, "no rewrite ran while the stream was processed"
