"""What applying identity splits costs the reports (sinks/sql/ddl/013_identity_splits.sql).

The bench's generated events (tests/bench/test_clickhouse_bench.py) are loaded into two databases
of one chDB: ``splits`` with every migration, and ``baseline`` with the canonical views put back to
their definitions before 013 (002's client_aliases, 004's booking_steps_canonical, 006's
events_canonical and events_canonical_raw): the same-run baseline. The funnel and attribution
(they read those views) run interleaved on both, RUNS times, with no splits and then with
SPLITS claim splits; the medians and their ratios are printed and written to
``bench-results/split_views.json``. Since 017 ``splits`` reads the identity maps (refreshed after
the bulk load, and by the insert of the splits), so the ratio is that of today's canonical views.
Set TOUCHLINE_BENCH_SPLIT_EVENTS to change the 2 million."""

from __future__ import annotations

import os
import statistics
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from sinks import clickhouse, identity_maps
from tests.bench import results
from tests.bench.test_clickhouse_bench import GENERATE, MERGES, _merges_done

pytestmark = [pytest.mark.bench, pytest.mark.timeout(3600)]

EVENTS = int(os.environ.get("TOUCHLINE_BENCH_SPLIT_EVENTS", "2000000"))
SPLITS = 1000
RUNS = 7
VIEWS = {
    "002_identity.sql": "client_aliases",
    "004_reads_without_final.sql": "booking_steps_canonical",
    "006_event_time.sql": "",  # both of its views
}
SPAN = {"from": date(2025, 1, 1), "to": date(2025, 12, 31)}
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("booking_funnel breakdown=channel", "booking_funnel", {**SPAN, "breakdown": "channel"}),
    ("attribution all models", "attribution", SPAN),
]


def _views_before_013(client: Any, db: str) -> None:
    """The canonical views as they were before splits, over ``db``'s tables."""
    for name, only in VIEWS.items():
        text = clickhouse.render((clickhouse.SQL / "ddl" / name).read_text(), db)
        for statement in clickhouse._statements(text):
            if "VIEW" not in statement or "MATERIALIZED" in statement:
                continue
            if only and f".{only} " not in statement:
                continue
            client.command(statement.replace("CREATE VIEW IF NOT EXISTS", "CREATE OR REPLACE VIEW"))


def _claims(n: int) -> list[list[Any]]:
    at = datetime(2025, 6, 1, tzinfo=UTC)
    return [
        [
            at,
            f"acc{c % 10}",
            "claim",
            f"c{c}",
            f"s{c}",
            [f"email:u{c}@example.com"],
            "phone",
            str(uuid.uuid4()),
        ]
        for c in range(3, 3 + 7 * n, 7)
    ]


def _interleaved(client: Any) -> dict[str, Any]:
    times: dict[str, dict[str, list[float]]] = {
        label: {"splits": [], "baseline": []} for label, *_ in CASES
    }
    for _ in range(RUNS):
        for label, name, params in CASES:
            for db in ("baseline", "splits"):
                started = time.perf_counter()
                clickhouse.query(client, name, db, params)
                times[label][db].append(time.perf_counter() - started)
    out = {}
    for label, by_db in times.items():
        base, mine = statistics.median(by_db["baseline"]), statistics.median(by_db["splits"])
        out[label] = {
            "baseline_s": round(base, 3),
            "splits_s": round(mine, 3),
            "ratio": round(mine / base, 2),
        }
        print(
            f"{label:34} before 013 {base:7.3f}s  splits applied {mine:7.3f}s  x{mine / base:.2f}"
        )
    return out


def test_split_views_cost(tmp_path_factory: pytest.TempPathFactory) -> None:
    client = clickhouse.connect(f"chdb://{tmp_path_factory.mktemp('splitbench')}")
    for db in ("splits", "baseline"):
        clickhouse.migrate(client, db)
    client.command(GENERATE.format(db="`splits`", n=EVENTS))
    client.command(MERGES.format(db="`splits`", n=max(EVENTS // 1000, 1)))
    for table in ("events", "identity_merges"):
        client.command(f"INSERT INTO `baseline`.{table} SELECT * FROM `splits`.{table}")
    _views_before_013(client, "baseline")
    identity_maps.refresh(client, "splits")  # a bulk load: the sink would have refreshed (017)
    _merges_done(client)
    print(f"\n{EVENTS} events, no splits (medians of {RUNS} interleaved runs)")
    none = _interleaved(client)
    clickhouse.insert_splits(client, "splits", _claims(SPLITS))
    print(f"{EVENTS} events, {SPLITS} claim splits (the baseline ignores them)")
    some = _interleaved(client)
    result = {
        "events": EVENTS,
        "runs": RUNS,
        "splits": SPLITS,
        "no_splits": none,
        "with_splits": some,
        "baseline": "the same queries over the canonical views before 013, same run",
    }
    results.write("split_views", result)
