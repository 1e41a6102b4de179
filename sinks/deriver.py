"""The sink's derivations of event-time touches, on a thread and a ClickHouse client of their own.

A derivation (:mod:`sinks.touch_derivation`) takes 0.25 s to about a second; run between two
batches, the sink stored nothing meanwhile, so every event that arrived then waited for it. Here
the sink hands the clients of its waiting batches to :class:`Deriver` and goes on storing; it
commits those batches' offsets only once their derivation has finished (:meth:`Deriver.finished`,
called from the sink's own thread, which alone touches the consumer), so the rule stays: no
batch is acknowledged to Kafka before its touches are derived. One derivation runs at a time;
batches stored meanwhile wait for the next. chDB serves several handles of one process at once.

Failures are handled here as the sink handles its own: a transient one is retried with backoff
(until the sink stops: then the batches stay uncommitted and are redelivered), a permanent one
(a defect, not the input's) is logged and counted and the batches are committed: the next
derivation of those clients, or ``touchline db rederive``, repairs it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import TopicPartition

from sinks import errors
from sinks.pending_derivation import Ids
from sinks.waiting import Stopped

log = logging.getLogger(__name__)

# (clients, split rows) -> derives them; raises what ClickHouse raised
Derive = Callable[[Ids, list[Sequence[Any]]], None]


class Deriver:
    def __init__(
        self,
        derive: Derive,
        stop: threading.Event,
        *,
        on_failure: Callable[[errors.Kind], None] = lambda _kind: None,
        on_done: Callable[[float], None] = lambda _seconds: None,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 10.0,
    ) -> None:
        self.derive = derive
        self.stop = stop
        self.on_failure = on_failure
        self.on_done = on_done
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self._running: threading.Thread | None = None
        self._done = threading.Event()
        self._result: list[TopicPartition] | None = None

    @property
    def busy(self) -> bool:
        """A derivation was started and its offsets not yet taken by :meth:`finished`."""
        return self._running is not None

    def start(self, ids: Ids, splits: list[Sequence[Any]], positions: list[TopicPartition]) -> None:
        """Derive ``ids`` on a thread; ``positions`` come back from :meth:`finished` after. A
        daemon thread: a process that ends without stopping its sink does not wait for it."""
        if self._running is not None:
            raise RuntimeError("a derivation is running: one at a time")
        self._done.clear()
        self._running = threading.Thread(
            target=self._work, args=(ids, splits, positions), name="derive", daemon=True
        )
        self._running.start()

    def finished(self, wait: bool = False) -> list[TopicPartition] | None:
        """The offsets of the derivation that has finished (once; ``wait``: until it has), to
        commit; None when none has, or when it stopped before it could finish (redelivered)."""
        if self._running is None or not (wait or self._done.is_set()):
            return None
        self._done.wait()
        self._running = None
        return self._result

    def _work(self, ids: Ids, splits: list[Sequence[Any]], positions: list[TopicPartition]) -> None:
        self._result = None
        try:
            self._result = self._run(ids, splits, positions)
        except Stopped:
            log.info("the sink stopped while deriving; the waiting batches will be redelivered")
        finally:
            self._done.set()

    def _run(
        self, ids: Ids, splits: list[Sequence[Any]], positions: list[TopicPartition]
    ) -> list[TopicPartition]:
        started, delay = time.monotonic(), self.retry_initial_s
        while ids:
            try:
                self.derive(ids, splits)
                self.on_done(time.monotonic() - started)
                break
            except Exception as exc:
                kind = errors.classify(exc)
                self.on_failure(kind)
                if kind is errors.Kind.PERMANENT:
                    log.error("re-deriving %d clients failed: %s", len(ids), errors.describe(exc))
                    break
                log.warning(
                    "derivation failed (%s); retrying in %.2fs", errors.describe(exc), delay
                )
                if self.stop.wait(delay):
                    raise Stopped from exc
                delay = min(delay * 2, self.retry_max_s)
        return positions


class Locks:
    """Several locks held together, taken in the order given (a reusable context manager)."""

    def __init__(self, *locks: threading.Lock) -> None:
        self.locks = locks

    def __enter__(self) -> None:
        for lock in self.locks:
            lock.acquire()

    def __exit__(self, *_exc: object) -> None:
        for lock in reversed(self.locks):
            lock.release()
