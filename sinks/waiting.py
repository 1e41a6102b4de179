"""How the sink waits for ClickHouse or Kafka: consumption paused, its group membership kept by
polling (fetched records are carried to the next batch), the lag gauge reported, and a stop
request honoured (:class:`Stopped`: nothing more is committed). A part of :class:`sinks.sink.Sink`
(which inherits it), kept apart to keep each module to one concern."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message

from sinks import errors
from sinks.lag import LagReporter
from sinks.metrics import SinkMetrics

log = logging.getLogger(__name__)


class Stopped(Exception):
    """The sink was asked to stop while it waited on ClickHouse or Kafka; nothing was committed."""


class Waiting:
    consumer: Consumer
    metrics: SinkMetrics
    lag: LagReporter
    lock: threading.Lock
    batch_rows: int
    retry_initial_s: float
    retry_max_s: float
    _stop: threading.Event
    _carry: list[Message]
    _paused: set[tuple[str, int]]

    def _fetch(self, n: int, timeout: float) -> list[Message]:
        raise NotImplementedError

    def _retrying(
        self, action: Callable[[], None], what: str, failures: Any, retries: Any = None
    ) -> None:
        """Run ``action`` until it passes: transient failures are retried with backoff and
        consumption paused, a permanent one raises :class:`sinks.errors.Refused`; each failure
        counts in ``failures`` by kind, each retry in ``retries``."""
        delay = self.retry_initial_s
        while True:
            try:
                with self.lock:
                    action()
                return
            except Exception as exc:
                kind = errors.classify(exc)
                failures.labels(kind.value).inc()
                if kind is errors.Kind.PERMANENT:
                    log.warning("ClickHouse refused the %s (%s)", what, errors.describe(exc))
                    raise errors.Refused(exc) from exc
                if retries is not None:
                    retries.inc()
                log.warning(
                    "ClickHouse %s failed (%s); consumption paused, retrying in %.2fs",
                    what,
                    errors.describe(exc),
                    delay,
                )
                delay = self._wait(delay)

    def _while_waiting(self, waited_s: float) -> None:
        """Called about once a second while dead letters wait for their delivery reports."""
        if self._stop.is_set():
            raise Stopped
        if waited_s >= 2:
            self.metrics.kafka_waiting.set(1)
        self._pause()
        self._keep_alive()
        self.lag.update()

    def _wait(self, delay: float) -> float:
        """Sleep ``delay`` with consumption paused, staying in the group and reporting the lag;
        returns the next delay. Raises :class:`Stopped` when the sink is asked to stop."""
        self._pause()
        self.lag.update()
        deadline = time.monotonic() + delay
        while True:
            if self._stop.is_set():
                raise Stopped
            self._keep_alive()
            left = deadline - time.monotonic()
            if left <= 0:
                return min(delay * 2, self.retry_max_s)
            time.sleep(min(left, 0.5))

    def _pause(self) -> None:
        assignment = self.consumer.assignment()
        now = {(tp.topic, tp.partition) for tp in assignment}
        if now - self._paused:
            self.consumer.pause(assignment)
        self._paused = now
        self.metrics.paused.set(1)

    def _keep_alive(self) -> None:
        """Poll while paused: serves rebalances and max.poll.interval.ms; anything fetched (only a
        partition assigned meanwhile has no pause) is kept for the next batch, then paused."""
        self._carry.extend(self._fetch(self.batch_rows, 0))
        self._pause()

    def _resume(self) -> None:
        if not self._paused:
            return
        self._paused = set()
        self.metrics.paused.set(0)
        try:
            self.consumer.resume(self.consumer.assignment())
        except KafkaException as exc:
            log.warning("resuming consumption failed: %s", exc)
