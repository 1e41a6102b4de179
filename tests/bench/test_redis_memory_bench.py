"""Redis bytes per client card: generated journeys (``synthetic``, the demo's generator) through
the worker's Processor into real Redis under a prefix of their own, then ``MEMORY USAGE`` of every
key, grouped by kind (``card``, ``hits``, ``seen``, ``ids``, ...), divided by the cards kept; and
the identifier owners in the ``ids:<shard>`` hashes, their encodings and bytes per identifier.

Same-run baseline: the least a key-per-event dedup costs, i.e. one ``SET <prefix>:seen:<event_id>
1 EX <window>`` per event in the same Redis (the layout before the compact dedup stored the whole
enrichment result there: 636 B per event was measured then). Clients:
TOUCHLINE_BENCH_REDIS_CLIENTS (default 1,000). Writes bench-results/redis_memory.json.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from typing import Any

import pytest
import redis

from pipeline.processor import Processor, processor_config
from pipeline.store import ClientStore
from producers.events import Prepared, prepare
from synthetic import GeneratorConfig, generate
from tests.bench.results import write as write_result
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.services.stack import Endpoints
from touchline.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.bench
CLIENTS = int(os.environ.get("TOUCHLINE_BENCH_REDIS_CLIENTS", "1000"))


def journeys() -> tuple[list[bytes], list[tuple[str, str]]]:
    """The generated events as raw Avro records, and each one's (account, event_id)."""
    contracts = load_cached(REPO_ROOT / "schemas")
    codec = Codec(contracts)
    raw, ids = [], []
    for event in generate(GeneratorConfig(clients=CLIENTS, seed=11)).events:
        prepared = prepare(contracts, event, event["envelope"]["occurred_at"])
        if isinstance(prepared, Prepared):
            raw.append(codec.encode(prepared.family.name, prepared.datum))
            env = prepared.datum["envelope"]
            ids.append((env["account_id"], env["event_id"]))
    return raw, ids


def kind_of(key: str, prefix: str) -> str:
    """``card`` for ``<prefix>:<account>:card:<client>`` (hash tags ``{account}`` included)."""
    rest = key[len(prefix) + 1 :].split(":", 2)
    return rest[1] if len(rest) > 1 else rest[0]


def usage(r: redis.Redis, prefix: str) -> tuple[Counter[str], Counter[str]]:
    """Bytes and keys by kind under ``prefix``."""
    size: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    for key in r.scan_iter(match=f"{prefix}:*", count=10_000):
        name = key.decode()
        kind = kind_of(name, prefix)
        size[kind] += int(r.memory_usage(key, samples=0) or 0)
        keys[kind] += 1
    return size, keys


def identifiers(r: redis.Redis, prefix: str) -> tuple[int, Counter[str]]:
    """How many identifier owners the ``ids:<shard>`` hashes hold, and those hashes' encodings
    (``listpack`` while compact)."""
    fields, encodings = 0, Counter[str]()
    for key in r.scan_iter(match=f"{prefix}:*:ids:*", count=10_000):
        fields += int(r.hlen(key))
        encodings[r.object("encoding", key).decode()] += 1
    return fields, encodings


def process(url: str, prefix: str, raw: list[bytes], settings: Settings) -> None:
    async def go() -> None:
        store = ClientStore.from_settings(url, settings.model_copy(update={"topic_prefix": prefix}))
        processor = Processor(
            Codec(load_cached(REPO_ROOT / "schemas")), store, processor_config(settings)
        )
        size = settings.worker_batch_size
        for start in range(0, len(raw), size):
            batch = [(r, "raw", 0, n) for n, r in enumerate(raw[start : start + size], start)]
            outputs = await processor.handle_batch(batch)
            # as the worker does once Kafka confirmed the outputs
            await store.forget([o.applied for o in outputs if o.applied is not None])
        await store.close()

    asyncio.run(go())


def drop(r: redis.Redis, prefix: str) -> None:
    keys = list(r.scan_iter(match=f"{prefix}:*", count=10_000))
    for start in range(0, len(keys), 1000):
        r.delete(*keys[start : start + 1000])


def test_redis_bytes_per_card(services: Endpoints) -> None:
    settings = Settings()
    raw, ids = journeys()
    r = redis.Redis.from_url(services.redis_url)
    prefix = f"mem{uuid.uuid4().hex[:8]}"
    process(services.redis_url, prefix, raw, settings)
    size, keys = usage(r, prefix)
    owners, encodings = identifiers(r, prefix)
    drop(r, prefix)

    base = f"base{uuid.uuid4().hex[:8]}"
    window = settings.worker_dedupe_days * 86400
    pipe = r.pipeline(transaction=False)
    for account, event_id in ids:
        pipe.set(f"{base}:{account}:seen:{event_id}", 1, ex=window)
    pipe.execute()
    baseline, _ = usage(r, base)
    drop(r, base)

    cards = keys["card"]
    total = sum(size.values())
    result: dict[str, Any] = {
        "clients_generated": CLIENTS,
        "events": len(raw),
        "cards": cards,
        "bytes_per_card": round(total / cards),
        "bytes_per_card_by_kind": {k: round(v / cards) for k, v in size.most_common()},
        "keys_by_kind": dict(keys.most_common()),
        "identifiers": owners,
        "id_shards": settings.identity_id_shards,
        "ids_hash_encodings": dict(encodings),
        "ids_bytes_per_identifier": round(size["ids"] / max(owners, 1), 1),
        "dedupe_bytes_per_event": round((size["seen"] + size["inflight"]) / len(raw), 1),
        "baseline_key_per_event_bytes_per_event": round(sum(baseline.values()) / len(raw), 1),
        "aim_bytes_per_card": 3072,
        "redis_version": r.info("server")["redis_version"],
    }
    print(f"\nRedis: {result['bytes_per_card']} B per card over {cards} cards, {len(raw)} events")
    print("  by kind:", result["bytes_per_card_by_kind"])
    print(
        f"  {owners} identifiers in {keys['ids']} ids: hashes {dict(encodings)}: "
        f"{result['ids_bytes_per_identifier']} B each"
    )
    print(
        f"  dedup {result['dedupe_bytes_per_event']} B/event vs a bare key per event "
        f"{result['baseline_key_per_event_bytes_per_event']} B/event (same run)"
    )
    write_result("redis_memory", result)
    assert cards > 0 and total > 0
