"""Publishing to Kafka with confluent-kafka: acks=all, idempotent, confirmed per message.

``publish`` returns only when Kafka has acknowledged (or refused) every message, so callers can
answer 2xx strictly for events that are in Kafka. The publisher also tracks whether the brokers
are reachable (librdkafka's ``_ALL_BROKERS_DOWN``, cleared by a successful delivery or metadata
probe) so the API can refuse fast with 503 instead of queueing into an outage.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from touchline.producer import producer_config
from touchline.settings import default


class QueueFull(Exception):
    """The local producer queue is full: back off and retry."""


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes


class Publisher:
    """A confluent-kafka producer with a poll thread that resolves per-message futures.

    ``max_in_flight`` bounds the messages waiting for an acknowledgement: :meth:`publish` raises
    :class:`QueueFull` before producing anything when a request would exceed it.
    """

    def __init__(
        self,
        bootstrap: str,
        max_in_flight: int = default("ingest_max_in_flight"),
        on_delivery_error: Callable[[KafkaError], None] | None = None,
        **overrides: Any,
    ) -> None:
        self.max_in_flight = max_in_flight
        self._on_delivery_error = on_delivery_error
        self._brokers_down = False
        self._last_probe = 0.0
        self._producer = Producer(
            producer_config(
                bootstrap,
                error_cb=self._on_error,
                logger=logging.getLogger("touchline.kafka"),
                **overrides,
            )
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="kafka-poll", daemon=True)
        self._thread.start()

    def _on_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            self._brokers_down = True

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)
            if self._brokers_down and time.monotonic() - self._last_probe > 1.0:
                self._last_probe = time.monotonic()
                if self.reachable(1.0):
                    self._brokers_down = False

    @property
    def brokers_down(self) -> bool:
        """librdkafka reported every broker down and nothing has been delivered since."""
        return self._brokers_down

    def reachable(self, timeout: float = 2.0) -> bool:
        """The cluster answers a metadata request within ``timeout`` seconds."""
        try:
            meta = self._producer.list_topics(timeout=timeout)
        except KafkaException:
            return False
        return bool(meta.brokers)

    def queue_depth(self) -> int:
        return len(self._producer)

    async def publish(self, messages: Sequence[Message]) -> list[KafkaError | None]:
        """Send and wait for every acknowledgement; a None entry means stored in Kafka."""
        if len(self._producer) + len(messages) > self.max_in_flight:
            raise QueueFull(f"{len(self._producer)} messages already wait for Kafka")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        results: list[KafkaError | None] = [None] * len(messages)
        # The event loop is woken once per request, not once per message. Delivery callbacks run
        # on the poll thread, the other settlements on the loop: the counter has a lock.
        pending = [len(messages) + 1]  # +1 until every message is handed to the producer
        lock = threading.Lock()

        def settle() -> None:
            with lock:
                pending[0] -= 1
                last = pending[0] == 0
            if last:
                loop.call_soon_threadsafe(_resolve, done)

        def on_delivery(index: int) -> Callable[[KafkaError | None, Any], None]:
            def callback(err: KafkaError | None, _msg: Any) -> None:
                if err is None:
                    self._brokers_down = False
                else:
                    results[index] = err
                    if self._on_delivery_error is not None:
                        self._on_delivery_error(err)
                settle()

            return callback

        queued = 0
        full: BufferError | None = None
        for index, message in enumerate(messages):
            try:
                self._producer.produce(
                    message.topic, message.value, message.key, on_delivery=on_delivery(index)
                )
            except BufferError as exc:
                full = exc
                break
            except KafkaException as exc:
                results[index] = exc.args[0]
                settle()
            queued += 1
        if full is not None:  # what was queued still completes; we wait for it, then refuse
            for _ in range(len(messages) - queued):
                settle()
        settle()
        await done
        if full is not None:
            raise QueueFull(str(full))
        return results

    def send(self, message: Message, callback: Callable[[KafkaError | None], None]) -> bool:
        """Produce without waiting; ``callback(err)`` runs on the poll thread. False when the
        local queue refused the message (``callback`` is then never called)."""
        try:
            self._producer.produce(
                message.topic,
                message.value,
                message.key,
                on_delivery=lambda err, _msg: callback(err),
            )
        except (BufferError, KafkaException):
            return False
        return True

    def publish_sync(self, messages: Sequence[Message], timeout: float = 60.0) -> None:
        """Blocking variant for CLIs: raises if any message is not acknowledged."""
        errors: list[KafkaError] = []

        def callback(err: KafkaError | None, _msg: Any) -> None:
            if err is not None:
                errors.append(err)

        for message in messages:
            while True:
                try:
                    self._producer.produce(
                        message.topic, message.value, message.key, on_delivery=callback
                    )
                    break
                except BufferError:
                    self._producer.flush(1.0)
        remaining = self._producer.flush(timeout)
        if remaining:
            raise KafkaException(f"{remaining} messages not delivered within {timeout}s")
        if errors:
            raise KafkaException(errors[0])

    def close(self, timeout: float = 30.0) -> int:
        """Flush and stop; returns how many messages were still undelivered."""
        remaining = int(self._producer.flush(timeout))
        self._stop.set()
        self._thread.join(timeout=2)
        return remaining


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
