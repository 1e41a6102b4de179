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

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException

from touchline.confirmed import ProducerLike, produce_confirmed_async, refused_for_size

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
    for_size: bool = False  # too large for the topic (or shared a record batch with one that was)


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
        poll_s: float = 0.002,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.producer = producer
        self.on_waiting = on_waiting
        self.on_retry = on_retry
        self.wait_s = wait_s
        self.poll_s = poll_s
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.sleep = sleep
        self._unconfirmed: dict[int, int] = {}  # per round in progress: outputs still waiting
        self._rounds = 0

    async def deliver(self, messages: Sequence[Outgoing]) -> list[Refused]:
        """Produce ``messages`` and wait until each is confirmed; returns the refused ones. Runs
        on the event loop (:func:`touchline.confirmed.produce_confirmed_async`): the worker
        processes its next batch while Kafka confirms this one."""
        refused: list[Refused] = []
        todo = list(messages)
        delay = self.retry_initial_s
        while todo:
            self._rounds += 1
            round_id = self._rounds
            try:
                reports = await produce_confirmed_async(
                    self.producer,
                    [(m.topic, m.key, m.value) for m in todo],
                    wait_s=self.wait_s,
                    poll_s=self.poll_s,
                    on_wait=self._waiting(round_id),
                )
            finally:
                self._unconfirmed.pop(round_id, None)
                self.on_waiting(sum(self._unconfirmed.values()))
            again: list[Outgoing] = []
            for message, err in zip(todo, reports, strict=True):
                if err is None:
                    continue
                if isinstance(err, KafkaError) and not permanent(err):
                    again.append(message)
                else:
                    reason = f"{err.name()}: {err.str()}" if isinstance(err, KafkaError) else err
                    refused.append(Refused(message, str(reason), refused_for_size(err)))
            if again:
                self.on_retry(len(again))
                log.warning(
                    "Kafka did not confirm %d outputs; producing them again in %.1fs",
                    len(again),
                    delay,
                )
                await self.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
            todo = again
        return refused

    def _waiting(self, round_id: int) -> Callable[[int], None]:
        """``on_wait`` for one round: the backlog gauge (the outputs every round in progress
        still waits for: several batches deliver at once), and a log line every 30 s."""
        waited = [0.0]

        def on_wait(left: int) -> None:
            waited[0] += self.wait_s
            self._unconfirmed[round_id] = left
            self.on_waiting(sum(self._unconfirmed.values()))
            if waited[0] % 30 < self.wait_s:
                log.warning("%d outputs wait for Kafka's acknowledgement (%.0fs)", left, waited[0])

        return on_wait
