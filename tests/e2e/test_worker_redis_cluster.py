"""`touchline worker` with TOUCHLINE_REDIS_URL=redis+cluster://... (the 3-node cluster of
tests/redis_cluster.py): generated journeys of accounts on every node go in through the raw
topics and all come out enriched, none dead-lettered, each account's cards on its own node."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, TopicPartition

from pipeline.keys import account_base
from producers.events import Prepared, prepare
from synthetic import GeneratorConfig, generate
from tests.redis_cluster import accounts_per_node
from tests.support import publish_raw, read_topic, touchline_process
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.settings import Settings

pytestmark = pytest.mark.integration


def messages_in(bootstrap: str, topic: str) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    partitions = c.list_topics(topic, timeout=10).topics[topic].partitions
    total = sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1] for p in partitions)
    c.close()
    return total


def test_a_worker_on_a_redis_cluster_enriches_every_event(
    live_settings: Settings, redis_cluster: str, tmp_path: Path
) -> None:
    s = live_settings.model_copy(update={"redis_url": redis_cluster})
    contracts = load_cached(s.schemas_dir)
    codec = Codec(contracts, s.schema_registry_url)
    bootstrap = s.kafka_bootstrap or ""
    topics.ensure(bootstrap, topics.every(s, contracts), s.topic_partitions)
    placed = accounts_per_node(redis_cluster, s.topic_prefix, per_node=1)
    prepared = []
    for seed, account in enumerate(placed):
        generated = generate(GeneratorConfig(clients=30, seed=seed, account_id=account))
        prepared += [
            p for e in generated.events if isinstance(p := prepare(contracts, e), Prepared)
        ]
    expected = publish_raw(s, codec, prepared)

    with touchline_process(s, "worker", log=tmp_path / "worker.log"):
        enriched = read_topic(bootstrap, topics.enriched(s), len(expected), 120)

    assert {codec.decode(m.value())[1]["event_id"] for m in enriched} == expected
    assert messages_in(bootstrap, topics.dead_letter(s)) == 0
    for account, port in placed.items():
        for node in set(placed.values()):
            client = redis.Redis(port=node)
            cards = list(client.scan_iter(match=account_base(s.topic_prefix, account) + "card:*"))
            client.close()
            assert bool(cards) == (node == port), (account, node, port)
