"""The sink: enriched events from Kafka to ClickHouse in batches.

Offsets are committed only after the batch is in ClickHouse; while ClickHouse refuses, the batch is
retried with backoff and the consumer is paused, so nothing is dropped and memory stays bounded.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import Consumer, KafkaError

from sinks import clickhouse, rows
from touchline.codec import Codec, DecodeError
from touchline.contracts import ENRICHED

log = logging.getLogger(__name__)


class Sink:
    def __init__(
        self,
        codec: Codec,
        client: Any,
        database: str,
        bootstrap: str,
        topic: str,
        group: str,
        batch_rows: int = 5000,
        batch_seconds: float = 1.0,
    ) -> None:
        self.codec = codec
        self.client = client
        self.database = database
        self.topic = topic
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "log_level": 3,
            }
        )
        self.consumer.subscribe([topic])
        self.rows_written = 0
        self.skipped = 0

    def run(self, stop: threading.Event, idle_exit_s: float | None = None) -> None:
        """Consume until ``stop`` is set (or nothing arrived for ``idle_exit_s`` seconds)."""
        last_data = time.monotonic()
        while not stop.is_set():
            n = self.step()
            if n:
                last_data = time.monotonic()
            elif idle_exit_s is not None and time.monotonic() - last_data > idle_exit_s:
                break
        self.close()

    def step(self) -> int:
        """Read up to one batch, write it, commit; returns rows written."""
        msgs = self.consumer.consume(self.batch_rows, timeout=self.batch_seconds)
        batch = []
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", err)
                continue
            try:
                name, datum = self.codec.decode(msg.value() or b"")
            except DecodeError as exc:
                log.error(
                    "skipping undecodable record at %s/%s: %s", msg.partition(), msg.offset(), exc
                )
                self.skipped += 1
                continue
            if name == ENRICHED:
                batch.append(rows.to_row(datum))
        if batch:
            self._insert_with_retry(batch, [m for m in msgs if not m.error()])
        if msgs:
            self.consumer.commit(asynchronous=False)
        return len(batch)

    def _insert_with_retry(self, batch: list[list[Any]], msgs: list[Any]) -> None:
        delay = 0.5
        paused = False
        while True:
            try:
                self.client.insert(
                    f"`{self.database}`.events", batch, column_names=list(rows.COLUMNS)
                )
                break
            except Exception as exc:
                log.warning("ClickHouse insert failed (%s); retrying in %.1fs", exc, delay)
                if not paused:
                    self.consumer.pause(self.consumer.assignment())
                    paused = True
                time.sleep(delay)
                self.consumer.poll(0)  # keep group membership alive while paused
                delay = min(delay * 2, 30.0)
        if paused:
            self.consumer.resume(self.consumer.assignment())
        self.rows_written += len(batch)

    def close(self) -> None:
        self.consumer.close()


def ensure_schema(client: Any, database: str) -> list[str]:
    return clickhouse.migrate(client, database)
