"""A batch's outputs to Kafka, each one confirmed before the inputs that caused them are committed.

``flush()`` returning 0 does not mean delivered: librdkafka reports a message it gave up on
(timed out, too large, refused by the broker) only in that message's delivery callback. So every
output carries a callback, and :meth:`Delivery.deliver` returns only when each message has either
been acknowledged by Kafka or been refused for good (a message Kafka can never take, such as one
over the topic's ``max.message.bytes``). Anything else (brokers down, leader moving, a timeout) is
produced again after a backoff, for as long as the outage lasts; the number of outputs waiting is
reported through ``on_waiting`` so the backlog is visible in the metrics.

Re-producing an output is harmless: the worker's effects are applied once per ``event_id`` and a
redelivered output is byte-identical, which the sink's tables collapse.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException

log = logging.getLogger(__name__)

# Errors that producing the same bytes again can never fix.
PERMANENT = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.INVALID_MSG,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.INVALID_REQUIRED_ACKS,
    }
)


class ProducerLike(Protocol):
    """What :class:`Delivery` needs of ``confluent_kafka.Producer`` (faked in unit tests)."""

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


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes
    source: int  # index of the input record that caused it


@dataclass(frozen=True)
class Refused:
    message: Outgoing
    reason: str


def permanent(err: KafkaError) -> bool:
    """Kafka can never take this message. A *fatal* producer error is not this: the producer
    itself is unusable, so :meth:`Delivery.deliver` raises and the inputs stay uncommitted."""
    if err.fatal():
        raise KafkaException(err)
    return err.code() in PERMANENT


class Delivery:
    def __init__(
        self,
        producer: ProducerLike,
        *,
        on_waiting: Callable[[int], None] = lambda _n: None,
        on_retry: Callable[[int], None] = lambda _n: None,
        wait_s: float = 1.0,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.producer = producer
        self.on_waiting = on_waiting
        self.on_retry = on_retry
        self.wait_s = wait_s
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.sleep = sleep

    def deliver(self, messages: Sequence[Outgoing]) -> list[Refused]:
        """Produce ``messages`` and wait until each is confirmed; returns the refused ones."""
        refused: list[Refused] = []
        todo = list(messages)
        delay = self.retry_initial_s
        while todo:
            again: list[Outgoing] = []
            for message in todo:
                self._produce(message, again, refused)
            self._wait()
            if again:
                self.on_retry(len(again))
                log.warning(
                    "Kafka did not confirm %d outputs; producing them again in %.1fs",
                    len(again),
                    delay,
                )
                self.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
            todo = again
        return refused

    def _produce(self, message: Outgoing, again: list[Outgoing], refused: list[Refused]) -> None:
        def on_delivery(err: KafkaError | None, _msg: Any) -> None:
            if err is None:
                return
            if permanent(err):
                refused.append(Refused(message, f"{err.name()}: {err.str()}"))
            else:
                again.append(message)

        while True:
            try:
                self.producer.produce(
                    message.topic, message.value, message.key, on_delivery=on_delivery
                )
                return
            except BufferError:  # the local queue is full: let it drain
                self.producer.poll(self.wait_s)
            except KafkaException as exc:
                err = exc.args[0]
                if isinstance(err, KafkaError) and not permanent(err):
                    again.append(message)
                else:
                    refused.append(Refused(message, str(err)))
                return

    def _wait(self) -> None:
        waited = 0.0
        while (left := self.producer.flush(self.wait_s)) > 0:
            waited += self.wait_s
            self.on_waiting(left)
            if waited % 30 < self.wait_s:
                log.warning("%d outputs wait for Kafka's acknowledgement (%.0fs)", left, waited)
        self.on_waiting(0)
