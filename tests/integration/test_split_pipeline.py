"""Issue 10's shared phone through the whole pipeline (real Redis, Kafka and ClickHouse in chDB;
the worker's Processor and the Sink): three studio profiles share "030 5550100", each with its own
email; person 2 first visits from a paid search ad and books with their email, and pays later; a
call comes from the front-desk phone alone. In event time, person 2 is merged into person 1
through the phone, then the phone proves shared and the merge is undone; in reverse order, the
phone's first owner (the call) claims the emails of persons 3 and 2 through it, which are split off
when person 1 proves it shared. Both orders must give every person their own events, and the same
reports."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Producer

from pipeline.processor import Processor, processor_config
from pipeline.store import ClientStore
from sinks import clickhouse
from sinks.sink import Sink
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import load
from touchline.services.stack import Endpoints
from touchline.settings import REPO_ROOT, Settings
from touchline.validation import coerce

pytestmark = pytest.mark.integration
CONTRACTS = load(REPO_ROOT / "schemas")
CODEC = Codec(CONTRACTS)
T0 = 1_790_000_000_000
MIN = 60_000
PHONE = "030 5550100"
LOOP = asyncio.new_event_loop()
REPORTS = (
    "attribution@by=channel",
    "attribution@by=campaign",
    "booking_funnel@breakdown=channel",
    "booking_outcomes",
)


def raw(
    name: str, family: str, event_type: str, at: int, ids: dict[str, Any], **fields: Any
) -> Any:
    envelope = {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"split-{name}")),
        "event_type": event_type,
        "occurred_at": at,
        "received_at": at,
        "source": fields.pop("source", "studio_system"),
        "account_id": "acc",
        "ids": ids,
        "web": fields.pop("web", None),
    }
    datum, errors = coerce(
        CONTRACTS.expanded[f"touchline.events.{family}"], {"envelope": envelope, **fields}
    )
    assert errors == [], errors
    return name, CODEC.encode(f"touchline.events.{family}", datum)


def journeys() -> list[tuple[str, bytes]]:
    """The events, in event time, each with the name of the person it belongs to."""
    ad = {
        "page_url": "https://studio.example/?utm_source=google&utm_medium=cpc&utm_campaign=yoga",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "yoga",
    }
    return [
        raw(
            "p1-profile",
            "ClientProfile",
            "client_profile_synced",
            T0,
            {"email": "one@x.de", "phone": PHONE},
            client_id="studio-1",
        ),
        raw(
            "p2-visit",
            "WebTouch",
            "page_view",
            T0 + 60 * MIN,
            {"cid": "GA1.2.222.333"},
            source="web",
            web=ad,
        ),
        raw(
            "p2-booking",
            "BookingStep",
            "appointment_booking_start",
            T0 + 65 * MIN,
            {"cid": "GA1.2.222.333", "email": "two@x.de"},
            source="web",
            web=ad,
        ),
        raw(
            "p2-profile",
            "ClientProfile",
            "client_profile_synced",
            T0 + 120 * MIN,
            {"email": "two@x.de", "phone": PHONE},
            client_id="studio-2",
        ),
        raw(
            "p2-order",
            "OrderPlaced",
            "order_placed",
            T0 + 180 * MIN,
            {"email": "two@x.de"},
            order_id="o-2",
            total_minor=5000,
            currency="EUR",
        ),
        raw(
            "p3-profile",
            "ClientProfile",
            "client_profile_synced",
            T0 + 240 * MIN,
            {"email": "three@x.de", "phone": PHONE},
            client_id="studio-3",
        ),
        raw(
            "desk-call",
            "InboundContact",
            "contact_call",
            T0 + 300 * MIN,
            {"phone": "(030) 555-0100"},
            source="call_tracking",
            contact_id="call-1",
        ),
    ]


def run(s: Settings, redis_url: str, order: list[tuple[str, bytes]]) -> dict[str, Any]:
    """Every event through the worker's processor (one batch each, in ``order``), its outputs to
    Kafka, the sink to ClickHouse; the people (sets of event names) and the reports."""
    topics.ensure(
        s.kafka_bootstrap or "", [topics.enriched(s), topics.merges(s), topics.dead_letter(s)], 2
    )
    store = ClientStore(redis_url, s.topic_prefix, max_share=2)
    processor = Processor(CODEC, store, processor_config(s))
    producer = Producer({"bootstrap.servers": s.kafka_bootstrap})
    splits = 0
    for _name, value in order:
        (out,) = LOOP.run_until_complete(processor.handle_batch([(value, "raw", 0, 0)]))
        assert out.enriched is not None, out
        producer.produce(topics.enriched(s), out.enriched[1], key=out.enriched[0])
        for key, merge in [*out.merges, *out.splits]:
            producer.produce(topics.merges(s), merge, key=key)
        splits += len(out.splits)
    producer.flush(30)
    LOOP.run_until_complete(store.close())
    client = clickhouse.connect(s.effective_clickhouse_dsn)
    db = s.clickhouse_database
    clickhouse.migrate(client, db)
    sink = Sink(
        CODEC,
        client,
        db,
        s.kafka_bootstrap or "",
        topics.enriched(s),
        f"{s.worker_id}-sink",
        batch_rows=100,
        batch_seconds=0.2,
        merges_topic=topics.merges(s),
        dead_letter_topic=topics.dead_letter(s),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sink.step()
        stored = client.query(
            f"SELECT (SELECT count() FROM `{db}`.events), "
            f"(SELECT count() FROM `{db}`.identity_splits)"
        ).result_rows[0]
        if stored == (len(order), splits):
            break
    sink.close()
    names = {
        v: n for n, v in [(n, str(uuid.uuid5(uuid.NAMESPACE_URL, f"split-{n}"))) for n, _ in order]
    }
    people: dict[str, set[str]] = {}
    for event_id, client_id in client.query(
        f"SELECT toString(event_id), client_id FROM `{db}`.events_canonical"
    ).result_rows:
        people.setdefault(client_id, set()).add(names[event_id])
    reports = {}
    for name in REPORTS:
        query, _, given = name.partition("@")
        params = dict(kv.split("=", 1) for kv in given.split("&") if kv)
        reports[name] = sorted(
            json.dumps(r, default=str) for r in clickhouse.query(client, query, db, params)[1]
        )
    for who in ("one@x.de", "two@x.de", "three@x.de"):
        rows = clickhouse.query(client, "client_card", db, {"client": who})[1]
        reports["card " + who] = [json.dumps(r[1:], default=str) for r in rows]
    return {
        "people": sorted(sorted(p) for p in people.values()),
        "reports": reports,
        "splits": splits,
    }


def test_the_shared_phone_splits_the_same_people_in_either_arrival_order(
    chdb_settings: Settings, services: Endpoints
) -> None:
    base = chdb_settings.model_copy(update={"kafka_bootstrap": services.kafka_bootstrap})
    events = journeys()
    results = []
    for n, order in enumerate([events, events[::-1]]):
        s = base.model_copy(
            update={
                "topic_prefix": f"{base.topic_prefix}o{n}",
                "clickhouse_database": f"{base.clickhouse_database}o{n}",
                "worker_id": f"{base.worker_id}-o{n}",
            }
        )
        results.append(run(s, services.redis_url, order))
    expected = [
        ["desk-call"],
        ["p1-profile"],
        ["p2-booking", "p2-order", "p2-profile", "p2-visit"],
        ["p3-profile"],
    ]
    assert results[0]["people"] == expected
    assert results[1]["people"] == expected
    assert results[0]["splits"] == 1 and results[1]["splits"] == 2  # an unmerge; two claims
    assert results[0]["reports"] == results[1]["reports"]
    revenue = [r for r in results[0]["reports"]["attribution@by=channel"] if "paid_search" in r]
    assert revenue  # person 2's order is credited to their paid search visit
