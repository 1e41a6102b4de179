"""The sink's dead letters, confirmed one by one by Kafka.

``Producer.flush()`` returning 0 does not mean delivered: librdkafka drops a message after
``message.timeout.ms`` and says so only in its delivery report. So every dead letter gets an
``on_delivery`` callback, :meth:`DeadLetterWriter.send` waits for every report, and returns the
letters Kafka did not acknowledge, for the sink to produce again before it commits anything. The
producer is idempotent with ``acks=all``: its own retries never duplicate a letter; a letter that
is produced again after a lost acknowledgement can appear twice on the dead-letter topic, never
zero times.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import partial

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from touchline import deadletter
from touchline.codec import Codec

log = logging.getLogger(__name__)

STAGE = "sink"


class DeadLetterWriter:
    def __init__(self, bootstrap: str, topic: str, codec: Codec, delivery_timeout_s: float) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.codec = codec
        self.delivery_timeout_ms = max(1000, int(delivery_timeout_s * 1000))
        self.producer = self._producer()
        self.last_error = ""

    def _producer(self) -> Producer:
        return Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "message.timeout.ms": self.delivery_timeout_ms,
                "log_level": 3,
            }
        )

    def encode(self, dead: Sequence[tuple[Message, str]]) -> list[bytes]:
        """The dead letters (``touchline.deadletter``) of ``dead``: each message's original bytes
        with its topic, partition, offset and the reason."""
        return [
            deadletter.encode(
                self.codec,
                STAGE,
                reason,
                msg.value() or b"",
                topic=msg.topic(),
                partition=msg.partition(),
                offset=msg.offset(),
            )
            for msg, reason in dead
        ]

    def send(self, letters: Sequence[bytes], tick: Callable[[float], None]) -> list[bytes]:
        """Produce ``letters`` and wait for every delivery report (at most about
        ``message.timeout.ms``); returns the letters Kafka did not acknowledge. ``tick`` is called
        with the seconds waited about once a second (it may raise to stop waiting)."""
        reports: dict[int, KafkaError | None] = {}
        started = time.monotonic()
        for i, value in enumerate(letters):
            self._produce(i, value, reports, lambda: tick(time.monotonic() - started))
        while len(reports) < len(letters):
            self.producer.flush(1.0)
            if len(reports) < len(letters):
                tick(time.monotonic() - started)
        errors = [(i, e) for i, e in sorted(reports.items()) if e is not None]
        if errors:
            self.last_error = str(errors[0][1])
            if any(isinstance(e, KafkaError) and e.fatal() for _, e in errors):
                log.warning("the dead-letter producer failed fatally (%s); replacing it", errors)
                self.producer = self._producer()
        return [letters[i] for i, _ in errors]

    def _produce(
        self,
        i: int,
        value: bytes,
        reports: dict[int, KafkaError | None],
        tick: Callable[[], None],
    ) -> None:
        while True:
            try:
                self.producer.produce(self.topic, value, on_delivery=partial(_record, reports, i))
                return
            except BufferError:  # the local queue is full: wait for reports to free it
                self.producer.poll(0.5)
                tick()
            except KafkaException as exc:
                reports[i] = exc.args[0]
                return

    def close(self) -> None:
        left = self.producer.flush(10)
        if left:
            log.warning("%d dead letters still unacknowledged at close", left)


def _record(
    reports: dict[int, KafkaError | None], i: int, err: KafkaError | None, _msg: Message
) -> None:
    reports[i] = err
