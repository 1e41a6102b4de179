"""Issue 17, limits at the door: a 2xx means stored once or dead-lettered with a reason; no input
causes a 5xx (a Kafka outage is the only 503); nothing is accepted that a later stage refuses; every
refused input gets a 4xx naming the field and a dead letter with its original bytes."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

import jsonschema_rs
import orjson
import pytest
from confluent_kafka import KafkaError
from fastapi.testclient import TestClient

from producers.api import IngestConfig, create_app
from producers.events import now_ms
from producers.publisher import Message
from tests.unit.test_api import (
    CODEC,
    CONTRACTS,
    SETTINGS,
    FakePublisher,
    dead_letters,
    fresh_events,
    make_client,
)
from touchline.codec import Codec
from touchline.deadletter import MAX_ORIGINAL_BYTES

JSON = {"content-type": "application/json"}


def post(path: str, body: Any, config: IngestConfig | None = None) -> tuple[Any, FakePublisher]:
    client, fake = make_client(config)
    with TestClient(client.app, raise_server_exceptions=False) as c:
        resp = c.post(path, content=orjson.dumps(body), headers=JSON)
    return resp, fake


def web_touch(**fields: Any) -> dict[str, Any]:
    return {
        "envelope": {
            "event_id": str(uuid.uuid4()),
            "event_type": "page_view",
            "occurred_at": now_ms(),
            "source": "web",
            "account_id": "acc-unit",
            "ids": {"cid": "1.2"},
        },
        **fields,
    }


def only_error(resp: Any) -> dict[str, str]:
    (rejected,) = resp.json()["rejected"]
    (error,) = rejected["errors"]
    return dict(error)


def source_payloads(t: Any) -> dict[str, tuple[dict[str, Any], str]]:
    """A valid native payload per source route, and the key of its event time."""
    return {
        "booking-widget": (
            {"event": "appointment_booking", "account_id": "a", "occurred_at": t},
            "occurred_at",
        ),
        "studio": (
            {
                "id": "wh-1",
                "type": "membership.activated",
                "occurredAt": t,
                "accountId": "a",
                "data": {"membershipId": "m-1"},
            },
            "occurredAt",
        ),
        "call-tracking": ({"call_id": "c-1", "account_id": "a", "start_time": t}, "start_time"),
        "crm": ({"type": "lead", "id": "L-1", "account_id": "a", "created_at": t}, "created_at"),
    }


# --- 1. extreme ISO times: 4xx with the field, never a 500 ---------------------------------------

EXTREME_ISO = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


@pytest.mark.parametrize("value", EXTREME_ISO)
def test_extreme_iso_occurred_at_is_400_with_the_field(value: str) -> None:
    event = fresh_events(1)[0]
    event["envelope"]["occurred_at"] = value
    resp, fake = post("/v1/events", event)
    assert resp.status_code == 400, resp.text
    assert only_error(resp)["field"] == "$.envelope.occurred_at"
    (dl,) = dead_letters(fake)
    assert "$.envelope.occurred_at" in dl["reason"]
    assert orjson.loads(dl["original"]) == event


@pytest.mark.parametrize("value", [*EXTREME_ISO, "²", "1999-12-31T23:59:59Z", 946_684_799_999])
@pytest.mark.parametrize("source", ["booking-widget", "studio", "call-tracking", "crm"])
def test_every_source_refuses_unusable_or_out_of_range_times(source: str, value: Any) -> None:
    payload, key = source_payloads(value)[source]
    resp, fake = post(f"/v1/sources/{source}", payload)
    assert resp.status_code == 400, resp.text
    assert only_error(resp)["field"] in (f"$.{key}", "$.envelope.occurred_at")
    (dl,) = dead_letters(fake)
    assert dl["reason"]
    assert orjson.loads(dl["original"]) == payload
    ok, _ = post(f"/v1/sources/{source}", source_payloads(now_ms())[source][0])
    assert ok.status_code == 202, ok.text


# --- 2. no accepted event outside what ClickHouse stores or the valid event time ----------------


@pytest.mark.parametrize(
    "value", [2**63 - 1, -(2**63), 253_402_300_800_000, 946_684_799_999, "1999-12-31T23:59:59Z"]
)
@pytest.mark.parametrize("action", ["flag", "off", "refuse"])
def test_occurred_at_outside_the_valid_range_is_refused_in_every_mode(
    value: Any, action: str
) -> None:
    event = fresh_events(1)[0]
    event["envelope"]["occurred_at"] = value
    resp, fake = post("/v1/events", event, IngestConfig(horizon_action=action))
    assert resp.status_code == 400, resp.text
    assert only_error(resp)["field"] == "$.envelope.occurred_at"
    assert fake.published == []
    assert len(dead_letters(fake)) == 1


def test_future_beyond_the_horizon_is_refused_and_the_lower_bound_is_a_setting() -> None:
    event = fresh_events(1)[0]
    # two minutes past the horizon: the API reads its clock later, after its start-up (a second
    # of margin failed once on a loaded machine: the event was inside the horizon by then)
    event["envelope"]["occurred_at"] = now_ms() + (IngestConfig().future_horizon_s + 120) * 1000
    resp, _ = post("/v1/events", event, IngestConfig(horizon_action="off"))
    assert (resp.status_code, only_error(resp)["field"]) == (400, "$.envelope.occurred_at")
    event["envelope"]["occurred_at"] = "1995-06-01T00:00:00Z"
    resp, _ = post("/v1/events", event, IngestConfig(horizon_action="off"))
    assert resp.status_code == 400
    config = IngestConfig(horizon_action="off", min_occurred_at="1990-01-01")
    resp, _ = post("/v1/events", event, config)
    assert resp.status_code == 202, resp.text


def test_other_timestamp_fields_must_fit_clickhouse() -> None:
    event = fresh_events(1)[0]
    event["envelope"]["event_type"] = "crm_deal"
    event["envelope"]["source"] = "crm"
    del event["appointments"]
    event.update({"deal_id": "d", "closed_at": 2**63 - 1})
    resp, _ = post("/v1/events", event)
    assert (resp.status_code, only_error(resp)["field"]) == (400, "$.closed_at")


# --- 3. unicode digits ----------------------------------------------------------------------------


def test_superscript_digit_start_time_is_400_not_500() -> None:
    resp, fake = post("/v1/sources/call-tracking", {"call_id": "c", "start_time": "²"})
    assert resp.status_code == 400, resp.text
    assert only_error(resp)["field"] == "$.start_time"
    assert len(dead_letters(fake)) == 1


# --- 4. deep nesting ------------------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("where", ["element", "field"])
def test_batch_element_nested_256_deep_is_400_and_dead_lettered_with_the_body(where: str) -> None:
    good = fresh_events(1)[0]
    bad: Any = nested(256) if where == "element" else {**fresh_events(1)[0], "x": nested(255)}
    raw = b"[" + orjson.dumps(good) + b"," + b"[" * 256 + b'"x"' + b"]" * 256 + b"]"
    if where == "field":
        raw = orjson.dumps([good, {k: v for k, v in bad.items() if k != "x"}])[:-2]
        raw += b',"x":' + b"[" * 255 + b'"x"' + b"]" * 255 + b"}]"
    client, fake = make_client()
    with TestClient(client.app, raise_server_exceptions=False) as c:
        resp = c.post("/v1/events", content=raw, headers=JSON)
    assert resp.status_code == 207, resp.text
    (rejected,) = resp.json()["rejected"]
    assert rejected["index"] == 1
    assert rejected["errors"][0]["field"] == ("$" if where == "element" else "$.x")
    (dl,) = dead_letters(fake)
    assert dl["original"] == raw
    assert "event 1 of the batch" in dl["reason"]
    assert len(fake.published) == 1


# --- 5. event size --------------------------------------------------------------------------------


def test_a_600k_title_is_refused_naming_the_field_and_sizes() -> None:
    event = web_touch(page_title="t" * 600_000)
    resp, fake = post("/v1/events", event)
    assert resp.status_code == 400, resp.text
    error = only_error(resp)
    assert error["field"] == "$.page_title"
    assert "over the 262144-byte limit" in error["reason"]
    assert "600000 bytes" in error["reason"]
    (dl,) = dead_letters(fake)
    assert dl["original"] == orjson.dumps(event)[:MAX_ORIGINAL_BYTES]
    assert "$.page_title" in dl["reason"]
    assert fake.published == []


def test_size_limit_in_a_batch_is_207_and_accepted_events_fit() -> None:
    small = web_touch(page_title="fits")
    resp, fake = post("/v1/events", [small, web_touch(page_title="t" * 600_000)])
    assert resp.status_code == 207, resp.text
    assert [r["index"] for r in resp.json()["rejected"]] == [1]
    (message,) = fake.published
    assert len(message.value) <= IngestConfig().max_event_bytes
    assert CODEC.decode(message.value)[1]["page_title"] == "fits"


def test_a_1040000_char_title_is_a_refusal_not_an_outage() -> None:
    event = web_touch(page_title="t" * 1_040_000)
    resp, fake = post("/v1/events", event)
    assert resp.status_code == 400, resp.text
    assert "retry-after" not in resp.headers
    assert only_error(resp)["field"] == "$.page_title"
    (dl,) = dead_letters(fake)
    assert len(dl["original"]) == MAX_ORIGINAL_BYTES  # truncated, and the reason says so
    assert hashlib.sha256(orjson.dumps(event)).hexdigest() in dl["reason"]


def test_a_body_over_the_limit_stays_413_and_a_1mib_invalid_body_is_dead_lettered() -> None:
    resp, fake = post("/v1/events", web_touch(page_title="t" * 1_100_000))
    assert (resp.status_code, resp.json()["reason"]) == (413, "body_too_large")
    assert len(dead_letters(fake)) == 1
    client, fake = make_client()
    raw = b"{" + b"x" * (1_048_576 - 1)
    with client:
        resp = client.post("/v1/events", content=raw, headers=JSON)
    assert resp.status_code == 400
    (dl,) = dead_letters(fake)
    assert dl["original"] == raw[:MAX_ORIGINAL_BYTES]
    assert "1048576 bytes" in dl["reason"]


class RefusingPublisher(FakePublisher):
    """Kafka refuses some messages with a given error (others are stored)."""

    def __init__(self, code: int, refuse_index: Sequence[int]) -> None:
        super().__init__()
        self.code = code
        self.refuse_index = set(refuse_index)

    async def publish(self, messages: Sequence[Message]) -> list[KafkaError | None]:
        out: list[KafkaError | None] = []
        for i, m in enumerate(messages):
            if i in self.refuse_index:
                out.append(KafkaError(self.code))
            else:
                self.published.append(m)
                out.append(None)
        return out


@pytest.mark.parametrize(
    "code",
    [
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
    ],
)
def test_a_permanent_produce_error_is_413_not_503(code: int) -> None:
    client, fake = make_client(fake=RefusingPublisher(code, [0]))
    event = fresh_events(1)[0]
    with client:
        resp = client.post("/v1/events", json=event)
        batch = client.post("/v1/events", json=fresh_events(2))
    assert resp.status_code == 413, resp.text
    assert "retry-after" not in resp.headers
    assert only_error(resp)["field"] == "$"
    assert KafkaError(code).name() in only_error(resp)["reason"]
    assert batch.status_code == 207
    assert [r["index"] for r in batch.json()["rejected"]] == [0]
    assert len(dead_letters(fake)) == 2
    assert orjson.loads(dead_letters(fake)[0]["original"]) == event


def test_a_transient_produce_error_is_still_503() -> None:
    client, _ = make_client(fake=RefusingPublisher(KafkaError._MSG_TIMED_OUT, [0]))
    with client:
        resp = client.post("/v1/events", json=fresh_events(2))
    assert resp.status_code == 503
    assert "retry-after" in resp.headers


# --- 6. empty batches -----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body"), [("/v1/events", []), ("/v1/sources/crm", {"rows": []})])
def test_empty_batches_are_400_empty_batch_and_dead_lettered(path: str, body: Any) -> None:
    resp, fake = post(path, body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["reason"] == "empty_batch"
    assert resp.json()["field"] == "$"
    (dl,) = dead_letters(fake)
    assert dl["original"] == orjson.dumps(body)
    assert "empty" in dl["reason"]


def test_too_many_events_from_a_source_is_413_and_dead_lettered() -> None:
    rows = {"rows": [source_payloads(now_ms())["crm"][0]] * 4}
    resp, fake = post("/v1/sources/crm", rows, IngestConfig(max_batch_events=3))
    assert (resp.status_code, resp.json()["reason"]) == (413, "too_many_events")
    assert len(dead_letters(fake)) == 1


# --- 7. the OpenAPI request body comes from the contracts ----------------------------------------


def test_openapi_request_body_is_derived_from_the_contracts() -> None:
    client, _ = make_client()
    spec = client.app.openapi()
    body = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    schema = body["schema"]
    families = schema["oneOf"][0]["oneOf"]
    assert {f["title"] for f in families} >= {"BookingStep", "WebTouch", "CrmDeal"}
    assert schema["oneOf"][1]["type"] == "array"
    event = fresh_events(1)[0]
    validator = jsonschema_rs.validator_for(schema)
    assert validator.is_valid(event)
    assert validator.is_valid([event, web_touch(page_title="x")])
    event["envelope"]["occurred_at"] = "2026-11-18T10:00:00+01:00"
    del event["envelope"]["event_id"]
    assert validator.is_valid(event)
    assert not validator.is_valid({**event, "surprise": 1})
    assert not validator.is_valid([])


def test_a_non_ascii_digit_content_length_is_not_a_500() -> None:
    """Starlette decodes headers as latin-1: "²".isdigit() is true and int("²") raises. Called as
    raw ASGI, because HTTP clients and servers rewrite or refuse such a header before the app."""
    client, _ = make_client()
    body = orjson.dumps(fresh_events(1)[0])
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/events",
        "raw_path": b"/v1/events",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"\xb2")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []

    async def call() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await client.app(scope, receive, send)

    with client:
        assert client.portal is not None
        client.portal.call(call)
    assert sent[0]["status"] == 202


class NoRegistryCodec(Codec):
    """The schema registry is down: every schema id lookup fails."""

    def header(self, name: str) -> bytes:
        raise ConnectionError("registry down")


def test_an_unreachable_schema_registry_is_503_not_500() -> None:
    fake = FakePublisher()
    app = create_app(
        SETTINGS,
        CONTRACTS,
        NoRegistryCodec(CONTRACTS),
        "unused:9092",
        config=IngestConfig(),
        publisher_factory=lambda _on_error: fake,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        resp = client.post("/v1/events", json=fresh_events(1)[0])
    assert resp.status_code == 503, resp.text
    assert resp.json()["reason"] == "registry_unavailable"
    assert "retry-after" in resp.headers
    assert fake.published == []


@pytest.mark.parametrize("system", ["my crm", "crm:eu", "", " "])
def test_an_external_id_system_the_identity_store_refuses_is_400_not_500(system: str) -> None:
    event = fresh_events(1)[0]
    event["envelope"]["ids"] = {"external_ids": {system: "4711"}}
    resp, fake = post("/v1/events", event)
    assert resp.status_code == 400, resp.text
    assert only_error(resp)["field"] == "$.envelope.ids.external_ids"
    assert len(dead_letters(fake)) == 1
