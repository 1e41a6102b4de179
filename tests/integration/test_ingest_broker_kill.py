"""The broker dies under load: every event answered 2xx is in Kafka, every other got a 503.

Runs its own Kafka (not the session's) so it can SIGKILL it, restart it on the same port and
count precisely, by event_id, what the API promised against what Kafka holds.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from producers.api import IngestConfig, create_app
from producers.events import now_ms
from tests.support import all_values, serve
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.services import process, stack
from touchline.settings import Settings

pytestmark = pytest.mark.integration


def event(n: int) -> dict[str, Any]:
    return {
        "envelope": {
            "event_id": str(uuid.uuid4()),
            "event_type": "appointment_booking_start",
            "occurred_at": now_ms(),
            "source": "booking_widget",
            "account_id": "acc-kill",
            "ids": {"cid": f"{n}.1"},
        }
    }


def test_broker_killed_mid_load(tmp_path: Path) -> None:
    # A broker of its own (this test kills it), whatever the environment points at.
    settings = Settings(
        state_dir=tmp_path / "stack",
        kafka_bootstrap=None,
        redis_url="redis://unused",
        local_registry=False,
        schema_registry_url=None,
        kafka_port=0,
        topic_prefix="kill",
        topic_partitions=2,
    )
    endpoints = stack.up(settings)
    try:
        run(settings, endpoints.kafka_bootstrap)
    finally:
        stack.down(settings)


def run(settings: Settings, bootstrap: str) -> None:
    contracts = load_cached(settings.schemas_dir)
    topics.ensure(bootstrap, [topics.raw(settings, "booking"), topics.dead_letter(settings)], 2)
    app = create_app(
        settings,
        contracts,
        Codec(contracts),
        bootstrap,
        config=IngestConfig(kafka_timeout_ms=6000, rate_burst=10**9),
    )
    outcomes: dict[str, int] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def client(worker: int) -> None:
        n = 0
        with httpx.Client(timeout=60) as http:
            while not stop.is_set():
                batch = [event(worker * 10**6 + n + i) for i in range(5)]
                n += 5
                try:
                    status = http.post(f"{url}/v1/events", json=batch).status_code
                except httpx.HTTPError:
                    status = -1
                with lock:
                    for e in batch:
                        outcomes[e["envelope"]["event_id"]] = status
                if status == 503:
                    time.sleep(0.05)

    kafka_pid_file = settings.state_dir / "kafka" / "kafka.pid"
    with serve(app) as url:
        workers = [threading.Thread(target=client, args=(w,)) for w in range(4)]
        for w in workers:
            w.start()
        time.sleep(3)
        before_kill = len(outcomes)
        pid = process.read_pid(kafka_pid_file)
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
        while process.alive(pid):
            time.sleep(0.05)
        time.sleep(8)  # longer than the API's Kafka timeout: some requests must time out
        stack.up(settings)  # restart on the remembered port, same data directory
        restarted = len(outcomes)
        time.sleep(6)
        stop.set()
        for w in workers:
            w.join(timeout=120)
        after = len(outcomes)

    statuses = list(outcomes.values())
    acked = {eid for eid, status in outcomes.items() if status == 202}
    refused = {eid for eid, status in outcomes.items() if status == 503}
    in_kafka_values = all_values(bootstrap, topics.raw(settings, "booking"), 2)
    codec = Codec(contracts)
    in_kafka = [codec.decode(v)[1]["envelope"]["event_id"] for v in in_kafka_values]
    print(
        f"\nsent {len(outcomes)} events ({before_kill} before the kill, {restarted} by the "
        f"restart, {after} at the end): {len(acked)} acknowledged (202), {len(refused)} refused "
        f"(503), {len(in_kafka)} messages in Kafka, {len(refused & set(in_kafka))} refused ones "
        "reached Kafka anyway"
    )
    assert set(statuses) <= {202, 503}, sorted(set(statuses))
    assert acked, "nothing was acknowledged"
    assert refused, "killing the broker refused nothing: the test did not test anything"
    assert after > restarted > before_kill > 0
    missing = acked - set(in_kafka)
    assert not missing, f"{len(missing)} events were answered 202 but are not in Kafka"
    assert set(in_kafka) <= set(outcomes)
    # Events sent after the restart were acknowledged again.
    assert any(status == 202 for status in list(outcomes.values())[restarted:])
