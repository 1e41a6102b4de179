"""Topics are created with the configured replication factor (TOUCHLINE_TOPIC_REPLICATION_FACTOR):
on the single test broker, 1 is created and a factor of 2 is refused by Kafka itself."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from touchline import topics
from touchline.settings import Settings


def test_topics_get_the_configured_replication_factor(live_settings: Settings) -> None:
    bootstrap = live_settings.kafka_bootstrap or ""
    one, two = f"{live_settings.topic_prefix}.rf1", f"{live_settings.topic_prefix}.rf2"
    s = live_settings.model_copy(update={"topic_replication_factor": 1})
    topics.ensure(bootstrap, [one], 1, replication_factor=s.topic_replication_factor)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    meta = admin.list_topics(one, timeout=10).topics[one]
    assert {len(p.replicas) for p in meta.partitions.values()} == {1}
    config = admin.describe_configs([ConfigResource("topic", one)])
    values = next(iter(config.values())).result(10)
    assert values["max.message.bytes"].value == str(live_settings.kafka_max_message_bytes)
    with pytest.raises(RuntimeError, match=f"could not create topic {two}.*[Rr]eplication"):
        topics.ensure(bootstrap, [two], 1, replication_factor=2)
    admin.delete_topics([one])


def test_replicated_topics_keep_writes_with_one_broker_down() -> None:
    assert topics.topic_config(1024, 1) == {"max.message.bytes": "1024"}
    assert topics.topic_config(1024, 3) == {"max.message.bytes": "1024", "min.insync.replicas": "2"}
