"""What the alerts read, without services: ingest counts the events it refuses because Kafka is
down (the pre-check and /readyz too), worker dead letters carry their real stage and reason class,
the monitor's metrics and failure path, repeated log lines are rate limited, and processes
announce their scrape targets."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from prometheus_client import CollectorRegistry

from pipeline import metrics as worker_metrics
from pipeline.processor import Processor
from pipeline.store import ClientStore
from tests.unit.test_api import fresh_events, make_client
from tests.unit.test_processor_failures import CODEC, page_view
from touchline.logthrottle import RepeatFilter
from touchline.monitor import (
    GroupLag,
    MonitorMetrics,
    PartitionLag,
    Watched,
    partition_lag,
    read_once,
)
from touchline.services import targets
from touchline.services.process import free_port
from touchline.settings import Settings


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def scraped(text: str, name: str, **labels: str) -> float | None:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def test_ingest_counts_events_refused_by_the_kafka_pre_check_and_readyz() -> None:
    client, fake = make_client()
    fake.brokers_down = True
    unavailable = {"outcome": "unavailable", "reason": "kafka_unavailable"}
    with client:
        before = client.get("/metrics").text
        assert client.post("/v1/events", json=fresh_events(3)).status_code == 503
        assert client.post("/v1/events", json=fresh_events(1)[0]).status_code == 503
        assert client.get("/readyz").status_code == 503
        after = client.get("/metrics").text
    assert scraped(before, "touchline_ingest_events_total", **unavailable) == 0
    assert scraped(before, "touchline_ingest_dead_letters_total", outcome="failed") == 0
    assert scraped(after, "touchline_ingest_events_total", **unavailable) == 4
    assert scraped(after, "touchline_ingest_requests_total", endpoint="readyz", status="503") == 1
    assert scraped(after, "touchline_ingest_requests_total", endpoint="events", status="503") == 2


def test_worker_dead_letters_name_their_stage_and_reason_class() -> None:
    store = ClientStore(f"redis://127.0.0.1:{free_port()}/0", "t")  # never reached
    processor = Processor(CODEC, store)
    (out,) = asyncio.run(processor.handle_batch([(b"\x00\x00\x00\x00\x07junk", "raw", 1, 9)]))
    assert (out.stage, out.kind) == ("decode", "undecodable")
    letter = processor.dead_letter("enrich", "boom", b"x", "raw", 0, 1, kind="redis_script")
    assert (letter.stage, letter.kind, letter.outcome) == ("enrich", "redis_script", "dead_letter")
    for stage, kinds in worker_metrics.DEAD_LETTER_KINDS.items():
        for kind in kinds:  # every label pair an alert may read exists at 0 before any failure
            sample = worker_metrics.DEAD_LETTERS.labels(stage, kind)._value.get()
            assert sample >= 0
    assert page_view()  # the shared fixture still builds a valid event


def test_partition_lag_counts_from_the_committed_offset_or_the_low_watermark() -> None:
    assert partition_lag(low=0, high=100, committed=40) == 60
    assert partition_lag(low=0, high=100, committed=-1001) == 100  # nothing committed
    assert partition_lag(low=50, high=100, committed=10) == 50  # committed before retention
    assert partition_lag(low=0, high=100, committed=100) == 0
    assert partition_lag(low=-1, high=-1, committed=-1) == 0


class DeadKafka:
    def read(self, w: Watched) -> GroupLag:
        raise RuntimeError("KafkaError{code=_TRANSPORT}")


class FixedKafka:
    def read(self, w: Watched) -> GroupLag:
        rows = [PartitionLag("t.raw.web", 0, 40, 100, 60, 12.5)]
        return GroupLag(w, 0, rows)


def test_monitor_exports_lag_members_and_kafka_up() -> None:
    metrics = MonitorMetrics()
    groups = [Watched("worker", "g", ("t.raw.web",))]
    assert read_once(FixedKafka(), groups, metrics)  # type: ignore[arg-type]
    r = metrics.registry
    where = {"role": "worker", "group": "g", "topic": "t.raw.web", "partition": "0"}
    assert value(r, "touchline_consumer_group_lag", **where) == 60
    assert value(r, "touchline_consumer_group_lag_seconds", **where) == 12.5
    assert value(r, "touchline_consumer_group_committed_offset", **where) == 40
    assert value(r, "touchline_consumer_group_members", role="worker", group="g") == 0
    assert value(r, "touchline_monitor_kafka_up") == 1
    assert not read_once(DeadKafka(), groups, metrics)  # type: ignore[arg-type]
    assert value(r, "touchline_monitor_kafka_up") == 0
    assert value(r, "touchline_monitor_reads_total", outcome="failed") == 1
    assert value(r, "touchline_consumer_group_lag", **where) == 60  # the last known value stays


def test_repeated_log_lines_are_rate_limited_per_kind() -> None:
    now = [0.0]
    repeat = RepeatFilter(3, clock=lambda: now[0])

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("aiokafka", logging.ERROR, "f", 1, msg, None, None)

    passed = [repeat.filter(record("Unable connect to %s")) for _ in range(1000)]
    assert sum(passed) == 3
    assert repeat.filter(record("another message"))  # another kind is not held back
    now[0] = 61.0
    again = record("Unable connect to %s")
    assert repeat.filter(again)
    assert "[997 more like this suppressed]" in str(again.msg)
    assert RepeatFilter(0).filter(record("x"))  # 0 turns the limit off


def test_a_process_is_a_scrape_target_while_it_runs(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    with targets.registered(settings, "touchline-worker", 9101) as path:
        entry = json.loads(path.read_text())
        assert entry == [{"targets": ["127.0.0.1:9101"], "labels": {"component": "worker"}}]
        assert path.parent == targets.directory(settings)
    assert not path.exists()


def test_touchline_alerts_prints_name_severity_age_where_and_summary() -> None:
    from datetime import UTC, datetime

    from touchline.alerts import render

    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    alert = {
        "labels": {"alertname": "TouchlineSinkDown", "severity": "critical", "instance": "h:1"},
        "annotations": {"summary": "Sink h:1 is not answering /metrics"},
        "startsAt": "2026-01-01T11:53:30.5Z",
    }
    line = render([alert], now)
    assert line.split() == [
        "TouchlineSinkDown", "critical", "6", "min", "h:1", "Sink", "h:1", "is", "not",
        "answering", "/metrics",
    ]  # fmt: skip
    assert render([], now) == "no alert is firing"
