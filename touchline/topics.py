"""Kafka topic names, and creating them with the project's partition count."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewTopic

from touchline import retention
from touchline.contracts import Contracts, family_topics, load_cached
from touchline.endpoints import Endpoints, endpoints
from touchline.settings import Settings


def raw(settings: Settings, family_topic: str) -> str:
    return settings.topic(f"raw.{family_topic}")


def all_raw(settings: Settings, contracts: Contracts) -> list[str]:
    return [raw(settings, t) for t in family_topics(contracts)]


def enriched(settings: Settings) -> str:
    return settings.topic("enriched")


def merges(settings: Settings) -> str:
    return settings.topic("merges")


def dead_letter(settings: Settings) -> str:
    return settings.topic("deadletter")


def every(settings: Settings, contracts: Contracts) -> list[str]:
    return [
        *all_raw(settings, contracts),
        enriched(settings),
        merges(settings),
        dead_letter(settings),
    ]


DEFAULT_MAX_MESSAGE_BYTES = Settings.model_fields["kafka_max_message_bytes"].default
DEFAULT_REPLICATION_FACTOR = Settings.model_fields["topic_replication_factor"].default


def ensure(
    bootstrap: str,
    names: list[str],
    partitions: int,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    replication_factor: int = DEFAULT_REPLICATION_FACTOR,
) -> None:
    """Create the topics that do not exist yet (idempotent), each with an explicit
    ``max.message.bytes`` (the broker's default, about 1 MB, is too small for the enriched form
    of a large event: such an output could never be produced) and ``replication_factor`` copies
    (with more than one, ``min.insync.replicas`` is one less: an acks=all write survives one
    broker down)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    existing = set(admin.list_topics(timeout=10).topics)
    missing = [
        NewTopic(
            n,
            num_partitions=partitions,
            replication_factor=replication_factor,
            config=topic_config(max_message_bytes, replication_factor),
        )
        for n in names
        if n not in existing
    ]
    if not missing:
        return
    for name, future in admin.create_topics(missing, request_timeout=15).items():
        try:
            future.result()
        except Exception as exc:  # already created by a concurrent caller is fine
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise RuntimeError(f"could not create topic {name}: {exc}") from exc


def topic_config(max_message_bytes: int, replication_factor: int) -> dict[str, str]:
    config = {"max.message.bytes": str(max_message_bytes)}
    if replication_factor > 1:
        config["min.insync.replicas"] = str(replication_factor - 1)
    return config


def ready(settings: Settings, where: Endpoints | None = None) -> tuple[Endpoints, Contracts]:
    """Where the services are and the contracts, with every topic of the pipeline created."""
    where = where or endpoints(settings)
    contracts = load_cached(settings.schemas_dir)
    ensure(
        where.kafka_bootstrap,
        every(settings, contracts),
        settings.topic_partitions,
        settings.kafka_max_message_bytes,
        settings.topic_replication_factor,
    )
    retention.apply(where.kafka_bootstrap, settings, contracts)
    return where, contracts
