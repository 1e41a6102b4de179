"""ClickHouse (chDB) report latency on generated events, and the sink writer's insert throughput.

Events are generated inside ClickHouse (INSERT ... SELECT FROM numbers()); each client has ten
events: a touch, up to eight booking steps (a hash picks how deep they get), then an order or a
page view; the web client id, email and phone are set on some of a client's events, so the client
card's lookups by them are measured on filled columns. Baselines measured in the same run: a plain
aggregate scan of the same table for the queries, and clickhouse-connect's plain insert of the
same (already converted) rows for the writer.
Set TOUCHLINE_BENCH_CH_EVENTS to change the 10 million."""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from sinks import clickhouse, rows, touch_derivation
from tests.report_data import event, line
from touchline import collector
from touchline.settings import REPO_ROOT, Settings

pytestmark = [pytest.mark.bench, pytest.mark.timeout(3600)]  # 10 M events take minutes

EVENTS = int(os.environ.get("TOUCHLINE_BENCH_CH_EVENTS", "10000000"))
INSERT_ROWS = int(os.environ.get("TOUCHLINE_BENCH_CH_INSERT_ROWS", "200000"))
BATCH = 5000
RUNS = 3  # each query and the baseline scan run 3 times: the median is reported, and the first run

GENERATE = """
INSERT INTO {db}.events (event_id, event_type, family, occurred_at, received_at, processed_at,
    source, account_id, location_id, client_id, cid, email, phone, session_id, session_seq,
    channel, utm_campaign,
    device_type, is_touch, is_contact, revenue_minor, currency,
    `lines.store_id`, `lines.service_id`, `lines.resource_id`, `lines.quantity`,
    `lines.amount_minor`, attributes, payload_json)
SELECT
    reinterpretAsUUID(reverse(unhex(lower(hex(cityHash64(number, 1)))) || unhex(lower(hex(
        cityHash64(number, 2)))))) AS event_id,
    multiIf(k = 0, 'page_view', k <= depth, steps[k], k = 9 AND depth = 8, 'order_placed',
            'page_view') AS event_type,
    multiIf(k BETWEEN 1 AND depth, 'touchline.events.BookingStep',
            event_type = 'order_placed', 'touchline.events.OrderPlaced',
            'touchline.events.WebTouch') AS family,
    toDateTime64('2025-01-01 00:00:00', 3, 'UTC')
        + toIntervalMillisecond(cityHash64(client) % (300 * 86400000) + k * 90000) AS occurred_at,
    occurred_at AS received_at, occurred_at AS processed_at,
    'website' AS source,
    concat('acc', toString(client % 10)) AS account_id,
    concat('s', toString(cityHash64(client, 3) % 20)) AS location_id,
    concat('c', toString(client)) AS client_id,
    if(k < 9, concat('ga.', toString(client)), NULL) AS cid,
    if(k >= 5, concat('u', toString(client), '@example.com'), NULL) AS email,
    if(k >= 7, concat('+4930', toString(1000000 + client)), NULL) AS phone,
    concat('sess', toString(client)) AS session_id,
    toUInt32(k + 1) AS session_seq,
    ['direct', 'organic_search', 'paid_search', 'email', 'paid_social', 'referral']
        [cityHash64(number, 4) % 6 + 1] AS channel,
    ['spring', 'brand', 'retarget', ''][cityHash64(number, 5) % 4 + 1] AS utm_campaign,
    ['desktop', 'mobile', 'tablet'][cityHash64(client, 6) % 3 + 1] AS device_type,
    event_type = 'page_view' AS is_touch,
    false AS is_contact,
    if(event_type = 'order_placed', toInt64(1000 + cityHash64(number, 7) % 20000), 0)
        AS revenue_minor,
    if(event_type = 'order_placed', 'EUR', NULL) AS currency,
    if(k >= 2 AND k <= depth, [location_id], []) AS store_ids,
    if(k >= 2 AND k <= depth, [concat('svc', toString(cityHash64(client, 8) % 30))], [])
        AS service_ids,
    if(k >= 2 AND k <= depth, [concat('r', toString(cityHash64(client, 9) % 50))], [])
        AS resource_ids,
    arrayMap(x -> toInt32(1), store_ids), arrayMap(x -> toInt64(0), store_ids),
    map() AS attributes, '{{}}' AS payload_json
FROM (
    SELECT number, intDiv(number, 10) AS client, number % 10 AS k,
           toUInt8(cityHash64(intDiv(number, 10), 10) % 9) AS depth,
           ['appointment_booking_start', 'appointment_booking_step_stores_and_services',
            'appointment_booking_step_resources',
            'appointment_booking_step_available_appointments',
            'appointment_booking_step_summary', 'appointment_booking',
            'appointment_booking_step_success', 'appointment_booking_step_failed'] AS steps
    FROM numbers({n})
)
"""
MERGES = """
INSERT INTO {db}.identity_merges
SELECT toDateTime64('2025-06-01 00:00:00', 3, 'UTC'), concat('acc', toString(c % 10)),
       concat('c', toString(c)), concat('c', toString(c + 10)), 'email', NULL,
       generateUUIDv4(number)
FROM (SELECT number, number * 10 AS c FROM numbers({n}))
"""
BASELINE = "SELECT event_type, uniqExact(client_id) FROM {db}.events GROUP BY event_type"


def _with_derivations(
    client: Any, db: str, name: str, params: dict[str, Any], lookback: int | None = None
) -> Any:
    """The query as it runs with the derivations table changed for the run, then restored: empty
    (``lookback`` None: before a complete derivation exists, touches derived at query time), or
    each derivation made to cover ``lookback`` (0: attribution from the stored touches with paths
    built at query time, as before 024 or for a lookback the sink does not keep)."""
    table = f"`{db}`.event_time_derivations"
    got = client.query(f"SELECT * FROM {table}")
    kept, columns = got.result_rows, list(got.column_names)
    client.command(f"TRUNCATE TABLE {table}")
    try:
        if lookback is not None:
            at = columns.index("lookback_days")
            changed = [[*r[:at], lookback, *r[at + 1 :]] for r in kept]
            client.insert(table, changed, column_names=columns)
        return clickhouse.query(client, name, db, params)[1]
    finally:
        client.command(f"TRUNCATE TABLE {table}")
        client.insert(table, [list(r) for r in kept], column_names=columns)


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def _merges_done(client: Any, timeout: float = 600.0) -> None:
    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < 3 and time.monotonic() < deadline:
        running = int(client.query("SELECT count() FROM system.merges").result_rows[0][0])
        quiet = quiet + 1 if running == 0 else 0
        time.sleep(1.0)


def _datums(n: int) -> list[dict[str, Any]]:
    template = event(
        event_type="appointment_booking_step_summary",
        family="touchline.events.BookingStep",
        client_id="c1",
        session_id="s1",
        utm_campaign="spring",
        lines=[line(store_id="s1", service_id="cut", resource_id="r1")],
        attributes={"k": "v"},
    )
    base = 1_735_689_600_000
    return [
        {
            **template,
            "event_id": str(uuid.UUID(int=i + 1)),
            "client_id": f"c{i % 5000}",
            "occurred_at": base + i,
            "received_at": base + i,
            "processed_at": base + i,
        }
        for i in range(n)
    ]


def _legacy_to_row(event: dict[str, Any]) -> list[Any]:
    """The writer's row before issue #15 (timestamps as datetime, lines per field), kept here only
    to measure the "before" in the same run."""
    row = [(_ts(event[c]) if c in rows.TIMESTAMPS else event[c]) for c in rows.SCALARS]
    row.extend([line[f] for line in event["lines"]] for f in rows.LINE_FIELDS)
    row.extend(
        [event["attributes"], event["payload_json"], event.get("own_channel") or event["channel"]]
    )
    row.append(event.get("external_ids") or [])  # the table has the column (020) the old one lacked
    return row


def _ts(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def _as_the_sink_collects(
    client: Any, writer: Callable[[str], None], plain: Callable[[str], None]
) -> dict[str, list[float]]:
    """The writer and the plain insert timed again (twice, alternating) with the garbage
    collector as the sink process sets it (touchline/collector.py), then Python's restored."""
    runs: dict[str, list[float]] = {"ins_writer_gc": [], "ins_plain_gc": []}
    for name in runs:
        for run in range(2):
            clickhouse.migrate(client, f"{name}{run}")
    saved = gc.get_threshold()
    collector.settle(Settings().worker_gc_threshold)
    try:
        for run in range(2):
            runs["ins_writer_gc"].append(_timed(lambda: writer(f"ins_writer_gc{run}"))[0])  # noqa: B023
            runs["ins_plain_gc"].append(_timed(lambda: plain(f"ins_plain_gc{run}"))[0])  # noqa: B023
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)
    return runs


def _insert_throughput(client: Any) -> dict[str, Any]:
    """The sink's writer (to_row + insert_events) vs a plain clickhouse-connect insert of the same
    rows already converted; the writer as it was before issue #15 (datetime rows, row-oriented)
    vs a plain insert of its rows. Each timed twice, alternating; the faster run of each counts
    (the machine is shared: the slower one mostly measures the neighbours)."""
    datums = _datums(INSERT_ROWS)
    names = ("ins_writer", "ins_plain", "ins_before", "ins_plain_before", "ins_deriving")
    for name in names:  # a database per run: the second run is not inserting over the first
        for run in range(2):
            clickhouse.migrate(client, f"{name}{run}")
    columns = list(rows.COLUMNS)
    converted = [rows.to_row(d) for d in datums]
    converted_before = [_legacy_to_row(d) for d in datums]

    def writer(db: str) -> None:  # as the sink inserts: it derives once per batch, after
        for i in range(0, len(datums), BATCH):
            batch = [rows.to_row(d) for d in datums[i : i + BATCH]]
            clickhouse.insert_events(client, db, batch, derive=False)

    def writer_deriving(db: str) -> None:  # the sink's insert plus its derivation of the batch
        for i in range(0, len(datums), BATCH):
            clickhouse.insert_events(client, db, [rows.to_row(d) for d in datums[i : i + BATCH]])

    def before(db: str) -> None:
        for i in range(0, len(datums), BATCH):
            batch = [_legacy_to_row(d) for d in datums[i : i + BATCH]]
            client.insert(f"{db}.events", batch, column_names=columns)

    def plain(converted: list[list[Any]]) -> Any:
        def run(db: str) -> None:
            for i in range(0, len(converted), BATCH):
                client.insert(f"{db}.events", converted[i : i + BATCH], column_names=columns)

        return run

    runs: dict[str, list[float]] = {name: [] for name in names}
    fns = {
        "ins_plain": plain(converted),
        "ins_writer": writer,
        "ins_plain_before": plain(converted_before),
        "ins_before": before,
        "ins_deriving": writer_deriving,
    }
    for run in range(2):
        for name, fn in fns.items():
            runs[name].append(_timed(lambda: fn(f"{name}{run}"))[0])  # noqa: B023
    runs.update(_as_the_sink_collects(client, writer, plain(converted)))
    for name in names:
        for run in range(2):
            n = client.query(f"SELECT count() FROM {name}{run}.events").result_rows[0][0]
            assert n == INSERT_ROWS
    best = {name: min(seconds) for name, seconds in runs.items()}
    insert = {
        "rows": INSERT_ROWS,
        "batch_rows": BATCH,
        "gc": "writer and baseline as the sink runs them: touchline/collector.py settled with "
        "worker_gc_threshold; *_default_gc: Python's default collector",
        "writer_s": round(best["ins_writer_gc"], 3),
        "writer_rows_per_s": round(INSERT_ROWS / best["ins_writer_gc"]),
        "baseline": "clickhouse-connect client.insert of the same rows, already converted",
        "baseline_s": round(best["ins_plain_gc"], 3),
        "baseline_rows_per_s": round(INSERT_ROWS / best["ins_plain_gc"]),
        "ratio_writer_to_baseline": round(best["ins_plain_gc"] / best["ins_writer_gc"], 3),
        "ratio_writer_to_baseline_default_gc": round(best["ins_plain"] / best["ins_writer"], 3),
        "before_writer_s": round(best["ins_before"], 3),
        "before_baseline_s": round(best["ins_plain_before"], 3),
        "before_ratio_writer_to_baseline": round(best["ins_plain_before"] / best["ins_before"], 3),
        "ratio_writer_to_before_writer": round(best["ins_before"] / best["ins_writer"], 3),
        "writer_deriving_s": round(best["ins_deriving"], 3),
        "ratio_writer_deriving_to_baseline": round(best["ins_plain"] / best["ins_deriving"], 3),
        "runs_s": {name: [round(x, 3) for x in seconds] for name, seconds in runs.items()},
        "note": "all tables carry the materialized views (touches, order lines, profiles, daily)",
    }
    print(
        f"writer: {insert['writer_rows_per_s']} rows/s; plain insert: "
        f"{insert['baseline_rows_per_s']} rows/s; ratio {insert['ratio_writer_to_baseline']} "
        f"(default collector: {insert['ratio_writer_to_baseline_default_gc']}; before #15: "
        f"{insert['before_ratio_writer_to_baseline']}; writer now "
        f"{insert['ratio_writer_to_before_writer']}x the old one)"
    )
    return insert


def test_clickhouse_queries_and_insert_throughput(tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("chbench")
    client = clickhouse.connect(f"chdb://{directory}")
    db = "bench"
    clickhouse.migrate(client, db)
    r = f"`{db}`"

    generate_s, _ = _timed(lambda: client.command(GENERATE.format(db=r, n=EVENTS)))
    client.command(MERGES.format(db=r, n=max(EVENTS // 1000, 1)))
    count = int(client.query(f"SELECT count() FROM {r}.events").result_rows[0][0])
    assert count == EVENTS
    print(f"\ngenerated {count} events in ClickHouse in {generate_s:.1f}s")
    # A bulk load of 10 M rows leaves background merges running for a while; queries are timed on
    # a quiet table (as history is), not against those merges for the two cores.
    settle_s, _ = _timed(lambda: _merges_done(client))
    print(f"background merges finished {settle_s:.1f}s after the load")

    # a bulk load bypasses the sink: derive every client's touches, as `touchline db rederive`
    derive_s, _ = _timed(lambda: touch_derivation.derive_all(client, db))
    stored_touches = int(
        client.query(f"SELECT count() FROM {r}.event_time_touches FINAL").result_rows[0][0]
    )
    stored_paths = int(
        client.query(f"SELECT count() FROM {r}.event_time_paths FINAL").result_rows[0][0]
    )
    print(
        f"derived {stored_touches} event-time touches and {stored_paths} attribution paths of"
        f" every client in {derive_s:.1f}s"
    )
    _merges_done(client)

    span = {"from": date(2025, 1, 1), "to": date(2025, 12, 31)}
    baseline_runs = [_timed(lambda: client.query(BASELINE.format(db=r)))[0] for _ in range(RUNS)]
    baseline_s = statistics.median(baseline_runs)
    queries: dict[str, dict[str, Any]] = {}

    def bench(
        label: str, name: str, params: dict[str, Any], at_query: bool = False, paths: bool = False
    ) -> None:
        runs = []
        for _ in range(RUNS):
            seconds, (_, out) = _timed(lambda: clickhouse.query(client, name, db, params))
            assert out, label
            runs.append(seconds)
        median = statistics.median(runs)
        queries[label] = {
            "seconds": round(median, 3),
            "first_run_s": round(runs[0], 3),
            "rows": len(out),
            "ratio_to_baseline_scan": round(median / baseline_s, 2),
        }
        print(
            f"{label:40} {median:8.3f}s (first {runs[0]:.3f}s)  {len(out):6} rows"
            f"  x{median / baseline_s:.1f} scan"
        )
        if at_query:  # the same query deriving touches at query time: the same-run baseline
            seconds, same = _timed(lambda: _with_derivations(client, db, name, params))
            assert same == out, label  # stored and query-time derivation agree
            queries[label]["derived_at_query_s"] = round(seconds, 3)
            queries[label]["ratio_to_derived_at_query"] = round(median / seconds, 3)
            print(f"{'':40} {seconds:8.3f}s deriving at query time")
        if paths:  # attribution from the stored touches, paths built at query time
            runs = [_timed(lambda: _with_derivations(client, db, name, params, 0)) for _ in "ab"]
            assert all(same == out for _, same in runs), label  # stored and built paths agree
            seconds = min(t for t, _ in runs)
            queries[label]["paths_built_at_query_s"] = round(seconds, 3)
            queries[label]["ratio_to_paths_built_at_query"] = round(median / seconds, 3)
            print(f"{'':40} {seconds:8.3f}s building the paths at query time (best of 2)")

    bench(
        "booking_funnel breakdown=channel",
        "booking_funnel",
        {**span, "breakdown": "channel", "window_ms": 86_400_000},
        at_query=True,
    )
    bench(
        "booking_funnel breakdown=store acc3",
        "booking_funnel",
        {**span, "breakdown": "store", "account": "acc3"},
    )
    bench(
        "booking_outcomes breakdown=channel",
        "booking_outcomes",
        {**span, "breakdown": "channel"},
        at_query=True,
    )
    for model in ("first", "last", "last_non_direct", "linear", "time_decay", "position"):
        bench(f"attribution model={model}", "attribution", {**span, "model": model})
    bench("attribution all models", "attribution", span, at_query=True, paths=True)
    bench("client_card c42", "client_card", {"client": "c42"})
    bench("client_summary c42", "client_summary", {"client": "c42"})
    bench("client_card by email", "client_card", {"client": "u42@example.com"})
    bench("client_summary by email", "client_summary", {"client": "u42@example.com"})
    bench("client_card by phone", "client_card", {"client": "+49301000042"})
    bench("client_summary merged c50", "client_summary", {"client": "c50"})

    insert = _insert_throughput(client)
    result = {
        "events": EVENTS,
        "generate_s": round(generate_s, 1),
        "merges_settled_after_s": round(settle_s, 1),
        "engine": "chDB " + str(client.query("SELECT version()").result_rows[0][0]),
        "derive_all_s": round(derive_s, 1),
        "event_time_touches": stored_touches,
        "event_time_paths": stored_paths,
        "baseline_query": BASELINE.format(db="events"),
        "baseline_s": round(baseline_s, 3),
        "seconds": f"median of {RUNS} runs (first_run_s: the first, with cold caches)",
        "queries": queries,
        "insert": insert,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    out = REPO_ROOT / "bench-results" / "clickhouse.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    client.close()
