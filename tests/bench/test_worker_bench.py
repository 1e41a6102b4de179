"""Worker throughput: raw topics in -> enriched topic out, for one worker process, beside a bare
confluent-kafka + fastavro decode loop over the same topics in the same run.

Worker rate = enriched messages / (last - first enriched message timestamp), so the worker's
start-up and group join are not counted. A second reference, also from this run: the bare loop's
work (consume + decode, nothing else) in a Faust agent batched like the worker's, which shows what
Faust itself costs before any enrichment. Run with `make bench`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from producers.events import Prepared, prepare
from producers.publisher import Message, Publisher
from synthetic import GeneratorConfig, generate
from tests.support import settings_env, touchline_process, wait_for
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.bench
CLIENTS = int(os.environ.get("TOUCHLINE_BENCH_WORKER_CLIENTS", "1000"))


def high_watermarks(bootstrap: str, topic: str, partitions: int) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watermarks"})
    total = sum(
        c.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1] for p in range(partitions)
    )
    c.close()
    return total


def bare_decode_loop(bootstrap: str, raw_topics: list[str], expected: int, codec: Codec) -> float:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-bare-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(raw_topics)
    seen, started = 0, None
    deadline = time.monotonic() + 300
    while seen < expected and time.monotonic() < deadline:
        for msg in consumer.consume(1000, timeout=0.5):
            if msg.error():
                continue
            if started is None:
                started = time.perf_counter()
            codec.decode(msg.value() or b"")
            seen += 1
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    assert seen == expected
    return seen / elapsed


FAUST_DECODE_ONLY = """
import json, sys, time
import faust
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.settings import REPO_ROOT, Settings

bootstrap, raw_topics, expected, out, datadir = sys.argv[1:6]
codec = Codec(load_cached(Settings().schemas_dir), Settings().schema_registry_url)
app = faust.App(f"bench-faust-{time.time_ns()}", broker=f"kafka://{bootstrap}",
                value_serializer="raw", key_serializer="raw", store="memory://",
                web_enabled=False, datadir=datadir, consumer_auto_offset_reset="earliest")
source = app.topic(*raw_topics.split(","), value_serializer="raw", key_serializer="raw")
state = {"n": 0, "first": 0.0}

@app.agent(source)
async def decode(stream):
    async for events in stream.take_events(500, within=0.05):
        if not state["n"]:
            state["first"] = time.perf_counter()
        for e in events:
            codec.decode(e.value or b"")
        state["n"] += len(events)
        if state["n"] >= int(expected):
            seconds = time.perf_counter() - state["first"]
            with open(out, "w") as f:
                json.dump({"events": state["n"], "seconds": seconds}, f)

faust.Worker(app, loglevel="warning").execute_from_commandline()
"""


def faust_decode_only(s: Settings, raw_topics: list[str], expected: int, tmp: Path) -> float:
    """The bare loop's work (consume + decode) inside a Faust agent with the worker's batching:
    what Faust itself costs before any enrichment."""
    out = tmp / "faust-decode.json"
    env = settings_env(s)
    with (tmp / "faust-decode.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                FAUST_DECODE_ONLY,
                s.kafka_bootstrap or "",
                ",".join(raw_topics),
                str(expected),
                str(out),
                str(tmp / "faust-decode-data"),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
        try:
            wait_for(out.exists, 600, "the Faust decode-only agent", interval=0.5)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    time.sleep(0.2)  # the file is written in one call; let it be closed
    figures = json.loads(out.read_text())
    return float(figures["events"]) / float(figures["seconds"])


def enriched_span_seconds(bootstrap: str, topic: str, expected: int) -> float:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-span-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    stamps: list[int] = []
    deadline = time.monotonic() + 120
    while len(stamps) < expected and time.monotonic() < deadline:
        stamps.extend(m.timestamp()[1] for m in consumer.consume(1000, 0.5) if not m.error())
    consumer.close()
    return (max(stamps) - min(stamps)) / 1000


def test_worker_throughput(live_settings: Settings, tmp_path: Path) -> None:
    s = live_settings
    contracts = load_cached(s.schemas_dir)
    codec = Codec(contracts, s.schema_registry_url)
    bootstrap = s.kafka_bootstrap or ""
    topics.ensure(bootstrap, topics.every(s, contracts), s.topic_partitions)
    events = generate(GeneratorConfig(clients=CLIENTS, seed=1)).events
    prepared = [p for e in events if isinstance(p := prepare(contracts, e), Prepared)]
    publisher = Publisher(bootstrap)
    publisher.publish_sync(
        [
            Message(topics.raw(s, p.family.topic), p.key, codec.encode(p.family.name, p.datum))
            for p in prepared
        ]
    )
    publisher.close()
    n = len(prepared)

    baseline = bare_decode_loop(bootstrap, topics.all_raw(s, contracts), n, codec)
    faust_only = faust_decode_only(s, topics.all_raw(s, contracts), n, tmp_path)
    with touchline_process(s, "worker", log=tmp_path / "worker.log"):
        wait_for(
            lambda: high_watermarks(bootstrap, topics.enriched(s), s.topic_partitions) >= n,
            900,
            "the worker to enrich every event",
            interval=1,
        )
    span = enriched_span_seconds(bootstrap, topics.enriched(s), n)
    worker = n / span if span > 0 else float("inf")
    result = {
        "events": n,
        "worker_events_per_s": round(worker, 1),
        "baseline_decode_loop_events_per_s": round(baseline, 1),
        "ratio_worker_to_baseline": round(worker / baseline, 4),
        "faust_decode_only_events_per_s": round(faust_only, 1),
        "ratio_faust_decode_only_to_baseline": round(faust_only / baseline, 4),
        "ratio_worker_to_faust_decode_only": round(worker / faust_only, 4),
        "aim": {"ratio": 0.5, "events_per_s": 20000},
        "note": "one worker process on a shared 2-core machine; Kafka and Redis on the same host",
    }
    print(json.dumps(result, indent=2))
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    (out / "worker.json").write_text(json.dumps(result, indent=2))
    assert n > 0
