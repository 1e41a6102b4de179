"""The Faust app: one agent reads every raw family topic and hands bytes to the Processor.

Infrastructure failures (Redis unavailable) are retried with backoff, holding the partition, so
nothing is skipped; anything wrong with the event itself becomes a dead letter and the agent
keeps going.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import faust
from confluent_kafka import Producer

from pipeline import devices, emission, metrics
from pipeline.delivery import Delivery
from pipeline.inflight import InFlight
from pipeline.processor import Output, Processor, Record, processor_config
from pipeline.results import TRANSIENT, StoreResults, waiting_out_redis
from pipeline.store import ClientStore
from touchline import batch_bytes, clock, collector, topics
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.endpoints import Endpoints
from touchline.producer import producer_config
from touchline.settings import Settings
from touchline.suppression import SuppressionList
from touchline.suppression import topic_name as suppression_topic

log = logging.getLogger(__name__)
EXIT_UNDELIVERABLE = 70  # EX_SOFTWARE: the worker exits, its undelivered inputs uncommitted


@dataclass(frozen=True)
class Batch:
    """A batch the agent took: its Faust events (held until released) and when it was taken."""

    events: list[Any]
    started: float


def exit_uncommitted(exc: BaseException) -> NoReturn:
    """A batch's outputs can never be confirmed (a fatal producer error, dead letters refused):
    exit now, committing nothing more; a restart delivers every input since the last commit
    again. Not by leaving the agent's loop: Faust's stream would go on acknowledging what it
    buffered, and Faust commits the first run of acknowledged offsets even past held inputs
    when nothing is committed yet or the gap is one offset (``tests/e2e/
    test_unconfirmed_outputs.py`` lost the refused event that way, as the worker did before
    pipeline.inflight). Nor by waiting in the loop for good: Faust's shutdown waits for the
    held inputs, so the worker could not be stopped; the agent waits only until
    :func:`exit_when_settled` exits."""
    log.critical("a batch's outputs cannot be delivered; exiting uncommitted: %r", exc)
    logging.shutdown()
    os._exit(EXIT_UNDELIVERABLE)


async def exit_when_settled(
    flight: InFlight[Any],
    exc: BaseException,
    grace_s: float,
    exit: Callable[[BaseException], object] = exit_uncommitted,
) -> None:
    """Exit uncommitted once the deliveries already under way have ended (at most ``grace_s``,
    ``TOUCHLINE_WORKER_EXIT_GRACE_S``): each then leaves its events one outcome or none, never
    a letter mark without its letter (:meth:`pipeline.inflight.InFlight.settled`). Exits also
    when the wait itself is cancelled (the worker stopping meanwhile)."""
    try:
        await flight.settled(grace_s)
    finally:
        exit(exc)


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
    emitted_to = emission.Topics(
        topics.enriched(settings), topics.merges(settings), topics.dead_letter(settings)
    )
    state: dict[str, Any] = {}
    results = StoreResults(lambda: processor().store)

    def processor() -> Processor:
        if "processor" not in state:
            codec = Codec(contracts, endpoints.schema_registry_url)
            store = ClientStore.from_settings(endpoints.redis_url, settings)
            suppression = SuppressionList(
                endpoints.kafka_bootstrap,
                suppression_topic(settings.topic_prefix),
                settings.privacy_key,
            ).start()
            state["processor"] = Processor(codec, store, processor_config(settings), suppression)
            devices.warm_up()  # the user-agent parser compiles its rules now, not in a batch
            # Everything alive now (Faust, schemas, parsers) lives as long as the worker: keep it
            # out of the cyclic collector's scans, which otherwise revisit it batch after batch.
            collector.settle(settings.worker_gc_threshold)
            # Outputs go through confluent-kafka and are confirmed one by one before a batch is
            # acknowledged (pipeline.delivery). No message timeout: an output waits in the
            # producer for as long as Kafka is away, and the inputs stay uncommitted.
            outputs = [topics.enriched(settings), topics.merges(settings)]
            outputs.append(topics.dead_letter(settings))
            producer = Producer(
                producer_config(
                    endpoints.kafka_bootstrap,
                    **{
                        "message.timeout.ms": 0,
                        "message.max.bytes": settings.kafka_max_message_bytes,
                        "batch.size": batch_bytes.for_topics(
                            endpoints.kafka_bootstrap, outputs, settings.kafka_max_message_bytes
                        ),
                    },
                )
            )
            state["delivery"] = Delivery(
                producer,
                on_waiting=metrics.OUTPUTS_UNCONFIRMED.set,
                on_retry=metrics.OUTPUT_RETRIES.inc,
            )
            # Batches are delivered on the event loop while the agent processes the next ones,
            # and released to Faust in order (pipeline.inflight).
            state["in_flight"] = InFlight[Batch](
                settings.worker_batches_in_flight, released, on_fail=exit_soon
            )
        proc: Processor = state["processor"]
        return proc

    def delivery() -> Delivery:
        processor()
        out: Delivery = state["delivery"]
        return out

    def exit_soon(exc: BaseException) -> None:
        state["exiting"] = asyncio.ensure_future(
            exit_when_settled(in_flight(), exc, settings.worker_exit_grace_s)
        )

    def in_flight() -> InFlight[Batch]:
        processor()
        out: InFlight[Batch] = state["in_flight"]
        return out

    async def deliver(records: list[Record], outputs: list[Output]) -> None:
        """A batch's delivery: its outputs produced and confirmed, then its results forgotten."""
        in_flight().check()  # a batch before it failed: it is never released, nor emitted
        await emit(records, outputs)
        await results.forget(outputs)

    def released(batch: Batch) -> None:
        """Every output of this batch and of the batches before it is confirmed: its inputs may
        be committed. The agent's own ack (when its loop body ended) and this one: the later of
        the two is the final ack that lets Faust commit the offset."""
        for e in batch.events:
            e.ack()
        metrics.PROCESSING.observe(
            (time.perf_counter() - batch.started) / max(len(batch.events), 1)
        )
        metrics.BATCHES_IN_FLIGHT.set(len(in_flight()))

    async def handle(records: list[Record]) -> list[Output]:
        try:
            return await waiting_out_redis(lambda: processor().handle_batch(records), "the batch")
        except Exception:  # a bug must not stop the partition: process one by one
            log.exception("unexpected error in a batch of %d; isolating", len(records))
            return [await isolate(r) for r in records]

    async def isolate(record: Record) -> Output:
        try:
            return (await processor().handle_batch([record]))[0]
        except TRANSIENT:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            return processor().dead_letter("enrich", reason, *record, kind="unexpected")

    async def emit(records: list[Record], outputs: list[Output]) -> None:
        """Produce the batch's outputs and return once Kafka has confirmed every one (or the
        dead letter of an output it can never take: pipeline.emission)."""
        if len(outputs) != len(records):  # outputs[i] is records[i]'s: never ack a mismatch
            raise RuntimeError(f"{len(outputs)} outputs for {len(records)} records")

        def letter(index: int, reason: str, max_original: int) -> bytes:
            record = records[index]
            out = processor().dead_letter("emit", reason, *record, max_original=max_original)
            assert out.dead_letter is not None
            return out.dead_letter

        refused = await emission.emit(delivery(), outputs, emitted_to, letter, results)
        if refused:
            metrics.OUTPUTS_REFUSED.inc(refused)
        count(outputs, refused)

    def count(outputs: list[Output], refused: int) -> None:
        # metrics once per batch: a labelled counter costs more than producing a message
        outcomes: Counter[str] = Counter(o.outcome for o in outputs)
        for outcome, n in outcomes.items():
            metrics.EVENTS.labels(outcome).inc(n)
        letters: Counter[tuple[str, str]] = Counter(
            (o.stage, o.kind) for o in outputs if o.dead_letter is not None
        )
        letters["emit", "kafka_refused"] += refused
        for (stage, kind), n in letters.items():
            if n:
                metrics.DEAD_LETTERS.labels(stage, kind).inc(n)
        metrics.MERGES.inc(sum(len(o.merges) for o in outputs))

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
            # take_events acks a batch when the loop body ends, also when it ends by an error
            # or a cancellation: hold one more reference to each message until its outputs and
            # those of every batch before it are confirmed (pipeline.inflight releases it), so
            # an input is never committed before Kafka has what it caused.
            for e in events:
                e.message.incref()
            flight = in_flight()
            records: list[Record] = [
                (e.value or b"", e.message.topic, e.message.partition, e.message.offset)
                for e in events
            ]
            try:
                flight.check()
                outputs = await handle(records)
                await flight.submit(Batch(list(events), started), deliver(records, outputs))
            except Exception as exc:  # this batch (or one before it) can never be released
                flight.fail(exc)  # the worker exits once the deliveries under way have ended
                await asyncio.Event().wait()  # never leave the loop (see exit_uncommitted)
            metrics.BATCHES_IN_FLIGHT.set(len(flight))
            if events:
                occurred = [o.occurred_at for o in outputs if o.occurred_at is not None]
                if occurred:  # event time, as documented (not the Kafka timestamp)
                    metrics.LAG.set((clock.now_ms() - occurred[-1]) / 1000)
                record_offset_lag(events)

    return app
