"""What the sink still has to derive before it may commit: the clients of the batches stored since
its last derivation, their split rows, and those batches' offsets. Pure.

Deriving costs a fixed ~0.25 s per derivation (the split events and alias groups of the accounts)
plus ~0.1 ms per client, while one batch inserts in about 0.15 s; so the sink derives the clients
of several batches at once (:mod:`sinks.sink`): when the oldest waiting batch is
``sink_derive_seconds`` old, when ``touch_derivation_ids`` clients wait, or when nothing new
arrives. The batches' offsets are committed only after that derivation, so a crash in between
redelivers them and they are derived again: no batch is acknowledged to Kafka before its touches
are derived. A partition revoked meanwhile has its waiting offsets dropped (its next owner reads
the batches again; inserting them again is absorbed by the ReplacingMergeTree tables).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import TopicPartition

Ids = set[tuple[str, str]]


@dataclass
class PendingDerivation:
    ids: Ids = field(default_factory=set)
    splits: list[Sequence[Any]] = field(default_factory=list)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    since: float | None = None  # when the oldest waiting batch was stored

    def add(
        self,
        ids: Ids,
        splits: Iterable[Sequence[Any]],
        positions: Iterable[TopicPartition],
        now: float,
    ) -> None:
        """A batch stored: its clients wait for the next derivation, its offsets for the commit
        after it (the highest per partition)."""
        self.ids |= ids
        self.splits.extend(splits)
        for tp in positions:
            key = (tp.topic, tp.partition)
            self.positions[key] = max(self.positions.get(key, -1), tp.offset)
        if self.since is None:
            self.since = now

    @property
    def waiting(self) -> bool:
        return self.since is not None

    def due(self, now: float, every_s: float, max_ids: int) -> bool:
        """Whether to derive (and then commit) now: the oldest batch waited ``every_s``, or
        ``max_ids`` clients wait, or only offsets wait (batches with nothing to derive)."""
        if self.since is None:
            return False
        return now - self.since >= every_s or len(self.ids) >= max_ids or not self.ids

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions revoked: their offsets are no longer this sink's to commit."""
        for tp in partitions:
            self.positions.pop((tp.topic, tp.partition), None)

    def take(self) -> tuple[Ids, list[Sequence[Any]], list[TopicPartition]]:
        """(clients to derive, split rows, offsets to commit after that); empties the queue."""
        ids, splits = self.ids, self.splits
        positions = [TopicPartition(t, p, o) for (t, p), o in sorted(self.positions.items())]
        self.ids, self.splits, self.positions, self.since = set(), [], {}, None
        return ids, splits, positions
