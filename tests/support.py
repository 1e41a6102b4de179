"""Helpers for tests that run `touchline` processes and read topics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from confluent_kafka import Consumer, KafkaException, TopicPartition

from touchline.services.process import free_port
from touchline.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment that makes a `touchline` subprocess use exactly these settings."""
    env = dict(os.environ)
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:  # unset here: not inherited from this process's environment either
            env.pop(f"TOUCHLINE_{name.upper()}", None)
        else:
            text = json.dumps(value) if isinstance(value, dict | list) else str(value)
            env[f"TOUCHLINE_{name.upper()}"] = text
    return env


@contextmanager
def touchline_process(
    settings: Settings, *args: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `touchline ARGS` with these settings; terminate it (and wait) on exit."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            env=settings_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> list[Any]:
    """Read ``expected`` messages from the start of ``topic`` with an independent consumer."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{os.urandom(4).hex()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(500, timeout=0.5):
                if not msg.error():
                    out.append(msg)
    finally:
        consumer.close()
    return out


def all_values(bootstrap: str, topic: str, partitions: int) -> list[bytes]:
    """Every message of ``topic`` up to its current end, with an independent consumer."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"count-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    try:
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        out: list[bytes] = []
        done = {p for p, end in ends.items() if end == 0}
        deadline = time.monotonic() + 60
        while len(done) < partitions and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=0.5):
                value, offset, partition = msg.value(), msg.offset(), msg.partition()
                if msg.error() or value is None or offset is None or partition is None:
                    continue
                out.append(value)
                if offset + 1 >= ends[partition]:
                    done.add(partition)
        assert len(done) == partitions, "could not read the topic to its end"
        return out
    finally:
        consumer.close()


def drained(settings: Settings, groups: dict[str, list[str]]) -> bool:
    """Each consumer group has committed every partition of its topics up to the end. A broker
    that cannot answer yet (coordinator loading or moving, a restart) means: not yet."""
    for group, names in groups.items():
        consumer = Consumer(
            {"bootstrap.servers": settings.kafka_bootstrap, "group.id": group, "log_level": 3}
        )
        try:
            tps = [TopicPartition(t, p) for t in names for p in range(settings.topic_partitions)]
            for tp in consumer.committed(tps, timeout=10):
                high = consumer.get_watermark_offsets(tp, timeout=10)[1]
                if high > 0 and tp.offset < high:
                    return False
        except KafkaException:
            return False
        finally:
            consumer.close()
    return True


def publish_raw(settings: Settings, codec: Any, prepared: list[Any]) -> set[str]:
    """Publish prepared events (``producers.events.Prepared``) to their raw topics, as ingest
    does, waiting for Kafka; their event ids."""
    from producers.publisher import Message, Publisher
    from touchline import topics

    publisher = Publisher(settings.kafka_bootstrap or "")
    publisher.publish_sync(
        [
            Message(
                topics.raw(settings, p.family.topic), p.key, codec.encode(p.family.name, p.datum)
            )
            for p in prepared
        ]
    )
    publisher.close()
    return {p.datum["envelope"]["event_id"] for p in prepared}


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` under a real uvicorn server on a loopback port in a thread; yields its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the ingest server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def set_max_message_bytes(bootstrap: str, names: list[str], value: int) -> None:
    """Set the topics' ``max.message.bytes`` on the broker (a topic smaller than what is sent)."""
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

    entry = ConfigEntry(
        "max.message.bytes", str(value), incremental_operation=AlterConfigOpType.SET
    )
    resources = [
        ConfigResource(ConfigResource.Type.TOPIC, n, incremental_configs=[entry]) for n in names
    ]
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    for future in admin.incremental_alter_configs(resources).values():
        future.result(timeout=30)
    # KRaft answers the change once the controller committed it; the broker applies it a moment
    # later (a describe or a produce just after may still see the limit before)
    from touchline.batch_bytes import topic_limits

    deadline = time.monotonic() + 30
    while topic_limits(bootstrap, names) != {n: value for n in names}:
        assert time.monotonic() < deadline, f"the broker never applied max.message.bytes={value}"
        time.sleep(0.05)


def insert_before_external_ids(client: Any, db: str, events: list[dict[str, Any]]) -> None:
    """Store enriched events in an ``events`` table migrated to before 020, which has no
    ``external_ids`` column yet (the writer's last column), without deriving."""
    from sinks import rows

    assert rows.COLUMNS[-1] == "external_ids"
    batch = [rows.to_row(e)[:-1] for e in events]
    client.insert(f"`{db}`.events", batch, column_names=list(rows.COLUMNS[:-1]))
