"""Producing to Kafka and waiting for each message's delivery report.

``Producer.flush()`` returning 0 does not mean delivered: librdkafka gives up on a message (timed
out, too large, refused by the broker) and says so only in that message's delivery report. So
every message gets an ``on_delivery`` callback and :func:`produce_confirmed` returns only when each
one has its report. What to do with an error (produce again, dead-letter, stop) is the caller's
policy: the worker's outputs (``pipeline.delivery``) and the sink's dead letters
(``sinks.deadletters``) both go through here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException

PENDING: Any = object()  # no report yet

# Kafka checks max.message.bytes per record batch and refuses the whole batch, so the messages
# that shared a batch with an oversize one are refused too, with the same error. The producers
# keep their batches under the topics' limits (touchline/batch_bytes.py); for a limit lowered
# while it runs, ingest also produces each event refused with one of these again on its own, up
# to ALONE_TRIES times (under concurrent requests it may share a batch again), before refusing it.
BATCH_SIZE_ERRORS = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE})
ALONE_TRIES = 3


def refused_for_size(err: object) -> bool:
    """Whether ``err`` (a delivery report) may only mean the message's batch was too large."""
    return isinstance(err, KafkaError) and err.code() in BATCH_SIZE_ERRORS


class ProducerLike(Protocol):
    """What is needed of ``confluent_kafka.Producer`` (faked in unit tests)."""

    def produce(
        self,
        topic: str,
        value: bytes | None = ...,
        key: bytes | None = ...,
        *,
        on_delivery: Any = ...,  # called with (KafkaError | None, message)
    ) -> None: ...

    def flush(self, timeout: float = ...) -> int: ...

    def poll(self, timeout: float = ...) -> int: ...


def produce_confirmed(
    producer: ProducerLike,
    messages: Sequence[tuple[str, bytes | None, bytes]],
    *,
    wait_s: float = 1.0,
    on_wait: Callable[[int], None] = lambda _left: None,
) -> list[KafkaError | None]:
    """Produce each ``(topic, key, value)`` and wait until every one has its delivery report.
    Returns one entry per message: None when Kafka acknowledged it, else the error (from the
    report, or raised by ``produce()`` itself). ``on_wait(left)`` is called after each ``wait_s``
    spent waiting (a full local queue, or reports still missing); it may raise to stop waiting."""
    reports: list[Any] = [PENDING] * len(messages)

    def record(i: int) -> Callable[[KafkaError | None, Any], None]:
        def on_delivery(err: KafkaError | None, _msg: Any) -> None:
            reports[i] = err

        return on_delivery

    for i, (topic, key, value) in enumerate(messages):
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=record(i))
                break
            except BufferError:  # the local queue is full: let reports drain it
                producer.poll(wait_s)
                on_wait(_left(reports))
            except KafkaException as exc:
                reports[i] = exc.args[0]
                break
    while _left(reports):
        producer.flush(wait_s)
        if _left(reports):
            on_wait(_left(reports))
    return list(reports)


async def produce_confirmed_async(
    producer: ProducerLike,
    messages: Sequence[tuple[str, bytes | None, bytes]],
    *,
    wait_s: float = 1.0,
    poll_s: float = 0.002,
    on_wait: Callable[[int], None] = lambda _left: None,
) -> list[KafkaError | None]:
    """:func:`produce_confirmed` for an asyncio caller, all on the event loop's thread: it
    produces, then serves delivery reports with ``poll(0)`` every ``poll_s`` while the loop runs
    other work. No thread of its own: a thread that served the reports would take the GIL back
    from the busy loop once per report, and both would crawl."""
    reports: list[Any] = [PENDING] * len(messages)
    left = [len(messages)]
    next_report = [time.monotonic() + wait_s]

    def record(i: int) -> Callable[[KafkaError | None, Any], None]:
        def on_delivery(err: KafkaError | None, _msg: Any) -> None:
            reports[i] = err
            left[0] -= 1

        return on_delivery

    async def pause() -> None:
        await asyncio.sleep(poll_s)
        if time.monotonic() >= next_report[0]:
            next_report[0] = time.monotonic() + wait_s
            on_wait(left[0])
        producer.poll(0)

    for i, (topic, key, value) in enumerate(messages):
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=record(i))
                break
            except BufferError:  # the local queue is full: let reports drain it
                await pause()
            except KafkaException as exc:
                reports[i] = exc.args[0]
                left[0] -= 1
                break
    producer.poll(0)
    while left[0]:
        await pause()
    return list(reports)


def _left(reports: list[Any]) -> int:
    return sum(1 for r in reports if r is PENDING)
