"""Shared fixtures: each real service is started once per session; each test gets its own topic
prefix, Redis key prefix, consumer group and ClickHouse database."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.nodes import NodeId

from tests.redis_cluster import redis_cluster  # noqa: F401 (a session fixture: 3-node cluster)
from touchline.services.stack import Endpoints
from touchline.settings import Settings


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--bench", action="store_true", help="run the benchmarks in tests/bench")
    parser.addoption("--slow-e2e", action="store_true", help="run the slow_e2e tests too")


def unique_node_ids(items: list[pytest.Item]) -> None:
    """Schemathesis gives each API operation's test (``test_openapi_conformance[POST /v1/events]``)
    the node id of the function: pytest-xdist (``make test``) runs one item per node id, so nine
    of the ten ran nowhere. Each such item gets its name as its node id; any other duplicate
    stops the session instead of dropping tests silently."""
    for item in items:
        head, sep, last = item.nodeid.rpartition("::")
        if sep and last != item.name and item.name.startswith(last + "["):
            # pytest 9 keeps a node id as a NodeId in _id (schemathesis sets the _nodeid before)
            item._id = NodeId.parse(f"{head}::{item.name}")  # type: ignore[attr-defined]
    twice = [i for i, n in Counter(item.nodeid for item in items).items() if n > 1]
    if twice:
        raise pytest.UsageError(f"tests with one node id run once under pytest-xdist: {twice[:3]}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unique_node_ids(items)
    if not config.getoption("--slow-e2e"):
        slow = pytest.mark.skip(reason="slow end-to-end: run with `make test-alerts` (--slow-e2e)")
        for item in items:
            if "slow_e2e" in item.keywords:
                item.add_marker(slow)
    if config.getoption("--bench"):
        return
    skip = pytest.mark.skip(reason="benchmark: run with `make bench` (pytest --bench)")
    for item in items:
        if "bench" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    """Kafka and Redis for the whole session: from the environment, testcontainers (opt-in with
    TOUCHLINE_TEST_CONTAINERS=1 and Docker), or the project's own local stack in a temp dir."""
    base = Settings()
    if base.kafka_bootstrap and base.redis_url:
        yield Endpoints(base.kafka_bootstrap, base.redis_url, "", base.schema_registry_url)
        return
    if base.test_containers:
        from testcontainers.kafka import KafkaContainer
        from testcontainers.redis import RedisContainer

        with KafkaContainer() as kafka, RedisContainer() as redis:
            host = redis.get_container_host_ip()
            url = f"redis://{host}:{redis.get_exposed_port(6379)}/0"
            yield Endpoints(kafka.get_bootstrap_server(), url, "", None)
        return
    from touchline.services import stack

    state = tmp_path_factory.mktemp("stack")
    settings = Settings(state_dir=state, kafka_port=0, redis_port=0)
    try:
        endpoints = stack.up(settings)
        yield endpoints
    finally:
        stack.down(settings)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def settings(tmp_path: Path, unique: str) -> Settings:
    """Settings isolated for one test: own topics, keys, consumer groups and chDB directory."""
    return Settings(
        state_dir=tmp_path / "state",
        topic_prefix=f"t{unique}",
        worker_id=f"touchline-test-{unique}",
        clickhouse_dsn=f"chdb://{tmp_path / 'clickhouse'}",
        clickhouse_database=f"t{unique}",
        topic_partitions=2,
    )


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """chDB opens one data directory per process: tests that use chDB in-process share this one
    (each with its own database); `touchline` subprocesses get the per-test directory."""
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def chdb_settings(settings: Settings, chdb_dir: Path) -> Settings:
    return settings.model_copy(update={"clickhouse_dsn": f"chdb://{chdb_dir}"})


@pytest.fixture
def live_settings(settings: Settings, services: Endpoints) -> Settings:
    """Test settings pointing at the session's real services (for subprocesses via env)."""
    return settings.model_copy(
        update={
            "kafka_bootstrap": services.kafka_bootstrap,
            "redis_url": services.redis_url,
            "schema_registry_url": services.schema_registry_url,
            "local_registry": services.schema_registry_url is not None,
        }
    )
