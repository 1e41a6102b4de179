"""`touchline report` end to end: while `touchline sink` owns the chDB directory the report runs
through the sink's loopback endpoint; after the sink stops it opens chDB itself. Same answers,
equal to the plain-Python reference."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer

import reference as ref
from sinks import clickhouse
from tests.report_data import generate
from tests.support import settings_env, touchline_process, wait_for
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import ENRICHED, MERGE, load_cached
from touchline.settings import Settings

pytestmark = pytest.mark.integration


def _report(s: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "report", *args],
        env=settings_env(s),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_report_runs_through_the_sink_then_on_its_own(
    live_settings: Settings, tmp_path: Path
) -> None:
    s = live_settings
    codec = Codec(load_cached(s.schemas_dir))
    topics.ensure(
        s.kafka_bootstrap or "", [topics.enriched(s), topics.merges(s), topics.dead_letter(s)], 2
    )
    data = generate(seed=5, clients=40)
    producer = Producer({"bootstrap.servers": s.kafka_bootstrap})
    for e in data.events:
        producer.produce(topics.enriched(s), codec.encode(ENRICHED, e))
    for m in data.merges:
        producer.produce(topics.merges(s), codec.encode(MERGE, m))
    producer.flush(30)
    status = s.state_dir / "run" / "sink.status.json"
    args = [
        "booking_funnel",
        "--format",
        "json",
        "--breakdown",
        "store",
        "--window-days",
        "1",
        "--from",
        "2025-01-01",
        "--to",
        "2025-12-31",
    ]
    expected = ref.booking_funnel(
        ref.canonical(data.events, data.merges),
        {
            "account": "",
            "from": date(2025, 1, 1),
            "to": date(2025, 12, 31),
            "location": "",
            "service": "",
            "breakdown": "store",
            "profiles": 0,
            "strict": 0,
            "window_ms": 86_400_000,
        },
    )
    with touchline_process(s, "sink", log=tmp_path / "sink.log"):
        wait_for(
            lambda: (
                status.is_file()
                and json.loads(status.read_text() or "{}").get("rows_written") == len(data.events)
            ),
            120,
            "the sink to write every event",
        )
        info = json.loads((s.state_dir / "run" / "sink.json").read_text())
        metrics = httpx.get(f"{info['url']}/metrics", timeout=10).text
        assert f"touchline_sink_rows_written_total {float(len(data.events))}" in metrics
        # the anomaly monitor rides along: last event per account and source, a first scan
        assert "touchline_source_last_event_timestamp_seconds{account=" in metrics
        assert "touchline_anomaly_scan_timestamp_seconds " in metrics
        anomalies_report = _report(s, "anomalies", "--from", "2025-01-01", "--to", "2025-12-31")
        assert anomalies_report.returncode == 0, anomalies_report.stderr
        with pytest.raises(clickhouse.ChdbLocked, match="has the chDB directory"):
            clickhouse.connect(s.effective_clickhouse_dsn)
        through_sink = _report(s, *args, "--html", str(tmp_path / "f.html"))
        assert through_sink.returncode == 0, through_sink.stderr
    direct = _report(s, *args)
    assert direct.returncode == 0, direct.stderr
    for out in (through_sink.stdout, direct.stdout):
        rows = json.loads(out)["booking_funnel"]
        assert [tuple(r.values()) for r in rows] == [tuple(r) for r in expected]
    page = (tmp_path / "f.html").read_text()
    assert "<svg" in page and "Chose store and service" in page  # the step, labelled
