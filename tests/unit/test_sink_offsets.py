"""The offsets the sink commits and the lag it reports (sinks.offsets)."""

from __future__ import annotations

from dataclasses import dataclass

from sinks.offsets import partition_lag, to_commit


@dataclass
class Msg:
    t: str | None
    p: int | None
    o: int | None

    def topic(self) -> str | None:
        return self.t

    def partition(self) -> int | None:
        return self.p

    def offset(self) -> int | None:
        return self.o


def test_to_commit_is_the_offset_after_the_highest_handled_per_partition() -> None:
    msgs = [Msg("a", 0, 5), Msg("a", 1, 9), Msg("a", 0, 7), Msg("a", 0, 6), Msg("m", 0, 0)]
    got = [(tp.topic, tp.partition, tp.offset) for tp in to_commit(msgs)]
    assert got == [("a", 0, 8), ("a", 1, 10), ("m", 0, 1)]


def test_to_commit_skips_messages_without_an_offset() -> None:
    assert to_commit([Msg(None, None, None), Msg("a", 0, -1001)]) == []


def test_partition_lag_from_committed_offsets() -> None:
    assert partition_lag(0, 19_000, -1001) == 19_000  # nothing committed: the whole partition
    assert partition_lag(100, 19_000, -1001) == 18_900  # ... from the low watermark
    assert partition_lag(0, 19_000, 18_000) == 1_000
    assert partition_lag(500, 1_000, 10) == 500  # committed before retention: from low
    assert partition_lag(0, 1_000, 1_000) == 0
    assert partition_lag(-1, -1, -1001) == 0  # no watermark known
