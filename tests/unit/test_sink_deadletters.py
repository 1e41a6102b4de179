"""Dead letters count only when Kafka's delivery report says so: flush() returning 0 is not enough
(librdkafka expires a message after message.timeout.ms and reports it only to the callback)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError

from sinks.deadletters import DeadLetterWriter
from sinks.metrics import SinkMetrics
from sinks.sink import Sink
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.settings import Settings


class ExpiringProducer:
    """Queues messages; flush() reports the first ``expire`` of them as timed out, the rest as
    delivered, and always returns 0. The first produce() finds the queue full once."""

    def __init__(self, expire: int) -> None:
        self.expire = expire
        self.queue: list[tuple[bytes, Callable[[KafkaError | None, Any], None]]] = []
        self.delivered: list[bytes] = []
        self.full_once = True

    def produce(
        self, topic: str, value: bytes, key: bytes | None = None, *, on_delivery: Any
    ) -> None:
        if self.full_once:
            self.full_once = False
            raise BufferError("Local: Queue full")
        self.queue.append((value, on_delivery))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float = -1) -> int:
        queue, self.queue = self.queue, []
        for value, report in queue:
            if self.expire > 0:
                self.expire -= 1
                report(KafkaError(KafkaError._MSG_TIMED_OUT), None)
            else:
                self.delivered.append(value)
                report(None, None)
        return 0


class Msg:
    def __init__(self, offset: int, value: bytes) -> None:
        self._offset, self._value = offset, value

    def topic(self) -> str:
        return "enriched"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value


def _codec() -> Codec:
    return Codec(load_cached(Settings().schemas_dir))


def test_send_returns_what_kafka_did_not_acknowledge() -> None:
    writer = DeadLetterWriter("127.0.0.1:1", "dlq", _codec(), 1)
    producer = ExpiringProducer(expire=2)
    writer.producer = producer  # type: ignore[assignment]
    letters = writer.encode([(Msg(i, b"raw%d" % i), "bad") for i in range(5)])  # type: ignore[misc]
    ticks: list[float] = []
    left = writer.send(letters, ticks.append)
    assert left == letters[:2]
    assert producer.delivered == letters[2:]
    assert "timed out" in writer.last_error.lower()
    assert writer.send(left, ticks.append) == []


def test_sink_retries_dead_letters_until_acknowledged_and_then_counts_them() -> None:
    codec = _codec()
    sink = Sink(
        codec,
        None,
        "db",
        "127.0.0.1:1",
        "enriched",
        "g",
        dead_letter_topic="dlq",
        retry_initial_s=0.01,
        metrics=SinkMetrics.create(),
        lock=threading.Lock(),
    )
    assert sink.dead_letters is not None
    producer = ExpiringProducer(expire=3)
    sink.dead_letters.producer = producer  # type: ignore[assignment]
    try:
        sink._dead_letter([(Msg(7, b"original"), "ClickHouse refused the row: x")])  # type: ignore[list-item]
    finally:
        sink.consumer.close()
    assert len(producer.delivered) == 1
    _, letter = codec.decode(producer.delivered[0])
    assert letter["original"] == b"original" and letter["offset"] == 7
    assert letter["stage"] == "sink" and letter["reason"].startswith("ClickHouse refused")
    assert sink.metrics.dead_letter_retries._value.get() == 3
    assert sink.metrics.dead_letters._value.get() == 1 and sink.dead_lettered == 1
    assert sink.metrics.kafka_waiting._value.get() == 0


class BatchLimitProducer(ExpiringProducer):
    """A broker whose topic takes at most ``limit`` bytes per record batch: a flush is one batch,
    and Kafka refuses the whole batch when it is over the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(expire=0)
        self.full_once = False
        self.limit = limit

    def flush(self, timeout: float = -1) -> int:
        queue, self.queue = self.queue, []
        over = sum(len(value) for value, _ in queue) > self.limit
        for value, report in queue:
            if over:
                report(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), None)
            else:
                self.delivered.append(value)
                report(None, None)
        return 0


def test_a_letter_over_the_topic_limit_goes_shortened_and_its_neighbours_whole() -> None:
    codec = _codec()
    writer = DeadLetterWriter("127.0.0.1:1", "dlq", codec, 1)
    producer = BatchLimitProducer(limit=5_000)
    writer.producer = producer  # type: ignore[assignment]
    big = bytes(range(256)) * 40  # 10,240 bytes: over the limit even alone
    dead = [(Msg(1, b"small one"), "bad"), (Msg(2, big), "bad"), (Msg(3, b"small two"), "bad")]
    letters = writer.encode(dead)  # type: ignore[arg-type]
    assert writer.send(letters, lambda _s: None) == []
    got = [codec.decode(v)[1] for v in producer.delivered]
    assert [(d["offset"], d["original"]) for d in got if d["offset"] != 2] == [
        (1, b"small one"),
        (3, b"small two"),
    ]  # each delivered whole once produced alone
    (shortened,) = [d for d in got if d["offset"] == 2]
    assert big.startswith(shortened["original"]) and 0 < len(shortened["original"]) < 5_000
    assert f"of {len(big)} bytes" in shortened["reason"] and shortened["reason"].startswith("bad")
