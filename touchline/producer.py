"""The Kafka producer configuration every Touchline process starts from: idempotent, ``acks=all``,
lz4, a short linger. Ingest, import, the generator and the worker pass their own overrides."""

from __future__ import annotations

from typing import Any


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        "compression.type": "lz4",
        "message.timeout.ms": 30000,
        "queue.buffering.max.messages": 200000,
        "log_level": 3,
    }
    config.update(overrides)
    return config
