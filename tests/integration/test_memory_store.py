"""The in-memory client store (``pipeline/memory_store.py``, for unit tests) against the real one
(Redis, the Lua scripts): the same generated events, in their sources' delivery order and in the
same batches, with a share redelivered, give the same outputs through both. Only the worker's
clock (``processed_at``, ``merged_at``) may differ."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import pytest

from pipeline.memory_store import MemoryStore
from pipeline.processor import Config, Output, Processor
from pipeline.store import ClientStore
from producers.events import Prepared, prepare
from synthetic import GeneratorConfig, generate
from synthetic.arrival import arrival_order
from tests.split_scenarios import journeys
from touchline.codec import Codec
from touchline.contracts import load
from touchline.services.stack import Endpoints
from touchline.settings import REPO_ROOT

pytestmark = pytest.mark.integration
CONTRACTS = load(REPO_ROOT / "schemas")
CODEC = Codec(CONTRACTS)
CLOCK = ("processed_at", "merged_at", "split_at")


def records(clients: int, seed: int) -> list[bytes]:
    events = arrival_order(generate(GeneratorConfig(clients=clients, seed=seed)).events, seed)
    out = []
    for event in events:
        prepared = prepare(CONTRACTS, event, received_at=1, phone_region="DE")
        assert isinstance(prepared, Prepared)
        out.append(CODEC.encode(prepared.family.name, prepared.datum))
    return out


def comparable(out: Output) -> dict[str, Any]:
    """An output with the worker's clock left out."""

    def decoded(value: bytes) -> Any:
        name, datum = CODEC.decode(value)
        return name, {k: v for k, v in datum.items() if k not in CLOCK}

    return {
        "outcome": out.outcome,
        "enriched": decoded(out.enriched[1]) if out.enriched else None,
        "key": out.enriched[0] if out.enriched else None,
        "merges": [(key, decoded(value)) for key, value in out.merges],
        "splits": [(key, decoded(value)) for key, value in out.splits],
        "dead_letter": out.dead_letter is not None,
    }


def test_memory_store_gives_what_redis_gives(services: Endpoints) -> None:
    config = Config(lookback_ms=90 * 86_400_000, min_channels=2, record_chunk=7)
    redis_store = ClientStore(services.redis_url, f"t{uuid.uuid4().hex[:8]}", max_share=2)
    real = Processor(CODEC, redis_store, config)
    memory = Processor(CODEC, MemoryStore(max_share=2), config)
    data = records(120, 4) + [value for _, value in journeys()]  # and a shared phone's splits
    rnd = random.Random(4)
    redelivered = data + rnd.sample(data, 200)  # at-least-once: a share comes again
    batches = [redelivered[i : i + 50] for i in range(0, len(redelivered), 50)]

    async def both() -> tuple[list[Output], list[Output]]:
        a: list[Output] = []
        b: list[Output] = []
        for batch in batches:
            framed = [(value, "raw", 0, n) for n, value in enumerate(batch)]
            a += await real.handle_batch(framed)
            b += await memory.handle_batch(framed)
        await redis_store.close()
        return a, b

    from_redis, from_memory = asyncio.run(both())
    outcomes = {o.outcome for o in from_redis}
    assert {"enriched", "duplicate"} <= outcomes
    assert sum(len(o.merges) for o in from_redis) > 0  # identities did merge
    assert sum(len(o.splits) for o in from_redis) > 0  # links through it were split
    for n, (a, b) in enumerate(zip(from_redis, from_memory, strict=True)):
        assert comparable(a) == comparable(b), f"record {n}"


async def _through_both(
    redis_url: str, data: list[bytes], sizes: list[int]
) -> tuple[list[Output], list[Output]]:
    """``data`` in batches of ``sizes`` through the Lua scripts and through the mirror."""
    store = ClientStore(redis_url, f"t{uuid.uuid4().hex[:8]}", max_share=2)
    real, memory = Processor(CODEC, store), Processor(CODEC, MemoryStore(max_share=2))
    a: list[Output] = []
    b: list[Output] = []
    taken = 0
    for size in sizes:
        framed = [(v, "raw", 0, taken + n) for n, v in enumerate(data[taken : taken + size])]
        taken += size
        a += await real.handle_batch(framed)
        b += await memory.handle_batch(framed)
    await store.close()
    return a, b


@pytest.mark.parametrize("seed", range(3))
def test_shared_identifier_scenarios_give_the_same_outputs_through_lua_and_the_mirror(
    services: Endpoints, seed: int
) -> None:
    """The scenarios of tests/unit/test_shared_identifier_order.py (a shared front-desk phone and
    tablet, calls before, between and after the profiles), every event shuffled, in random
    batches: the Lua scripts give the mirror's outputs, whose identity and reports that test
    holds equal to event time in any order."""
    from tests.unit.test_shared_identifier_order import SCENARIOS

    rnd = random.Random(seed)
    for name, make in SCENARIOS.items():
        data = [value for _, value in make()]
        rnd.shuffle(data)
        sizes = [rnd.randint(1, 4) for _ in data]
        from_redis, from_memory = asyncio.run(_through_both(services.redis_url, data, sizes))
        assert sum(len(o.splits) for o in from_redis) >= 2, name
        assert [comparable(o) for o in from_redis] == [comparable(o) for o in from_memory], name
