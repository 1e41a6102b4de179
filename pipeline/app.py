"""The Faust app: one agent reads every raw family topic and hands bytes to the Processor.

Infrastructure failures (Redis unavailable) are retried with backoff, holding the partition, so
nothing is skipped; anything wrong with the event itself becomes a dead letter and the agent
keeps going.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust
import redis.exceptions

from pipeline import metrics
from pipeline.processor import Config, Output, Processor
from pipeline.store import ClientStore
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
    enriched = app.topic(topics.enriched(settings), value_serializer="raw", key_serializer="raw")
    merges = app.topic(topics.merges(settings), value_serializer="raw", key_serializer="raw")
    dead = app.topic(topics.dead_letter(settings), value_serializer="raw", key_serializer="raw")
    state: dict[str, Any] = {}

    def processor() -> Processor:
        if "processor" not in state:
            codec = Codec(contracts, endpoints.schema_registry_url)
            store = ClientStore(
                endpoints.redis_url, settings.topic_prefix, max_share=settings.identity_max_share
            )
            state["processor"] = Processor(codec, store, processor_config(settings))
        proc: Processor = state["processor"]
        return proc

    async def handle(value: bytes, topic: str, partition: int, offset: int) -> Output:
        delay = 0.2
        while True:
            try:
                return await processor().handle(value, topic, partition, offset)
            except TRANSIENT as exc:
                metrics.REDIS_RETRIES.inc()
                log.warning("Redis unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            except Exception as exc:  # a bug must not stop the partition: keep the bytes
                log.exception("unexpected error processing %s/%s@%s", topic, partition, offset)
                return processor().dead_letter(
                    "enrich", f"{type(exc).__name__}: {exc}", value, topic, partition, offset
                )

    @app.agent(source)
    async def process(stream: Any) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            msg = event.message
            out = await handle(event.value or b"", msg.topic, msg.partition, msg.offset)
            for key, value in out.merges:
                await merges.send(key=key, value=value)
            if out.enriched is not None:
                await enriched.send(key=out.enriched[0], value=out.enriched[1])
            if out.dead_letter is not None:
                await dead.send(key=None, value=out.dead_letter)
                metrics.DEAD_LETTERS.labels("worker").inc()
            metrics.EVENTS.labels(out.outcome).inc()
            metrics.MERGES.inc(len(out.merges))
            metrics.PROCESSING.observe(time.perf_counter() - started)

    return app
