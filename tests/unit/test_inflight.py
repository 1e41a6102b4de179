"""pipeline.inflight: batches whose deliveries overlap are released in the order they came, never
past one that failed, and at most ``limit`` wait while the next is processed. The commits are
computed by Faust's own code (``Consumer.ack`` and ``Consumer._new_offset``, run on a stand-in
holding only their state): released in order, no commit ever passes an unconfirmed input;
acknowledged out of order, Faust's code commits past one (why the order is enforced)."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from typing import Any, cast

import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage
from intervaltree import IntervalTree

from pipeline.app import exit_when_settled
from pipeline.inflight import DeliveryFailed, InFlight


class FaustOffsets:
    """The state ``Consumer.ack`` and ``Consumer._new_offset`` keep, and those two functions
    taken from Faust unchanged: what the worker's Faust commits for what was acknowledged."""

    ack: Any = Consumer.ack
    _new_offset: Any = Consumer._new_offset

    def __init__(self) -> None:
        self.app: Any = type("App", (), {"topics": type("T", (), {"acks_enabled_for": None})})()
        self.app.topics.acks_enabled_for = lambda _topic: True
        self._gap: defaultdict[TP, IntervalTree] = defaultdict(IntervalTree)
        self._acked: defaultdict[TP, list[int]] = defaultdict(list)
        self._acked_index: defaultdict[TP, set[int]] = defaultdict(set)
        self._committed_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self._unacked_messages: set[ConsumerMessage] = set()
        self._n_acked = 0
        self._waiting_for_ack = None

    def commit(self) -> dict[TP, int]:
        """What ``Consumer.commit`` would commit now (``_filter_committable_offsets``)."""
        done = {}
        for tp in list(self._acked):
            offset = self._new_offset(tp)
            committed = self._committed_offset[tp]
            if offset is not None and (committed is None or offset > committed):
                done[tp] = offset
        self._committed_offset.update(done)
        return done


def message(partition: int, offset: int) -> ConsumerMessage:
    m = ConsumerMessage("raw", partition, offset, 0.0, 0, None, None, b"", None)
    m.incref()  # the conductor's reference, acked when take_events' loop body ends
    m.incref()  # the worker's, acked when the batch is released
    return m


def batches(seed: int, n: int = 12, partitions: int = 3) -> list[list[ConsumerMessage]]:
    """Batches as take_events hands them out: each partition's offsets in order across them."""
    rng = random.Random(seed)
    next_offset = [0] * partitions
    out = []
    for _ in range(n):
        batch = []
        for _ in range(rng.randint(1, 6)):
            p = rng.randrange(partitions)
            batch.append(message(p, next_offset[p]))
            next_offset[p] += 1
        out.append(batch)
    return out


def first_unconfirmed(batches: list[list[ConsumerMessage]], confirmed: set[int]) -> dict[TP, int]:
    """Per partition, the lowest offset whose batch is not confirmed (a commit must not pass)."""
    limit: dict[TP, int] = {}
    for i, batch in enumerate(batches):
        for m in batch:
            if i not in confirmed and m.tp not in limit:
                limit[m.tp] = m.offset
    return limit


def ack(m: ConsumerMessage, faust: FaustOffsets) -> None:
    """One reference acked, as ``Event.ack`` does; the last one acks the offset to Faust."""
    m.ack(cast(Any, faust))


def ack_all(batch: list[ConsumerMessage], faust: FaustOffsets) -> None:
    for m in batch:
        ack(m, faust)


async def run(
    seed: int, limit: int, fail_at: int | None = None
) -> tuple[list[int], FaustOffsets, list[list[ConsumerMessage]]]:
    """Batches delivered with random confirmation times through InFlight; Faust's commit is
    computed after every release and every take_events ack, and checked against the batches
    whose deliveries completed."""
    rng = random.Random(seed)
    faust = FaustOffsets()
    taken = batches(seed)
    released: list[int] = []
    confirmed: set[int] = set()

    def check_commit() -> None:
        faust.commit()
        limits = first_unconfirmed(taken, confirmed)
        for tp, committed in faust._committed_offset.items():
            if committed is not None and tp in limits:
                assert committed <= limits[tp], (tp, committed, limits[tp], released)

    def release(i: int) -> None:
        released.append(i)
        ack_all(taken[i], faust)
        check_commit()

    async def deliver(i: int) -> None:
        await asyncio.sleep(rng.random() * 0.01)
        if i == fail_at:
            raise RuntimeError("dead letters refused by Kafka")
        confirmed.add(i)

    flight = InFlight[int](limit, release)
    try:
        for i, batch in enumerate(taken):
            await flight.submit(i, deliver(i))
            assert len(flight) <= limit
            ack_all(batch, faust)  # take_events acks when the loop body ends
            check_commit()
        await flight.drain()
    except DeliveryFailed:
        pass
    return released, faust, taken


@pytest.mark.parametrize("limit", [0, 1, 2, 5])
@pytest.mark.parametrize("seed", range(20))
def test_batches_are_released_in_order_and_commits_never_pass_an_unconfirmed_input(
    seed: int, limit: int
) -> None:
    released, faust, taken = asyncio.run(run(seed, limit))
    assert released == list(range(len(taken)))
    committed = faust.commit() | {
        tp: o for tp, o in faust._committed_offset.items() if o is not None
    }
    ends: dict[TP, int] = {}
    for batch in taken:
        for m in batch:
            ends[m.tp] = m.offset + 1
    assert committed == ends  # everything confirmed is committed in the end


@pytest.mark.parametrize("seed", range(10))
def test_a_failed_delivery_releases_nothing_from_it_on(seed: int) -> None:
    fail_at = 4
    released, faust, taken = asyncio.run(run(seed, 2, fail_at=fail_at))
    assert released == list(range(fail_at))
    limits = first_unconfirmed(taken, set(range(fail_at)))
    for tp, offset in faust._committed_offset.items():
        assert offset is None or offset <= limits.get(tp, offset)


def test_submit_waits_while_more_than_limit_batches_are_unreleased() -> None:
    async def scenario() -> list[str]:
        log: list[str] = []
        gates = [asyncio.Event() for _ in range(3)]

        async def deliver(i: int) -> None:
            await gates[i].wait()

        flight = InFlight[int](1, lambda i: log.append(f"released {i}"))
        await flight.submit(0, deliver(0))
        log.append("submitted 0")
        second = asyncio.ensure_future(flight.submit(1, deliver(1)))
        await asyncio.sleep(0.01)
        assert not second.done()  # two unreleased, limit 1: the agent waits
        gates[1].set()  # the later batch confirmed first: still nothing released
        await asyncio.sleep(0.01)
        assert not second.done() and log == ["submitted 0"]
        gates[0].set()
        await second
        log.append("submitted 1")
        gates[2].set()
        await flight.submit(2, deliver(2))
        await flight.drain()
        return log

    assert asyncio.run(scenario()) == [
        "submitted 0",
        "released 0",
        "released 1",
        "submitted 1",
        "released 2",
    ]


def test_limit_zero_waits_for_each_batch_itself() -> None:
    async def scenario() -> list[str]:
        log: list[str] = []

        async def deliver(i: int) -> None:
            await asyncio.sleep(0.005)
            log.append(f"confirmed {i}")

        flight = InFlight[int](0, lambda i: log.append(f"released {i}"))
        for i in range(2):
            await flight.submit(i, deliver(i))
            log.append(f"submitted {i}")
        return log

    assert asyncio.run(scenario()) == [
        "confirmed 0",
        "released 0",
        "submitted 0",
        "confirmed 1",
        "released 1",
        "submitted 1",
    ]


def test_after_a_failure_every_later_batch_is_refused_and_held() -> None:
    async def scenario() -> None:
        async def fails() -> None:
            raise RuntimeError("fatal producer error")

        async def fine() -> None:
            return None

        released: list[int] = []
        failed: list[BaseException] = []
        flight = InFlight[int](3, released.append, on_fail=failed.append)
        await flight.submit(0, fine())
        await flight.submit(1, fails())
        await flight.submit(2, fine())
        with pytest.raises(DeliveryFailed, match="fatal producer error"):
            await flight.drain()
        assert [str(e) for e in failed] == ["fatal producer error"]  # told at once, once
        with pytest.raises(DeliveryFailed):
            await flight.submit(3, fine())
        assert released == [0]
        assert len(flight) == 2  # 1 (failed) and 2 stay unreleased; 3 never started

    asyncio.run(scenario())


def test_faust_alone_commits_past_an_input_acknowledged_out_of_order() -> None:
    """Why InFlight enforces the order: Faust's own commit passes a gap it does not see."""
    tp = TP("raw", 0)
    # Nothing committed yet: batch 1 (offsets 0-2) still waits, batch 2 (3-5) is acked.
    faust = FaustOffsets()
    first, second = [message(0, o) for o in range(3)], [message(0, o) for o in range(3, 6)]
    for m in first + second:
        ack(m, faust)  # take_events' ack
    ack_all(second, faust)  # released out of order
    assert faust.commit() == {tp: 6}  # offsets 0-2 committed unconfirmed
    # Committed at 10: offset 10 waits, 11 is acked: committed past 10 as well.
    faust = FaustOffsets()
    faust._committed_offset[tp] = 10
    waiting, done = message(0, 10), message(0, 11)
    for m in (waiting, done, done):
        ack(m, faust)
    assert faust.commit() == {tp: 12}


def test_a_failure_exits_only_once_the_deliveries_under_way_have_ended() -> None:
    """A later batch still deciding its letters (marks taken back when Kafka refuses them) must
    end before the worker exits, or a restart dead-letters events that have no outcome yet."""

    async def scenario() -> list[str]:
        log: list[str] = []

        async def fails() -> None:
            await asyncio.sleep(0.01)
            raise RuntimeError("dead letters refused")

        async def still_deciding() -> None:
            await asyncio.sleep(0.3)
            log.append("marks taken back")

        async def never_ends() -> None:
            await asyncio.Event().wait()

        exited = asyncio.Event()

        def exit(exc: BaseException) -> None:
            log.append(f"exit: {exc}")
            exited.set()

        def on_fail(exc: BaseException) -> None:
            tasks.append(asyncio.ensure_future(exit_when_settled(flight, exc, 1.0, exit)))

        tasks: list[asyncio.Future[None]] = []
        flight = InFlight[int](3, lambda _i: None, on_fail=on_fail)
        await flight.submit(0, fails())
        await flight.submit(1, still_deciding())
        await flight.submit(2, never_ends())  # bounded by the grace: the exit still comes
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(exited.wait(), timeout=5)
        log.append(f"after the grace: {asyncio.get_running_loop().time() - started >= 0.9}")
        return log

    assert asyncio.run(scenario()) == [
        "marks taken back",
        "exit: dead letters refused",
        "after the grace: True",
    ]
