"""The Faust app: one agent reads every raw family topic and hands bytes to the Processor."""

from __future__ import annotations

import logging
from typing import Any

import faust

from pipeline.processor import Processor
from pipeline.store import ClientStore
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.services.stack import Endpoints
from touchline.settings import Settings

log = logging.getLogger(__name__)


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
    )
    source = app.topic(
        *topics.all_raw(settings, contracts), value_serializer="raw", key_serializer="raw"
    )
    enriched = app.topic(topics.enriched(settings), value_serializer="raw", key_serializer="raw")
    dead = app.topic(topics.dead_letter(settings), value_serializer="raw", key_serializer="raw")
    state: dict[str, Any] = {}

    @app.task
    async def open_store() -> None:
        codec = Codec(contracts, endpoints.schema_registry_url)
        store = ClientStore(endpoints.redis_url, settings.topic_prefix)
        state["processor"] = Processor(codec, store)

    @app.agent(source)
    async def process(stream: Any) -> None:
        async for event in stream.events():
            processor: Processor = state["processor"]
            msg = event.message
            out = await processor.handle(event.value, msg.topic, msg.partition, msg.offset)
            if out.enriched is not None:
                await enriched.send(key=out.enriched[0], value=out.enriched[1])
            if out.dead_letter is not None:
                await dead.send(key=None, value=out.dead_letter)

    return app
