"""``touchline rebuild``: recreate the Redis identities and client cards after Redis was lost.

Every raw event still in the raw topics is read, put in event time (``occurred_at``, then topic,
partition and offset) and handed, batch after batch, to the worker's own :class:`Processor` with
the suppression list, so identities, merges, cards, visits and dedup entries are made by the same
code and Lua scripts as in the live run, and an erased person stays erased. The outputs are not
produced again (ClickHouse has them). Stop the workers while it runs; started again, they find
every event already applied.

The raw topics must still hold everything (their low watermark 0): ClickHouse's events table
does not keep the envelope's source-system ids and web context a replay needs, so it cannot be
the source (see README, "Privacy and data lifecycle").
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from pipeline import id_layout
from pipeline.keys import deployment_pattern
from pipeline.processor import Processor, Record, processor_config
from pipeline.store import ClientStore
from touchline import topics
from touchline.codec import Codec, DecodeError
from touchline.errors import TouchlineError
from touchline.settings import Settings
from touchline.suppression import SuppressionList, topic_name


@dataclass(frozen=True)
class Stored:
    occurred_at: int
    topic: str
    partition: int
    offset: int
    value: bytes


def read_raw(bootstrap: str, names: list[str], codec: Codec, partial: bool) -> list[Stored]:
    """Every message of the topics up to their current ends, in event time."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "touchline-rebuild",
            "enable.auto.commit": False,
            "log_level": 3,
        }
    )
    try:
        meta = consumer.list_topics(timeout=10).topics
        assign, ends = [], {}
        for name in names:
            for p in sorted(meta[name].partitions) if name in meta else []:
                low, high = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)
                if low > 0 and not partial:
                    raise TouchlineError(
                        f"{name}[{p}] starts at offset {low}: older events are past the raw "
                        "retention, so the cards would miss them (--partial rebuilds anyway)"
                    )
                if high > low:
                    assign.append(TopicPartition(name, p, low))
                    ends[(name, p)] = high
        consumer.assign(assign)
        out: list[Stored] = []
        while ends:
            for msg in consumer.consume(1000, timeout=1.0):
                topic, part, offset = msg.topic(), msg.partition(), msg.offset()
                if msg.error() is not None or topic is None or part is None or offset is None:
                    continue
                value = msg.value() or b""
                out.append(Stored(_occurred_at(codec, value), topic, part, offset, value))
                if offset + 1 >= ends.get((topic, part), 0):
                    ends.pop((topic, part), None)
        out.sort(key=lambda s: (s.occurred_at, s.topic, s.partition, s.offset))
        return out
    finally:
        consumer.close()


def _occurred_at(codec: Codec, value: bytes) -> int:
    try:
        return int(codec.decode(value)[1]["envelope"]["occurred_at"])
    except (DecodeError, KeyError, TypeError, ValueError):
        return 0  # the processor dead-letters it, as the worker did


async def replay(processor: Processor, events: list[Stored], batch: int) -> Counter[str]:
    """Hand the events to the processor in order; returns the outcomes."""
    from tqdm import tqdm

    outcomes: Counter[str] = Counter()
    with tqdm(total=len(events), unit="event", desc="rebuild", disable=None) as bar:
        for start in range(0, len(events), batch):
            chunk = events[start : start + batch]
            records: list[Record] = [(s.value, s.topic, s.partition, s.offset) for s in chunk]
            outputs = await processor.handle_batch(records)
            for output in outputs:
                outcomes[output.outcome] += 1
            # their outputs reached Kafka before Redis was lost: keep only the compact entries
            await processor.store.forget([o.applied for o in outputs if o.applied is not None])
            bar.update(len(chunk))
    return outcomes


async def _existing_keys(store: ClientStore) -> bool:
    async for _ in store.redis.scan_iter(match=deployment_pattern(store.prefix), count=10_000):
        return True
    return False


async def _flush(store: ClientStore) -> int:
    n = 0
    async for key in store.redis.scan_iter(match=deployment_pattern(store.prefix), count=10_000):
        n += int(await store.redis.delete(key))
    return n


def rebuild(settings: Settings, *, flush: bool = False, partial: bool = False) -> Counter[str]:
    endpoints, contracts = topics.ready(settings)
    codec = Codec(contracts, endpoints.schema_registry_url)
    asyncio.run(_prepare(endpoints.redis_url, settings.topic_prefix, flush))
    id_layout.check(endpoints.redis_url, settings.topic_prefix, settings.identity_id_shards)
    events = read_raw(
        endpoints.kafka_bootstrap, topics.all_raw(settings, contracts), codec, partial
    )
    suppression = SuppressionList(
        endpoints.kafka_bootstrap, topic_name(settings.topic_prefix), settings.privacy_key
    ).start()
    try:
        return asyncio.run(_run(settings, endpoints.redis_url, codec, suppression, events))
    finally:
        suppression.stop()


async def _prepare(url: str, prefix: str, flush: bool) -> None:
    """Refuse to rebuild over a live state, or delete it with ``flush``."""
    store = ClientStore(url, prefix)
    try:
        if flush:
            await _flush(store)
        elif await _existing_keys(store):
            raise TouchlineError(
                f"Redis already holds keys under {prefix}: (a live state); stop the workers "
                "and pass --flush to replace it"
            )
    finally:
        await store.close()


async def _run(
    settings: Settings,
    url: str,
    codec: Codec,
    suppression: SuppressionList,
    events: list[Stored],
) -> Counter[str]:
    store = ClientStore.from_settings(url, settings)
    try:
        processor = Processor(codec, store, processor_config(settings), suppression)
        return await replay(processor, events, settings.worker_batch_size)
    finally:
        await store.close()


def _rebuild_cmd(args: argparse.Namespace, settings: Settings) -> int:
    outcomes = rebuild(settings, flush=args.flush, partial=args.partial)
    print("rebuilt: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rebuild",
        help="recreate Redis identities and client cards from the raw topics, in event time",
        description="Replay every raw event in event time through the worker's processor "
        "(same Lua scripts, suppression list applied) to recreate identities, merges and cards "
        "after Redis was lost. Stop the workers first. Refuses if Redis already holds state "
        "(--flush replaces it) or if a raw topic lost events to retention (--partial).",
    )
    p.add_argument("--flush", action="store_true", help="delete the current state first")
    p.add_argument("--partial", action="store_true", help="rebuild even if events expired")
    p.set_defaults(func=_rebuild_cmd)
