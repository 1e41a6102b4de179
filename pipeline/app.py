"""The Faust app: one agent reads every raw family topic and hands bytes to the Processor.

Infrastructure failures (Redis unavailable) are retried with backoff, holding the partition, so
nothing is skipped; anything wrong with the event itself becomes a dead letter and the agent
keeps going.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import Counter
from typing import Any

import faust
import redis.exceptions
from confluent_kafka import Producer

from pipeline import metrics
from pipeline.processor import Config, Output, Processor, Record
from pipeline.store import ClientStore
from producers.publisher import producer_config
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.services.stack import Endpoints
from touchline.settings import Settings

log = logging.getLogger(__name__)
TRANSIENT = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


def processor_config(settings: Settings) -> Config:
    return Config(
        session_timeout_ms=settings.session_timeout_minutes * 60_000,
        lookback_ms=min(settings.lookback_days, 365) * 86_400_000,
        touch_cap=settings.touch_cap,
        min_channels=settings.multichannel_min_channels,
        phone_region=settings.phone_region,
        own_hosts=frozenset(h.lower() for h in settings.own_hosts),
    )


def create_app(settings: Settings, endpoints: Endpoints) -> faust.App:
    contracts = load_cached(settings.schemas_dir)
    datadir = settings.state_dir / "faust"
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.worker_id,
        broker=f"kafka://{endpoints.kafka_bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        web_enabled=False,
        datadir=str(datadir),
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.worker_session_timeout_s / 5),
        broker_commit_every=500,
        broker_commit_interval=1.0,
    )
    raw = topics.all_raw(settings, contracts)
    source = app.topic(*raw, value_serializer="raw", key_serializer="raw")
    enriched_topic = topics.enriched(settings)
    merges_topic = topics.merges(settings)
    dead_topic = topics.dead_letter(settings)
    state: dict[str, Any] = {}

    def processor() -> Processor:
        if "processor" not in state:
            codec = Codec(contracts, endpoints.schema_registry_url)
            store = ClientStore(
                endpoints.redis_url, settings.topic_prefix, max_share=settings.identity_max_share
            )
            state["processor"] = Processor(codec, store, processor_config(settings))
            # Everything alive now (Faust, schemas, parsers) lives as long as the worker: keep it
            # out of the cyclic collector's scans, which otherwise revisit it batch after batch.
            gc.collect()
            gc.freeze()
            # Outputs go through confluent-kafka and are flushed before a batch is acknowledged,
            # so an input offset is never committed before its outputs are in Kafka.
            state["producer"] = Producer(producer_config(endpoints.kafka_bootstrap))
        proc: Processor = state["processor"]
        return proc

    async def handle(records: list[Record]) -> list[Output]:
        delay = 0.2
        while True:
            try:
                return await processor().handle_batch(records)
            except TRANSIENT as exc:
                metrics.REDIS_RETRIES.inc()
                log.warning("Redis unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            except Exception:  # a bug must not stop the partition: process one by one
                log.exception("unexpected error in a batch of %d; isolating", len(records))
                return [await isolate(r) for r in records]

    async def isolate(record: Record) -> Output:
        try:
            return (await processor().handle_batch([record]))[0]
        except TRANSIENT:
            raise
        except Exception as exc:
            return processor().dead_letter("enrich", f"{type(exc).__name__}: {exc}", *record)

    def emit(outputs: list[Output]) -> None:
        producer = state["producer"]
        produce = producer.produce
        outcomes: Counter[str] = Counter()
        merges = dead = 0
        for out in outputs:
            for key, value in out.merges:
                produce(merges_topic, value, key)
            if out.enriched is not None:
                produce(enriched_topic, out.enriched[1], out.enriched[0])
            if out.dead_letter is not None:
                produce(dead_topic, out.dead_letter)
                dead += 1
            outcomes[out.outcome] += 1
            merges += len(out.merges)
        # metrics once per batch: a labelled counter costs more than producing a message
        for outcome, count in outcomes.items():
            metrics.EVENTS.labels(outcome).inc(count)
        metrics.DEAD_LETTERS.labels("worker").inc(dead)
        metrics.MERGES.inc(merges)
        remaining = producer.flush(60)
        if remaining:
            raise RuntimeError(f"{remaining} outputs not acknowledged by Kafka; not acking inputs")

    def record_offset_lag(events: list[Any]) -> None:
        last: dict[Any, int] = {}
        for e in events:
            last[e.message.tp] = e.message.offset
        for tp, offset in last.items():
            try:
                highwater = app.consumer.highwater(tp)
            except Exception:  # a metric must never stop the agent
                log.debug("no high watermark for %s", tp, exc_info=True)
                continue
            if highwater is not None:
                metrics.OFFSET_LAG.labels(tp.topic, str(tp.partition)).set(
                    max(highwater - offset - 1, 0)
                )

    @app.agent(source)
    async def process(stream: Any) -> None:
        async for events in stream.take_events(settings.worker_batch_size, within=0.05):
            started = time.perf_counter()
            records: list[Record] = [
                (e.value or b"", e.message.topic, e.message.partition, e.message.offset)
                for e in events
            ]
            outputs = await handle(records)
            await asyncio.get_running_loop().run_in_executor(None, emit, outputs)
            metrics.PROCESSING.observe((time.perf_counter() - started) / max(len(records), 1))
            if events:
                metrics.LAG.set(time.time() - events[-1].message.timestamp)
                record_offset_lag(events)

    return app
