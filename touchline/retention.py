"""Kafka retention of the raw and dead-letter topics, from the settings
(``TOUCHLINE_RAW_RETENTION_MS``, ``TOUCHLINE_DEAD_LETTER_RETENTION_MS``), set on the topics
whenever the pipeline makes sure they exist (``touchline.topics.ready``)."""

from __future__ import annotations

from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from touchline.contracts import Contracts, family_topics
from touchline.settings import Settings


def plan(settings: Settings, contracts: Contracts) -> dict[str, int]:
    """topic -> retention.ms the settings ask for."""
    raw = {settings.topic(f"raw.{t}"): settings.raw_retention_ms for t in family_topics(contracts)}
    return {**raw, settings.topic("deadletter"): settings.dead_letter_retention_ms}


def apply(bootstrap: str, settings: Settings, contracts: Contracts) -> dict[str, int]:
    """Set retention.ms on each topic (incremental: other topic configs stay as they are)."""
    wanted = plan(settings, contracts)
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    resources = [
        ConfigResource(
            ResourceType.TOPIC,
            topic,
            incremental_configs=[
                ConfigEntry("retention.ms", str(ms), incremental_operation=AlterConfigOpType.SET)
            ],
        )
        for topic, ms in wanted.items()
    ]
    for resource, future in admin.incremental_alter_configs(resources).items():
        try:
            future.result(timeout=15)
        except Exception as exc:
            raise RuntimeError(f"could not set retention.ms on {resource.name}: {exc}") from exc
    return wanted
