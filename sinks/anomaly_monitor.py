"""The live side of the anomaly detectors, inside ``touchline sink``: Prometheus gauges that the
alert rules in ``deploy/prometheus/anomaly_alerts.yml`` read.

- From the stream: each stored batch updates the last event time (event time) per account and
  source (:meth:`AnomalyMonitor.observe`).
- Every ``TOUCHLINE_ANOMALY_SCAN_SECONDS``: the hourly series of the last baseline weeks are read
  from the ``hourly_metrics`` rollup (``anomaly_hourly.sql``), :mod:`sinks.anomalies` scores the
  last complete hour of every account and series (score, actual, expected band, flag), and
  :mod:`sinks.silence` scores the time since each source's last event (score, silent flag).

A source seen in the rollup but not yet in the stream since the sink started counts from the end
of its last hour with events (late rather than early: no alert at a restart).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from sinks import anomalies, rows, silence
from touchline.clock import now_ms
from touchline.settings import Settings

log = logging.getLogger(__name__)

Runner = Callable[[str, Mapping[str, Any]], tuple[list[str], list[tuple[Any, ...]]]]
HOUR_MS = 3_600_000
ACCOUNT = rows.COLUMNS.index("account_id")
SOURCE = rows.COLUMNS.index("source")
OCCURRED_AT = rows.COLUMNS.index("occurred_at")


class AnomalyMonitor:
    def __init__(self, registry: CollectorRegistry, settings: Settings) -> None:
        self.cfg = anomalies.Config.from_settings(settings)
        self.silence = silence.Rule.from_settings(settings)
        self.interval_s = settings.anomaly_scan_seconds
        self.last_event: dict[tuple[str, str], int] = {}  # (account, source) -> epoch ms
        self._lock = threading.Lock()
        series = ["account", "series"]
        source = ["account", "source"]

        def gauge(name: str, text: str, labels: list[str]) -> Gauge:
            return Gauge(name, text, labels, registry=registry)

        self.score = gauge(
            "touchline_anomaly_score",
            "Score of the last complete hour's window vs its hour-of-week baseline "
            "(robust sigmas; sinks/anomalies.py)",
            series,
        )
        self.actual = gauge("touchline_anomaly_actual", "Actual value of the window", series)
        self.expected = gauge(
            "touchline_anomaly_expected", "Expected value (hour-of-week median)", series
        )
        self.lower = gauge("touchline_anomaly_band_lower", "Lower end of the expected band", series)
        self.upper = gauge("touchline_anomaly_band_upper", "Upper end of the expected band", series)
        self.flag = gauge(
            "touchline_anomaly_flag",
            "-1 drop, +1 spike, 0 normal (score beyond the threshold and the volume guard met)",
            series,
        )
        self.last_seen = gauge(
            "touchline_source_last_event_timestamp_seconds",
            "Event time of the latest event stored per account and source",
            source,
        )
        self.silence_score = gauge(
            "touchline_source_silence_score",
            "Expected arrivals since the source's last event by its hour-of-week rate "
            "(chance of the silence by luck: e^-score; sinks/silence.py)",
            source,
        )
        self.silent = gauge(
            "touchline_source_silent",
            "1 when the silence score is above TOUCHLINE_ANOMALY_SILENCE_SCORE and this hour's "
            "baseline has at least TOUCHLINE_ANOMALY_SILENCE_MIN_RATE clients",
            source,
        )
        self.scanned = Gauge(
            "touchline_anomaly_scan_timestamp_seconds",
            "Wall-clock time of the last completed anomaly scan",
            registry=registry,
        )
        self.scan_errors = Counter(
            "touchline_anomaly_scan_errors", "Anomaly scans that failed", registry=registry
        )
        self.scan_errors.inc(0)

    def observe(self, batch: list[list[Any]]) -> None:
        """Record the latest event time per account and source of a stored batch."""
        with self._lock:
            for row in batch:
                key = (row[ACCOUNT], row[SOURCE])
                when = row[OCCURRED_AT]  # epoch ms in the sink's rows (sinks.rows.to_row)
                at = when if isinstance(when, int) else int(when.timestamp() * 1000)
                if at > self.last_event.get(key, 0):
                    self.last_event[key] = at
                    self.last_seen.labels(*key).set(at / 1000)

    def scan(self, runner: Runner, now_ms: int) -> None:
        """Score the last complete hour and every source's silence, and set the gauges."""
        now = datetime.fromtimestamp(now_ms / 1000, UTC)
        days = self.cfg.baseline_weeks * 7 + 1
        params = {"from": (now - timedelta(days=days)).date(), "to": now.date()}
        _, found = runner("anomaly_hourly", params)
        series = anomalies.series_from_rows(found)
        hour = now_ms // HOUR_MS - 1  # the last complete hour
        series.span = {a: (start, max(end, hour)) for a, (start, end) in series.span.items()}
        for p in anomalies.detect(series, self.cfg, first=hour, last=hour):
            labels = (p.account, p.series)
            self.score.labels(*labels).set(p.score)
            self.actual.labels(*labels).set(p.actual)
            self.expected.labels(*labels).set(p.expected)
            self.lower.labels(*labels).set(p.lower)
            self.upper.labels(*labels).set(p.upper)
            self.flag.labels(*labels).set(p.flag)
        activity = silence.activity_from_rows(found)
        for key, hours in activity.items():
            expected = silence.expected_activity(
                hours, series.span[key[0]][0], self.cfg.baseline_weeks
            )
            with self._lock:
                last = self.last_event.get(key)
            if last is None:
                last = min((max(hours) + 1) * HOUR_MS, now_ms)
            value = silence.score(last, now_ms, expected)
            self.silence_score.labels(*key).set(value)
            silent = self.silence.silent(value, expected((now_ms - 1) // HOUR_MS))
            self.silent.labels(*key).set(1 if silent else 0)
        self.scanned.set(now_ms / 1000)

    def run(self, stop: threading.Event, runner: Runner) -> None:
        """Scan now and every ``interval_s`` until ``stop`` is set (a failed scan is logged and
        counted; the next one tries again)."""
        while True:
            try:
                self.scan(runner, now_ms())
            except Exception as exc:  # a scan must never stop the sink
                self.scan_errors.inc()
                log.warning("anomaly scan failed: %s", exc)
            if stop.wait(self.interval_s):
                return
