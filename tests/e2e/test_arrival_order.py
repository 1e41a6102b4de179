"""Arrival order does not change the numbers: the same generated journeys (identity hints that
merge clients mid-visit, calls, CRM rows, studio events) are produced to Kafka in event time and
in shuffled orders with random batch sizes, with one worker and with two, then every report
(ClickHouse) and every person's live card (Redis) must come out the same as in event time, and
equal to the plain-Python reference computed in event time (``reference/``: the same events
through the worker's steps oldest first over the in-memory store, the reports recomputed).

Real Kafka, Redis and ClickHouse (chDB), `touchline worker` and `touchline sink` processes.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from pipeline.card import Rules, touches_of
from pipeline.client_ids import own_client_id
from pipeline.processor import processor_config
from pipeline.store import ClientStore
from producers.events import Prepared, prepare
from producers.publisher import Message, Publisher
from reference import event_time
from sinks import clickhouse, parameters
from synthetic import GeneratorConfig, generate
from tests.support import drained, settings_env, touchline_process, wait_for
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.identity import extract
from touchline.settings import Settings

pytestmark = pytest.mark.e2e
ACCOUNT = "demo-studio"
# (shuffled?, workers): event time with one worker is the baseline
RUNS = [(False, 1), (True, 1), (True, 2)]
QUERIES = (
    "booking_funnel",
    "booking_outcomes",
    "attribution",
    "appointments",
    "classes",
    "class_cancellations",
    "engagement",
    "experiments",
    "feedback",
    # breakdowns that depend on sessions and touches, derived in event time
    "booking_funnel@breakdown=channel",
    "booking_funnel@breakdown=campaign",
    "booking_outcomes@breakdown=channel",
    "attribution@by=campaign",
    "engagement@breakdown=channel",
)
REPORT_SCRIPT = """
import json, sys
from sinks import clickhouse
client, db, names = clickhouse.connect(sys.argv[1]), sys.argv[2], sys.argv[3].split(",")
out = {}
for name in names:
    query, _, given = name.partition("@")
    params = dict(kv.split("=", 1) for kv in given.split("&") if kv)
    columns, rows = clickhouse.query(client, query, db, params)
    out[name] = sorted(json.dumps(r, default=str) for r in rows)
for email in sys.argv[4].split(","):
    columns, rows = clickhouse.query(client, "client_summary", db, {"client": email})
    out["card " + email] = [json.dumps(r[3:], default=str) for r in rows]  # ids vary by order
    columns, rows = clickhouse.query(client, "client_card", db, {"client": email})
    # (occurred_at, channel, kind, multichannel) are columns 1, 4, 3, 13 of client_card
    out["touches " + email] = [[round(r[1].timestamp() * 1000), r[4], r[3] == "contact",
                                bool(r[13])] for r in rows]
splits = client.query(f"SELECT kind, count() FROM `{db}`.identity_splits FINAL GROUP BY kind")
out["splits"] = dict(splits.result_rows)  # how many, by kind: they depend on arrival order
print(json.dumps(out))
"""


def journeys() -> tuple[list[tuple[str, bytes, bytes]], dict[str, str]]:
    """(family topic, key, Avro value) of each generated event in event time, and one
    identifier per person for looking their card up."""
    # households: 3 in 10 people give a family's landline (shared, so merges through it are
    # split, in whichever order its profiles arrive), most of them on the family tablet (shared
    # too: a call from it with the landline is nobody's but its own)
    config = GeneratorConfig(clients=25, seed=27, account_id=ACCOUNT, household_share=0.3)
    generated = generate(config)
    contracts = load_cached(Settings().schemas_dir)
    codec = Codec(contracts)
    out = []
    start = min(e["envelope"]["occurred_at"] for e in generated.events)
    for event in [*generated.events, *paid_visits_then_booking(start)]:
        p = prepare(contracts, event, event["envelope"]["occurred_at"])
        if isinstance(p, Prepared):
            out.append((p.family.topic, p.key, codec.encode(p.family.name, p.datum)))
    people = {}
    for pid, person in generated.truth.persons.items():
        keys = extract({"email": person.email, "cid": (person.cids or [None])[0]}).keys()
        if keys:
            people[pid] = keys[0]
    return out, people


LANDING = "https://studio.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring"


def paid_visits_then_booking(start: int) -> list[dict[str, Any]]:
    """Visits whose booking steps carry no campaign of their own: a paid-search landing page,
    then the booking widget 3 minutes later. The booking's channel and campaign are the visit's
    (paid_search, "spring") only if the page view is seen first in event time, whatever order
    they arrive in."""
    out: list[dict[str, Any]] = []
    for i in range(8):
        at, cid = start + 86_400_000 + i * 3_600_000, f"90{i}1.90{i}2"
        page = {"page_url": LANDING, "landing_page": LANDING, "referrer": "https://www.google.com/"}
        view = _envelope(i, 0, at, cid, "page_view", "web", page)
        out.append({"envelope": view, "page_title": "Studio", "time_on_page_ms": 1000})
        for n, step in enumerate(("start", "step_stores_and_services"), start=3):
            env = _envelope(i, n, at, cid, f"appointment_booking_{step}", "booking_widget", {})
            out.append({"envelope": env, "conversion_id": f"paid-{i}", "appointments": []})
    return out


def _envelope(
    i: int, n: int, at: int, cid: str, event_type: str, source: str, web: dict[str, str]
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.UUID(int=(0x9000 + i) << 64 | n)),
        "event_type": event_type,
        "occurred_at": at + n * 60_000,
        "source": source,
        "account_id": ACCOUNT,
        "ids": {"cid": cid},
        "web": {"user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0", **web},
    }


def produce(s: Settings, events: list[tuple[str, bytes, bytes]], rnd: random.Random | None) -> None:
    publisher = Publisher(s.kafka_bootstrap or "")
    try:
        i = 0
        while i < len(events):
            size = rnd.randint(1, 400) if rnd else 500
            publisher.publish_sync(
                [Message(topics.raw(s, t), k, v) for t, k, v in events[i : i + size]]
            )
            i += size
    finally:
        publisher.close()


def one_run(base: Settings, tmp: Path, shuffled: bool, workers: int, seed: int) -> dict[str, Any]:
    """Produce, process with ``workers`` workers and a sink until drained; the reports and cards."""
    unique = uuid.uuid4().hex[:8]
    s = base.model_copy(
        update={
            "topic_prefix": f"order{unique}",
            "worker_id": f"order-{unique}",
            "clickhouse_dsn": f"chdb://{tmp / unique / 'clickhouse'}",
            "clickhouse_database": "orders",
            "state_dir": tmp / unique / "state",
            "worker_session_timeout_s": 6.0,
        }
    )
    contracts = load_cached(s.schemas_dir)
    topics.ensure(s.kafka_bootstrap or "", topics.every(s, contracts), s.topic_partitions)
    events, people = journeys()
    rnd = random.Random(seed) if shuffled else None
    if rnd is not None:
        rnd.shuffle(events)
    produce(s, events, rnd)
    groups = {
        s.worker_id: topics.all_raw(s, contracts),
        f"{s.worker_id}-sink": [topics.enriched(s), topics.merges(s)],
    }
    with ExitStack() as stack:
        for w in range(workers):
            stack.enter_context(touchline_process(s, "worker", log=tmp / unique / f"w{w}.log"))
        stack.enter_context(touchline_process(s, "sink", log=tmp / unique / "sink.log"))
        wait_for(lambda: drained(s, groups), 240, "the worker(s) and the sink to drain", 2)
    got = reports(s, people)
    return {"splits": got.pop("splits"), "reports": got, "cards": cards(s, people)}


def reports(s: Settings, people: dict[str, str]) -> dict[str, Any]:
    emails = sorted(k.split(":", 1)[1] for k in people.values() if k.startswith("email:"))
    done = subprocess.run(
        [sys.executable, "-c", REPORT_SCRIPT, s.effective_clickhouse_dsn, s.clickhouse_database,
         ",".join(QUERIES), ",".join(emails)],
        capture_output=True, text=True, env=settings_env(s), timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, f"reports failed: {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def cards(s: Settings, people: dict[str, str]) -> dict[str, Any]:
    import asyncio

    cfg = processor_config(s)
    rules = Rules(cfg.session_timeout_ms, cfg.lookback_ms, cfg.min_channels)

    async def read() -> dict[str, Any]:
        store = ClientStore(s.redis_url or "", s.topic_prefix)
        try:
            out = {}
            for pid, key in people.items():
                client = await store.lookup(ACCOUNT, key)
                card = await store.card(ACCOUNT, client or "")
                out[pid] = [
                    [t.at, t.event_id, t.channel, t.is_contact, t.multichannel]
                    for t in touches_of(card, rules)
                ]
            return out
        finally:
            await store.close()

    return asyncio.run(read())


def reference(s: Settings, people: dict[str, str]) -> dict[str, Any]:
    """The reports of QUERIES and each person's card touches from the reference, in the shapes
    ``reports`` gives."""
    stored = event_time.process((value for _, _, value in journeys()[0]), s)

    def expected(query: str, params: dict[str, str]) -> list[tuple[Any, ...]]:
        resolved = parameters.resolve(clickhouse.query_sql(query), params)
        return event_time.expected(stored, query, resolved)

    out: dict[str, Any] = {"own": own_events(stored)}
    for name in QUERIES:
        query, _, given = name.partition("@")
        rows = expected(query, dict(kv.split("=", 1) for kv in given.split("&") if kv))
        out[name] = sorted(json.dumps(list(r), default=str) for r in rows)
    for key in people.values():
        if key.startswith("email:"):
            touches = event_time.card_touches(stored, ACCOUNT, key[6:])
            out["touches " + key[6:]] = [list(t) for t in touches]
    return out


def own_events(stored: event_time.Stored) -> int:
    """How many events with two or more identifiers, all shared, are each a client of its own."""
    return sum(
        len([k for k in ("cid", "email", "phone") if e.get(k)] + list(e.get("external_ids") or []))
        >= 2
        and e["client_id"] == own_client_id(e["account_id"], e["event_id"])
        for e in stored.canonical()
    )


def normal(value: Any) -> Any:
    """JSON text parsed, with whole floats as ints (a rate of 0 is 0.0 in ClickHouse)."""
    if isinstance(value, str) and value[:1] in "[{":
        return normal(json.loads(value))
    if isinstance(value, list):
        return [normal(v) for v in value]
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    return int(value) if isinstance(value, float) and value.is_integer() else value


def comparable(rows: list[Any]) -> list[str]:
    return sorted(json.dumps(normal(row)) for row in rows)


def test_reports_and_cards_do_not_depend_on_arrival_order(
    live_settings: Settings, tmp_path: Path
) -> None:
    results = [
        one_run(live_settings, tmp_path, shuffled, workers, seed)
        for seed, (shuffled, workers) in enumerate(RUNS)
    ]
    baseline = results[0]
    assert sum(len(t) for t in baseline["cards"].values()) > 40, "too few touches to test"
    # the live card (Redis) and the client_card report (ClickHouse) agree on every touch
    for pid, key in journeys()[1].items():
        if key.startswith("email:"):
            live = [
                [at, ch, contact, multi] for at, _, ch, contact, multi in baseline["cards"][pid]
            ]
            assert live == baseline["reports"]["touches " + key[6:]], f"card of {pid}"
    assert all(baseline["reports"][q] for q in ("booking_funnel", "attribution", "appointments"))
    # the households' landlines proved shared after merging people: the splits were exercised
    assert baseline["splits"].get("claim", 0) > 0 and baseline["splits"].get("release", 0) > 0
    expected, got0 = reference(live_settings, journeys()[1]), baseline["reports"]
    assert expected.pop("own") > 0  # and some calls from a family's tablet and landline
    off = [name for name in expected if comparable(expected[name]) != comparable(got0[name])]
    assert not off, f"event-time run differs from the plain-Python reference: {off}"
    for (shuffled, workers), got in zip(RUNS[1:], results[1:], strict=True):
        what = f"{'shuffled' if shuffled else 'event-time'} arrival, {workers} worker(s)"
        differ = [
            name
            for name in baseline["reports"]
            if got["reports"][name] != baseline["reports"][name]
        ]
        assert not differ, f"{what}: reports differ from event time: {differ}"
        cards_differ = [p for p in baseline["cards"] if got["cards"][p] != baseline["cards"][p]]
        assert not cards_differ, f"{what}: {len(cards_differ)} cards differ from event time"
