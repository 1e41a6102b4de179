"""The sink: enriched events and identity merges (and splits) from Kafka to ClickHouse in batches.

* A batch closes at ``batch_rows`` records or ``batch_seconds`` after the step began.
* Rows are inserted in groups of at most ``months_per_insert`` partition months
  (:mod:`sinks.batches`), so an import of many years never meets ClickHouse's limit of partitions
  per insert.
* A failed insert is classified (:mod:`sinks.errors`). Transient: retried with exponential backoff,
  consumption paused (the group membership kept by polling), the lag gauge updated. Permanent for
  this batch: the group is bisected; a row ClickHouse refuses alone goes to the dead-letter topic
  with the error and the original Kafka bytes; every other row is inserted.
* A record that does not decode, is of an unexpected schema, or does not convert to a row goes to
  the dead-letter topic too (``touchline.deadletter``, stage ``sink``).
* Dead letters are produced idempotently with ``acks=all``; until each one's delivery report says
  Kafka has it, the sink retries (``touchline_sink_waiting_on_kafka`` is 1) and commits nothing.
* The event-time touches of the stored rows' clients are derived again for several batches at
  once (:mod:`sinks.pending_derivation`, :mod:`sinks.touch_derivation`): every
  ``sink_derive_seconds``, at ``touch_derivation_ids`` clients, or when nothing new arrives;
  with a ``derive_client`` (as ``touchline sink`` runs) on a thread of their own
  (:mod:`sinks.deriver`) while the sink goes on storing, else between two batches.
* Offsets are committed only after every row of the batch is inserted or dead-lettered and its
  clients derived, and they are exactly the handled messages' (:mod:`sinks.offsets`): a crash
  before that redelivers the batch, which the ReplacingMergeTree tables and the FINAL reads absorb
  (the worker re-emits events byte-identically).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from sinks import batches, clickhouse, errors, offsets, rows, touch_derivation
from sinks.deadletters import DeadLetterWriter
from sinks.deriver import Deriver, Locks
from sinks.identity_maps import IdentityMaps
from sinks.lag import LagReporter
from sinks.metrics import SinkMetrics
from sinks.pending_derivation import PendingDerivation
from sinks.records import Converter, Item
from sinks.waiting import Stopped, Waiting
from touchline.codec import Codec
from touchline.settings import default
from touchline.suppression import Suppression

log = logging.getLogger(__name__)

Insert = Callable[[Any, str, list[list[Any]]], None]
OCCURRED_AT = rows.COLUMNS.index("occurred_at")
# the sink derives the touches of several batches at once (Sink._settle), not after each insert
EVENTS = functools.partial(clickhouse.insert_events, derive=False)
MERGES = functools.partial(clickhouse.insert_merges, derive=False)
SPLITS = functools.partial(clickhouse.insert_splits, derive=False)


class Sink(Waiting):
    def __init__(
        self,
        codec: Codec,
        client: Any,
        database: str,
        bootstrap: str,
        topic: str,
        group: str,
        batch_rows: int = default("sink_batch_rows"),
        batch_seconds: float = default("sink_batch_seconds"),
        *,
        merges_topic: str | None = None,
        dead_letter_topic: str | None = None,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        months_per_insert: int = batches.MONTHS_PER_INSERT,
        delivery_timeout_s: float = 30.0,
        metrics: SinkMetrics | None = None,
        lock: threading.Lock | None = None,
        suppression: Suppression | None = None,
        pseudonymise: Callable[[list[Any]], list[Any]] | None = None,
        derive_every_s: float = default("sink_derive_seconds"),
        derive_max_ids: int = default("touch_derivation_ids"),
        derive_client: Any = None,
    ) -> None:
        self.converter = Converter(codec, suppression, pseudonymise)
        self.client = client
        self.database = database
        self.topic = topic
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self.dead_letter_topic = dead_letter_topic
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.months_per_insert = months_per_insert
        self.derive_every_s, self.derive_max_ids = derive_every_s, derive_max_ids
        self.pending = PendingDerivation()
        self.metrics = metrics or SinkMetrics.create()
        self.identity_maps = IdentityMaps(on_refresh=self._identity_refreshed)
        self.lock = lock or threading.Lock()  # shared with the query endpoint: one client user
        self.derive_lock = threading.Lock()  # held by a derivation on the deriver's client
        # erasure (the endpoint's /privacy) holds off both: a derivation that read an erased
        # person's events must not write their touches back after the erasure deleted them
        self.exclusive = Locks(self.lock, self.derive_lock)
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "log_level": 3,
            }
        )
        self.topics = [topic, *([merges_topic] if merges_topic else [])]
        self.consumer.subscribe(
            self.topics,
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        self.dead_letters = (
            DeadLetterWriter(bootstrap, dead_letter_topic, codec, delivery_timeout_s)
            if dead_letter_topic
            else None
        )
        self.rows_written = 0
        # rows whose clients are derived and offsets committed: what reports read in full
        self.rows_settled = 0
        self._deriving_rows = 0
        self.merges_written = 0
        self.dead_lettered = 0
        self.skipped = 0
        self._stop = threading.Event()
        # with a client of its own, derivations run beside the inserts (sinks.deriver)
        self.deriver = None if derive_client is None else self._deriver(derive_client)
        self._carry: list[Message] = []  # fetched while paused, handled in the next batch
        self._paused: set[tuple[str, int]] = set()
        self.lag = LagReporter(self.consumer, self.topics, self.metrics.lag)
        # called with each batch's event rows once stored (sinks.anomaly_monitor: last event time)
        self.observers: list[Callable[[list[list[Any]]], None]] = []

    def run(
        self,
        stop: threading.Event,
        idle_exit_s: float | None = None,
        on_batch: Callable[[Sink], None] | None = None,
    ) -> None:
        """Consume until ``stop`` is set (or nothing arrived for ``idle_exit_s`` seconds);
        ``on_batch`` is called after every step that wrote a batch or settled rows (derived
        their clients and committed them: ``rows_settled``)."""
        self._stop = stop
        if self.deriver is not None:
            self.deriver.stop = stop
        last_data = time.monotonic()
        try:
            while not stop.is_set():
                settled = self.rows_settled
                n = self.step()
                if on_batch is not None and (n or self.rows_settled != settled):
                    on_batch(self)
                if n:
                    last_data = time.monotonic()
                elif idle_exit_s is not None and time.monotonic() - last_data > idle_exit_s:
                    break
        except Stopped:
            log.info("sink stopped while retrying; the unfinished batch will be redelivered")
        finally:
            self.close()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.lag.due = True  # a fresh assignment: report the lag before the first batch ends

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._derived(wait=True)  # a derivation under way: its batches are still ours to commit
        self.pending.forget(partitions)  # their next owner reads the waiting batches again

    def _consume(self) -> list[Message]:
        deadline = time.monotonic() + self.batch_seconds
        out, self._carry = self._carry[: self.batch_rows], self._carry[self.batch_rows :]
        while len(out) < self.batch_rows:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            out.extend(self._fetch(self.batch_rows - len(out), left))
            if self.lag.due:
                self.lag.update(force=True)
        return out

    def _fetch(self, n: int, timeout: float) -> list[Message]:
        out = []
        for msg in self.consumer.consume(n, timeout=timeout):
            err = msg.error()
            if err is None:
                out.append(msg)
            elif err.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error: %s", err)
        return out

    def step(self) -> int:
        """Read one batch, write it, derive and commit when due; returns the records handled."""
        msgs = self._consume()
        if not msgs:
            self._settle(force=True)
            self.lag.update()
            return 0
        try:
            got = self.converter.convert(msgs)
            events, merges, splits, dead = got.events, got.merges, got.splits, got.dead
            refused = self._store(EVENTS, events, self._month)
            self.rows_written += len(events) - len(refused)
            self.metrics.rows.inc(len(events) - len(refused))
            for observe in self.observers:
                observe([row for _, row in events])
            dead.extend(refused)
            refused = self._store(MERGES, merges, None)
            self.merges_written += len(merges) - len(refused)
            self.metrics.merges.inc(len(merges) - len(refused))
            dead.extend(refused)
            dead.extend(self._store(SPLITS, splits, None))
            if dead:
                self._dead_letter(dead)
        finally:
            self._resume()
        named = touch_derivation.named(*([r for _, r in x] for x in (events, merges, splits)))
        split_rows = [r for _, r in splits]
        self.pending.add(named, split_rows, offsets.to_commit(msgs), time.monotonic())
        self._settle()
        self.metrics.batches.inc()
        self.lag.update()
        return len(msgs)

    @staticmethod
    def _month(item: Item) -> int:
        return batches.month_of(item[1][OCCURRED_AT])

    def _store(
        self, insert: Insert, items: list[Item], month: Callable[[Item], int] | None
    ) -> list[tuple[Message, str]]:
        """Insert the rows of ``items``: by month groups, bisecting what ClickHouse refuses;
        returns the messages whose row was refused alone, with the reason."""
        groups = batches.split_by_month(items, month, self.months_per_insert) if month else [items]
        refused: list[tuple[Message, str]] = []
        for group in groups:

            def attempt(chunk: list[Item]) -> None:
                self._insert_with_retry(insert, [row for _, row in chunk])

            for (msg, _), exc in batches.isolate(group, attempt):
                refused.append((msg, f"ClickHouse refused the row: {errors.describe(exc)}"))
        return refused

    def _insert_with_retry(self, insert: Insert, batch: list[list[Any]]) -> None:
        """Insert ``batch``; retry transient failures until they pass, raise
        :class:`sinks.errors.Refused` for a permanent one."""
        started = time.monotonic()
        self._retrying(
            lambda: insert(self.client, self.database, batch),
            f"insert of {len(batch)} rows",
            self.metrics.insert_errors,
            self.metrics.retries,
        )
        self.metrics.insert_seconds.observe(time.monotonic() - started)

    def _settle(self, force: bool = False) -> None:
        """Derive the waiting batches' clients and commit their offsets, when due (or ``force``d
        and anything waits); with a deriver, start it and commit once it has finished."""
        self._derived()
        if not self.pending.waiting:
            return
        due = self.pending.due(time.monotonic(), self.derive_every_s, self.derive_max_ids)
        if not (force or due) or (self.deriver is not None and self.deriver.busy):
            return
        ids, splits, positions = self.pending.take()
        covered = self.rows_written  # every batch taken was written before it waited
        if self.deriver is not None:
            self._deriving_rows = covered
            self.deriver.start(ids, splits, positions)
            return
        self._derive(ids, splits)
        self._commit(positions)
        self.rows_settled = covered

    def _derived(self, wait: bool = False) -> None:
        """Commit the offsets of the deriver's finished derivation, if any (``wait``: for it)."""
        positions = self.deriver.finished(wait) if self.deriver is not None else None
        if positions:
            self._commit(positions)
            self.rows_settled = self._deriving_rows

    def _identity_refreshed(self, name: str, refreshed: bool) -> None:
        outcome = "refreshed" if refreshed else "skipped"
        self.metrics.identity_refreshes.labels(name, outcome).inc()

    def _deriver(self, client: Any) -> Deriver:
        def derive(ids: set[tuple[str, str]], splits: list[Any]) -> None:
            with self.derive_lock:
                touch_derivation.rederive(
                    client, self.database, ids, splits=splits, maps=self.identity_maps
                )

        def failed(kind: errors.Kind) -> None:
            self.metrics.derive_errors.labels(kind.value).inc()

        return Deriver(
            derive,
            self._stop,
            on_failure=failed,
            on_done=self.metrics.derive_seconds.observe,
            retry_initial_s=self.retry_initial_s,
            retry_max_s=self.retry_max_s,
        )

    def _derive(self, ids: set[tuple[str, str]], splits: list[Any]) -> None:
        """Re-derive the event-time touches of ``ids`` (:mod:`sinks.touch_derivation`), before
        their batches' offsets are committed: a crash before that redelivers the batches and
        derives again. Transient failures are retried like inserts; a permanent one (a defect,
        not the input's) is logged and counted, and the batches go on: the next derivation of
        those clients, or ``touchline db rederive``, repairs it."""
        if not ids:
            return
        started = time.monotonic()
        try:
            self._retrying(
                lambda: touch_derivation.rederive(
                    self.client, self.database, ids, splits=splits, maps=self.identity_maps
                ),
                f"derivation of {len(ids)} clients",
                self.metrics.derive_errors,
            )
        except errors.Refused as exc:
            log.error("re-deriving %d clients failed: %s", len(ids), exc)
            return
        self.metrics.derive_seconds.observe(time.monotonic() - started)

    def _dead_letter(self, dead: Sequence[tuple[Message, str]]) -> None:
        for msg, reason in dead:
            log.error(
                "dead-lettering %s/%s@%s: %s", msg.topic(), msg.partition(), msg.offset(), reason
            )
        if self.dead_letters is None:
            self.skipped += len(dead)
            return
        pending = self.dead_letters.encode(dead)
        delay = self.retry_initial_s
        while pending:
            pending = self.dead_letters.send(pending, self._while_waiting)
            if pending:
                self.metrics.kafka_waiting.set(1)
                self.metrics.dead_letter_retries.inc(len(pending))
                log.warning(
                    "sink waiting on Kafka: %d dead letters not acknowledged (%s); offsets not "
                    "committed, producing them again in %.2fs",
                    len(pending),
                    self.dead_letters.last_error,
                    delay,
                )
                delay = self._wait(delay)
        self.metrics.kafka_waiting.set(0)
        self.dead_lettered += len(dead)
        self.metrics.dead_letters.inc(len(dead))

    def _commit(self, positions: list[TopicPartition]) -> None:
        try:
            self.consumer.commit(offsets=positions, asynchronous=False)
        except Exception as exc:  # e.g. the group rebalanced during a long outage
            log.warning("offset commit failed (%s); the batch will be redelivered", exc)

    def close(self) -> None:
        try:
            for _ in range(2):  # derive and commit what waits; not if stopped retrying
                self._derived(wait=True)
                self._settle(force=True)
            self._derived(wait=True)
        except Stopped:
            log.info("sink stopped while deriving; the waiting batches will be redelivered")
        if self.dead_letters is not None:
            self.dead_letters.close()
        self.consumer.close()


def ensure_schema(client: Any, database: str) -> list[str]:
    return clickhouse.migrate(client, database)
