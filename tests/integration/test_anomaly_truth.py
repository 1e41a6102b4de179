"""The anomaly detector against planted truth: six weeks of seasonal traffic for two accounts
(producers/seasonal.py) go into `events` in chDB, the hourly_metrics materialized view rolls them
up, `anomaly_hourly.sql` reads the rollup, and the detectors run on it. Measured over the four
weeks after the two-week warm-up:

- recall: a planted drop or spike is found when an alert on its primary series overlaps it (up
  to the window's length after its end); a planted silence when the source-silence replay alerts
  on a gap that begins in it;
- false alerts: alerts not explained by a planted anomaly of that account on a series it moves,
  counted per account and series (and per account and source for silences);
- latency: from the planted silence's start (event time) to the alert.

The figures are printed (pytest -s) as well as asserted.
"""

from __future__ import annotations

import json
import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from prometheus_client import CollectorRegistry

from producers import seasonal
from sinks import anomalies, clickhouse, silence
from sinks import rows as sink_rows
from sinks.anomaly_monitor import AnomalyMonitor
from touchline.settings import REPO_ROOT, Settings

HOUR_MS = 3_600_000
COLUMNS = [
    "event_id",
    "event_type",
    "family",
    "occurred_at",
    "source",
    "account_id",
    "location_id",
    "client_id",
    "channel",
]


def to_row(event: dict[str, Any]) -> list[Any]:
    """The columns of `events` the rollup reads (the sink's enriched row has them too; the web
    client id stands for the stitched client of a widget visit)."""
    env = event["envelope"]
    return [
        env["event_id"],
        env["event_type"],
        "seasonal",
        datetime.fromtimestamp(env["occurred_at"] / 1000, UTC),
        env["source"],
        env["account_id"],
        env.get("location_id"),
        env["ids"].get("cid") or env["event_id"],
        "direct",
    ]


def load(client: Client, db: str, events: list[dict[str, Any]]) -> None:
    clickhouse.migrate(client, db)
    client.insert(f"`{db}`.events", [to_row(e) for e in events], column_names=COLUMNS)


def explains(p: seasonal.Planted, account: str, series: str, start_ms: int, end_ms: int) -> bool:
    return (
        p.account == account
        and series in p.affected
        and start_ms < p.end_ms + 3 * HOUR_MS
        and end_ms > p.start_ms
    )


@pytest.fixture(scope="module")
def planted() -> seasonal.Seasonal:
    return seasonal.generate(seasonal.SeasonalConfig())


@pytest.fixture(scope="module")
def loaded(chdb_dir: Path, planted: seasonal.Seasonal) -> tuple[Client, str]:
    """The planted events in `events` of a database of this module (chDB: one directory per
    process, shared by the in-process tests)."""
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"anomalies{uuid.uuid4().hex[:8]}"
    load(client, db, planted.events)
    return client, db


def test_detectors_find_the_planted_anomalies(
    loaded: tuple[Client, str], planted: seasonal.Seasonal
) -> None:
    config = seasonal.SeasonalConfig()
    client, db = loaded
    _, rows = clickhouse.query(client, "anomaly_hourly", db, {})
    series = anomalies.series_from_rows(rows)
    cfg = anomalies.Config.from_settings(Settings())
    scored_from_ms = config.start_ms + config.warmup_weeks * seasonal.WEEK_MS
    found = anomalies.alerts(anomalies.detect(series, cfg, first=scored_from_ms // HOUR_MS))

    hits, false = {}, Counter[tuple[str, str]]()
    for a in found:
        span = (a.start * HOUR_MS, a.end * HOUR_MS)
        owners = [p for p in planted.truth if explains(p, a.account, a.series, *span)]
        if not owners:
            false[(a.account, a.series)] += 1
        for p in owners:
            if a.series == p.primary and a.direction == (1 if p.kind == "spike" else -1):
                hits[p] = a

    silences, latency = silence_replay(rows, series, planted, scored_from_ms, false)
    wanted = [p for p in planted.truth if p.kind != "silence"]
    recall_hourly = sum(p in hits for p in wanted) / len(wanted)
    caught = [p for p in planted.truth if p.kind == "silence" and p in silences]
    recall = (sum(p in hits for p in wanted) + len(caught)) / len(planted.truth)
    missed = [(p.kind, p.account, p.start_ms) for p in planted.truth if p not in {*hits, *caught}]
    print(
        f"\nplanted {len(planted.truth)} ({Counter(p.kind for p in planted.truth)}), "
        f"{len(planted.events)} events over {config.weeks} weeks, scored {config.weeks - 2}; "
        f"recall {recall:.2f} (drops/spikes {recall_hourly:.2f}, silences "
        f"{len(caught)}/{len(planted.truth) - len(wanted)}); "
        f"false alerts {sum(false.values())} in {len(false)} of "
        f"{len({(p.account, p.series) for p in anomalies.detect(series, cfg)})} series, "
        f"worst {max(false.values(), default=0)}: {dict(false)}; "
        f"silence latency (min) {sorted(latency.values())}; "
        f"peak scores {[round(a.peak.score, 1) for a in hits.values()]}; missed {missed}"
    )
    assert recall >= 0.9
    assert max(false.values(), default=0) <= 1
    assert len(caught) == len(planted.truth) - len(wanted)
    assert max(latency.values()) <= 15.0


def silence_replay(
    rows: list[tuple[Any, ...]],
    series: anomalies.Series,
    planted: seasonal.Seasonal,
    scored_from_ms: int,
    false: Counter[tuple[str, str]],
) -> tuple[set[seasonal.Planted], dict[seasonal.Planted, float]]:
    """Replay every source's stream through the per-minute silence scan; returns the planted
    silences caught and their latency in minutes, and adds unexplained alerts to ``false``."""
    settings = Settings()
    activity = silence.activity_from_rows(rows)
    times: dict[tuple[str, str], list[int]] = defaultdict(list)
    for e in planted.events:
        env = e["envelope"]
        times[(env["account_id"], env["source"])].append(env["occurred_at"])
    caught: set[seasonal.Planted] = set()
    latency: dict[seasonal.Planted, float] = {}
    for (account, source), stream in sorted(times.items()):
        expected = silence.expected_activity(
            activity[(account, source)], series.span[account][0], settings.anomaly_baseline_weeks
        )
        alerts = silence.stream_alerts(
            account, source, stream, planted.end_ms, expected, silence.Rule.from_settings(settings)
        )
        for s in alerts:
            if s.last_event_ms < scored_from_ms:
                continue
            gap = (s.last_event_ms, s.resumed_ms or planted.end_ms)
            owners = [
                p
                for p in planted.truth
                if p.account == account
                and p.source == source
                and gap[0] < p.end_ms
                and gap[1] > p.start_ms
            ]
            if not owners:
                false[(account, f"silence:{source}")] += 1
            for p in owners:
                if p.kind == "silence":
                    caught.add(p)
                    latency[p] = (s.alerted_ms - p.start_ms) / 60_000
    return caught, latency


def test_the_sink_monitor_sets_the_gauges_the_alerts_read(
    loaded: tuple[Client, str], planted: seasonal.Seasonal
) -> None:
    """The live scan (sinks/anomaly_monitor.py) at moments of the planted data: in a planted
    silence it says silent within 15 minutes, in a planted drop it flags the drop, and on a
    normal weekday afternoon it flags nothing and no source is silent."""
    client, db = loaded

    def runner(name: str, params: Mapping[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        return clickhouse.query(client, name, db, params)

    def scan_at(now_ms: int) -> CollectorRegistry:
        registry = CollectorRegistry()
        monitor = AnomalyMonitor(registry, Settings())
        monitor.observe(
            [
                _sink_row(e)
                for e in planted.events
                if now_ms - seasonal.DAY_MS <= e["envelope"]["occurred_at"] <= now_ms
            ]
        )
        monitor.scan(runner, now_ms)
        return registry

    def gauge(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    quiet = next(p for p in planted.truth if p.kind == "silence")
    during = scan_at(quiet.start_ms + 15 * 60_000)
    labels = {"account": quiet.account, "source": quiet.source}
    assert gauge(during, "touchline_source_silent", **labels) == 1
    before = scan_at(quiet.start_ms - 60_000)
    assert gauge(before, "touchline_source_silent", **labels) == 0

    drop = next(p for p in planted.truth if p.kind == "drop")
    hour_after = (drop.end_ms // HOUR_MS + 1) * HOUR_MS + 60_000  # its last hour is complete
    flagged = scan_at(hour_after)
    series = {"account": drop.account, "series": drop.primary}
    assert gauge(flagged, "touchline_anomaly_flag", **series) == -1
    assert (gauge(flagged, "touchline_anomaly_score", **series) or 0) < -4

    normal = next(  # a weekday 16:00 of the last week, six hours clear of any planted anomaly
        t
        for t in (planted.end_ms - d * seasonal.DAY_MS - 8 * HOUR_MS for d in range(3, 7))
        if not any(p.start_ms < t + HOUR_MS and p.end_ms > t - 6 * HOUR_MS for p in planted.truth)
    )
    calm = scan_at(normal)
    flags = [s for m in calm.collect() for s in m.samples if s.name == "touchline_anomaly_flag"]
    silent = [s for m in calm.collect() for s in m.samples if s.name == "touchline_source_silent"]
    assert len(flags) > 10 and all(s.value == 0 for s in flags)
    assert len(silent) >= 4 and all(s.value == 0 for s in silent)
    assert gauge(calm, "touchline_anomaly_scan_timestamp_seconds") == normal / 1000


def _sink_row(event: dict[str, Any]) -> list[Any]:
    """The three columns the monitor reads, at their places in a sink row."""
    row: list[Any] = [None] * len(sink_rows.COLUMNS)
    env = event["envelope"]
    row[sink_rows.COLUMNS.index("account_id")] = env["account_id"]
    row[sink_rows.COLUMNS.index("source")] = env["source"]
    row[sink_rows.COLUMNS.index("occurred_at")] = env["occurred_at"]  # epoch ms, as to_row
    return row


def test_grafana_panel_draws_the_detector_baseline(
    loaded: tuple[Client, str], planted: seasonal.Seasonal
) -> None:
    """The funnel dashboard's booking-health panel, run on the planted data in chDB: per hour
    the actual count and the median of the same hour in the 4 previous weeks, as computed here
    from the rollup rows (hours without events as 0)."""
    client, db = loaded
    dash = json.loads((REPO_ROOT / "deploy/grafana/dashboards/touchline-funnel.json").read_text())
    panel = next(p for p in dash["panels"] if p["title"].startswith("Booking health"))
    drop = next(p for p in planted.truth if p.kind == "drop")
    day = drop.start_ms // seasonal.DAY_MS * seasonal.DAY_MS // 1000
    _, rows = clickhouse.query(client, "anomaly_hourly", db, {"account": drop.account})
    series = anomalies.series_from_rows(rows)
    for target, metric in zip(
        panel["targets"], ("booking_starts", "booking_successes"), strict=True
    ):
        sql = (
            target["rawSql"]
            .replace("${account:singlequote}", f"'{drop.account}'")
            .replace("$__fromTime", f"toDateTime({day}, 'UTC')")
            .replace("$__toTime", f"toDateTime({day + 86_399}, 'UTC')")
            .replace("touchline.", f"`{db}`.")
        )
        got = {anomalies.hour_index(t): (a, e) for t, a, e in client.query(sql).result_rows}
        assert len(got) >= 20
        for h in range(day // 3600, day // 3600 + 24):
            past = [series.value((drop.account, metric), h - k * 168) for k in range(1, 5)]
            want = (series.value((drop.account, metric), h), statistics.median(past))
            assert got.get(h, (0.0, 0.0)) == want, h  # no row: nothing then or in the 4 weeks


def test_rollup_counts_late_and_redelivered_events_in_their_hour(chdb_dir: Path) -> None:
    """hourly_metrics is in event time: events that arrive after later hours were written (a
    webhook a day late) land in their own hour, and a redelivered batch counts once."""
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"late{uuid.uuid4().hex[:8]}"
    config = seasonal.SeasonalConfig(accounts=(("acc", 0.3),), weeks=1, plants=())
    events = seasonal.generate(config).events
    cut = config.start_ms + 4 * seasonal.DAY_MS
    on_time = [e for e in events if e["envelope"]["occurred_at"] >= cut]
    late = [e for e in events if e["envelope"]["occurred_at"] < cut]
    load(client, db, on_time)
    client.insert(f"`{db}`.events", [to_row(e) for e in late], column_names=COLUMNS)
    client.insert(f"`{db}`.events", [to_row(e) for e in late[::3]], column_names=COLUMNS)
    _, rows = clickhouse.query(client, "anomaly_hourly", db, {})
    got = {(r[1], r[2], anomalies.hour_index(r[3])): r[4] for r in rows}
    want: Counter[tuple[str, str, int]] = Counter()
    for e in events:
        env = e["envelope"]
        hour = env["occurred_at"] // HOUR_MS
        want[("events", env["source"], hour)] += 1
        metric = {
            "appointment_booking_start": "booking_starts",
            "appointment_booking_step_success": "booking_successes",
            "contact_call": "calls",
            "contact_web_form": "contacts",
            "appointment_no_show": "no_shows",
            "appointment_cancelled": "cancellations",
        }.get(env["event_type"])
        if metric:
            want[(metric, "", hour)] += 1
    assert got == dict(want)
    assert len(late) > 1000


def test_demo_data_leaves_every_anomaly_gauge_quiet(chdb_dir: Path) -> None:
    """`make demo`'s data (300 people over 60 days, ending an hour ago) must not raise a booking
    or silence alert: its volumes are under the guards, though its web traffic tails off a week
    before the end (a silence the rate guard rightly ignores at ~1 client an hour)."""
    from cli.demo import demo_events
    from producers.events import Prepared, prepare
    from touchline.contracts import load_cached

    contracts = load_cached(Settings().schemas_dir)
    now = 1_795_000_000_000 + 60 * seasonal.DAY_MS  # any fixed 'now': the demo ends before it
    events = [
        e for e in demo_events(300, 7, now) if isinstance(prepare(contracts, e, now), Prepared)
    ]
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"demo{uuid.uuid4().hex[:8]}"
    load(client, db, events)
    for later_h in (0, 6, 15, 24 * 3):
        registry = CollectorRegistry()
        monitor = AnomalyMonitor(registry, Settings())
        monitor.observe([_sink_row(e) for e in events])
        at = now + later_h * HOUR_MS
        monitor.scan(lambda name, p: clickhouse.query(client, name, db, p), at)
        raised = [
            (s.name, s.labels)
            for m in registry.collect()
            for s in m.samples
            if s.name in ("touchline_anomaly_flag", "touchline_source_silent") and s.value
        ]
        assert raised == [], later_h
