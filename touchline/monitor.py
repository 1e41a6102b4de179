"""``touchline monitor``: consumer-group lag read from Kafka, from the outside.

A consumer that reports its own lag stops reporting it when it is down or stuck, which is when the
lag matters. This service reads what the broker knows, the way Burrow and kafka-lag-exporter do:
for every group of the pipeline (the worker's and the sink's) the committed offset of each
partition of the topics it reads, against the partition's high watermark, every
``TOUCHLINE_MONITOR_INTERVAL_S``, whether or not any member of the group is alive. It also exports
the group's member count and whether Kafka answered at all (``touchline_monitor_kafka_up``), so an
unreachable broker is an alert of its own.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from touchline.clock import now_ms
from touchline.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Watched:
    """A consumer group of the pipeline and the topics it reads."""

    role: str  # worker | sink
    group: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int  # negative: nothing committed yet
    high: int
    lag: int
    waiting_s: float = 0.0  # how long the oldest record not yet committed has been in Kafka


@dataclass(frozen=True)
class GroupLag:
    watched: Watched
    members: int
    partitions: list[PartitionLag]


def partition_lag(low: int, high: int, committed: int) -> int:
    """Records from the group's committed offset to the high watermark; with nothing committed
    (negative) the group starts at the low watermark (``auto.offset.reset=earliest``)."""
    if high < 0:
        return 0
    start = max(committed, low) if committed >= 0 else max(low, 0)
    return max(high - start, 0)


def watched(settings: Settings) -> list[Watched]:
    """The worker's group (every raw family topic) and the sink's (enriched and merges)."""
    from touchline import topics
    from touchline.contracts import load_cached

    contracts = load_cached(settings.schemas_dir)
    return [
        Watched("worker", settings.worker_id, tuple(topics.all_raw(settings, contracts))),
        Watched(
            "sink",
            f"{settings.worker_id}-sink",
            (topics.enriched(settings), topics.merges(settings)),
        ),
    ]


class LagReader:
    """Reads committed offsets, watermarks and members with the AdminClient, and the timestamp
    of the first record after each lagging committed offset with a consumer that never joins a
    group nor commits (it only assigns partitions to itself)."""

    REQUEST_TIMEOUT_S = 5.0  # each AdminClient / watermark request, not the scrape interval

    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka import Consumer
        from confluent_kafka.admin import AdminClient

        self.timeout_s = self.REQUEST_TIMEOUT_S
        self.admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            # librdkafka's lines (a connection refused every 100 ms while the broker is away) go
            # through this module's logger, so the rate limit of repeated lines holds
            "logger": log,
            "group.id": "touchline-monitor",  # never subscribes, never commits
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "max.partition.fetch.bytes": 65536,
            "fetch.max.bytes": 1048576,
        }
        self.consumer = Consumer(config)

    def close(self) -> None:
        self.consumer.close()

    def first_timestamps(self, starts: dict[tuple[str, int], int]) -> dict[tuple[str, int], float]:
        """The timestamp (epoch seconds) of the record at each ``(topic, partition): offset``."""
        from confluent_kafka import TopicPartition

        if not starts:
            return {}
        self.consumer.assign([TopicPartition(t, p, o) for (t, p), o in starts.items()])
        found: dict[tuple[str, int], float] = {}
        deadline = time.monotonic() + self.timeout_s
        try:
            while len(found) < len(starts) and time.monotonic() < deadline:
                for msg in self.consumer.consume(num_messages=len(starts), timeout=0.5):
                    key = (msg.topic() or "", msg.partition() or 0)
                    kind, ms = msg.timestamp()
                    if msg.error() is None and key not in found and kind and ms > 0:
                        found[key] = ms / 1000
        finally:
            self.consumer.unassign()
        return found

    def read(self, w: Watched) -> GroupLag:
        from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
        from confluent_kafka.admin import OffsetSpec

        t = self.timeout_s
        metadata = self.admin.list_topics(timeout=t)
        tps = [
            TopicPartition(topic, p)
            for topic in w.topics
            if topic in metadata.topics
            for p in sorted(metadata.topics[topic].partitions)
        ]
        if not tps:
            return GroupLag(w, self.members(w.group), [])
        request = [ConsumerGroupTopicPartitions(w.group, tps)]
        answer = self.admin.list_consumer_group_offsets(request, request_timeout=t)[w.group]
        committed = {
            (tp.topic, tp.partition): tp.offset for tp in answer.result(t).topic_partitions or []
        }
        highs = self._offsets(tps, OffsetSpec.latest())
        lows = self._offsets(tps, OffsetSpec.earliest())
        starts = {}
        for tp in tps:
            key = (tp.topic, tp.partition)
            c = committed.get(key, -1)
            if partition_lag(lows[key], highs[key], c) > 0:
                starts[key] = max(c, lows[key]) if c >= 0 else lows[key]
        stamps = self.first_timestamps(starts)
        now = now_ms() / 1000
        rows = []
        for tp in tps:
            key = (tp.topic, tp.partition)
            c, high = committed.get(key, -1), highs[key]
            lag = partition_lag(lows[key], high, c)
            waiting = max(now - stamps[key], 0.0) if lag and key in stamps else 0.0
            rows.append(PartitionLag(tp.topic, tp.partition, c, high, lag, waiting))
        return GroupLag(w, self.members(w.group), rows)

    def _offsets(self, tps: Sequence[Any], spec: Any) -> dict[tuple[str, int], int]:
        futures = self.admin.list_offsets({tp: spec for tp in tps}, request_timeout=self.timeout_s)
        return {
            (tp.topic, tp.partition): int(f.result(self.timeout_s).offset)
            for tp, f in futures.items()
        }

    def members(self, group: str) -> int:
        future = self.admin.describe_consumer_groups([group], request_timeout=self.timeout_s)
        return len(future[group].result(self.timeout_s).members or [])


class MonitorMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.kafka_up = Gauge(
            "touchline_monitor_kafka_up",
            "1 if the last read of offsets from Kafka succeeded, else 0",
            registry=r,
        )
        self.reads = Counter(
            "touchline_monitor_reads",
            "Reads of offsets from Kafka by outcome",
            ["outcome"],
            registry=r,
        )
        for outcome in ("ok", "failed"):
            self.reads.labels(outcome)
        self.lag = Gauge(
            "touchline_consumer_group_lag",
            "Records from the group's committed offset to the high watermark",
            ["role", "group", "topic", "partition"],
            registry=r,
        )
        self.committed = Gauge(
            "touchline_consumer_group_committed_offset",
            "The group's committed offset (-1: nothing committed)",
            ["role", "group", "topic", "partition"],
            registry=r,
        )
        self.waiting = Gauge(
            "touchline_consumer_group_lag_seconds",
            "How long the oldest record the group has not committed has been in Kafka (now minus "
            "its Kafka timestamp; 0 when nothing waits)",
            ["role", "group", "topic", "partition"],
            registry=r,
        )
        self.members = Gauge(
            "touchline_consumer_group_members",
            "Members of the consumer group (0: no consumer is running)",
            ["role", "group"],
            registry=r,
        )

    def record(self, lag: GroupLag) -> None:
        w = lag.watched
        self.members.labels(w.role, w.group).set(lag.members)
        for p in lag.partitions:
            labels = (w.role, w.group, p.topic, str(p.partition))
            self.lag.labels(*labels).set(p.lag)
            self.committed.labels(*labels).set(p.committed)
            self.waiting.labels(*labels).set(p.waiting_s)


def read_once(reader: LagReader, groups: Sequence[Watched], metrics: MonitorMetrics) -> bool:
    """One read of every group; False (and ``kafka_up`` 0) if Kafka did not answer."""
    try:
        results = [reader.read(w) for w in groups]
    except Exception as exc:  # KafkaException, timeouts: Kafka is unreachable or unhealthy
        metrics.kafka_up.set(0)
        metrics.reads.labels("failed").inc()
        log.warning(
            "cannot read consumer-group offsets from Kafka: %s: %s", type(exc).__name__, exc
        )
        return False
    for result in results:
        metrics.record(result)
    metrics.kafka_up.set(1)
    metrics.reads.labels("ok").inc()
    return True


def run(settings: Settings, port: int, stop: threading.Event) -> None:
    from prometheus_client import start_http_server

    from touchline import logthrottle
    from touchline.endpoints import endpoints

    logthrottle.install(logging.getLogger(), settings.log_repeats_per_minute)
    metrics = MonitorMetrics()
    metrics.kafka_up.set(0)
    groups = watched(settings)
    server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    bootstrap = endpoints(settings).kafka_bootstrap
    reader = LagReader(bootstrap)
    print(f"monitor: metrics at http://127.0.0.1:{port}/metrics", flush=True)
    try:
        while not stop.is_set():
            started = time.monotonic()
            if not read_once(reader, groups, metrics):
                # fresh clients after a failure: a request stuck from before a broker restart
                # must not keep the next reads failing
                reader.close()
                reader = LagReader(bootstrap)
            stop.wait(max(settings.monitor_interval_s - (time.monotonic() - started), 0.1))
    finally:
        reader.close()
        server.shutdown()
        thread.join(5)


def _monitor(args: argparse.Namespace, settings: Settings) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run(settings, args.port or settings.monitor_port, stop)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "monitor",
        help="export consumer-group lag read from Kafka (worker and sink) for Prometheus",
        description="Read the committed offsets of the worker's and the sink's consumer groups "
        "and the high watermarks of their topics from Kafka every TOUCHLINE_MONITOR_INTERVAL_S "
        "and serve them as Prometheus metrics, whether or not the consumers are running. "
        "`touchline services up` runs it with the local stack.",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="metrics port (default TOUCHLINE_MONITOR_PORT)"
    )
    parser.set_defaults(func=_monitor)
