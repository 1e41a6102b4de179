"""The sink's lag gauge: records between the group's committed offsets and the high watermarks
(:func:`sinks.offsets.partition_lag`), checked at most every ``INTERVAL_S`` unless forced, and
right after an assignment."""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from sinks import offsets

log = logging.getLogger(__name__)
INTERVAL_S = 5.0


class LagReporter:
    def __init__(self, consumer: Consumer, topics: list[str], gauge: Any) -> None:
        self.consumer = consumer
        self.topics = topics
        self.gauge = gauge
        self.checked = 0.0
        self.due = True  # report before the first batch ends (set again on each assignment)

    def update(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.checked < INTERVAL_S:
            return
        self.checked = now
        self.due = False  # a failed check is not repeated before the next interval
        try:
            partitions = self.consumer.assignment() or self._subscribed_partitions()
            if not partitions:
                return
            lag = 0
            for tp in self.consumer.committed(partitions, timeout=2):
                low, high = self.consumer.get_watermark_offsets(tp, timeout=1, cached=False)
                lag += offsets.partition_lag(low, high, tp.offset)
            self.gauge.set(lag)
        except Exception as exc:  # metrics never stop the sink
            log.debug("lag check failed: %s", exc)

    def _subscribed_partitions(self) -> list[TopicPartition]:
        """Every partition of the subscribed topics: before the first assignment, the lag is the
        whole group's (from its committed offsets)."""
        metadata = self.consumer.list_topics(timeout=2)
        return [
            TopicPartition(topic, p)
            for topic in self.topics
            if topic in metadata.topics
            for p in metadata.topics[topic].partitions
        ]
