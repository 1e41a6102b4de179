"""Retention from the settings (issue 12): raw and dead-letter topics get retention.ms when the
pipeline makes sure its topics exist, and ClickHouse tables a TTL per table (0 removes it).
Real Kafka and chDB."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from sinks import clickhouse, retention
from tests.support import wait_for
from touchline import topics
from touchline.contracts import load_cached
from touchline.errors import TouchlineError
from touchline.settings import Settings


def _retention(bootstrap: str, topic: str) -> str:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ResourceType.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=15)
    return str(configs["retention.ms"].value)


def test_topic_retention_follows_the_settings(live_settings: Settings) -> None:
    s = live_settings.model_copy(
        update={"raw_retention_ms": 3_600_000, "dead_letter_retention_ms": 7_200_000}
    )
    topics.ready(s)
    bootstrap = s.kafka_bootstrap or ""
    raw = topics.all_raw(s, load_cached(s.schemas_dir))[0]
    # the broker applies a config change a moment after acknowledging it
    wait_for(lambda: _retention(bootstrap, raw) == "3600000", 30, "raw retention")
    wait_for(lambda: _retention(bootstrap, topics.dead_letter(s)) == "7200000", 30, "dlq")
    assert _retention(bootstrap, topics.enriched(s)) != "3600000"  # not a raw topic
    topics.ready(s.model_copy(update={"raw_retention_ms": -1}))  # changed on an existing topic
    wait_for(lambda: _retention(bootstrap, raw) == "-1", 30, "raw retention changed")


def test_clickhouse_ttl_per_table_is_set_and_removed(chdb_settings: Settings) -> None:
    client = clickhouse.connect(chdb_settings.effective_clickhouse_dsn)
    db = chdb_settings.clickhouse_database
    clickhouse.migrate(client, db)

    def engine(table: str) -> str:
        sql = (
            "SELECT engine_full FROM system.tables "
            "WHERE database = {d:String} AND name = {t:String}"
        )
        return str(client.query(sql, parameters={"d": db, "t": table}).result_rows[0][0])

    applied = retention.apply_ttl(client, db, {"events": 30, "identity_merges": 400})
    assert applied["events"] == 30 and applied["touches"] == 0
    assert "TTL toDateTime(occurred_at) + toIntervalDay(30)" in engine("events")
    assert "TTL toDateTime(merged_at) + toIntervalDay(400)" in engine("identity_merges")
    assert " TTL " not in engine("touches")
    retention.apply_ttl(client, db, {"events": 0})
    assert " TTL " not in engine("events")
    with pytest.raises(TouchlineError, match="no table 'event'"):
        retention.apply_ttl(client, db, {"event": 5})
