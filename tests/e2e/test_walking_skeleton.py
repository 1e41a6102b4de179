"""One booking journey over every real hop: HTTP -> Kafka -> Faust worker -> Redis -> sink ->
ClickHouse (chDB). Each hop is checked where it lands."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from pipeline.dedupe import entries
from pipeline.keys import account_base, id_key
from sinks import clickhouse
from sinks.sink import Sink
from synthetic import booking_journeys
from tests.support import read_topic, touchline_process, wait_for
from touchline import clock, topics
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.services.process import free_port, port_open
from touchline.settings import Settings

pytestmark = pytest.mark.e2e


def test_event_travels_every_hop(
    live_settings: Settings, chdb_settings: Settings, tmp_path: Path
) -> None:
    s = live_settings.model_copy(update={"clickhouse_dsn": chdb_settings.clickhouse_dsn})
    contracts = load_cached(s.schemas_dir)
    codec = Codec(contracts, s.schema_registry_url)
    topics.ensure(s.kafka_bootstrap or "", topics.every(s, contracts), s.topic_partitions)
    events = booking_journeys(clients=4, seed=11, account_id="acc-e2e")
    port = free_port()

    with touchline_process(s, "ingest", "--port", str(port), log=tmp_path / "ingest.log"):
        wait_for(lambda: port_open(port), 60, "the ingest API")
        resp = httpx.post(f"http://127.0.0.1:{port}/v1/events", json=events, timeout=30)
    assert resp.status_code == 202, resp.text
    assert resp.json()["accepted"] == len(events)

    # Hop 1: the exact contract events are in Kafka, read by an independent consumer.
    raw = read_topic(s.kafka_bootstrap or "", topics.raw(s, "booking"), len(events))
    decoded = {
        codec.decode(m.value())[1]["envelope"]["event_id"]: codec.decode(m.value())[1] for m in raw
    }
    assert set(decoded) == {e["envelope"]["event_id"] for e in events}

    # Hop 2: the worker keeps one client card per visitor in Redis (one visit each) and
    # hop 3: emits an enriched event per input event.
    visitors = {e["envelope"]["ids"]["cid"] for e in events}
    r = redis.Redis.from_url(s.redis_url or "")
    base = account_base(s.topic_prefix, "acc-e2e")
    metrics_port = free_port()
    worker_settings = s.model_copy(update={"worker_metrics_port": metrics_port})
    with touchline_process(worker_settings, "worker", log=tmp_path / "worker.log"):
        enriched = read_topic(s.kafka_bootstrap or "", topics.enriched(s), len(events), 120)
        # ops metrics: outcomes, Redis latency per batch call, and no offset lag left
        booking = topics.raw(s, "booking")
        samples = wait_for(
            lambda: (
                (m := scrape(metrics_port))
                and m.get(("touchline_worker_events_total", (("outcome", "enriched"),)))
                == len(events)
                and m
            ),
            30,
            "the worker's metrics",
        )
    assert len(enriched) == len(events)
    redis_calls = {
        op: samples[("touchline_worker_redis_seconds_count", (("op", op),))]
        for op in ("resolve", "record")
    }
    assert redis_calls["resolve"] >= 1 and redis_calls["record"] >= 1
    lags = [
        v
        for (name, labels), v in samples.items()
        if name == "touchline_worker_offset_lag" and ("topic", booking) in labels
    ]
    assert lags and all(v == 0 for v in lags), samples
    owners = {}
    for cid in visitors:
        key = f"cid:{cid}"  # its owner: a field of one of the ids: hashes (pipeline/keys.py)
        owner = r.hget(id_key(s.topic_prefix, "acc-e2e", key, s.identity_id_shards), key)
        owners[cid] = (owner or b"").decode()
    assert all(owners.values()) and len(set(owners.values())) == len(visitors)
    for client in owners.values():
        assert r.hget(f"{base}card:{client}", "touch_count") == b"1"
    window_s, now = s.worker_dedupe_days * 86400, clock.now_ms()
    applied = [
        any(r.hexists(k, f) for k, f in entries(base, eid, now, window_s, s.worker_dedupe_shards))
        for eid in decoded
    ]
    assert all(applied), applied
    # whole results are forgotten once Kafka confirmed the outputs built from them
    wait_for(lambda: not list(r.scan_iter(match=f"{base}inflight:*")), 30, "inflight: forgotten")

    # Hop 4: the sink writes them to ClickHouse.
    client = clickhouse.connect(s.effective_clickhouse_dsn)
    clickhouse.migrate(client, s.clickhouse_database)
    sink = Sink(
        codec,
        client,
        s.clickhouse_database,
        s.kafka_bootstrap or "",
        topics.enriched(s),
        f"{s.worker_id}-sink",
        batch_rows=100,
        batch_seconds=0.5,
    )
    sink.run(threading.Event(), idle_exit_s=3)
    db = s.clickhouse_database
    rows = client.query(
        f"SELECT toString(event_id), client_id, touch_seq FROM `{db}`.events FINAL"
    ).result_rows
    assert {row[0] for row in rows} == set(decoded)
    assert {row[1] for row in rows} == set(owners.values())
    _, funnel = clickhouse.query(client, "booking_funnel", s.clickhouse_database, account="")
    assert {row[2]: row[3] for row in funnel}["appointment_booking_start"] == 4


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples at /metrics, keyed by (name, sorted labels); {} while not serving yet."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return {}
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
