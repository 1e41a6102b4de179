"""Every source's native payload over real HTTP (uvicorn) into the real Kafka: the exact contract
events are read back by an independent consumer and compared."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from producers.adapters import ADAPTERS
from producers.api import IngestConfig, create_app
from producers.events import Prepared, now_ms, prepare
from tests.integration.test_ingest_broker_kill import serve
from tests.support import read_topic
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.settings import Settings

pytestmark = pytest.mark.e2e

KEY = "k-e2e-studio"
ACCOUNT = "acc-e2e"


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def native_payloads(t: int) -> dict[str, list[dict[str, Any]]]:
    return {
        "booking-widget": [
            {
                "event": "appointment_booking_step_resources",
                "appointments": [{"store_id": 1, "store_name": "Mitte", "worker_id": "w-7"}],
                "touchline_event_id": "3f1d8f52-3c3e-4c8e-a1a4-9d3c0e6c2b10",
                "occurred_at": t,
                "_ga": "GA1.2.147852369.3692587411",
                "utm_source": "google",
                "utm_medium": "cpc",
                "referrer": "https://www.google.com/",
                "landing_page": "https://studio.example/?utm_source=google&utm_medium=cpc",
                "page_url": "https://studio.example/book",
            },
            {
                "event": "event_booking",
                "events": [{"event_id": 55, "event_category": "course", "event_title": "Yoga"}],
                "occurred_at": iso(t),
                "cid": "147852369.3692587411",
            },
        ],
        "studio": [
            {
                "id": "wh-e2e-1",
                "type": "order.placed",
                "occurredAt": iso(t),
                "client": {"id": "c-1", "email": "anna@example.com"},
                "data": {
                    "orderId": "o-1",
                    "currency": "EUR",
                    "value": "39.90",
                    "items": [
                        {"itemId": "p-1", "type": "product", "amountPaid": "19.95"},
                        {"itemId": "s-1", "type": "service", "amountPaid": 19.95, "quantity": 2},
                    ],
                },
            },
            {
                "id": "wh-e2e-2",
                "type": "class.waitlist_joined",
                "occurredAt": t,
                "client": {"id": "c-1"},
                "data": {"classId": "cl-9", "maxWaitlistSize": 12, "startDateTime": iso(t)},
            },
        ],
        "call-tracking": [
            {
                "call_id": "call-e2e-1",
                "start_time": iso(t),
                "caller_number": "+49 30 1234567",
                "duration": 61,
                "is_unique": False,
                "final_group": "Front desk",
                "client_id": "GA1.2.111.222",
                "utm_source": "yandex",
            }
        ],
        "crm": [
            {
                "rows": [
                    {"type": "lead", "id": "L-e2e", "created_at": iso(t), "email": "b@example.com"},
                    {
                        "type": "deal",
                        "id": "D-e2e",
                        "status": "won",
                        "amount": "100",
                        "currency": "EUR",
                        "closed_at": iso(t),
                    },
                ]
            }
        ],
    }


def test_each_source_payload_lands_in_kafka_exactly(live_settings: Settings) -> None:
    s = live_settings
    contracts = load_cached(s.schemas_dir)
    codec = Codec(contracts)
    topics.ensure(s.kafka_bootstrap or "", topics.every(s, contracts), s.topic_partitions)
    app = create_app(
        s, contracts, codec, s.kafka_bootstrap or "", config=IngestConfig(write_keys={KEY: ACCOUNT})
    )
    t = now_ms() - 60_000
    expected: dict[str, dict[str, Any]] = {}
    by_topic: dict[str, int] = {}
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        for name, payloads in native_payloads(t).items():
            for payload in payloads:
                resp = http.post(
                    f"/v1/sources/{name}", json=payload, headers={"X-Touchline-Key": KEY}
                )
                assert resp.status_code == 202, (name, resp.text)
                events = ADAPTERS[name].convert(payload, ACCOUNT)
                assert resp.json()["accepted"] == len(events)
                for event in events:
                    result = prepare(contracts, event, received_at=1)
                    assert isinstance(result, Prepared)
                    event_id = result.datum["envelope"]["event_id"]
                    if "event_id" in event["envelope"]:
                        expected[event_id] = result.datum
                    else:  # the server chose the id; match it by position in the answer
                        server_id = resp.json()["event_ids"][events.index(event)]
                        result.datum["envelope"]["event_id"] = server_id
                        expected[server_id] = result.datum
                    topic = topics.raw(s, result.family.topic)
                    by_topic[topic] = by_topic.get(topic, 0) + 1

    got: dict[str, dict[str, Any]] = {}
    for topic, count in by_topic.items():
        for message in read_topic(s.kafka_bootstrap or "", topic, count, timeout=30):
            _, datum = codec.decode(message.value())
            got[datum["envelope"]["event_id"]] = datum
    assert set(got) == set(expected)
    for event_id, datum in got.items():
        received = datum["envelope"].pop("received_at")
        assert t < received <= now_ms()
        expected[event_id]["envelope"].pop("received_at")
        assert datum == expected[event_id]
    # Spot checks against the native payloads, independent of the adapters.
    step = got["3f1d8f52-3c3e-4c8e-a1a4-9d3c0e6c2b10"]
    assert step["envelope"]["ids"]["cid"] == "147852369.3692587411"
    assert step["envelope"]["account_id"] == ACCOUNT
    assert step["envelope"]["web"]["referrer"] == "https://www.google.com/"
    assert step["appointments"][0]["store_id"] == "1"
    orders = [d for d in got.values() if d["envelope"]["event_type"] == "order_placed"]
    assert [o["total_minor"] for o in orders] == [3990]
    products = [d for d in got.values() if d["envelope"]["event_type"] == "ordered_product"]
    assert sorted((p["item_id"], p["quantity"]) for p in products) == [("p-1", 1), ("s-1", 2)]
    call = next(d for d in got.values() if d["envelope"]["event_type"] == "contact_call")
    assert (call["caller_number"], call["final_pbx_group"]) == ("+49 30 1234567", "Front desk")
    deal = next(d for d in got.values() if d["envelope"]["event_type"] == "crm_deal")
    assert (deal["amount_minor"], deal["status"]) == (10000, "won")
