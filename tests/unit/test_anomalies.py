"""The anomaly detector's and the silence score's pure logic on hand-made series, the alert rules'
metric names, and the report's chart and table (no services)."""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from sinks import anomalies, html, reports, silence, tables
from sinks.anomaly_monitor import AnomalyMonitor
from touchline.settings import REPO_ROOT, Settings

CFG = anomalies.Config(baseline_weeks=4, window_hours=3, threshold=4.5, min_volume=20.0)
START = anomalies.hour_index(datetime(2026, 9, 7, tzinfo=UTC))  # a Monday, 00:00
RULE = silence.Rule(threshold=11.0, min_rate=6.0)
RULES = REPO_ROOT / "deploy" / "prometheus" / "anomaly_alerts.yml"


def rows_for(level: float, weeks: int = 5, seed: int = 1, change: Any = None) -> list[Any]:
    """Hourly Poisson-ish rows of booking_starts at ``level`` per hour (daytime; a tenth at
    night); ``change(hour, value)`` edits values."""
    rng = random.Random(seed)
    out = []
    for h in range(START, START + weeks * 168):
        day = 8 <= h % 24 < 20
        mean = level if day else level / 10
        value = max(round(rng.gauss(mean, math.sqrt(mean))), 0)
        if change is not None:
            value = change(h, value)
        out.append(("acc", "booking_starts", "", anomalies.hour_datetime(h), value, value))
    return out


def flags(rows: list[Any], first: int) -> list[anomalies.Point]:
    series = anomalies.series_from_rows(rows)
    return [p for p in anomalies.detect(series, CFG, first=first) if p.series == "booking_starts"]


LAST_WEEK = START + 4 * 168


def test_steady_traffic_raises_nothing() -> None:
    points = flags(rows_for(100), LAST_WEEK)
    assert len(points) == 168
    assert not [p for p in points if p.flag]
    noon = next(p for p in points if p.hour % 24 == 12)
    assert 280 < noon.expected < 320 and noon.lower < noon.actual < noon.upper


def test_a_60_percent_drop_for_3_hours_is_flagged_with_its_band() -> None:
    at = LAST_WEEK + 2 * 24 + 11  # Wednesday 11:00
    rows = rows_for(100, change=lambda h, v: round(v * 0.4) if at <= h < at + 3 else v)
    found = anomalies.alerts(flags(rows, LAST_WEEK))
    # the window of the first dropped hour still holds two normal hours; the next one flags
    assert [(a.direction, a.start) for a in found] == [(-1, at + 1)]
    assert found[0].peak.score < -CFG.threshold and found[0].peak.actual < found[0].peak.lower


def test_a_spike_is_flagged_and_the_median_ignores_one_bad_week() -> None:
    spike = LAST_WEEK + 24 + 15
    bad = spike - 2 * 168  # the same hours two weeks earlier were a spike too
    rows = rows_for(100, change=lambda h, v: v * 3 if h in (spike, bad) else v)
    found = [a for a in anomalies.alerts(flags(rows, LAST_WEEK)) if a.start >= spike]
    assert found and found[0].direction == 1 and found[0].start == spike
    assert 250 < found[0].peak.expected < 350  # not pulled up by the bad week


def test_quiet_hours_never_alert_the_volume_guard() -> None:
    # 4 an hour by day: a total loss of three hours is far below the band, but under the guard
    at = LAST_WEEK + 3 * 24 + 10
    rows = rows_for(4, change=lambda h, v: 0 if at <= h < at + 3 else v)
    points = flags(rows, LAST_WEEK)
    assert not [p for p in points if p.flag]
    assert min(p.score for p in points) < -CFG.threshold / 2  # it did notice


def test_no_verdict_without_two_weeks_of_baseline() -> None:
    series = anomalies.series_from_rows(rows_for(100, weeks=3))
    points = anomalies.detect(series, CFG)
    assert points and min(p.hour for p in points) == START + 2 * 168 + CFG.window_hours - 1
    assert not anomalies.detect(anomalies.series_from_rows(rows_for(100, weeks=2)), CFG)


def test_alerts_join_consecutive_hours_of_one_direction() -> None:
    def p(hour: int, flag: int, score: float) -> anomalies.Point:
        return anomalies.Point("a", "s", hour, 0, 0, 0, 0, score, flag)

    found = anomalies.alerts([p(1, -1, -5), p(2, -1, -7), p(3, 1, 6), p(5, 1, 5), p(4, 0, 0)])
    assert [(a.direction, a.start, a.end, a.peak.score) for a in found] == [
        (-1, 1, 3, -7),
        (1, 3, 4, 6),
        (1, 5, 6, 5),
    ]


def test_silence_score_is_the_expected_arrivals_since_the_last_event() -> None:
    hours = {h: (60.0 if 8 <= h % 24 < 20 else 1.0) for h in range(START, START + 3 * 168)}
    expected = silence.expected_activity(hours, START, weeks=4)
    noon = (START + 2 * 168 + 12) * silence.HOUR_MS
    assert silence.score(noon, noon + 10 * 60_000, expected) == 10.0
    # at 60 clients an hour the scan alerts on the 12th minute at a threshold of 11
    assert silence.first_alert(noon, noon + 3_600_000, expected, RULE) == noon + 12 * 60_000
    night = noon + 12 * silence.HOUR_MS  # 00:00: one client an hour
    assert silence.first_alert(night, night + 5 * silence.HOUR_MS, expected, RULE) is None
    # with under two weeks of history there is no verdict, so no score
    early = (START + 100) * silence.HOUR_MS
    assert silence.score(early, early + silence.HOUR_MS, expected) == 0.0


def test_stream_alerts_one_per_gap_that_passes_the_threshold() -> None:
    hours = {h: 60.0 for h in range(START, START + 3 * 168)}
    expected = silence.expected_activity(hours, START, weeks=4)
    t0 = (START + 2 * 168) * silence.HOUR_MS
    times = [t0 + m * 60_000 for m in (0, 5, 10, 40, 42)]  # a 30-minute gap after minute 10
    found = silence.stream_alerts("a", "s", times, t0 + 50 * 60_000, expected, RULE)
    assert [(a.last_event_ms, a.alerted_ms, a.resumed_ms) for a in found] == [
        (times[2], times[2] + 12 * 60_000, times[3])
    ]


def test_alert_rules_read_metrics_the_monitor_exposes() -> None:
    registry = CollectorRegistry()
    AnomalyMonitor(registry, Settings())
    exposed = {s.name for m in registry.collect() for s in m.samples} | {
        m.name for m in registry.collect()
    }
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    assert {r["alert"] for r in rules} >= {
        "TouchlineBookingMetricDrop",
        "TouchlineBookingMetricSpike",
        "TouchlineSourceSilent",
    }
    for rule in rules:
        used = set(re.findall(r"\btouchline_[a-z0-9_]+\b", rule["expr"]))
        assert used and used <= exposed | {"touchline_anomaly_scan_errors_total"}, rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    config = yaml.safe_load((RULES.parent / "prometheus.yml").read_text())
    assert Path(RULES.name).name in config["rule_files"]


def test_report_hides_the_hourly_series_from_the_table_and_charts_it() -> None:
    at = LAST_WEEK + 2 * 24 + 11
    rows = rows_for(100, change=lambda h, v: round(v * 0.4) if at <= h < at + 3 else v)

    def runner(name: str, params: Any) -> tuple[list[str], list[Any]]:
        assert name == "anomaly_hourly"
        return [], rows

    report = reports.get("anomalies")
    sections = reports.run(report, {"from": None, "to": None}, runner)
    assert [s.name for s in sections] == ["anomalies", "anomaly_series"]
    assert [r[2] for r in sections[0].rows] == ["drop"]
    text = tables.render_sections(sections)
    assert "drop" in text and "Actual vs expected" not in text
    page = html.render(report, {}, sections)
    assert page.count("<polygon") >= 1 and "acc: booking_starts" in page
    assert "<circle" in page  # the flagged hours


def test_the_expected_rate_guard_holds_at_night_and_for_a_trickle() -> None:
    hours = {h: (60.0 if 8 <= h % 24 < 20 else 1.0) for h in range(START, START + 3 * 168)}
    expected = silence.expected_activity(hours, START, weeks=4)
    evening = (START + 2 * 168 + 19) * silence.HOUR_MS + 58 * 60_000  # 19:58, then quiet hours
    morning = evening + 2 * 60_000 + 12 * silence.HOUR_MS  # 08:00 next day
    assert silence.score(evening, morning, expected) > RULE.threshold  # the night adds up...
    # ...but the source is called silent only once the morning should be busy
    assert silence.first_alert(evening, morning + silence.HOUR_MS, expected, RULE) == (
        morning + 60_000
    )
    trickle = silence.expected_activity(
        {h: 4.0 for h in range(START, START + 3 * 168)}, START, weeks=4
    )
    t = (START + 2 * 168) * silence.HOUR_MS
    assert silence.score(t, t + 10 * silence.HOUR_MS, trickle) == 40.0
    assert silence.first_alert(t, t + 10 * silence.HOUR_MS, trickle, RULE) is None
