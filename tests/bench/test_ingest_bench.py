"""Ingest benchmarks against the real Kafka, each beside a baseline from the same run.

* Batch throughput: batches of 500 events posted by 4 concurrent clients to the ingest API
  (uvicorn in its own process); events/s and events per CPU-second of the server process, beside a
  bare confluent-kafka producer sending the same Avro bytes with the same producer settings.
* Single-event latency at a fixed 500 requests/s (open loop, measured from each request's
  scheduled time, so a stall is not hidden), p50/p99, beside the bare producer's produce-to-ack
  latency at the same rate.

Loopback only, bounded counts. Prints the figures and writes bench-results/ingest.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from confluent_kafka import Producer

from producers.events import Prepared, now_ms, prepare
from tests.support import settings_env, wait_for
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.producer import producer_config
from touchline.services.process import free_port, port_open
from touchline.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.bench

BATCH = 500
BATCHES = 80
CONCURRENCY = 4
RATE = 500
LATENCY_REQUESTS = 2500

SERVER = """
import sys, uvicorn
from producers.api import IngestConfig, create_app
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.settings import Settings
s = Settings()
c = load_cached(s.schemas_dir)
app = create_app(s, c, Codec(c), s.kafka_bootstrap,
                 config=IngestConfig(rate_events_per_second=1e9, rate_burst=10**9))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""


def events(n: int) -> list[dict[str, Any]]:
    t = now_ms()
    return [
        {
            "envelope": {
                "event_id": str(uuid.uuid4()),
                "event_type": "appointment_booking_step_summary",
                "occurred_at": t,
                "source": "booking_widget",
                "account_id": "acc-bench",
                "ids": {"cid": f"{i % 5000}.1795000000"},
                "web": {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring"},
            },
            "appointments": [
                {"store_id": "s1", "store_name": "Mitte", "appointment_service_id": "svc-cut"}
            ],
        }
        for i in range(n)
    ]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def baseline_throughput(
    bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]
) -> dict[str, float]:
    producer = Producer(producer_config(bootstrap))
    producer.produce(topic, messages[0][1], messages[0][0])  # warm-up: connection, producer id
    assert producer.flush(30) == 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    assert producer.flush(60) == 0
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"events_per_s": len(messages) / wall, "events_per_cpu_s": len(messages) / cpu}


def baseline_latency(
    bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]
) -> list[float]:
    producer = Producer(producer_config(bootstrap))
    producer.produce(topic, messages[0][1], messages[0][0])  # warm-up: connection, producer id
    assert producer.flush(30) == 0
    latencies: list[float] = []
    start = time.perf_counter()
    for i, (key, value) in enumerate(messages):
        due = start + i / RATE
        while (now := time.perf_counter()) < due:
            producer.poll(min(0.001, due - now))

        def done(err: Any, _msg: Any, due: float = due) -> None:
            assert err is None
            latencies.append(time.perf_counter() - due)

        producer.produce(topic, value, key, on_delivery=done)
        producer.poll(0)
    assert producer.flush(60) == 0
    return latencies


JSON = {"content-type": "application/json"}


async def api_throughput(url: str, bodies: list[bytes]) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            async with session.post(f"{url}/v1/events", data=body, headers=JSON) as resp:
                assert resp.status == 202, await resp.text()

    async with aiohttp.ClientSession() as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
        return time.perf_counter() - t0


async def api_latency(url: str, bodies: list[bytes]) -> list[float]:
    """Open loop: request i is due at start + i/RATE; latency counts from when it was due."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(body: bytes, due: float) -> None:
            async with session.post(f"{url}/v1/events", data=body, headers=JSON) as resp:
                assert resp.status == 202, await resp.text()
            latencies.append(time.perf_counter() - due)

        start = time.perf_counter() + 0.2
        tasks = []
        for i, body in enumerate(bodies):
            due = start + i / RATE
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(body, due)))
        await asyncio.gather(*tasks)
    return latencies


def test_ingest_bench(live_settings: Settings, tmp_path: Path) -> None:
    s = live_settings
    bootstrap = s.kafka_bootstrap or ""
    contracts = load_cached(s.schemas_dir)
    codec = Codec(contracts)
    topic = topics.raw(s, "booking")
    topics.ensure(bootstrap, topics.every(s, contracts), s.topic_partitions)
    batches = [events(BATCH) for _ in range(BATCHES)]
    singles = events(LATENCY_REQUESTS)

    def encoded(evs: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
        out = []
        for e in evs:
            p = prepare(contracts, e)
            assert isinstance(p, Prepared)
            out.append((p.key, codec.encode(p.family.name, p.datum)))
        return out

    base_tp = baseline_throughput(bootstrap, topic, encoded([e for b in batches for e in b]))
    base_lat = baseline_latency(bootstrap, topic, encoded(singles))

    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)],
        env=settings_env(s),
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: port_open(port), 60, "the ingest server")
        url = f"http://127.0.0.1:{port}"
        warm = [orjson.dumps(b) for b in (events(BATCH) for _ in range(4))]
        asyncio.run(api_throughput(url, warm))
        bodies = [orjson.dumps(b) for b in batches]
        cpu0 = cpu_seconds(server.pid)
        wall = asyncio.run(api_throughput(url, bodies))
        cpu = cpu_seconds(server.pid) - cpu0
        latencies = asyncio.run(api_latency(url, [orjson.dumps(e) for e in singles]))
    finally:
        server.terminate()
        server.wait(30)
        log.close()

    total = BATCH * BATCHES
    api_tp = {"events_per_s": total / wall, "events_per_cpu_s": total / cpu}
    api_p = {"p50_ms": pct(latencies, 0.5) * 1000, "p99_ms": pct(latencies, 0.99) * 1000}
    base_p = {"p50_ms": pct(base_lat, 0.5) * 1000, "p99_ms": pct(base_lat, 0.99) * 1000}
    result = {
        "throughput": {
            "events": total,
            "batch": BATCH,
            "concurrency": CONCURRENCY,
            "api": api_tp,
            "baseline_bare_producer": base_tp,
            "ratio_events_per_s": api_tp["events_per_s"] / base_tp["events_per_s"],
            "ratio_events_per_cpu_s": api_tp["events_per_cpu_s"] / base_tp["events_per_cpu_s"],
        },
        "latency": {
            "requests": LATENCY_REQUESTS,
            "rate_per_s": RATE,
            "api": api_p,
            "baseline_bare_producer": base_p,
            "api_mean_ms": statistics.fmean(latencies) * 1000,
            "ratio_p50": api_p["p50_ms"] / base_p["p50_ms"],
            "ratio_p99": api_p["p99_ms"] / base_p["p99_ms"],
        },
        "cpus": os.cpu_count(),
    }
    out = REPO_ROOT / "bench-results" / "ingest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print("\n" + json.dumps(result, indent=2))
    assert len(latencies) == LATENCY_REQUESTS
