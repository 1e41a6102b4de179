"""Outages raise the alerts meant for them, in a real Prometheus and Alertmanager, and the alerts
resolve after recovery.

`touchline services up` runs Prometheus (Debian's package), Alertmanager and `touchline monitor`
with configs generated for the real ports; here the rules are the shipped ones with every `for:`
and range window capped at ``CAP_S`` seconds (TOUCHLINE_ALERT_WINDOW_CAP_S) and a 1 s scrape, so
an outage shows within seconds. The pipeline's processes run as `touchline` subprocesses and
announce their own scrape targets.

* ``test_outages_fire_and_resolve`` (`make test`; the session's Kafka, a Redis of its own):
  healthy traffic leaves no alert; Redis down (TouchlineWorkerRedisRetries); sink and worker
  killed with a backlog behind them (TouchlineSinkDown, TouchlineWorkerDown,
  TouchlineConsumerGroupNoConsumer); after recovery no alert is left.
* ``test_every_outage_fires_and_resolves`` (`make test-alerts`; a Kafka of its own): the same,
  plus ClickHouse failing (each table's storage replaced by a file: TouchlineSinkInsertsFailing)
  and the broker stopped (TouchlineKafkaUnreachable, TouchlineIngestUnavailable).
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import wait_for
from tests.unit.test_api import fresh_events
from touchline import alerts, topics
from touchline.endpoints import monitoring_urls
from touchline.services import process, stack
from touchline.services.stack import Endpoints
from touchline.settings import Settings

pytestmark = pytest.mark.e2e
CAP_S = 8  # every for: and range window
FIRE_S = 90  # the longest wait for an alert to reach Alertmanager, or to resolve


class Pipeline:
    """The local stack with monitoring, and `touchline` processes on fixed metrics ports."""

    def __init__(self, settings: Settings, root: Path) -> None:
        self.settings = settings
        self.run = settings.state_dir / "run"
        self.ingest_port = process.free_port()
        self.sink_port = process.free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.endpoints: Endpoints = stack.up(settings, monitoring=True)
        topics.ready(settings, self.endpoints)
        self.am = monitoring_urls(settings)["alertmanager"]
        self.timeline: list[str] = []
        self.started = time.monotonic()

    def start(self, *names: str) -> None:
        """Start the processes together, then wait until each serves /metrics."""
        ports = {
            "ingest": self.ingest_port,
            "worker": self.settings.worker_metrics_port,
            "sink": self.sink_port,
        }
        for name in names:
            args = {
                "ingest": ["ingest", "--port", str(self.ingest_port)],
                "worker": ["worker"],
                "sink": ["sink", "--port", str(self.sink_port)],
            }[name]
            self.procs[name] = process.start(
                name,
                [sys.executable, "-m", "cli", *args],
                self.run,
                env=stack.settings_env(self.settings),
                own_settings=True,
            )
        for name in names:
            serving = functools.partial(process.port_open, ports[name])
            wait_for(serving, 60, f"{name} serving /metrics")

    def kill(self, name: str) -> None:
        """SIGKILL: a crash, so the process's scrape target stays and is down."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def post(self, n: int) -> int:
        resp = httpx.post(
            f"http://127.0.0.1:{self.ingest_port}/v1/events", json=fresh_events(n), timeout=30
        )
        return resp.status_code

    def note(self, what: str) -> None:
        self.timeline.append(f"{time.monotonic() - self.started:6.1f}s {what}")

    def firing(self) -> list[dict[str, Any]]:
        return alerts.firing(self.am)

    def wait_alert(self, name: str, **labels: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for alert in self.firing():
                got = alert["labels"]
                if got["alertname"] == name and labels.items() <= got.items():
                    return alert
            return None

        alert = wait_for(found, FIRE_S, f"{name} {labels} in Alertmanager", interval=0.5)
        self.note(f"firing   {name} {labels}: {alert['annotations']['summary']}")
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]
        return dict(alert)

    def wait_quiet(self, what: str) -> None:
        """Every alert resolved (the healthy baseline, and after each recovery)."""
        last: list[str] = []

        def quiet() -> bool:
            last[:] = [a["labels"]["alertname"] for a in self.firing()]
            return not last

        try:
            wait_for(quiet, FIRE_S, f"no alert firing {what}", interval=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; still firing: {last}") from None
        self.note(f"quiet    {what}")


def targets_up(pipeline: Pipeline, jobs: set[str]) -> bool:
    base = monitoring_urls(pipeline.settings)["prometheus"]
    active = httpx.get(f"{base}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    up = {t["labels"]["job"] for t in active if t["health"] == "up"}
    return jobs <= up and all(t["health"] == "up" for t in active)


def monitored(settings: Settings, tmp_path: Path, **update: Any) -> Settings:
    return settings.model_copy(
        update={
            "state_dir": tmp_path / "state",
            "prometheus_scrape_interval_s": 1.0,
            "alert_window_cap_s": CAP_S,
            "monitor_interval_s": 1.0,
            "worker_session_timeout_s": 6.0,
            "worker_metrics_port": process.free_port(),
            "sink_batch_seconds": 0.3,
            "local_monitoring": True,
            **update,
        }
    )


@pytest.fixture
def pipeline(live_settings: Settings, tmp_path: Path) -> Iterator[Pipeline]:
    settings = monitored(live_settings, tmp_path, redis_url=None, redis_port=0)
    try:
        yield Pipeline(settings, tmp_path)
    finally:
        stack.down(settings)  # the processes, Redis, Prometheus, Alertmanager, the monitor


def clickhouse_tables(settings: Settings) -> list[Path]:
    data = Path(settings.effective_clickhouse_dsn.removeprefix("chdb://"))
    return [p.resolve() for p in (data / "data" / settings.clickhouse_database).iterdir()]


def break_storage(tables: list[Path]) -> None:
    """ClickHouse cannot write a part: each table's data directory is replaced by a file."""
    for table in tables:
        table.rename(table.with_name(table.name + ".away"))
        table.write_bytes(b"")


def repair_storage(tables: list[Path]) -> None:
    for table in tables:
        table.unlink()
        table.with_name(table.name + ".away").rename(table)


def run_outages(p: Pipeline, clickhouse: bool, broker: bool) -> None:
    """Healthy traffic leaves no alert; each outage's alerts reach Alertmanager; after recovery
    every alert resolves."""
    p.start("ingest", "worker", "sink")
    jobs = {"touchline-ingest", "touchline-worker", "touchline-sink", "touchline-monitor"}
    wait_for(lambda: targets_up(p, jobs), 60, "every target up", interval=0.5)
    assert p.post(20) == 202
    time.sleep(CAP_S + 2)  # a whole window of healthy data
    p.wait_quiet("on healthy data")

    tables = clickhouse_tables(p.settings)
    if clickhouse:  # ClickHouse failing: the sink retries every insert
        break_storage(tables)
        assert p.post(20) == 202
        p.note("ClickHouse storage broken")
        p.wait_alert("TouchlineSinkInsertsFailing", instance=f"127.0.0.1:{p.sink_port}")
    process.stop(p.settings.state_dir / "redis" / "redis.pid")  # Redis down: the worker retries
    assert p.post(20) == 202
    p.note("Redis stopped")
    p.wait_alert("TouchlineWorkerRedisRetries")
    p.kill("sink")  # the sink crashes, and the worker, with a backlog behind it
    p.kill("worker")
    for _ in range(5):
        assert p.post(50) == 202
    p.note("sink and worker killed, 250 events posted")
    p.wait_alert("TouchlineSinkDown", instance=f"127.0.0.1:{p.sink_port}")
    shown = alerts.render(p.firing())  # what `touchline alerts` prints
    assert f"Sink 127.0.0.1:{p.sink_port} is not answering /metrics" in shown
    p.wait_alert("TouchlineWorkerDown")
    p.wait_alert("TouchlineConsumerGroupNoConsumer", role="worker", group=p.settings.worker_id)

    stack.up(p.settings, monitoring=True)  # Redis again, same port and data
    if clickhouse:
        repair_storage(tables)
    p.start("worker", "sink")
    p.note("Redis, ClickHouse, worker and sink back")
    p.wait_quiet("after recovery")
    if broker:
        broker_outage(p)


def broker_outage(p: Pipeline) -> None:
    stop = threading.Event()
    statuses: list[int] = []

    def keep_posting() -> None:  # a source that keeps sending through the outage
        while not stop.wait(0.5):
            try:
                statuses.append(p.post(2))
            except httpx.HTTPError:
                statuses.append(0)

    poster = threading.Thread(target=keep_posting, daemon=True)
    process.stop(p.settings.state_dir / "kafka" / "kafka.pid")
    p.note("broker stopped")
    poster.start()
    try:
        p.wait_alert("TouchlineKafkaUnreachable")
        p.wait_alert("TouchlineIngestUnavailable", instance=f"127.0.0.1:{p.ingest_port}")
        assert 503 in statuses
        stack.up(p.settings, monitoring=True)  # the broker again, same port and data
        p.note("broker back")
        wait_for(lambda: statuses[-3:] == [202] * 3, 90, "ingest accepting again")
    finally:
        stop.set()
        poster.join(10)
    p.wait_quiet("after the broker is back")
    # the worker ran through the outage: its repeated connection errors are rate limited
    lines = (p.run / "worker.log").read_text(errors="replace").count("\n")
    p.note(f"worker.log has {lines} lines after the outage")
    assert lines < 600


def test_outages_fire_and_resolve(pipeline: Pipeline) -> None:
    """The subset `make test` runs (on the session's Kafka): Redis down, sink and worker killed."""
    run_outages(pipeline, clickhouse=False, broker=False)
    print("\n".join(pipeline.timeline))


@pytest.mark.slow_e2e
def test_every_outage_fires_and_resolves(live_settings: Settings, tmp_path: Path) -> None:
    """All of it on a Kafka of its own (`make test-alerts`): also ClickHouse failing and the
    broker stopped."""
    settings = monitored(
        live_settings,
        tmp_path,
        kafka_bootstrap=None,
        kafka_port=0,
        redis_url=None,
        redis_port=0,
        schema_registry_url=None,
        local_registry=False,
    )
    try:
        p = Pipeline(settings, tmp_path)
        run_outages(p, clickhouse=True, broker=True)
        print("\n".join(p.timeline))
    finally:
        stack.down(settings)
