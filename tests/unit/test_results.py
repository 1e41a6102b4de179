"""pipeline.results: a letter's mark is written before the letter goes out, however long Redis is
away (the batch waits); forgets and take-backs are best effort."""

from __future__ import annotations

import asyncio

import redis.exceptions

from pipeline.memory_store import MemoryStore
from pipeline.processor import Output
from pipeline.results import StoreResults


class Flaky(MemoryStore):
    """Refuses its first ``down`` calls of each kind as an unreachable Redis would."""

    def __init__(self, down: int) -> None:
        super().__init__(max_share=2)
        self.down = {"letter": down, "unletter": down, "forget": down}
        self.calls: list[str] = []

    def _fail(self, kind: str) -> None:
        self.calls.append(kind)
        if self.down[kind] > 0:
            self.down[kind] -= 1
            raise redis.exceptions.ConnectionError("Redis is away")

    async def letter(self, lettered: list[tuple[str, str, str]]) -> None:
        self._fail("letter")
        await super().letter(lettered)

    async def unletter(self, applied: list[tuple[str, str]]) -> None:
        self._fail("unletter")
        await super().unletter(applied)

    async def forget(self, applied: list[tuple[str, str]]) -> None:
        self._fail("forget")
        await super().forget(applied)


def test_the_mark_is_retried_until_redis_takes_it() -> None:
    store, waits = Flaky(down=3), []

    async def sleep(s: float) -> None:
        waits.append(s)

    results = StoreResults(lambda: store, sleep)
    out = Output(applied=("acc", "e1"))
    asyncio.run(results.letter([(out, "too large"), (Output(), "never applied")]))
    assert store.accounts["acc"].lettered == {"e1": "too large"}
    assert waits == [0.2, 0.4, 0.8]


def test_a_forget_or_take_back_redis_refuses_is_left_not_raised() -> None:
    store = Flaky(down=1)
    asyncio.run(StoreResults(lambda: store).letter([(Output(applied=("acc", "e1")), "x")]))
    store.down = {"letter": 0, "unletter": 1, "forget": 1}
    results = StoreResults(lambda: store)
    asyncio.run(results.unletter([Output(applied=("acc", "e1"))]))
    asyncio.run(results.forget([Output(applied=("acc", "e1"))]))
    assert store.accounts["acc"].lettered == {"e1": "x"}  # both left, neither raised
    asyncio.run(results.unletter([Output(applied=("acc", "e1"))]))
    assert store.accounts["acc"].lettered == {}


def test_only_marked_events_pay_for_taking_marks_away() -> None:
    """A batch without letters forgets its results in one call; a marked event's mark goes
    after its result, as does that of a letter emitted again (a mark of a process before)."""
    store = Flaky(down=0)
    results = StoreResults(lambda: store)
    plain, marked = Output(applied=("acc", "e1")), Output(applied=("acc", "e2"))
    again = Output(applied=("acc", "e3"), dead_letter=b"letter", outcome="dead_letter")
    asyncio.run(results.forget([plain]))
    assert store.calls == ["forget"]
    asyncio.run(results.letter([(marked, "too large")]))
    asyncio.run(store.letter([("acc", "e3", "too large")]))  # by a worker before this one
    store.calls.clear()
    asyncio.run(results.forget([plain, marked, again]))
    assert store.calls == ["forget", "unletter"]
    assert store.accounts["acc"].lettered == {} and results.marked == set()
