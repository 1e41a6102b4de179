"""The local stack starts healthy and `services down` leaves no process or port behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from touchline.services import process, stack
from touchline.settings import Settings

pytestmark = pytest.mark.integration


def test_down_leaves_no_process_or_port_behind(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path / "state",
        kafka_bootstrap=None,
        redis_url=None,
        schema_registry_url=None,
        local_registry=False,
        kafka_port=0,
        redis_port=0,
    )
    endpoints = stack.up(settings)
    status = stack.status(settings)
    assert status["kafka"].startswith("up") and status["redis"].startswith("up")
    pids = [int(p.read_text()) for p in settings.state_dir.glob("**/*.pid")]
    ports = [
        int(endpoints.kafka_bootstrap.rsplit(":", 1)[1]),
        int(endpoints.redis_url.rsplit(":", 1)[1].split("/")[0]),
    ]
    assert len(pids) == 2
    assert stack.up(settings) == endpoints  # idempotent: nothing started twice

    assert sorted(stack.down(settings)) == ["kafka", "redis"]
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not any(process.port_open(port) for port in ports)
    assert stack.status(settings)["kafka"] == "stopped"
    assert stack.down(settings) == []


def test_kafka_storage_formats_with_a_cluster_id_that_begins_with_a_dash(tmp_path: Path) -> None:
    """A random cluster id begins with "-" about once in 64; `format -t -Abc…` read it as an
    option and the first start of a fresh state directory failed."""
    from touchline.services import kafka

    config = tmp_path / "server.properties"
    config.write_text(
        "process.roles=broker,controller\nnode.id=1\n"
        "controller.quorum.voters=1@127.0.0.1:19093\n"
        "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093\n"
        "controller.listener.names=CONTROLLER\n"
        f"log.dirs={tmp_path / 'data'}\n"
    )
    jvm = [kafka.require_java(), "-cp", kafka.classpath(Settings())]
    kafka.format_storage(jvm, config, "-AbCdEfGhIjKlMnOpQrStUv"[:22])
    meta = (tmp_path / "data" / "meta.properties").read_text()
    assert "cluster.id=-AbCdEfGhIjKlMnOpQrStU" in meta
