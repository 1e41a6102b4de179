"""The sink's dead letters, confirmed one by one by Kafka.

Every dead letter goes through :func:`touchline.confirmed.produce_confirmed`, which waits for its
delivery report (``flush()`` returning 0 does not mean delivered), and
:meth:`DeadLetterWriter.send` returns the letters Kafka did not acknowledge, for the sink to
produce again before it commits anything. The producer is idempotent with ``acks=all``: its own
retries never duplicate a letter; a letter that is produced again after a lost acknowledgement can
appear twice on the dead-letter topic, never zero times. A letter Kafka refuses for its size is
produced again alone, then with less and less of its original (:meth:`DeadLetterWriter.fit`): a
dead-letter topic with a smaller ``max.message.bytes`` than its letters cannot stall the sink.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from touchline import deadletter
from touchline.codec import Codec
from touchline.confirmed import produce_confirmed, refused_for_size

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
        with the seconds waited about once a second (it may raise to stop waiting). A letter
        refused for its size goes again on its own (:meth:`fit`), so it cannot hold the sink."""
        left = []
        for i, err in self._produce(letters, tick):
            letter = self.fit(letters[i], tick) if refused_for_size(err) else letters[i]
            if letter is not None:
                left.append(letter)
        return left

    def fit(self, letter: bytes, tick: Callable[[float], None]) -> bytes | None:
        """Produce ``letter`` alone (Kafka refuses a whole batch over the topic's limit, so it
        may have been refused for a neighbour), and while Kafka refuses it for its size, again
        with half as much of its original (the reason says so, with the whole original's
        SHA-256): a dead letter reaches the topic, with as much of its input as fits. None once
        delivered; else the letter as it stands, for the sink to produce again."""
        _, record = self.codec.decode(letter)
        original: bytes = record["original"]
        keep = len(original)
        while True:
            errors = self._produce([letter], tick)
            if not errors:
                return None
            if not refused_for_size(errors[0][1]) or keep == 0:
                return letter
            keep //= 2
            where = {k: record[k] for k in ("topic", "partition", "offset", "failed_at")}
            letter = deadletter.encode(
                self.codec, record["stage"], record["reason"], original, max_original=keep, **where
            )
            log.warning("a dead letter over the topic's limit goes again with %d bytes", keep)

    def _produce(self, letters: Sequence[bytes], tick: Callable[[float], None]) -> list[Any]:
        started = time.monotonic()
        reports = produce_confirmed(
            self.producer,
            [(self.topic, None, value) for value in letters],
            on_wait=lambda _left: tick(time.monotonic() - started),
        )
        errors = [(i, e) for i, e in enumerate(reports) if e is not None]
        if errors:
            self.last_error = str(errors[0][1])
            if any(isinstance(e, KafkaError) and e.fatal() for _, e in errors):
                log.warning("the dead-letter producer failed fatally (%s); replacing it", errors)
                self.producer = self._producer()
        return errors

    def close(self) -> None:
        left = self.producer.flush(10)
        if left:
            log.warning("%d dead letters still unacknowledged at close", left)
