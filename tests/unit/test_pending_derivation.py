"""The sink's queue of batches waiting for one derivation (sinks/pending_derivation.py)."""

from __future__ import annotations

from confluent_kafka import TopicPartition

from sinks.pending_derivation import PendingDerivation


def _tp(topic: str, partition: int, offset: int) -> TopicPartition:
    return TopicPartition(topic, partition, offset)


def test_batches_wait_together_and_commit_the_highest_offset_of_each_partition() -> None:
    p = PendingDerivation()
    assert not p.waiting and not p.due(100.0, 5.0, 10)
    p.add({("a", "c1")}, [], [_tp("t", 0, 11), _tp("t", 1, 4)], now=100.0)
    p.add({("a", "c2"), ("a", "c1")}, [["split"]], [_tp("t", 0, 20)], now=103.0)
    assert p.waiting and not p.due(104.9, 5.0, 10)  # the oldest batch waited 4.9 s
    assert p.due(105.0, 5.0, 10)
    ids, splits, positions = p.take()
    assert ids == {("a", "c1"), ("a", "c2")} and splits == [["split"]]
    assert [(tp.topic, tp.partition, tp.offset) for tp in positions] == [("t", 0, 20), ("t", 1, 4)]
    assert not p.waiting and p.take() == (set(), [], [])


def test_due_at_the_most_clients_or_when_only_offsets_wait() -> None:
    p = PendingDerivation()
    p.add({("a", f"c{i}") for i in range(3)}, [], [_tp("t", 0, 1)], now=0.0)
    assert not p.due(1.0, 5.0, 4) and p.due(1.0, 5.0, 3)
    only_offsets = PendingDerivation()
    only_offsets.add(set(), [], [_tp("t", 0, 7)], now=0.0)  # e.g. a batch of dead letters
    assert only_offsets.due(0.0, 5.0, 10)


def test_the_clock_starts_at_the_oldest_waiting_batch() -> None:
    p = PendingDerivation()
    p.add({("a", "c1")}, [], [], now=10.0)
    p.add({("a", "c2")}, [], [], now=14.0)
    assert p.due(15.0, 5.0, 10)
    p.take()
    p.add({("a", "c3")}, [], [], now=16.0)
    assert not p.due(20.0, 5.0, 10) and p.due(21.0, 5.0, 10)


def test_revoked_partitions_are_not_committed() -> None:
    p = PendingDerivation()
    p.add({("a", "c1")}, [], [_tp("t", 0, 5), _tp("t", 1, 9), _tp("m", 0, 2)], now=0.0)
    p.forget([TopicPartition("t", 1), TopicPartition("m", 0)])
    ids, _, positions = p.take()
    assert ids == {("a", "c1")}  # still derived: its rows are stored
    assert [(tp.topic, tp.partition, tp.offset) for tp in positions] == [("t", 0, 5)]
