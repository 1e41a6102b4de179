"""Where each service is reached: the environment first (``TOUCHLINE_KAFKA_BOOTSTRAP``,
``TOUCHLINE_REDIS_URL``, ``TOUCHLINE_SCHEMA_REGISTRY_URL``), else the ports the local stack
(``touchline.services``) recorded in ``<state_dir>/services.json`` when it started them.

This is runtime configuration, read by every process; starting and stopping services is the local
stack's business, and nothing here imports it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from touchline.errors import TouchlineError
from touchline.settings import Settings

# Path of the Confluent-compatible API of the local Apicurio registry.
REGISTRY_API = "/apis/ccompat/v7"


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    redis_url: str
    clickhouse_dsn: str
    schema_registry_url: str | None


def state_file(settings: Settings) -> Path:
    """The local stack's record of the ports it chose."""
    return settings.state_dir / "services.json"


def load_state(settings: Settings) -> dict[str, Any]:
    try:
        return dict(json.loads(state_file(settings).read_text()))
    except FileNotFoundError:
        return {}


def local_registry_url(port: int) -> str:
    return f"http://127.0.0.1:{port}{REGISTRY_API}"


def endpoints(settings: Settings) -> Endpoints:
    """Where each service is, from the environment first, else from the local stack's state."""
    state = load_state(settings)
    bootstrap = settings.kafka_bootstrap
    if bootstrap is None:
        if "kafka" not in state:
            raise TouchlineError(
                "no Kafka: run `touchline services up` or set TOUCHLINE_KAFKA_BOOTSTRAP"
            )
        bootstrap = f"127.0.0.1:{state['kafka']['port']}"
    redis_url = settings.redis_url
    if redis_url is None:
        if "redis" not in state:
            raise TouchlineError("no Redis: run `touchline services up` or set TOUCHLINE_REDIS_URL")
        redis_url = f"redis://127.0.0.1:{state['redis']['port']}/0"
    registry_url = settings.schema_registry_url
    if registry_url is None and settings.local_registry and "registry" in state:
        registry_url = local_registry_url(state["registry"]["port"])
    return Endpoints(
        kafka_bootstrap=bootstrap,
        redis_url=redis_url,
        clickhouse_dsn=settings.effective_clickhouse_dsn,
        schema_registry_url=registry_url,
    )


def monitoring_urls(settings: Settings) -> dict[str, str]:
    """Where the local Prometheus and Alertmanager answer (empty if they never started)."""
    state = load_state(settings)
    return {
        name: f"http://127.0.0.1:{state[name]['port']}"
        for name in ("prometheus", "alertmanager")
        if name in state
    }
