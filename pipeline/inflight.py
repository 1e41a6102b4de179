"""Batches whose outputs are on their way to Kafka while the worker processes the next ones.

The worker's agent hands each processed batch to :class:`InFlight` with the work that delivers
its outputs (produce, wait for Kafka's confirmation of each, forget the confirmed results) and
goes on with the next batch: waiting for Kafka overlaps with processing. At most ``limit``
batches wait so while another is processed (``TOUCHLINE_WORKER_BATCHES_IN_FLIGHT``; 0 waits for
each batch's own delivery, as a worker did before).

**Release in order.** A batch is *released* (its inputs acknowledged to Faust, which may then
commit them) only when its own delivery and that of every batch before it have completed. Faust
does not protect against acknowledgements out of order: ``Consumer._new_offset`` commits the
first run of consecutive acknowledged offsets of a partition and checks that it starts right
after the committed offset only when that offset is set and non-zero, and then only for a gap of
two or more (``min(acked) - committed > 1``). So a batch acknowledged before an earlier one could
commit past the earlier batch's unconfirmed inputs. Released in order, the acknowledged offsets
of each partition are always a prefix of what the agent received, and any commit Faust makes is
of confirmed inputs only (``tests/unit/test_inflight.py`` runs Faust's own code on both).

**A failure stops progress.** When a delivery fails (a fatal producer error, dead letters
refused), neither that batch nor any later one is ever released: their inputs stay uncommitted
and are delivered again after a restart. ``on_fail`` is called at once (the worker exits
there, committing nothing more, once the deliveries already under way have ended: see
:meth:`InFlight.settled` and ``pipeline.app``), and :meth:`InFlight.check` raises the failure for
any batch that comes after.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class DeliveryFailed(RuntimeError):
    """An earlier batch's delivery failed: no batch after it is ever released."""


class InFlight(Generic[T]):
    def __init__(
        self,
        limit: int,
        release: Callable[[T], None],
        on_fail: Callable[[BaseException], None] = lambda _exc: None,
    ) -> None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, not {limit}")
        self.limit = limit
        self.release = release
        self.on_fail = on_fail
        self.error: BaseException | None = None
        self._queue: deque[tuple[T, asyncio.Future[None]]] = deque()
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        """Batches submitted and not released (a failed one and those after it stay counted)."""
        return len(self._queue)

    def check(self) -> None:
        """Raise if a delivery has failed: nothing may be released after it."""
        if self.error is not None:
            raise DeliveryFailed(f"a batch's delivery failed: {self.error!r}") from self.error

    def fail(self, exc: BaseException) -> None:
        """Stop releasing for good: something between taking a batch and submitting it failed,
        so that batch is held and no later one may be released past it."""
        if self.error is None:
            self.error = exc
            log.error("worker stopped releasing inputs: %r", exc)
            self._changed.set()
            self.on_fail(exc)

    async def submit(self, item: T, delivery: Awaitable[None]) -> None:
        """Start ``delivery`` of ``item``; return once at most ``limit`` batches are unreleased
        (with ``limit`` 0: once ``item`` itself is released). Raises if a delivery failed (then
        ``delivery`` never runs)."""
        if self.error is not None and inspect.iscoroutine(delivery):
            delivery.close()
        self.check()
        task = asyncio.ensure_future(delivery)
        self._queue.append((item, task))
        task.add_done_callback(self._settle)
        while len(self._queue) > self.limit:
            self.check()
            self._changed.clear()
            await self._changed.wait()
        self.check()

    async def drain(self) -> None:
        """Wait until every submitted batch is released; raises if a delivery failed."""
        while self._queue:
            self.check()
            self._changed.clear()
            await self._changed.wait()
        self.check()

    async def settled(self, timeout_s: float) -> None:
        """Wait, at most ``timeout_s``, until every delivery submitted has ended, released or not.
        After a failure, a delivery already under way may still be deciding its events' outcomes
        (a batch whose dead letters Kafka refuses takes its letter marks back before it fails,
        ``pipeline.emission``); exiting in its middle would leave those marks, and a restart
        would dead-letter events that have no outcome yet instead of storing them."""
        tasks = [task for _, task in self._queue if not task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)

    def _settle(self, _done: asyncio.Future[None]) -> None:
        """Release the completed batches at the head of the queue, in order."""
        while self.error is None and self._queue and self._queue[0][1].done():
            item, task = self._queue[0]
            error = task.exception() if not task.cancelled() else asyncio.CancelledError()
            if error is not None:
                self.fail(error)
                break
            self._queue.popleft()
            try:
                self.release(item)
            except Exception as exc:  # an input not acknowledged: none after it may be
                self.fail(exc)
        self._changed.set()
