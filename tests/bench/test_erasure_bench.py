"""Erasing one person among 1 M stored events (issue 12): the ClickHouse side of `touchline
erase` (find the identity cluster by email through the merges, lightweight DELETE in every table,
daily aggregates recomputed, every count verified, the erasure log row), timed beside baselines
measured in the same run on the same table: `SELECT count()` (answered from part metadata) and a
full scan that counts the rows carrying the email (what finding the person costs at least).
Events are generated inside ClickHouse like tests/bench/test_clickhouse_bench.py (ten per client).
Set TOUCHLINE_BENCH_ERASE_EVENTS to change the 1 million."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from sinks import clickhouse
from sinks import erasure as ch_erasure
from tests.bench.test_clickhouse_bench import GENERATE
from touchline.settings import REPO_ROOT

pytestmark = [pytest.mark.bench, pytest.mark.timeout(3600)]

EVENTS = int(os.environ.get("TOUCHLINE_BENCH_ERASE_EVENTS", "1000000"))
RUNS = 3
PERSON, ALIAS = 12345, 12355  # clients of one account (client % 10), merged below
ACCOUNT, EMAIL = f"acc{PERSON % 10}", f"u{PERSON}@example.com"
MERGE = """
INSERT INTO {db}.identity_merges VALUES (toDateTime64('2025-06-01 00:00:00', 3, 'UTC'),
    '{account}', 'c{alias}', 'c{person}', 'email', NULL, generateUUIDv4())
"""


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def _median(fn: Any) -> float:
    return statistics.median(_timed(fn)[0] for _ in range(RUNS))


def test_erase_one_person_among_a_million_events(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    assert EVENTS // 10 > ALIAS, "too few events for the planted person"
    client = clickhouse.connect(f"chdb://{tmp_path_factory.mktemp('erasebench')}")
    db, r = "bench", "`bench`"
    clickhouse.migrate(client, db)
    generate_s, _ = _timed(lambda: client.command(GENERATE.format(db=r, n=EVENTS)))
    client.command(MERGE.format(db=r, account=ACCOUNT, alias=ALIAS, person=PERSON))
    total = int(client.query(f"SELECT count() FROM {r}.events").result_rows[0][0])
    assert total == EVENTS
    print(f"\ngenerated {total} events in {generate_s:.1f}s")

    count_s = _median(lambda: client.query(f"SELECT count() FROM {r}.events"))
    scan_sql = f"SELECT countIf(email = '{EMAIL}') FROM {r}.events"
    scan_s = _median(lambda: client.query(scan_sql))

    def erase() -> dict[str, int]:
        cluster = ch_erasure.find_cluster(client, db, ACCOUNT, set(), {f"email:{EMAIL}"})
        assert cluster.clients == {f"c{PERSON}", f"c{ALIAS}"}, cluster.clients
        counts = ch_erasure.erase(client, db, ACCOUNT, cluster.clients)
        entry = ch_erasure.LogEntry(datetime.now(UTC), ACCOUNT, "bench", ["h"], ["h"], counts, True)
        ch_erasure.log(client, db, entry)
        return counts

    erase_s, counts = _timed(erase)
    left = int(client.query(f"SELECT count() FROM {r}.events").result_rows[0][0])
    assert left == EVENTS - counts["clickhouse.events"] and counts["clickhouse.events"] == 20
    again_s, again = _timed(
        lambda: ch_erasure.find_cluster(client, db, ACCOUNT, set(), {f"email:{EMAIL}"})
    )
    assert again.clients == set()

    result = {
        "events": EVENTS,
        "engine": "chDB " + str(client.query("SELECT version()").result_rows[0][0]),
        "erase_s": round(erase_s, 3),
        "erased_rows": counts,
        "repeat_find_s": round(again_s, 3),
        "baseline_count_s": round(count_s, 4),
        "baseline_count_query": "SELECT count() FROM events (part metadata)",
        "baseline_scan_s": round(scan_s, 4),
        "baseline_scan_query": "SELECT countIf(email = <email>) FROM events (full column scan)",
        "ratio_erase_to_scan": round(erase_s / scan_s, 1),
        "seconds": f"erase: one run (it changes the data); baselines: median of {RUNS}",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    out = REPO_ROOT / "bench-results" / "erasure.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    client.close()
