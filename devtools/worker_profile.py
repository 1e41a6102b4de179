"""CPU per event of the worker's processing, and where it goes.

Runs the fixed input of ``devtools.worker_outputs`` (generated clients, prepared and encoded as
ingest does) through ``Processor.handle_batch`` in batches of 500, against the Redis of
``TOUCHLINE_REDIS_URL`` (keys under a fresh prefix, deleted afterwards) or the in-memory store
(``--memory``), set up as the worker sets itself up (parser warmed, GC frozen and thresholded),
and prints this process's CPU µs per event (Redis' own CPU is not in it) and the outputs'
digest. With ``--profile N`` it runs under cProfile and prints the N costliest functions by own
time and by cumulative time.

    PYTHONPATH=. python -m devtools.worker_profile --clients 1000 --seed 7 --profile 30
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import time
import uuid

from devtools import worker_outputs
from pipeline import devices
from pipeline.memory_store import MemoryStore
from pipeline.processor import Output, Processor, processor_config
from pipeline.store import ClientStore, Store
from touchline.codec import Codec
from touchline.contracts import load
from touchline.settings import REPO_ROOT, Settings


def _store(settings: Settings, memory: bool, prefix: str) -> Store:
    if memory or not settings.redis_url:
        return MemoryStore(settings.identity_max_share)
    return ClientStore.from_settings(
        settings.redis_url, settings.model_copy(update={"topic_prefix": prefix})
    )


async def _drop_keys(store: Store, prefix: str) -> None:
    if isinstance(store, ClientStore):
        async for key in store.redis.scan_iter(match=f"{prefix}:*", count=1000):
            await store.redis.delete(key)
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--memory", action="store_true", help="the in-memory store, not Redis")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="top N functions")
    args = parser.parse_args()

    settings = Settings()
    contracts = load(REPO_ROOT / "schemas")
    codec = Codec(contracts)
    input_ = worker_outputs.records(contracts, codec, args.clients, args.seed)
    prefix = f"profile-{uuid.uuid4().hex[:8]}"
    # as the worker starts (pipeline/app.py): parser warmed, start-up objects frozen out of GC
    devices.warm_up()
    gc.collect()
    gc.freeze()
    gc.set_threshold(settings.worker_gc_threshold, *gc.get_threshold()[1:])
    profiler = cProfile.Profile() if args.profile else None

    async def measured() -> tuple[list[Output], float, float, str]:
        store = _store(settings, args.memory, prefix)
        processor = Processor(codec, store, processor_config(settings))
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        outputs = await worker_outputs.process(processor, input_, args.batch)
        if profiler is not None:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        await _drop_keys(store, prefix)
        return outputs, cpu, wall, type(store).__name__

    with worker_outputs.fixed_clock():
        outputs, cpu, wall, store = asyncio.run(measured())
    print(f"store: {store}; {len(input_)} records in batches of {args.batch}")
    print(f"CPU {cpu * 1e6 / len(input_):.1f} µs/event, wall {wall * 1e6 / len(input_):.1f} µs")
    print("outputs", worker_outputs.counts(outputs), worker_outputs.digest(outputs))
    if profiler is not None:
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(args.profile)
            print(text.getvalue())


if __name__ == "__main__":
    main()
