"""Two real workers share the raw topics; one is SIGKILLed mid-stream and restarted. Every
client card must still match the generator's ground truth: nothing lost, nothing counted twice."""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import redis

from pipeline.keys import account_key
from pipeline.store import ClientStore
from producers.events import Prepared, prepare
from synthetic import GeneratorConfig, generate
from tests.support import publish_raw, read_topic, touchline_process, wait_for
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.settings import Settings

pytestmark = pytest.mark.integration
ACCOUNT = "recovery-studio"


def test_sigkilled_worker_loses_nothing_and_counts_nothing_twice(
    live_settings: Settings, tmp_path: Path
) -> None:
    s = live_settings.model_copy(update={"worker_session_timeout_s": 6.0})
    contracts = load_cached(s.schemas_dir)
    codec = Codec(contracts, s.schema_registry_url)
    bootstrap = s.kafka_bootstrap or ""
    topics.ensure(bootstrap, topics.every(s, contracts), s.topic_partitions)
    generated = generate(GeneratorConfig(clients=300, seed=5, account_id=ACCOUNT))
    truth = generated.truth
    prepared = [p for e in generated.events if isinstance(p := prepare(contracts, e), Prepared)]
    assert len(prepared) == len(generated.events) - len(truth.malformed)
    expected = publish_raw(s, codec, prepared)

    def enriched_count() -> int:
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
        total = sum(
            c.get_watermark_offsets(TopicPartition(topics.enriched(s), p), timeout=5)[1]
            for p in range(s.topic_partitions)
        )
        c.close()
        return total

    with (
        touchline_process(s, "worker", log=tmp_path / "worker-a.log") as a,
        touchline_process(s, "worker", log=tmp_path / "worker-b.log"),
    ):
        wait_for(
            lambda: enriched_count() >= len(expected) // 5,
            180,
            "a fifth of the events",
            interval=0.05,
        )
        a.kill()  # SIGKILL: no shutdown, no offset commit
        a.wait()
        at_kill = enriched_count()
        assert at_kill < len(expected), "the workers finished before the kill: use more data"
        print(f"worker A SIGKILLed with {at_kill} of {len(expected)} events enriched")
        with touchline_process(s, "worker", log=tmp_path / "worker-a2.log"):
            seen: set[str] = set()

            def all_enriched() -> bool:
                for msg in read_topic(bootstrap, topics.enriched(s), enriched_count(), 30):
                    seen.add(codec.decode(msg.value())[1]["event_id"])
                return len(seen) >= len(expected)

            wait_for(all_enriched, 300, "every event enriched", interval=2)
            messages = read_topic(bootstrap, topics.enriched(s), enriched_count(), timeout=60)
    dead = read_topic(bootstrap, topics.dead_letter(s), 1, timeout=3)
    assert dead == [], [codec.decode(m.value())[1]["reason"] for m in dead]

    # Every event came out; a redelivered one came out byte for byte the same.
    by_id: dict[str, bytes] = {}
    for msg in messages:
        _, datum = codec.decode(msg.value())
        assert by_id.setdefault(datum["event_id"], msg.value()) == msg.value()
    assert set(by_id) == expected
    events = {eid: codec.decode(value)[1] for eid, value in by_id.items()}

    r = redis.Redis.from_url(s.redis_url or "")
    merged = {
        k.decode(): v.decode()
        for k, v in r.hgetall(account_key(s.topic_prefix, ACCOUNT, "merged")).items()
    }

    def canonical(client: str) -> str:
        while client in merged:
            client = merged[client]
        return client

    # Stitching: each person ends as exactly the clients a perfect stitcher would make.
    clients_of: dict[str, set[str]] = defaultdict(set)
    for eid, datum in events.items():
        clients_of[truth.event_person[eid]].add(canonical(datum["client_id"]))
    for person_id, person in truth.persons.items():
        if clients_of[person_id]:
            assert len(clients_of[person_id]) == person.fragments, person_id
    owners = Counter(c for cs in clients_of.values() for c in cs)
    assert max(owners.values()) == 1, "a client holds events of two people"

    # Cards: revenue, contacts and touches each counted exactly once.
    store = ClientStore(s.redis_url or "", s.topic_prefix)
    loop = asyncio.new_event_loop()
    cards = {c: loop.run_until_complete(store.card(ACCOUNT, c))["card"] for c in owners}
    loop.run_until_complete(store.close())
    loop.close()
    contacts_per_person = Counter(
        truth.event_person[eid] for eid, d in events.items() if d["is_contact"]
    )
    for person_id, person in truth.persons.items():
        mine = [cards[c] for c in clients_of[person_id]]
        assert sum(int(c.get("revenue:EUR", 0)) for c in mine) == person.revenue_minor, person_id
        assert sum(int(c.get("contact_count", 0)) for c in mine) == contacts_per_person[person_id]
    touches = sum(1 for d in events.values() if d["is_touch"])
    assert sum(int(c.get("touch_count", 0)) for c in cards.values()) == touches
    assert json.dumps(sorted(expected)) == json.dumps(sorted(by_id))
