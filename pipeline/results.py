"""The events' results in the client store, as a batch's emission settles them
(:class:`pipeline.emission.Results`): a letter mark that must be written before the letter goes
out, and a forget or a take-back of marks that are best effort (a result left behind expires by
itself, ``worker_dedupe_days``).

Redis being away is not an event's fault: :data:`TRANSIENT` errors are waited out (the mark) or
logged (the rest); anything else is a bug and fails the batch, which is then never committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.exceptions

from pipeline import metrics
from pipeline.processor import Output
from pipeline.store import Store

log = logging.getLogger(__name__)
TRANSIENT: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,
    # a Redis Cluster failing over or moving slots (CLUSTERDOWN, TRYAGAIN, a slot not yet served)
    redis.exceptions.ClusterError,
    redis.exceptions.TryAgainError,
    redis.exceptions.SlotNotCoveredError,
)


T = TypeVar("T")


async def waiting_out_redis(
    call: Callable[[], Awaitable[T]],
    what: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """``call()``, made again after a pause (0.2 s, doubling up to 10 s) for as long as it fails
    with a :data:`TRANSIENT` error; each retry counted (``touchline_worker_redis_retries``)."""
    delay = 0.2
    while True:
        try:
            return await call()
        except TRANSIENT as exc:
            metrics.REDIS_RETRIES.inc()
            log.warning("Redis unavailable (%s); %s again in %.1fs", exc, what, delay)
            await sleep(delay)
            delay = min(delay * 2, 10.0)


def _applied(outputs: list[Output]) -> list[tuple[str, str]]:
    return [o.applied for o in outputs if o.applied is not None]


class StoreResults:
    """:class:`pipeline.emission.Results` over a :class:`pipeline.store.Store`; ``store`` is
    called for the store each time (the worker opens it on its first batch)."""

    def __init__(
        self,
        store: Callable[[], Store],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.sleep = sleep
        self.marked: set[tuple[str, str]] = set()  # events this process marked, until forgotten

    async def letter(self, lettered: list[tuple[Output, str]]) -> None:
        marks = [(*o.applied, why) for o, why in lettered if o.applied is not None]
        if marks:  # no letter before its mark: the batch waits for Redis
            await waiting_out_redis(lambda: self.store().letter(marks), "letter marks", self.sleep)
            self.marked.update((account, event_id) for account, event_id, _ in marks)

    async def unletter(self, outputs: list[Output]) -> None:
        applied = _applied(outputs)
        try:
            await self.store().unletter(applied)
            self.marked.difference_update(applied)
        except TRANSIENT as exc:
            log.warning("Redis unavailable (%s); refused letters' marks are kept", exc)

    async def forget(self, outputs: list[Output]) -> None:
        """Kafka has confirmed these outputs: the store keeps only the compact entries of their
        events (pipeline/dedupe.py); a redelivery before the forget re-emits them unchanged. The
        marks of lettered events go after their results (a letter emitted again on redelivery
        is one too): only those, so that no other event pays for a key that is not there."""
        applied = _applied(outputs)
        marked = [o.applied for o in outputs if o.applied is not None
                  and (o.applied in self.marked or o.dead_letter is not None)]  # fmt: skip
        try:
            await self.store().forget(applied)
            if marked:
                await self.store().unletter(marked)
                self.marked.difference_update(marked)
        except TRANSIENT as exc:
            log.warning("Redis unavailable (%s); confirmed results are left to expire", exc)
