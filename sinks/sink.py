"""The sink: enriched events and identity merges from Kafka to ClickHouse in batches.

* A batch closes at ``batch_rows`` records or ``batch_seconds`` after the step began.
* Offsets are committed only after the batch's rows are in ClickHouse and its dead letters are
  acknowledged by Kafka: a crash before that redelivers the batch, which the ReplacingMergeTree
  tables and the FINAL reads absorb (the worker re-emits events byte-identically).
* While ClickHouse refuses an insert, the sink retries with exponential backoff and pauses its
  partitions (no fetching, bounded memory); nothing is dropped.
* A record that does not decode, is of an unexpected schema, or does not convert to a row goes to
  the dead-letter topic (``DeadLetter``, stage ``sink``) with the reason and original bytes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from sinks import clickhouse, rows
from sinks.metrics import SinkMetrics
from touchline.codec import Codec, DecodeError
from touchline.contracts import DEAD_LETTER, ENRICHED, MERGE

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
        *,
        merges_topic: str | None = None,
        dead_letter_topic: str | None = None,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        metrics: SinkMetrics | None = None,
        lock: threading.Lock | None = None,
    ) -> None:
        self.codec = codec
        self.client = client
        self.database = database
        self.topic = topic
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self.dead_letter_topic = dead_letter_topic
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.metrics = metrics or SinkMetrics.create()
        self.lock = lock or threading.Lock()  # shared with the query endpoint: one client user
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "log_level": 3,
            }
        )
        self.consumer.subscribe([topic, *([merges_topic] if merges_topic else [])])
        self.producer = (
            Producer({"bootstrap.servers": bootstrap, "log_level": 3, "acks": "all"})
            if dead_letter_topic
            else None
        )
        self.rows_written = 0
        self.merges_written = 0
        self.dead_lettered = 0
        self.skipped = 0
        self._lag_checked = 0.0

    def run(
        self,
        stop: threading.Event,
        idle_exit_s: float | None = None,
        on_batch: Callable[[Sink], None] | None = None,
    ) -> None:
        """Consume until ``stop`` is set (or nothing arrived for ``idle_exit_s`` seconds);
        ``on_batch`` is called after every batch that wrote something."""
        last_data = time.monotonic()
        try:
            while not stop.is_set():
                n = self.step()
                if n:
                    last_data = time.monotonic()
                    if on_batch is not None:
                        on_batch(self)
                elif idle_exit_s is not None and time.monotonic() - last_data > idle_exit_s:
                    break
        finally:
            self.close()

    def _consume(self) -> list[Message]:
        deadline = time.monotonic() + self.batch_seconds
        out: list[Message] = []
        while len(out) < self.batch_rows:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for msg in self.consumer.consume(self.batch_rows - len(out), timeout=left):
                err = msg.error()
                if err is None:
                    out.append(msg)
                elif err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", err)
        return out

    def step(self) -> int:
        """Read one batch, write it, commit; returns the number of records handled."""
        msgs = self._consume()
        if not msgs:
            self._update_lag()
            return 0
        events: list[list[Any]] = []
        merges: list[list[Any]] = []
        dead: list[tuple[Message, str]] = []
        for msg in msgs:
            try:
                name, datum = self.codec.decode(msg.value() or b"")
                if name == ENRICHED:
                    events.append(rows.to_row(datum))
                elif name == MERGE:
                    merges.append(rows.merge_to_row(datum))
                else:
                    dead.append((msg, f"unexpected schema {name} on {msg.topic()}"))
            except DecodeError as exc:
                dead.append((msg, f"undecodable: {exc}"))
            except (KeyError, TypeError, ValueError, OverflowError) as exc:
                dead.append((msg, f"does not convert to a ClickHouse row: {exc!r}"))
        if events:
            self._insert_with_retry(clickhouse.insert_events, events)
            self.rows_written += len(events)
            self.metrics.rows.inc(len(events))
        if merges:
            self._insert_with_retry(clickhouse.insert_merges, merges)
            self.merges_written += len(merges)
            self.metrics.merges.inc(len(merges))
        if dead:
            self._dead_letter(dead)
        self._commit()
        self.metrics.batches.inc()
        self._update_lag()
        return len(msgs)

    def _commit(self) -> None:
        try:
            self.consumer.commit(asynchronous=False)
        except Exception as exc:  # e.g. the group rebalanced during a long outage
            log.warning("offset commit failed (%s); the batch will be redelivered", exc)

    def _insert_with_retry(
        self, insert: Callable[[Any, str, list[list[Any]]], None], batch: list[list[Any]]
    ) -> None:
        delay = self.retry_initial_s
        paused: list[TopicPartition] = []
        while True:
            started = time.monotonic()
            try:
                with self.lock:
                    insert(self.client, self.database, batch)
                self.metrics.insert_seconds.observe(time.monotonic() - started)
                break
            except Exception as exc:
                self.metrics.retries.inc()
                log.warning("ClickHouse insert failed (%s); retrying in %.2fs", exc, delay)
                if not paused:
                    paused = self.consumer.assignment()
                    self.consumer.pause(paused)
                time.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
        if paused:
            self.consumer.resume(paused)

    def _dead_letter(self, dead: list[tuple[Message, str]]) -> None:
        for msg, reason in dead:
            log.error(
                "dead-lettering %s/%s@%s: %s", msg.topic(), msg.partition(), msg.offset(), reason
            )
            if self.producer is None or self.dead_letter_topic is None:
                self.skipped += 1
                continue
            letter = {
                "failed_at": int(time.time() * 1000),
                "stage": "sink",
                "reason": reason[:1000],
                "topic": msg.topic(),
                "partition": msg.partition(),
                "offset": msg.offset(),
                "original": msg.value() or b"",
            }
            self.producer.produce(self.dead_letter_topic, self.codec.encode(DEAD_LETTER, letter))
        if self.producer is not None:
            left = self.producer.flush(30)
            if left:
                raise RuntimeError(f"{left} dead letters not acknowledged; not committing")
            self.dead_lettered += len(dead)
            self.metrics.dead_letters.inc(len(dead))

    def _update_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_checked < 5:
            return
        self._lag_checked = now
        try:
            lag = 0
            assignment = self.consumer.assignment()
            for tp in self.consumer.position(assignment) if assignment else []:
                low, high = self.consumer.get_watermark_offsets(tp, timeout=1, cached=False)
                lag += max(high - (tp.offset if tp.offset >= 0 else low), 0)
            self.metrics.lag.set(lag)
        except Exception as exc:  # metrics never stop the sink
            log.debug("lag check failed: %s", exc)

    def close(self) -> None:
        if self.producer is not None:
            self.producer.flush(10)
        self.consumer.close()


def ensure_schema(client: Any, database: str) -> list[str]:
    return clickhouse.migrate(client, database)
