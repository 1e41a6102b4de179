"""The ingest API's error paths, against a fake publisher (no Kafka)."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError
from fastapi.testclient import TestClient

from producers.api import IngestConfig, TokenBuckets, create_app, ingest_config
from producers.events import now_ms
from producers.publisher import Message, QueueFull
from touchline.codec import Codec
from touchline.contracts import DEAD_LETTER, load_cached
from touchline.settings import Settings


class FakePublisher:
    """Records what the API publishes; can simulate an outage, a full queue or refusals."""

    def __init__(self) -> None:
        self.published: list[Message] = []
        self.sent: list[Message] = []
        self.brokers_down = False
        self.queue_full = False
        self.refuse = False

    def reachable(self, timeout: float = 2.0) -> bool:
        return not self.brokers_down

    def queue_depth(self) -> int:
        return 0

    async def publish(self, messages: Sequence[Message]) -> list[KafkaError | None]:
        if self.queue_full:
            raise QueueFull("full")
        await asyncio.sleep(0)
        if self.refuse:
            return [KafkaError(KafkaError._MSG_TIMED_OUT) for _ in messages]
        self.published.extend(messages)
        return [None for _ in messages]

    def send(self, message: Message, callback: Callable[[KafkaError | None], None]) -> bool:
        self.sent.append(message)
        callback(None)
        return True

    def close(self, timeout: float = 30.0) -> int:
        return 0


SETTINGS = Settings(topic_prefix="unit")
CONTRACTS = load_cached(SETTINGS.schemas_dir)
CODEC = Codec(CONTRACTS)


def make_client(
    config: IngestConfig | None = None, fake: FakePublisher | None = None
) -> tuple[TestClient, FakePublisher]:
    fake = fake or FakePublisher()
    app = create_app(
        SETTINGS,
        CONTRACTS,
        CODEC,
        "unused:9092",
        config=config or IngestConfig(),
        publisher_factory=lambda _on_error: fake,
    )
    return TestClient(app), fake


@pytest.fixture
def api() -> Iterator[tuple[TestClient, FakePublisher]]:
    client, fake = make_client()
    with client:
        yield client, fake


def fresh_events(n: int) -> list[dict[str, Any]]:
    """Valid booking events with occurred_at set to now (inside the time horizon)."""
    return [
        {
            "envelope": {
                "event_id": str(uuid.uuid4()),
                "event_type": "appointment_booking_step_summary",
                "occurred_at": now_ms(),
                "source": "booking_widget",
                "account_id": "acc-unit",
                "ids": {"cid": f"{i}.123"},
                "web": {"utm_source": "google"},
            },
            "appointments": [{"store_id": "s1", "appointment_service_id": "svc"}],
        }
        for i in range(n)
    ]


def dead_letters(fake: FakePublisher) -> list[dict[str, Any]]:
    out = []
    for m in fake.sent:
        name, datum = CODEC.decode(m.value)
        assert name == DEAD_LETTER
        assert m.topic == "unit.deadletter"
        out.append(datum)
    return out


def test_one_event_is_published_and_acknowledged(api: tuple[TestClient, FakePublisher]) -> None:
    client, fake = api
    event = fresh_events(1)[0]
    resp = client.post("/v1/events", json=event)
    assert resp.status_code == 202, resp.text
    assert resp.json() == {
        "accepted": 1,
        "event_ids": [event["envelope"]["event_id"]],
        "rejected": [],
        "flagged": [],
    }
    (message,) = fake.published
    assert message.topic == "unit.raw.booking"
    name, datum = CODEC.decode(message.value)
    assert name == "touchline.events.BookingStep"
    assert datum["envelope"]["event_id"] == event["envelope"]["event_id"]


def test_batch_partial_acceptance_lists_rejects_and_dead_letters_them(
    api: tuple[TestClient, FakePublisher],
) -> None:
    client, fake = api
    events = fresh_events(3)
    bad = copy.deepcopy(events[1])
    bad["envelope"]["occurred_at"] = "yesterday"
    resp = client.post("/v1/events", json=[events[0], bad, events[2]])
    assert resp.status_code == 207
    body = resp.json()
    assert body["accepted"] == 2
    ids = [e["envelope"]["event_id"] for e in events]
    assert body["event_ids"] == [ids[0], ids[2]]
    assert body["rejected"] == [
        {
            "index": 1,
            "errors": [
                {
                    "field": "$.envelope.occurred_at",
                    "reason": "must be epoch milliseconds or an ISO-8601 time",
                }
            ],
        }
    ]
    (dl,) = dead_letters(fake)
    assert dl["stage"] == "ingest"
    assert "$.envelope.occurred_at" in dl["reason"]
    assert orjson.loads(dl["original"]) == bad


def test_all_invalid_is_400(api: tuple[TestClient, FakePublisher]) -> None:
    client, fake = api
    resp = client.post("/v1/events", json=[{"envelope": {"event_type": "nope"}}])
    assert resp.status_code == 400
    assert resp.json()["rejected"][0]["errors"][0]["field"] == "$.envelope.event_type"
    assert fake.published == []
    assert len(dead_letters(fake)) == 1


def test_invalid_json_is_400_and_dead_lettered(api: tuple[TestClient, FakePublisher]) -> None:
    client, fake = api
    resp = client.post(
        "/v1/events", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json()["reason"] == "bad_json"
    assert dead_letters(fake)[0]["original"] == b"{not json"


def test_wrong_content_type_is_415(api: tuple[TestClient, FakePublisher]) -> None:
    client, _ = api
    resp = client.post("/v1/events", content=b"{}", headers={"content-type": "text/plain"})
    assert resp.status_code == 415


def test_body_and_batch_limits_are_413() -> None:
    client, fake = make_client(IngestConfig(max_body_bytes=2000, max_batch_events=3))
    with client:
        big = client.post(
            "/v1/events",
            content=b"[" + b" " * 3000 + b"]",
            headers={"content-type": "application/json"},
        )
        assert big.status_code == 413
        many = client.post("/v1/events", json=[{}] * 4)
        assert many.status_code == 413
        assert many.json()["reason"] == "too_many_events"
    assert fake.published == []


def test_write_keys_401_and_account_binding() -> None:
    config = IngestConfig(write_keys={"k-studio": "studio-1", "k-admin": "*"})
    client, fake = make_client(config)
    event = fresh_events(1)[0]
    with client:
        assert client.post("/v1/events", json=event).status_code == 401
        wrong = client.post("/v1/events", json=event, headers={"X-Touchline-Key": "nope"})
        assert wrong.status_code == 401
        # A key bound to another account refuses the event, naming the field.
        other = client.post("/v1/events", json=event, headers={"X-Touchline-Key": "k-studio"})
        assert other.status_code == 400
        assert other.json()["rejected"][0]["errors"][0]["field"] == "$.envelope.account_id"
        # ... and fills the account when the event has none.
        del event["envelope"]["account_id"]
        ok = client.post("/v1/events", json=event, headers={"Authorization": "Bearer k-studio"})
        assert ok.status_code == 202, ok.text
        assert CODEC.decode(fake.published[0].value)[1]["envelope"]["account_id"] == "studio-1"
        event["envelope"]["account_id"] = "anyone"
        admin = client.post("/v1/events", json=event, headers={"Authorization": "Bearer k-admin"})
        assert admin.status_code == 202


def test_rate_limit_is_429_with_retry_after() -> None:
    client, _ = make_client(IngestConfig(rate_events_per_second=0.001, rate_burst=3))
    with client:
        assert client.post("/v1/events", json=fresh_events(3)).status_code == 202
        resp = client.post("/v1/events", json=fresh_events(1))
    assert resp.status_code == 429
    assert int(resp.headers["retry-after"]) >= 1


def test_token_bucket_refills_with_time() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=10, burst=5, clock=lambda: now[0])
    assert buckets.take("a", 5) == 0
    assert buckets.take("a", 1) == pytest.approx(0.1)
    assert buckets.take("b", 1) == 0  # buckets are per principal
    now[0] = 0.5
    assert buckets.take("a", 5) == 0
    assert buckets.take("a", 6) == float("inf")  # more than the burst can never pass


def far_events() -> list[dict[str, Any]]:
    future, past, now = fresh_events(3)
    future["envelope"]["occurred_at"] += 3600_000
    past["envelope"]["occurred_at"] -= 40 * 24 * 3600_000
    return [future, past, now]


def test_event_time_horizon_refuses_far_future_and_far_past() -> None:
    client, fake = make_client(IngestConfig(horizon_action="refuse"))
    with client:
        resp = client.post("/v1/events", json=far_events())
    assert resp.status_code == 207
    assert [r["index"] for r in resp.json()["rejected"]] == [0, 1]
    reasons = [r["errors"][0]["reason"] for r in resp.json()["rejected"]]
    assert "in the future" in reasons[0]
    assert "in the past" in reasons[1]
    assert len(fake.published) == 1
    assert len(dead_letters(fake)) == 2


def test_event_time_horizon_flags_in_open_mode_and_refuses_with_keys() -> None:
    client, fake = make_client(IngestConfig())
    with client:
        resp = client.post("/v1/events", json=far_events())
        text = client.get("/metrics").text
    # Past the future horizon is outside the valid event time: refused in every mode.
    assert resp.status_code == 207
    assert [r["index"] for r in resp.json()["rejected"]] == [0]
    assert [r["index"] for r in resp.json()["flagged"]] == [1]
    assert len(fake.published) == 2
    assert 'touchline_ingest_events_total{outcome="accepted",reason="outside_horizon"} 1.0' in text
    client, fake = make_client(IngestConfig(write_keys={"k": "*"}))
    with client:
        resp = client.post("/v1/events", json=far_events(), headers={"X-Touchline-Key": "k"})
    assert resp.status_code == 207
    assert len(resp.json()["rejected"]) == 2
    client, fake = make_client(IngestConfig(horizon_action="off"))
    with client:
        resp = client.post("/v1/events", json=far_events()[1:])
    assert (resp.status_code, resp.json()["flagged"]) == (202, [])


@pytest.mark.parametrize("mode", ["brokers_down", "queue_full", "refuse"])
def test_kafka_trouble_is_503_with_retry_after(mode: str) -> None:
    fake = FakePublisher()
    setattr(fake, mode, True)
    client, _ = make_client(fake=fake)
    with client:
        resp = client.post("/v1/events", json=fresh_events(2))
        ready = client.get("/readyz")
    assert resp.status_code == 503
    assert "retry-after" in resp.headers
    assert fake.published == []
    if mode == "brokers_down":
        assert ready.status_code == 503


def test_health_ready_and_metrics(api: tuple[TestClient, FakePublisher]) -> None:
    client, _ = api
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    client.post("/v1/events", json=fresh_events(2))
    client.post("/v1/events", content=b"x", headers={"content-type": "text/plain"})
    text = client.get("/metrics").text
    assert 'touchline_ingest_events_total{outcome="accepted",reason="ok"} 2.0' in text
    assert (
        'touchline_ingest_events_total{outcome="rejected",reason="unsupported_media_type"} 1.0'
        in text
    )
    assert 'touchline_ingest_requests_total{endpoint="events",status="415"} 1.0' in text
    assert "touchline_ingest_produce_seconds_count 1.0" in text
    assert "touchline_ingest_producer_queue_depth 0.0" in text


def test_source_endpoint_maps_native_payload(api: tuple[TestClient, FakePublisher]) -> None:
    from producers.events import now_ms

    client, fake = api
    push = {
        "event": "appointment_booking_step_summary",
        "appointments": [{"store_id": 1, "worker_id": "w"}],
        "account_id": "studio-1",
        "occurred_at": now_ms(),
        "_ga": "GA1.2.147852369.3692587411",
        "utm_source": "google",
    }
    resp = client.post("/v1/sources/booking-widget", json=push)
    assert resp.status_code == 202, resp.text
    datum = CODEC.decode(fake.published[0].value)[1]
    assert datum["envelope"]["ids"]["cid"] == "147852369.3692587411"
    assert datum["appointments"][0]["store_id"] == "1"
    bad = client.post("/v1/sources/booking-widget", json={"event": "page_view"})
    assert bad.status_code == 400
    assert bad.json()["rejected"][0]["errors"][0]["field"] == "$.event"
    assert len(dead_letters(fake)) == 1


def test_ingest_config_reads_the_settings() -> None:
    cfg = ingest_config(Settings(ingest_write_keys={"k": "acc"}, ingest_max_batch_events=7))
    assert cfg.write_keys == {"k": "acc"}
    assert cfg.max_batch_events == 7
    assert cfg.max_body_bytes == IngestConfig().max_body_bytes == Settings().ingest_max_body_bytes


def test_rate_limit_is_per_source_address_in_open_mode_and_per_key() -> None:
    client, _ = make_client(IngestConfig(rate_events_per_second=0.001, rate_burst=3))
    with client:
        busy = {"x-forwarded-for": "10.0.0.1"}  # ignored: not behind a trusted proxy
        assert client.post("/v1/events", json=fresh_events(3), headers=busy).status_code == 202
        assert client.post("/v1/events", json=fresh_events(1)).status_code == 429  # same peer
    client, _ = make_client(
        IngestConfig(rate_events_per_second=0.001, rate_burst=3, trust_forwarded_for=True)
    )
    with client:
        for sender in ("10.0.0.1", "10.0.0.2"):  # a busy sender does not throttle another
            sent = client.post(
                "/v1/events", json=fresh_events(3), headers={"x-forwarded-for": sender}
            )
            assert sent.status_code == 202
        again = client.post(
            "/v1/events", json=fresh_events(1), headers={"x-forwarded-for": "10.0.0.1, 10.9.9.9"}
        )
        assert again.status_code == 429
    keys = {"key-aaaaaa-1": "*", "key-aaaaaa-2": "*"}  # same 6-character prefix, two buckets
    client, _ = make_client(
        IngestConfig(write_keys=keys, rate_events_per_second=0.001, rate_burst=3)
    )
    with client:
        for key in keys:
            sent = client.post("/v1/events", json=fresh_events(3), headers={"x-touchline-key": key})
            assert sent.status_code == 202


def test_token_buckets_forget_refilled_senders() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=1, burst=2, clock=lambda: now[0], max_principals=3)
    for sender in "abc":
        assert buckets.take(sender, 2) == 0
    now[0] = 1.0  # nobody has refilled yet: the oldest half goes
    assert buckets.take("d", 2) == 0
    assert len(buckets._buckets) <= 3
    assert buckets.take("e", 2) == 0
    now[0] = 10.0  # everyone has refilled: all of them go
    assert buckets.take("f", 1) == 0
    assert set(buckets._buckets) == {"f"}
