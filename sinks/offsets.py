"""Offsets the sink commits and the lag it reports. Pure.

The sink commits exactly the messages it handled (the next offset after the highest handled one of
each partition), never the consumer's position: while it retries, it keeps its group membership by
polling, and a message fetched then is not handled yet.

Lag is counted from the committed offsets (as Burrow and kafka-lag-exporter do): the records from
there to the high watermark are not safely stored yet, including a batch stuck in retries and,
right after start, everything a fresh group still has to read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from confluent_kafka import TopicPartition


class Consumed(Protocol):
    def topic(self) -> str | None: ...

    def partition(self) -> int | None: ...

    def offset(self) -> int | None: ...


def to_commit(messages: Iterable[Consumed]) -> list[TopicPartition]:
    """For each partition in ``messages``, the offset after the highest one handled."""
    top: dict[tuple[str, int], int] = {}
    for msg in messages:
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        if topic is None or partition is None or offset is None or offset < 0:
            continue
        key = (topic, partition)
        top[key] = max(top.get(key, -1), offset)
    return [TopicPartition(t, p, o + 1) for (t, p), o in sorted(top.items())]


def partition_lag(low: int, high: int, committed: int) -> int:
    """Records of one partition between the group's committed offset and the high watermark; with
    nothing committed (a negative offset, librdkafka's OFFSET_INVALID) the group starts at the low
    watermark (``auto.offset.reset=earliest``)."""
    if high < 0:
        return 0
    start = max(committed, low) if committed >= 0 else max(low, 0)
    return max(high - start, 0)
