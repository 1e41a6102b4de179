"""The producers' record batch size (librdkafka ``batch.size``) from the topics' own
``max.message.bytes``.

Kafka checks that limit per record batch and refuses the whole batch: one oversize message would
take every message batched with it, and the worker would dead-letter their inputs. With batches
no larger than the smallest limit of the topics a producer writes, a batch over the limit holds a
single message (librdkafka gives a message larger than ``batch.size`` a batch of its own), so only
the oversize message is refused. The limits are read when the producer starts; ingest also
produces an event refused for its size again on its own (producers/ingest.py), which covers a
limit lowered while it runs.
"""

from __future__ import annotations

import logging

from confluent_kafka.admin import AdminClient, ConfigResource

log = logging.getLogger(__name__)

LIBRDKAFKA_BATCH_BYTES = 1_000_000  # librdkafka's own default batch.size
HEADROOM = 0.95  # room for framing, and for compression growing incompressible data a little
DESCRIBE_TIMEOUT_S = 5.0  # how long a start waits for the limits before using the setting


def batch_bytes(limit: int) -> int:
    """``batch.size`` for topics that take at most ``limit`` bytes per record batch."""
    return max(1, min(LIBRDKAFKA_BATCH_BYTES, int(limit * HEADROOM)))


def topic_limits(
    bootstrap: str, names: list[str], timeout_s: float = DESCRIBE_TIMEOUT_S
) -> dict[str, int]:
    """``max.message.bytes`` of each of ``names`` that exists and answers within the timeout."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
    limits: dict[str, int] = {}
    try:
        futures = admin.describe_configs(resources, request_timeout=timeout_s)
    except Exception as exc:  # Kafka away: the caller falls back to the setting
        log.warning("could not read the topics' max.message.bytes: %s", exc)
        return limits
    for resource, future in futures.items():
        try:
            entry = future.result(timeout=timeout_s).get("max.message.bytes")
        except Exception as exc:  # a topic not created yet, or Kafka away
            log.info("max.message.bytes of %s unknown: %s", resource.name, exc)
            continue
        if entry is not None and entry.value is not None:
            limits[resource.name] = int(entry.value)
    return limits


def for_topics(bootstrap: str, names: list[str], fallback: int) -> int:
    """``batch.size`` for a producer writing ``names``: their smallest limit, else ``fallback``
    (``TOUCHLINE_KAFKA_MAX_MESSAGE_BYTES``, what the project creates its topics with)."""
    return batch_bytes(min([*topic_limits(bootstrap, names).values(), fallback]))
