"""One booking journey over every real hop: HTTP -> Kafka -> Faust worker -> Redis -> sink ->
ClickHouse (chDB). Each hop is checked where it lands."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
import redis

from producers.generator import booking_journeys
from sinks import clickhouse
from sinks.sink import Sink
from tests.support import read_topic, touchline_process, wait_for
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.services.process import free_port, port_open
from touchline.settings import Settings

pytestmark = pytest.mark.e2e


def test_event_travels_every_hop(live_settings: Settings, tmp_path: Path) -> None:
    s = live_settings
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

    # Hop 2: the worker counts each client's touches in Redis.
    per_client: dict[str, int] = {}
    for e in events:
        cid = e["envelope"]["ids"]["cid"]
        per_client[cid] = per_client.get(cid, 0) + 1
    r = redis.Redis.from_url(s.redis_url or "")
    with touchline_process(s, "worker", log=tmp_path / "worker.log"):
        for cid, count in per_client.items():
            wait_for(
                lambda cid=cid, count=count: (
                    int(r.hget(f"{s.topic_prefix}:client:{cid}", "touch_count") or 0) == count
                ),
                90,
                f"touch count of {cid}",
            )
        # Hop 3: enriched events are on the enriched topic.
        enriched = read_topic(s.kafka_bootstrap or "", topics.enriched(s), len(events))
    assert len(enriched) == len(events)

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
    assert {row[1] for row in rows} == set(per_client)
    _, funnel = clickhouse.query(client, "booking_funnel", s.clickhouse_database, account="")
    assert dict((row[0], row[1]) for row in funnel)["appointment_booking_start"] == 4
