"""Freshness and CPU per event of the whole pipeline: `touchline ingest`, `touchline worker` and
`touchline sink` as real processes against Kafka and Redis (the environment's, or a stack the
session starts), ClickHouse in the sink (chDB).

At each rate an open-loop load posts batches every 100 ms while a marker event is posted every
250 ms; from each marker's 2xx the bench polls Redis for its dedup entry (written by the same Lua
call that updates the client card) every 10 ms and the sink's report endpoint every 200 ms (a
marker it lists counts from the query's start): ``event_status`` with the ids of the markers not
found yet, or with TOUCHLINE_BENCH_FRESH_PROBE=appointments the whole ``appointments`` report of
the markers' account (each marker is an appointment at a location of its own name; the probe
before, which cost the sink more CPU than the load itself at 100 ev/s).
Rates: 100 and 1,000 ev/s, then a step search up the rates in TOUCHLINE_BENCH_FRESH_SEARCH,
stopping at the first step that is not sustained (:func:`tests.bench.freshness.sustained`: rate
posted, every marker landed, latency not growing).
CPU per event of each process is its /proc utime + stime over the step (until its markers landed)
divided by the events posted. Baselines from the same run: each process's idle CPU per second
before any load, and a bare confluent-kafka produce -> consume round trip.

Step length TOUCHLINE_BENCH_FRESH_STEP_S (default 25 s). Writes bench-results/freshness.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import redis
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from tests.bench.freshness import PROBE, Step, cpu_seconds, listening_pid, pct, sustained
from tests.bench.results import write as write_result
from tests.support import touchline_process, wait_for
from touchline import topics
from touchline.contracts import load_cached
from touchline.services.process import free_port, port_open
from touchline.settings import Settings

pytestmark = [pytest.mark.bench, pytest.mark.timeout(1800)]

STEP_S = float(os.environ.get("TOUCHLINE_BENCH_FRESH_STEP_S", "25"))
GRACE_S = float(os.environ.get("TOUCHLINE_BENCH_FRESH_GRACE_S", "15"))
FIXED = (100, 1000)
SEARCH = tuple(
    int(r) for r in os.environ.get("TOUCHLINE_BENCH_FRESH_SEARCH", "1500,2000,3000,4000").split(",")
)


def rtt_topic(s: Settings) -> str:
    return f"{s.topic_prefix}.bench-rtt"


def kafka_round_trip(bootstrap: str, topic: str, n: int = 100) -> dict[str, Any]:
    """Bare confluent-kafka: produce one message every 20 ms, consume it with another client."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"fresh-rtt-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "latest",
            "log_level": 3,
        }
    )
    consumer.subscribe([topic])
    wait_for(lambda: consumer.poll(0.2) is None and consumer.assignment(), 60, "assignment")
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": "all"})
    sent: dict[bytes, float] = {}
    got: list[float] = []
    for i in range(n):
        key = str(i).encode()
        sent[key] = time.monotonic()
        producer.produce(topic, b"x", key)
        producer.poll(0)
        deadline = time.monotonic() + 0.02
        while time.monotonic() < deadline:
            msg = consumer.poll(0.005)
            if msg is not None and not msg.error() and msg.key() in sent:
                got.append(time.monotonic() - sent[msg.key() or b""])
    producer.flush(10)
    deadline = time.monotonic() + 10
    while len(got) < n and time.monotonic() < deadline:
        msg = consumer.poll(0.05)
        if msg is not None and not msg.error() and msg.key() in sent:
            got.append(time.monotonic() - sent[msg.key() or b""])
    consumer.close()
    return {
        "messages": n,
        "received": len(got),
        "p50_ms": round((pct(got, 0.5) or 0) * 1000, 1),
        "p99_ms": round((pct(got, 0.99) or 0) * 1000, 1),
    }


def cpu(pids: dict[str, int | None]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items() if pid is not None}


def run_step(
    rate: int, seconds: float, pids: dict[str, int | None], **where: Any
) -> dict[str, Any]:
    step = Step(rate=rate, seconds=seconds, **where)
    before, started = cpu(pids), time.monotonic()
    step.run(GRACE_S)
    after, elapsed = cpu(pids), time.monotonic() - started
    figures = step.latencies()
    events = step.posted + len(step.markers)
    figures.update(
        rate=rate,
        seconds=seconds,
        posted=step.posted,
        refused=step.refused,
        posted_per_s=round(step.posted / seconds, 1),
        cpu_window_s=round(elapsed, 1),
        cpu_us_per_event={
            name: round((after[name] - before[name]) / events * 1e6, 1) if events else None
            for name in after
        },
    )
    figures["cpu_us_per_event_total"] = round(
        sum(v for v in figures["cpu_us_per_event"].values() if v is not None), 1
    )
    figures["sustained"] = sustained(step, figures)
    print(
        f"{rate:>5} ev/s: card p50/p99 {figures['card_p50_ms']}/{figures['card_p99_ms']} ms, "
        f"queryable p50/p99 {figures['queryable_p50_ms']}/{figures['queryable_p99_ms']} ms, "
        f"posted {figures['posted_per_s']}/s, CPU µs/event {figures['cpu_us_per_event']} "
        f"(total {figures['cpu_us_per_event_total']}), sustained: {figures['sustained']}",
        flush=True,
    )
    return figures


def cleanup(s: Settings, names: list[str]) -> None:
    """Drop the bench's Redis keys and topics (the services may be shared)."""
    r = redis.Redis.from_url(s.redis_url or "")
    batch: list[bytes] = []
    for key in r.scan_iter(match=f"{s.topic_prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            r.unlink(*batch)
            batch = []
    if batch:
        r.unlink(*batch)
    r.close()
    # the client stays referenced until its futures are done: one collected with its requests
    # in flight never completes them (each waited out its 30 s, minutes in all)
    admin = AdminClient({"bootstrap.servers": s.kafka_bootstrap or ""})
    futures = admin.delete_topics(names, operation_timeout=30)
    for future in futures.values():
        with contextlib.suppress(Exception):  # a topic already gone is fine
            future.result(30)


@pytest.fixture
def stack_settings(live_settings: Settings) -> Iterator[Settings]:
    s = live_settings.model_copy(
        update={
            "topic_partitions": Settings.model_fields["topic_partitions"].default,
            "ingest_rate_events_per_second": 1e9,
            "ingest_rate_burst": 10**9,
        }
    )
    names = topics.every(s, load_cached(s.schemas_dir))
    topics.ensure(s.kafka_bootstrap or "", names, s.topic_partitions)
    topics.ensure(s.kafka_bootstrap or "", [rtt_topic(s)], 1)
    yield s
    names.append(rtt_topic(s))
    cleanup(s, names)


def test_freshness_and_cpu_per_event(stack_settings: Settings, tmp_path: Path) -> None:
    s = stack_settings
    ingest_port, sink_port = free_port(), free_port()
    kafka_port = int((s.kafka_bootstrap or "").split(",")[0].rsplit(":", 1)[1])
    redis_port = urlparse(s.redis_url or "").port or 6379
    where: dict[str, Any] = {
        "ingest": f"http://127.0.0.1:{ingest_port}",
        "sink": f"http://127.0.0.1:{sink_port}",
        "redis_url": s.redis_url or "",
        "prefix": s.topic_prefix,
    }
    with ExitStack() as stack:
        procs = {
            "ingest": stack.enter_context(
                touchline_process(s, "ingest", "--port", str(ingest_port), log=tmp_path / "i.log")
            ),
            "worker": stack.enter_context(touchline_process(s, "worker", log=tmp_path / "w.log")),
            "sink": stack.enter_context(
                touchline_process(s, "sink", "--port", str(sink_port), log=tmp_path / "s.log")
            ),
        }
        pids: dict[str, int | None] = {name: p.pid for name, p in procs.items()}
        pids["redis"] = listening_pid(redis_port)
        pids["kafka"] = listening_pid(kafka_port)
        wait_for(lambda: port_open(ingest_port) and port_open(sink_port), 120, "ingest and sink")
        warm = Step(rate=10, seconds=2, account=f"warm-{s.topic_prefix}", **where)
        warm.run(300)  # the worker joins its group, the sink its own: until a marker lands
        assert warm.markers and warm.landed(), "the pipeline never delivered a marker"

        idle_before, idle_started = cpu(pids), time.monotonic()
        time.sleep(5)
        idle_after, idle_s = cpu(pids), time.monotonic() - idle_started
        idle = {n: round((idle_after[n] - idle_before[n]) / idle_s * 1e6) for n in idle_after}
        rtt = kafka_round_trip(s.kafka_bootstrap or "", rtt_topic(s))

        steps: list[dict[str, Any]] = []
        for i, rate in enumerate((*FIXED, *SEARCH)):
            if rate in SEARCH and steps and not steps[-1]["sustained"] and rate > FIXED[-1]:
                break
            account = f"fresh{i}-{s.topic_prefix}"
            steps.append(run_step(rate, STEP_S, pids, account=account, **where))

    fixed = {str(f["rate"]): f for f in steps if f["rate"] in FIXED}
    held = [f for f in steps if f["sustained"]]
    top = max(held, key=lambda f: f["rate"]) if held else None
    shared = bool(os.environ.get("TOUCHLINE_KAFKA_BOOTSTRAP"))
    result = {
        "what": "marker 2xx -> its dedup entry in Redis (written with the card) and -> listed "
        "by the sink's report query",
        "fixed_rates": fixed,
        "highest_sustained_ev_s": top["rate"] if top else None,
        "cpu_us_per_event_at_highest_sustained": top["cpu_us_per_event"] if top else None,
        "cpu_us_per_event_total_at_highest_sustained": (
            top["cpu_us_per_event_total"] if top else None
        ),
        "steps": steps,
        "baseline": {
            "idle_cpu_us_per_s": idle,
            "kafka_produce_consume_round_trip": rtt,
        },
        "aim": {"card_p99_ms_at_1000": 250, "queryable_p99_ms_at_1000": 1500, "total_cpu_us": 400},
        "polling": "Redis every 10 ms, ClickHouse every 200 ms (up to 200 ms of each queryable "
        "figure is polling; the sink's CPU includes answering the polls, which hold its client)",
        "probe": PROBE,
        "services": "shared with other tenants: redis/kafka CPU includes their load"
        if shared
        else "started by the test session for this run",
        "step_s": STEP_S,
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_at_end": os.getloadavg(),
            "python": platform.python_version(),
        },
    }
    write_result("freshness", result)
    print(json.dumps({k: v for k, v in result.items() if k != "steps"}, indent=2))
    assert fixed, "no fixed-rate step ran"
