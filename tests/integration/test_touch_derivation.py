"""Materialised event-time touches (sinks/touch_derivation.py, sql/ddl/015): the same events,
merges and splits inserted in shuffled orders and random batches, each insert re-deriving the
clients it names, must leave ``event_time_touches`` equal to the derivation of all stored events
at once, and the reports that read it (attribution in all models by channel and campaign, the
funnel and outcomes by channel and campaign) equal to the plain-Python reference, and to the same
reports derived at query time."""

from __future__ import annotations

import itertools
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

import reference as ref
from sinks import clickhouse, parameters, rows, touch_derivation
from tests.integration.test_split_reports import plant
from tests.report_data import BASE, DAY_MS, generate
from touchline.settings import get_settings

REPORTS = [
    ("attribution", {"model": "", "by": "channel", "lookback_days": 30, "half_life_days": 7.0}),
    ("attribution", {"model": "", "by": "campaign", "half_life_days": 3.0}),
    ("booking_funnel", {"breakdown": "channel", "profiles": 1, "strict": 0, "window_ms": DAY_MS}),
    ("booking_funnel", {"breakdown": "campaign", "profiles": 0, "strict": 1, "window_ms": DAY_MS}),
    ("booking_outcomes", {"breakdown": "channel"}),
]
COLUMNS = "account_id, toString(event_id), client_id, session_start, is_contact, touch_channel"


def stored(client: Client, db: str) -> set[tuple[Any, ...]]:
    got = client.query(
        f"SELECT {COLUMNS}, ifNull(utm_campaign, '') FROM `{db}`.event_time_touches FINAL "
        "WHERE session_timeout_minutes = 30"
    )
    return {tuple(r) for r in got.result_rows}


def derived_at_once(client: Client, db: str) -> set[tuple[Any, ...]]:
    """What sql/derive/touches_of_all.sql would write: its SELECT, run over everything stored."""
    sql = clickhouse.derive_sql("touches_of_all").replace("INSERT INTO {db}.event_time_touches", "")
    values = parameters.resolve(sql, {"session_timeout_minutes": 30})
    got = client.query(f"SELECT * FROM ({clickhouse.render(sql, db)})", parameters=values)
    return {
        (r[0], str(r[2]), r[3], bool(r[5]), bool(r[6]), r[8], r[9] or "")
        for r in got.result_rows
        if r[11] == 0
    }


PATH_COLUMNS = (
    "account_id, toString(event_id), client_id, revenue_minor, currency, location_id, touched"
)


def stored_paths(client: Client, db: str) -> set[tuple[Any, ...]]:
    """The stored attribution paths (ddl/024) of the settings' lookback, as hashable rows."""
    got = client.query(
        f"SELECT {PATH_COLUMNS} FROM `{db}`.event_time_paths FINAL "
        "WHERE session_timeout_minutes = 30 AND lookback_days = {l:UInt32}",
        parameters={"l": touch_derivation._lookback()},
    )
    return {(*r[:-1], tuple(r[-1])) for r in got.result_rows}


def paths_at_once(client: Client, db: str) -> set[tuple[Any, ...]]:
    """What sql/derive/paths_of_all.sql would write: its SELECT, over everything stored."""
    sql = clickhouse.derive_sql("paths_of_all").replace("INSERT INTO {db}.event_time_paths", "")
    values = parameters.resolve(sql, {"session_timeout_minutes": 30})
    got = client.query(f"SELECT * FROM ({clickhouse.render(sql, db)})", parameters=values)
    return {(r[0], str(r[4]), r[5], r[6], r[7], r[8], tuple(r[11])) for r in got.result_rows}


def load_shuffled(client: Client, db: str, seed: int) -> tuple[Any, list[dict[str, Any]]]:
    data = generate(seed=7, clients=150)
    splits = plant(data)
    items: list[tuple[str, list[Any]]] = [
        *(("e", rows.to_row(e)) for e in data.events),
        *(("m", rows.merge_to_row(m)) for m in data.merges),
        *(("s", rows.split_to_row(x)) for x in splits),
    ]
    rnd = random.Random(seed)
    items += [("e", r) for k, r in items[::7] if k == "e"]  # redeliveries
    rnd.shuffle(items)
    if seed % 2:  # every merge and split after all the events, in the order they were made
        # (a release after the claim it undoes): nothing else derives those clients again
        at = {"m": rows.MERGE_COLUMNS.index("merged_at"), "s": rows.SPLIT_COLUMNS.index("split_at")}
        items.sort(key=lambda item: (item[0] != "e", item[0] != "e" and item[1][at[item[0]]]))
    insert = {
        "e": clickhouse.insert_events,
        "m": clickhouse.insert_merges,
        "s": clickhouse.insert_splits,
    }
    i = 0
    while i < len(items):
        chunk = items[i : i + rnd.choice((1, 5, 40, 400))]
        if seed % 2:  # each merge and split in a batch of its own, after the events'
            events = list(itertools.takewhile(lambda item: item[0] == "e", chunk))
            chunk = events or chunk[:1]
        i += len(chunk)
        for kind, insert_rows in insert.items():
            batch = [r for k, r in chunk if k == kind]
            if batch:
                insert_rows(client, db, batch)
    return data, splits


@pytest.mark.parametrize("seed", range(4))
def test_any_insert_order_and_batching_gives_the_derivation_of_all_events(
    chdb_dir: Path, seed: int
) -> None:
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"derive{uuid.uuid4().hex[:8]}"
    clickhouse.migrate(client, db)
    assert touch_derivation.complete(client, db, 30)  # a new database: derived (nothing) at once
    data, splits = load_shuffled(client, db, seed)
    touches = stored(client, db)
    assert len(touches) > 300
    assert touches == derived_at_once(client, db)
    paths = stored_paths(client, db)
    assert len(paths) > 50 and sum(len(p[-1]) > 1 for p in paths) > 20
    assert paths == paths_at_once(client, db)
    events = ref.canonical(data.events, data.merges, splits)
    for name, params in REPORTS:
        merged = {**BASE, **params}
        expected = getattr(ref, name)(events, merged)
        assert clickhouse.query(client, name, db, merged)[1] == expected, (name, params)
    # the same reports derived at query time: what a report does before a full derivation exists
    client.command(f"TRUNCATE TABLE `{db}`.event_time_derivations")
    assert not touch_derivation.complete(client, db, 30)
    for name, params in REPORTS:
        merged = {**BASE, **params}
        expected = getattr(ref, name)(events, merged)
        assert clickhouse.query(client, name, db, merged)[1] == expected, (name, params)


def test_a_bulk_load_is_derived_by_migrate_and_by_rederive(chdb_dir: Path) -> None:
    """Rows stored without the derivation (a bulk load, or history before migration 015) are
    derived by the full derivation; a report reads stored touches only after one finished."""
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"bulk{uuid.uuid4().hex[:8]}"
    clickhouse.migrate(client, db)
    data = generate(seed=3, clients=60)
    clickhouse.insert_events(client, db, [rows.to_row(e) for e in data.events], derive=False)
    clickhouse.insert_merges(client, db, [rows.merge_to_row(m) for m in data.merges], derive=False)
    assert stored(client, db) == set()
    touch_derivation.derive_all(client, db, 30)
    assert stored(client, db) == derived_at_once(client, db) != set()
    assert stored_paths(client, db) == paths_at_once(client, db) != set()
    params = {**BASE, "model": "", "by": "channel", "half_life_days": 7.0}
    expected = ref.attribution(ref.canonical(data.events, data.merges), params)
    assert clickhouse.query(client, "attribution", db, params)[1] == expected
    # another timeout has no complete derivation: reports with it derive at query time
    assert not touch_derivation.complete(client, db, 45)
    params = {**params, "session_timeout_minutes": 45}
    expected = ref.attribution(ref.canonical(data.events, data.merges), params)
    assert clickhouse.query(client, "attribution", db, params)[1] == expected


def test_paths_are_read_only_for_the_lookback_the_sink_keeps_current(
    chdb_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored paths cover the lookback of the latest full derivation: once the settings'
    lookback changes, migrate derives the paths of the new one and the sink keeps those current;
    the old lookback's rows, stale from then on, are never read again (a report asking for it
    builds its paths)."""
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"lookback{uuid.uuid4().hex[:8]}"
    clickhouse.migrate(client, db)
    data = generate(seed=5, clients=80)
    half = len(data.events) // 2
    clickhouse.insert_events(client, db, [rows.to_row(e) for e in data.events[:half]])
    assert touch_derivation.complete(client, db, 30, paths=True)
    try:
        monkeypatch.setenv("TOUCHLINE_LOOKBACK_DAYS", "30")
        get_settings.cache_clear()
        assert not touch_derivation.complete(client, db, 30, paths=True)
        assert touch_derivation.ensure_derived(client, db, 30)  # what migrate does at start
        assert touch_derivation.complete(client, db, 30, paths=True)
        # the rest arrives: the sink (lookback 30) derives only the 30-day paths
        clickhouse.insert_events(client, db, [rows.to_row(e) for e in data.events[half:]])
        merges = [rows.merge_to_row(m) for m in data.merges]
        clickhouse.insert_merges(client, db, merges)
    finally:
        get_settings.cache_clear()
    stale = client.query(
        f"SELECT count() FROM `{db}`.event_time_paths FINAL WHERE lookback_days = 90"
    ).result_rows[0][0]
    assert (
        0
        < stale
        < client.query(
            f"SELECT count() FROM `{db}`.event_time_paths FINAL WHERE lookback_days = 30"
        ).result_rows[0][0]
    )
    events = ref.canonical(data.events, data.merges)
    for lookback in (30, 90):
        params = {**BASE, "model": "", "by": "channel", "half_life_days": 7.0}
        params["lookback_days"] = lookback
        expected = ref.attribution(events, params)
        assert clickhouse.query(client, "attribution", db, params)[1] == expected, lookback
