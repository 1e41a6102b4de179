"""Issue 10's shared phone through the whole pipeline (real Redis, Kafka and ClickHouse in chDB;
the worker's Processor and the Sink): three studio profiles share "030 5550100", each with its own
email; person 2 first visits from a paid search ad and books with their email, and pays later; a
call comes from the front-desk phone alone. In event time, person 2 is merged into person 1
through the phone, then the phone proves shared and person 2's identifiers move to a client of
their own; in reverse order, the call makes the phone's first client, person 3's email is claimed
through the phone and person 2's client takes them over (the older), and when person 1 proves the
phone shared, person 3's email moves out and the call goes its own way. Person 2 also sends a
booking form with their web client id and the desk phone. Both orders must give every person
their own events, the same reports, and live cards (Redis) with the touches the reports give."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Producer

from pipeline.card import Rules, touches_of
from pipeline.processor import Processor, processor_config
from pipeline.store import ClientStore
from sinks import clickhouse
from sinks.sink import Sink
from tests.split_scenarios import CODEC, MIN, T0, journeys, journeys_with_a_shared_tablet
from touchline import topics
from touchline.services.stack import Endpoints
from touchline.settings import Settings

pytestmark = pytest.mark.integration
LOOP = asyncio.new_event_loop()
PEOPLE = ("one@x.de", "two@x.de", "three@x.de")
REPORTS = (
    "attribution@by=channel",
    "attribution@by=campaign",
    "booking_funnel@breakdown=channel",
    "booking_outcomes",
)


def run(
    s: Settings, redis_url: str, order: list[tuple[str, bytes]], who: tuple[str, ...] = PEOPLE
) -> dict[str, Any]:
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
    live = {w: LOOP.run_until_complete(live_touches(store, s, w)) for w in who}
    counters = {w: LOOP.run_until_complete(live_counters(store, w)) for w in who}
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
    touches = {}
    for w in who:
        rows = clickhouse.query(client, "client_card", db, {"client": w})[1]
        reports["card " + w] = [json.dumps(r[1:], default=str) for r in rows]
        # (occurred_at, channel, kind, multichannel) are columns 1, 4, 3, 13 of client_card
        touches[w] = [
            (round(r[1].timestamp() * 1000), r[4], r[3] == "contact", bool(r[13])) for r in rows
        ]
    return {
        "people": sorted(sorted(p) for p in people.values()),
        "reports": reports,
        "splits": splits,
        "live": live,
        "touches": touches,
        "counters": counters,
    }


async def live_counters(store: ClientStore, email: str) -> dict[str, str]:
    """The person's live card's revenue and contacts."""
    client = await store.lookup("acc", f"email:{email}")
    card = (await store.card("acc", client or ""))["card"]
    return {
        k: v
        for k, v in card.items()
        if k.startswith("revenue:") or "c_at" in k or k in ("contact_count", "phone", "location")
    }


async def live_touches(store: ClientStore, s: Settings, email: str) -> list[tuple[Any, ...]]:
    """The touches of the person's live card (Redis), in the shape of the report's."""
    cfg = processor_config(s)
    client = await store.lookup("acc", f"email:{email}")
    card = await store.card("acc", client or "")
    rules = Rules(cfg.session_timeout_ms, cfg.lookback_ms, cfg.min_channels)
    return [(t.at, t.channel, t.is_contact, t.multichannel) for t in touches_of(card, rules)]


def both_orders(
    chdb_settings: Settings,
    services: Endpoints,
    events: list[tuple[str, bytes]],
    who: tuple[str, ...],
) -> list[dict[str, Any]]:
    """:func:`run` in event time and in reverse, each with topics and a database of its own."""
    base = chdb_settings.model_copy(update={"kafka_bootstrap": services.kafka_bootstrap})
    results = []
    for n, order in enumerate([events, events[::-1]]):
        s = base.model_copy(
            update={
                "topic_prefix": f"{base.topic_prefix}o{n}",
                "clickhouse_database": f"{base.clickhouse_database}o{n}",
                "worker_id": f"{base.worker_id}-o{n}",
            }
        )
        results.append(run(s, services.redis_url, order, who))
    return results


def test_the_shared_phone_splits_the_same_people_in_either_arrival_order(
    chdb_settings: Settings, services: Endpoints
) -> None:
    results = both_orders(chdb_settings, services, journeys(), PEOPLE)
    expected = [
        ["desk-call"],
        ["p1-profile"],
        ["p2-booking", "p2-form", "p2-order", "p2-profile", "p2-visit"],
        ["p3-profile"],
    ]
    assert results[0]["people"] == expected
    assert results[1]["people"] == expected
    # in time: person 2's identifiers claimed off person 1, the phone released; reversed: person
    # 3's email claimed off the client the call made, the phone released, the call looked up
    assert results[0]["splits"] == 2 and results[1]["splits"] == 3
    assert results[0]["reports"] == results[1]["reports"]
    # each person's live card has the touches the reports give them, in either order
    for result in results:
        assert result["live"] == result["touches"]
    # and their revenue and contacts: person 2's order is theirs, the desk call no one's
    assert results[0]["counters"] == results[1]["counters"]
    assert results[0]["counters"] == {
        "one@x.de": {},
        "two@x.de": {"revenue:EUR": "5000"},
        "three@x.de": {},
    }
    assert results[0]["live"]["two@x.de"] == [
        (T0 + 60 * MIN, "paid_search", False, False),
        (T0 + 150 * MIN, "direct", False, False),  # the form with the desk phone and their cid
    ]
    revenue = [r for r in results[0]["reports"]["attribution@by=channel"] if "paid_search" in r]
    assert revenue  # person 2's order is credited to their paid search visit


def test_a_tablet_that_proves_shared_after_the_phone_splits_the_same_in_either_order(
    chdb_settings: Settings, services: Endpoints
) -> None:
    """Person 2's first visit carried their web client id alone; the phone's split moves the
    client id, and the visit's hit, to person 2's client; then the desk tablet's client id proves
    shared too: the visit goes its own way with its hit, in the reports and on the live card, in
    either order."""
    who = (*PEOPLE, "four@x.de", "five@x.de")
    results = both_orders(chdb_settings, services, journeys_with_a_shared_tablet(), who)
    assert results[0]["people"] == results[1]["people"]
    assert ["p2-visit"] in results[0]["people"]
    assert ["p2-booking", "p2-order", "p2-profile"] in results[0]["people"]
    assert results[0]["reports"] == results[1]["reports"]
    for result in results:
        assert result["live"] == result["touches"]
    assert results[0]["counters"] == results[1]["counters"]


def test_an_event_whose_identifiers_all_prove_shared_is_placed_the_same_in_either_order(
    chdb_settings: Settings, services: Endpoints
) -> None:
    """Person 2's form carried the desk phone and the tablet's client id, both shared in the end:
    nothing names whose it is, so it is a client of its own in the reports and on the live cards,
    in either order (before 022 the reports kept it with person 1, stored before the phone's split,
    and the live card with person 2, where the client id's claim moved its hit)."""
    who = (*PEOPLE, "four@x.de", "five@x.de")
    results = both_orders(chdb_settings, services, journeys_with_a_shared_tablet(form=True), who)
    assert results[0]["people"] == results[1]["people"]
    assert ["p2-form"] in results[0]["people"]
    assert results[0]["reports"] == results[1]["reports"]
    for result in results:
        assert result["live"] == result["touches"]
