"""The sink over real Kafka and chDB: redelivery adds nothing, failing inserts lose nothing (and
consumption pauses while they are retried), merges land in their table, an insert of many years of
months lands whole, and bad records and rows ClickHouse refuses go to the dead-letter topic while
the rest of their batch is stored and committed."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, date, datetime
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, Producer, TopicPartition

import reference as ref
from sinks import batches, clickhouse, rows
from sinks.sink import Sink
from tests.report_data import Dataset, event, generate
from tests.support import read_topic, set_max_message_bytes
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import DEAD_LETTER, ENRICHED, MERGE, load_cached
from touchline.services.stack import Endpoints
from touchline.settings import Settings

pytestmark = pytest.mark.integration
OCCURRED_AT = rows.COLUMNS.index("occurred_at")
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
    """Delegates to a real client; the first ``failures`` inserts raise (calling ``on_failure``
    first, if set)."""

    def __init__(self, client: Client, failures: int) -> None:
        self.client = client
        self.failures = failures
        self.attempts = 0
        self.on_failure: Any = None

    def __getattr__(self, name: str) -> Any:  # query, command: the touches' derivation
        return getattr(self.client, name)

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            if self.on_failure is not None:
                self.on_failure()
            raise ConnectionError("ClickHouse is unavailable (injected)")
        return self.client.insert(*args, **kwargs)


class MonthCountingClient:
    """Delegates to a real client; records the distinct partition months of every events insert."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.months: list[int] = []

    def __getattr__(self, name: str) -> Any:  # query, command: the touches' derivation
        return getattr(self.client, name)

    def insert(self, table: str, data: list[list[Any]], **kwargs: Any) -> Any:
        if table.endswith(".events"):
            # the writer inserts rows (sinks.clickhouse.insert_events)
            self.months.append(len({batches.month_of(r[OCCURRED_AT]) for r in data}))
        return self.client.insert(table, data, **kwargs)


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
        retry_initial_s=kw.pop("retry_initial_s", 0.05),
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
    crashing = _sink(
        s, codec, client, CrashBeforeCommit, batch_rows=n + len(data.merges), derive_every_s=0
    )
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


class CountingDerivations:
    """Delegates to a real client; counts the derivations (inserts into event_time_touches)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.derivations = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def command(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self.derivations += "INSERT INTO" in sql and "event_time_touches" in sql
        return self.client.command(sql, *args, **kwargs)


@pytest.mark.parametrize("beside", [False, True], ids=["inline", "deriver"])
def test_batches_wait_for_one_derivation_and_are_committed_only_after_it(
    setup: tuple[Settings, Codec, Client, Dataset], beside: bool
) -> None:
    """Several batches' clients are derived at once; until then none of their offsets is
    committed, so a sink that dies first leaves them all to be read, stored and derived again.
    Inline (on the sink's client, between batches) and on a deriver of its own (sinks/deriver.py,
    as `touchline sink` runs)."""
    s, codec, client, data = setup
    db = s.clickhouse_database
    n = _produce(s, codec, data)
    counting = CountingDerivations(
        clickhouse.connect(s.effective_clickhouse_dsn) if beside else client
    )
    inserting = client if beside else counting
    kw: dict[str, Any] = {"derive_client": counting} if beside else {}

    def make(**more: Any) -> Sink:
        return _sink(s, codec, inserting, **more, **kw)

    first = make(batch_rows=100, derive_every_s=3600)
    batches = 0
    while batches < 3:  # the first steps may come before the partitions are assigned
        batches += first.step() > 0
    assert first.rows_written > 0
    assert counting.derivations == 0
    assert [offset for offset, _ in _committed(s)] == [-1] * 4  # nothing committed
    first.consumer.close()  # dies with three batches stored, none derived or committed
    assert client.query(f"SELECT count() FROM `{db}`.event_time_touches").result_rows == [(0,)]
    sink = make(batch_rows=100, derive_every_s=3600)
    sink.run(threading.Event(), idle_exit_s=3)
    assert sink.rows_written == n and _committed_everything(s)
    # the second sink's batches derived together once nothing new came (twice at most, if a
    # fetch came back empty mid-way)
    batches = int(sink.metrics.batches._value.get())
    assert batches >= 4 and 1 <= counting.derivations <= 2
    # each derivation refreshed the identity maps first (the data has merges)
    refreshes = sink.metrics.identity_refreshes.labels("aliases", "refreshed")._value.get()
    assert counting.derivations >= refreshes >= 1
    assert _count(client, db) == (n, n, len(data.merges))
    params = {**FUNNEL, "model": "", "by": "channel", "lookback_days": 30, "half_life_days": 7.0}
    expected = ref.attribution(ref.canonical(data.events, data.merges), params)
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


def _committed(s: Settings) -> list[tuple[int, int]]:
    """(committed offset or -1, high watermark) of each partition the sink's group reads."""
    group = Consumer({"bootstrap.servers": s.kafka_bootstrap, "group.id": f"{s.worker_id}-sink"})
    try:
        parts = [
            TopicPartition(t, p)
            for t in (topics.enriched(s), topics.merges(s))
            for p in group.list_topics(t, timeout=10).topics[t].partitions
        ]
        committed = group.committed(parts, timeout=10)
        highs = [group.get_watermark_offsets(tp, timeout=10)[1] for tp in parts]
        return [(max(tp.offset, -1), high) for tp, high in zip(committed, highs, strict=True)]
    finally:
        group.close()


def _committed_everything(s: Settings) -> bool:
    """The sink's group has committed the high watermark of every partition it reads."""
    return all(max(offset, 0) == high for offset, high in _committed(s))


def test_a_batch_over_more_than_100_months_is_inserted_whole_and_committed(
    setup: tuple[Settings, Codec, Client, Dataset],
) -> None:
    s, codec, client, _ = setup
    db = s.clickhouse_database
    producer = Producer({"bootstrap.servers": s.kafka_bootstrap})
    months = 26 * 12 - 2  # 2000-01 .. 2025-10: more than ClickHouse's 100 partitions per insert
    for i in range(months):
        at = datetime(2000 + i // 12, i % 12 + 1, 15, tzinfo=UTC)
        e = event(occurred_at=int(at.timestamp() * 1000), client_id=f"c{i % 7}")
        producer.produce(topics.enriched(s), codec.encode(ENRICHED, e), key=e["client_id"])
    assert producer.flush(30) == 0
    counting = MonthCountingClient(client)
    sink = _sink(s, codec, counting, batch_rows=months)
    sink.batch_seconds = 10  # one batch holds every record
    try:
        assert sink.step() == months
    finally:
        sink.close()
    assert sum(counting.months) == months and max(counting.months) <= batches.MONTHS_PER_INSERT
    assert sink.metrics.insert_errors.labels("permanent")._value.get() == 0  # never hit the limit
    stored = client.query(f"SELECT count(), uniqExact(toYYYYMM(occurred_at)) FROM `{db}`.events")
    assert stored.result_rows[0] == (months, months)
    assert sink.dead_lettered == 0
    assert _committed_everything(s)


def test_a_row_clickhouse_refuses_is_dead_lettered_and_the_rest_committed(
    setup: tuple[Settings, Codec, Client, Dataset],
) -> None:
    s, codec, client, data = setup
    db = s.clickhouse_database
    # Avro's int takes -1; the events table's UInt32 column does not: ClickHouse refuses the row.
    bad = codec.encode(ENRICHED, event(session_seq=-1, client_id="c-bad"))
    n = _produce(s, codec, data, (bad,))
    sink = _sink(s, codec, client)
    sink.run(threading.Event(), idle_exit_s=3)
    assert _count(client, db) == (n, n, len(data.merges))  # every other row is stored
    assert sink.rows_written == n and sink.dead_lettered == 1
    letters = read_topic(s.kafka_bootstrap or "", topics.dead_letter(s), 1, timeout=30)
    assert len(letters) == 1
    name, letter = codec.decode(letters[0].value())
    assert name == DEAD_LETTER and letter["original"] == bad and letter["stage"] == "sink"
    assert (
        letter["reason"].startswith("ClickHouse refused the row")
        and "session_seq" in (letter["reason"])
    )
    assert letter["topic"] == topics.enriched(s) and letter["offset"] is not None
    assert sink.metrics.insert_errors.labels("permanent")._value.get() > 0
    assert sink.metrics.retries._value.get() == 0  # refused, not retried
    assert _committed_everything(s)


def test_a_dead_letter_over_the_topic_limit_is_shortened_not_retried_forever(
    setup: tuple[Settings, Codec, Client, Dataset],
) -> None:
    s, codec, client, data = setup
    limit = 20_000
    set_max_message_bytes(s.kafka_bootstrap or "", [topics.dead_letter(s)], limit)
    # a row ClickHouse refuses (as above), with ~60 kB no compression shrinks
    page = "https://studio.example/?pad=" + os.urandom(30_000).hex()
    bad = codec.encode(ENRICHED, event(session_seq=-1, client_id="c-big", landing_page=page))
    n = _produce(s, codec, data, (bad,))
    sink = _sink(s, codec, client)
    sink.run(threading.Event(), idle_exit_s=3)  # returned: the letter did not hold the sink
    assert sink.rows_written == n and sink.dead_lettered == 1
    (letter,) = read_topic(s.kafka_bootstrap or "", topics.dead_letter(s), 1, timeout=30)
    _, dead = codec.decode(letter.value())
    assert bad.startswith(dead["original"]) and len(dead["original"]) < limit
    assert f"original truncated to {len(dead['original'])} of {len(bad)} bytes" in dead["reason"]
    assert dead["reason"].startswith("ClickHouse refused the row")
    assert _committed_everything(s)


def test_transient_failures_pause_consumption_and_report_the_lag(
    setup: tuple[Settings, Codec, Client, Dataset],
) -> None:
    s, codec, client, data = setup
    db = s.clickhouse_database
    n = _produce(s, codec, data)
    assert n > 500  # more than the first batch: there is data to fetch while paused
    flaky = FlakyClient(client, failures=4)
    sink = _sink(s, codec, flaky, retry_initial_s=0.25)
    seen: list[tuple[float, float, dict[tuple[str, int], int], int]] = []

    def observe() -> None:
        assignment = sink.consumer.assignment()
        positions = {
            (tp.topic, tp.partition): tp.offset for tp in sink.consumer.position(assignment)
        }
        paused, lag = sink.metrics.paused._value.get(), sink.metrics.lag._value.get()
        seen.append((paused, lag, positions, len(sink._carry)))

    flaky.on_failure = observe
    sink.run(threading.Event(), idle_exit_s=3)
    assert flaky.failures == 0 and sink.metrics.retries._value.get() == 4
    assert [paused for paused, *_ in seen[1:]] == [1, 1, 1]  # paused from the first retry on
    assert all(lag >= n for _, lag, _, _ in seen)  # nothing committed yet: all of it is behind
    assert all(positions == seen[0][2] for _, _, positions, _ in seen)  # no fetching while paused
    assert all(carried == 0 for *_, carried in seen)
    assert sink.metrics.paused._value.get() == 0
    assert _count(client, db) == (n, n, len(data.merges))
    assert _committed_everything(s)


def test_unacknowledged_dead_letters_are_produced_again_before_anything_is_committed(
    setup: tuple[Settings, Codec, Client, Dataset],
) -> None:
    s, codec, client, data = setup
    garbage = b"not avro at all"
    n = _produce(s, codec, data, (garbage,))
    while_waiting: list[tuple[float, bool]] = []

    class KafkaRefusesFirst(Sink):
        """Its dead letters first go to a topic Kafka refuses (flush() still returns 0; only the
        delivery report says so); the first retry goes to the real dead-letter topic."""

        def _wait(self, delay: float) -> float:
            assert self.dead_letters is not None
            if self.dead_letters.topic != topics.dead_letter(s):
                waiting = self.metrics.kafka_waiting._value.get()
                while_waiting.append((waiting, _committed_everything(s)))
                self.dead_letters.topic = topics.dead_letter(s)
            return super()._wait(delay)

    sink = _sink(s, codec, client, KafkaRefusesFirst, batch_rows=5000)
    assert sink.dead_letters is not None
    sink.dead_letters.topic = "not a valid topic!"
    sink.run(threading.Event(), idle_exit_s=3)
    assert while_waiting == [(1, False)]  # waiting on Kafka, nothing committed meanwhile
    assert sink.metrics.dead_letter_retries._value.get() == 1
    assert sink.metrics.kafka_waiting._value.get() == 0
    letters = read_topic(s.kafka_bootstrap or "", topics.dead_letter(s), 2, timeout=5)
    assert [codec.decode(m.value())[1]["original"] for m in letters] == [garbage]  # once
    assert sink.dead_lettered == 1 and _count(client, s.clickhouse_database)[0] == n
    assert _committed_everything(s)


class HeldDerivations(CountingDerivations):
    """A deriver's client whose derivations wait until ``release`` is set."""

    def __init__(self, client: Client) -> None:
        super().__init__(client)
        self.release = threading.Event()

    def command(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        if "INSERT INTO" in sql and "event_time_touches" in sql:
            assert self.release.wait(60)
        return super().command(sql, *args, **kwargs)


def test_the_sink_goes_on_storing_while_a_derivation_runs_and_commits_after_it(
    setup: tuple[Settings, Codec, Client, Dataset],
) -> None:
    """With a deriver of its own, a derivation does not hold the inserts up; the offsets of the
    batches it derives are committed only once it has finished."""
    s, codec, client, data = setup
    n = _produce(s, codec, data)
    held = HeldDerivations(clickhouse.connect(s.effective_clickhouse_dsn))
    sink = _sink(s, codec, client, batch_rows=100, derive_every_s=0, derive_client=held)
    deadline = time.monotonic() + 60
    try:
        while sink.rows_written < n and time.monotonic() < deadline:
            sink.step()
        assert sink.rows_written == n, "the inserts waited for the derivation"
        assert sink.deriver is not None and sink.deriver.busy
        assert [offset for offset, _ in _committed(s)] == [-1] * 4  # nothing committed meanwhile
        assert sink.rows_settled == 0  # written, not derived: reports would miss their touches
    finally:
        held.release.set()
    sink.run(threading.Event(), idle_exit_s=2)
    assert held.derivations >= 2 and _committed_everything(s)
    assert sink.rows_settled == n
