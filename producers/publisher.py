"""Publishing to Kafka with confluent-kafka: acks=all, idempotent, confirmed per message.

``publish`` returns only when Kafka has acknowledged (or refused) every message, so callers can
answer 2xx strictly for events that are in Kafka.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer


class QueueFull(Exception):
    """The local producer queue is full: back off and retry."""


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        "compression.type": "lz4",
        "message.timeout.ms": 30000,
        "queue.buffering.max.messages": 200000,
        "log_level": 3,
    }
    config.update(overrides)
    return config


class Publisher:
    """A confluent-kafka producer with a poll thread that resolves per-message futures."""

    def __init__(self, bootstrap: str, **overrides: Any) -> None:
        self._producer = Producer(producer_config(bootstrap, **overrides))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="kafka-poll", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    def queue_depth(self) -> int:
        return len(self._producer)

    async def publish(self, messages: Sequence[Message]) -> list[KafkaError | None]:
        """Send and wait for every acknowledgement; a None entry means stored in Kafka."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[KafkaError | None]] = []

        def on_delivery(fut: asyncio.Future[KafkaError | None]) -> Any:
            def callback(err: KafkaError | None, _msg: Any) -> None:
                loop.call_soon_threadsafe(_resolve, fut, err)

            return callback

        for message in messages:
            fut: asyncio.Future[KafkaError | None] = loop.create_future()
            try:
                self._producer.produce(
                    message.topic, message.value, message.key, on_delivery=on_delivery(fut)
                )
            except BufferError as exc:
                for pending in futures:  # what was queued still completes; we wait for it
                    await asyncio.shield(pending)
                raise QueueFull(str(exc)) from exc
            except KafkaException as exc:
                fut.set_result(exc.args[0])
            futures.append(fut)
        return list(await asyncio.gather(*futures))

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


def _resolve(fut: asyncio.Future[KafkaError | None], err: KafkaError | None) -> None:
    if not fut.done():
        fut.set_result(err)
