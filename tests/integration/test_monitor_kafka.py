"""touchline monitor against a real broker: the lag of a consumer group is read from its committed
offsets and the high watermarks while no member of the group runs, with the age of the oldest
record it has not committed."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from touchline import topics
from touchline.monitor import LagReader, MonitorMetrics, read_once, watched
from touchline.services.stack import Endpoints
from touchline.settings import Settings

pytestmark = pytest.mark.integration


def test_lag_of_a_group_with_no_consumer_running(
    live_settings: Settings, services: Endpoints
) -> None:
    bootstrap = services.kafka_bootstrap
    worker, sink = watched(live_settings)
    raw = worker.topics[0]
    topics.ensure(bootstrap, [*worker.topics, *sink.topics], live_settings.topic_partitions)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(10):
        producer.produce(raw, value=f"m{i}".encode(), partition=0)
    producer.produce(sink.topics[0], value=b"enriched", partition=1)
    assert producer.flush(15) == 0
    # the worker group processed 4 records of partition 0 and stopped (no member left)
    committer = Consumer({"bootstrap.servers": bootstrap, "group.id": worker.group})
    committer.commit(offsets=[TopicPartition(raw, 0, 4)], asynchronous=False)
    committer.close()
    time.sleep(1.5)

    reader = LagReader(bootstrap)
    try:
        lag = reader.read(worker)
        by_partition = {(p.topic, p.partition): p for p in lag.partitions}
        assert lag.members == 0
        assert (by_partition[raw, 0].committed, by_partition[raw, 0].lag) == (4, 6)
        waiting = by_partition[raw, 0].waiting_s  # the oldest unread record is >= 1 s old
        assert waiting >= 1.0 and waiting < 120
        assert by_partition[raw, 1].lag == 0 and by_partition[raw, 1].waiting_s == 0
        assert sum(p.lag for p in lag.partitions) == 6
        never = reader.read(sink)  # a group that never committed: from the low watermark
        assert sum(p.lag for p in never.partitions) == 1

        metrics = MonitorMetrics()
        assert read_once(reader, [worker, sink], metrics)
        where = {"role": "worker", "group": worker.group, "topic": raw, "partition": "0"}
        assert metrics.registry.get_sample_value("touchline_consumer_group_lag", where) == 6
        assert metrics.registry.get_sample_value("touchline_monitor_kafka_up") == 1
    finally:
        reader.close()
