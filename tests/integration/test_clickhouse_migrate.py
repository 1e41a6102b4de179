"""Versioned DDL on chDB: applied once, and a materialized view added by a later migration is
backfilled from the rows already stored."""

from __future__ import annotations

import pytest

from sinks import clickhouse, rows
from sinks.cluster import Cluster, migrations_table
from tests.report_data import generate
from tests.support import insert_before_external_ids
from touchline.settings import Settings


def test_migrate_applies_each_file_once(chdb_settings: Settings) -> None:
    client = clickhouse.connect(chdb_settings.effective_clickhouse_dsn)
    db = chdb_settings.clickhouse_database
    first = clickhouse.migrate(client, db)
    assert first == [name for _, name, _ in clickhouse.ddl_files()]
    assert clickhouse.migrate(client, db) == []


def test_view_added_later_covers_the_history(
    chdb_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = clickhouse.connect(chdb_settings.effective_clickhouse_dsn)
    db = chdb_settings.clickhouse_database
    files = clickhouse.ddl_files()
    # the files that define booking_steps come later, and so does every file from the one that
    # brings identity splits (013) on: a later file may build on any earlier one (014 replaces a
    # view of 013, 017 the canonical views of 013 and 004)
    splits = min(i for i, f in enumerate(files) if "identity_splits" in f[2])
    later = [f for i, f in enumerate(files) if i >= splits or "booking_steps" in f[2]]
    monkeypatch.setattr(clickhouse, "ddl_files", lambda: [f for f in files if f not in later])
    clickhouse.migrate(client, db)
    events = generate(seed=3, clients=40).events
    # without the later files' views the touches cannot be derived: that is the full
    # derivation's job once the schema is complete (tests/integration/test_touch_derivation.py)
    insert_before_external_ids(client, db, events)  # 020 is among the later files
    monkeypatch.setattr(clickhouse, "ddl_files", lambda: files)

    assert clickhouse.migrate(client, db) == [name for _, name, _ in later]

    steps = sorted(e["event_id"] for e in events if e["family"] == "touchline.events.BookingStep")
    stored = client.query(f"SELECT toString(event_id) FROM `{db}`.booking_steps ORDER BY event_id")
    assert sorted(r[0] for r in stored.result_rows) == steps
    assert steps
    # 015 came later too: migrate derived the history's event-time touches once it existed
    derived = client.query(f"SELECT count() FROM `{db}`.event_time_touches FINAL")
    assert derived.result_rows[0][0] > 0


def test_rows_are_stored_with_their_utc_times_and_lines(chdb_settings: Settings) -> None:
    """The writer's rows (epoch-ms timestamps, column-oriented insert) read back as the events."""
    client = clickhouse.connect(chdb_settings.effective_clickhouse_dsn)
    db = chdb_settings.clickhouse_database
    clickhouse.migrate(client, db)
    events = generate(seed=5, clients=20).events
    events = [
        {**e, "session_started_at": e["occurred_at"] - 61_001} if i % 3 == 0 else e
        for i, e in enumerate(events)
    ]
    clickhouse.insert_events(client, db, [rows.to_row(e) for e in events])
    stored = client.query(
        f"SELECT toString(event_id), toUnixTimestamp64Milli(occurred_at), "
        f"toUnixTimestamp64Milli(session_started_at), `lines.quantity`, channel FROM `{db}`.events"
    ).result_rows
    expected = {
        e["event_id"]: (
            e["occurred_at"],
            e["session_started_at"],
            [line["quantity"] for line in e["lines"]],
            e["channel"],
        )
        for e in events
    }
    assert {r[0]: tuple(r[1:]) for r in stored} == expected
    assert any(e["lines"] for e in events) and any(e["session_started_at"] for e in events)


def test_cluster_ddl_is_valid_clickhouse_sql(chdb_settings: Settings) -> None:
    """Every statement of the cluster form parses in ClickHouse (EXPLAIN AST; chDB has no cluster
    to run them on), and a misplaced ON CLUSTER would not."""
    client = clickhouse.connect(chdb_settings.effective_clickhouse_dsn)
    c = Cluster("prod", "/clickhouse/tables/{shard}/{database}/{table}", "cityHash64(account_id)")
    db = chdb_settings.clickhouse_database
    statements = [s for *_, plan in clickhouse.planned(db, c) for s in plan]
    statements.append(migrations_table(db, c))
    for statement in statements:
        client.command(f"EXPLAIN AST {statement}")
    with pytest.raises(Exception, match="Syntax error"):
        client.command(f"EXPLAIN AST CREATE VIEW `{db}`.v AS ON CLUSTER `prod` SELECT 1")


def test_backfill_statement_mirrors_the_view() -> None:
    statement = "CREATE MATERIALIZED VIEW IF NOT EXISTS `d`.v TO `d`.t AS\nSELECT a FROM `d`.e"
    assert clickhouse._backfill(statement) == "INSERT INTO `d`.t SELECT a FROM `d`.e"
    assert clickhouse._backfill("CREATE VIEW `d`.v AS SELECT 1") is None
