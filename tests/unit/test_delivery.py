"""pipeline.delivery: a batch's outputs are confirmed one by one, retried through an outage, and
a message Kafka can never take comes back as refused instead of being lost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from pipeline.delivery import Delivery, Outgoing, Refused


class FakeProducer:
    """Queues messages; ``poll`` settles them through their delivery callbacks.

    ``outage`` polls report messages still waiting (brokers away) before anything settles;
    ``fail[value]`` is how many more times that message's delivery fails with ``error``;
    values over ``max_bytes`` raise MSG_SIZE_TOO_LARGE from produce(), as librdkafka does.
    """

    def __init__(self, *, outage: int = 0, max_bytes: int = 1000, full_once: bool = False):
        self.queue: list[tuple[bytes, Callable[[KafkaError | None, Any], None]]] = []
        self.delivered: list[tuple[str, bytes]] = []
        self.outage = outage
        self.max_bytes = max_bytes
        self.full_once = full_once
        self.fail: dict[bytes, tuple[int, int]] = {}  # value -> (times, error code)
        self.topics: dict[bytes, str] = {}

    def produce(
        self, topic: str, value: bytes | None = None, key: bytes | None = None, *, on_delivery: Any
    ) -> None:
        assert value is not None
        if self.full_once:
            self.full_once = False
            raise BufferError("Local: Queue full")
        if len(value) > self.max_bytes:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        self.topics[value] = topic
        self.queue.append((value, on_delivery))

    def flush(self, timeout: float = 0) -> int:
        return self.poll(timeout)

    def poll(self, timeout: float = 0) -> int:
        if self.outage:
            self.outage -= 1
            return len(self.queue)
        for value, callback in self.queue:
            times, code = self.fail.get(value, (0, 0))
            if times:
                self.fail[value] = (times - 1, code)
                callback(KafkaError(code), None)
            else:
                self.delivered.append((self.topics[value], value))
                callback(None, None)
        self.queue.clear()
        return 0


async def no_sleep(_s: float) -> None:
    return None


def deliver(delivery: Delivery, outgoing: list[Outgoing]) -> list[Refused]:
    return asyncio.run(delivery.deliver(outgoing))


def delivery_of(producer: Any, **kwargs: Any) -> Delivery:
    """Report waiting at every poll (wait_s 0) and never sleep for real."""
    return Delivery(producer, wait_s=0, poll_s=0, **{"sleep": no_sleep, **kwargs})


def messages(*values: bytes) -> list[Outgoing]:
    return [Outgoing("out", None, v, i) for i, v in enumerate(values)]


def test_every_message_is_confirmed_before_deliver_returns() -> None:
    producer = FakeProducer(outage=3)
    waiting: list[int] = []
    delivery = delivery_of(producer, on_waiting=waiting.append)
    assert deliver(delivery, messages(b"a", b"b", b"c")) == []
    assert sorted(v for _, v in producer.delivered) == [b"a", b"b", b"c"]
    assert waiting == [3, 3, 3, 0]  # the backlog is visible while Kafka is away


def test_timed_out_messages_are_produced_again_until_confirmed() -> None:
    """flush() returns 0 after librdkafka expires a message: only the callback tells."""
    producer = FakeProducer()
    producer.fail[b"b"] = (2, KafkaError._MSG_TIMED_OUT)
    retries: list[int] = []
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    delivery = delivery_of(producer, on_retry=retries.append, sleep=sleep)
    assert deliver(delivery, messages(b"a", b"b")) == []
    assert [v for _, v in producer.delivered] == [b"a", b"b"]  # b once, a not again
    assert retries == [1, 1]
    assert sleeps == [0.5, 1.0]  # backoff


def test_a_message_kafka_can_never_take_is_refused_not_lost() -> None:
    producer = FakeProducer(max_bytes=4, full_once=True)
    producer.fail[b"ok2"] = (1, KafkaError.MSG_SIZE_TOO_LARGE)  # the broker's own limit
    refused = deliver(delivery_of(producer), messages(b"ok", b"too large", b"ok2"))
    assert [(r.message.source, r.message.value) for r in refused] == [
        (1, b"too large"),
        (2, b"ok2"),
    ]
    assert all("MSG_SIZE_TOO_LARGE" in r.reason for r in refused)
    assert [v for _, v in producer.delivered] == [b"ok"]


def test_a_fatal_producer_error_raises_so_nothing_is_acknowledged() -> None:
    class Fatal(FakeProducer):
        def poll(self, timeout: float = 0) -> int:
            err = KafkaError(KafkaError._FATAL, "out of sequence", fatal=True)
            for _value, callback in self.queue:
                callback(err, None)
            self.queue.clear()
            return 0

    with pytest.raises(KafkaException):
        deliver(delivery_of(Fatal()), messages(b"a"))


def test_the_backlog_gauge_counts_every_batch_delivering_at_once() -> None:
    """Batches deliver concurrently (pipeline.inflight): the gauge is their sum, not the last."""
    producer = FakeProducer(outage=4)
    waiting: list[int] = []
    delivery = delivery_of(producer, on_waiting=waiting.append)

    async def both() -> None:
        await asyncio.gather(
            delivery.deliver(messages(b"a", b"b")), delivery.deliver(messages(b"c"))
        )

    asyncio.run(both())
    assert max(waiting) == 3  # 2 + 1 outputs waited together
    assert waiting[-1] == 0
