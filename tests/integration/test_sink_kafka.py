"""The sink over real Kafka: redelivery adds nothing, failing inserts lose nothing, merges land in
their table and bad records go to the dead-letter topic."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Producer, TopicPartition

from sinks import clickhouse
from sinks.sink import Sink
from tests import reference_reports as ref
from tests.report_data import Dataset, generate
from tests.support import read_topic
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import DEAD_LETTER, ENRICHED, MERGE, load_cached
from touchline.services.stack import Endpoints
from touchline.settings import Settings

pytestmark = pytest.mark.integration
FUNNEL = {
    "account": "",
    "from": date(2025, 1, 1),
    "to": date(2025, 12, 31),
    "location": "",
    "service": "",
    "breakdown": "channel",
    "profiles": 0,
    "strict": 0,
    "window_ms": 86_400_000,
}


class FlakyClient:
    """Delegates to a real client; the first ``failures`` inserts raise."""

    def __init__(self, client: Client, failures: int) -> None:
        self.client = client
        self.failures = failures
        self.attempts = 0

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("ClickHouse is unavailable (injected)")
        return self.client.insert(*args, **kwargs)


class CrashBeforeCommit(Sink):
    """Inserts its first batch, then dies before committing the offsets."""

    def _commit(self, positions: list[TopicPartition]) -> None:
        raise RuntimeError("crash before commit (injected)")


@pytest.fixture
def setup(chdb_settings: Settings, services: Endpoints) -> tuple[Settings, Codec, Client, Dataset]:
    s = chdb_settings.model_copy(update={"kafka_bootstrap": services.kafka_bootstrap})
    contracts = load_cached(s.schemas_dir)
    topics.ensure(
        services.kafka_bootstrap,
        [topics.enriched(s), topics.merges(s), topics.dead_letter(s)],
        2,
    )
    client = clickhouse.connect(s.effective_clickhouse_dsn)
    clickhouse.migrate(client, s.clickhouse_database)
    return s, Codec(contracts), client, generate(seed=3, clients=60)


def _produce(s: Settings, codec: Codec, data: Dataset, extra: tuple[bytes, ...] = ()) -> int:
    producer = Producer({"bootstrap.servers": s.kafka_bootstrap})
    n = 0
    for e in data.events:
        producer.produce(topics.enriched(s), codec.encode(ENRICHED, e), key=e["client_id"])
        n += 1
    for m in data.merges:
        producer.produce(topics.merges(s), codec.encode(MERGE, m), key=m["from_client_id"])
    for raw in extra:
        producer.produce(topics.enriched(s), raw)
    producer.flush(30)
    return n


def _sink(s: Settings, codec: Codec, client: Any, cls: type[Sink] = Sink, **kw: Any) -> Sink:
    return cls(
        codec,
        client,
        s.clickhouse_database,
        s.kafka_bootstrap or "",
        topics.enriched(s),
        f"{s.worker_id}-sink",
        batch_rows=kw.pop("batch_rows", 500),
        batch_seconds=0.5,
        merges_topic=topics.merges(s),
        dead_letter_topic=topics.dead_letter(s),
        retry_initial_s=0.05,
        **kw,
    )


def _count(client: Client, db: str) -> tuple[int, int, int]:
    row = client.query(
        f"SELECT count(), uniqExact(event_id), (SELECT count() FROM `{db}`.identity_merges FINAL) "
        f"FROM `{db}`.events_canonical"
    ).result_rows[0]
    return int(row[0]), int(row[1]), int(row[2])


def test_redelivered_records_add_nothing_and_bad_records_are_dead_lettered(
    setup: tuple[Settings, Codec, Client, Dataset],
) -> None:
    s, codec, client, data = setup
    db = s.clickhouse_database
    garbage = b"not avro at all"
    wrong_schema = codec.encode(
        DEAD_LETTER,
        {
            "failed_at": 1,
            "stage": "x",
            "reason": "y",
            "topic": None,
            "partition": None,
            "offset": None,
            "original": b"",
        },
    )
    n = _produce(s, codec, data, (garbage, wrong_schema))
    _produce(s, codec, data)  # the worker redelivers everything byte-identically
    sink = _sink(s, codec, client)
    sink.run(threading.Event(), idle_exit_s=3)
    assert sink.rows_written == 2 * n
    assert _count(client, db) == (n, n, len(data.merges))
    expected = ref.booking_funnel(ref.canonical(data.events, data.merges), FUNNEL)
    assert clickhouse.query(client, "booking_funnel", db, FUNNEL)[1] == expected

    letters = read_topic(s.kafka_bootstrap or "", topics.dead_letter(s), 2, timeout=30)
    decoded = [codec.decode(m.value()) for m in letters]
    assert [name for name, _ in decoded] == [DEAD_LETTER, DEAD_LETTER]
    assert {d["original"] for _, d in decoded} == {garbage, wrong_schema}
    assert all(d["stage"] == "sink" and d["topic"] == topics.enriched(s) for _, d in decoded)
    assert any("undecodable" in d["reason"] for _, d in decoded)
    assert any("unexpected schema" in d["reason"] for _, d in decoded)
    assert sink.metrics.dead_letters._value.get() == 2


def test_crash_before_commit_redelivers_without_duplicates(
    setup: tuple[Settings, Codec, Client, Dataset],
) -> None:
    s, codec, client, data = setup
    db = s.clickhouse_database
    n = _produce(s, codec, data)
    crashing = _sink(s, codec, client, CrashBeforeCommit, batch_rows=n + len(data.merges))
    with pytest.raises(RuntimeError, match="crash before commit"):
        crashing.step()
    crashing.consumer.close()  # no commit happened: the same group gets everything again
    written_before = crashing.rows_written
    assert written_before > 0
    sink = _sink(s, codec, client)
    sink.run(threading.Event(), idle_exit_s=3)
    assert sink.rows_written == n  # all of it redelivered ...
    assert _count(client, db) == (n, n, len(data.merges))  # ... and counted once
    expected = ref.attribution(
        ref.canonical(data.events, data.merges),
        {**FUNNEL, "model": "", "by": "channel", "lookback_days": 30, "half_life_days": 7.0},
    )
    params = {**FUNNEL, "model": "", "by": "channel", "lookback_days": 30, "half_life_days": 7.0}
    assert clickhouse.query(client, "attribution", db, params)[1] == expected


def test_failing_inserts_are_retried_and_nothing_is_lost(
    setup: tuple[Settings, Codec, Client, Dataset],
) -> None:
    s, codec, client, data = setup
    db = s.clickhouse_database
    n = _produce(s, codec, data)
    flaky = FlakyClient(client, failures=4)
    sink = _sink(s, codec, flaky)
    sink.run(threading.Event(), idle_exit_s=3)
    assert flaky.failures == 0 and flaky.attempts >= 5
    assert sink.metrics.retries._value.get() == 4
    assert _count(client, db) == (n, n, len(data.merges))
    expected = ref.booking_funnel(ref.canonical(data.events, data.merges), FUNNEL)
    assert clickhouse.query(client, "booking_funnel", db, FUNNEL)[1] == expected
