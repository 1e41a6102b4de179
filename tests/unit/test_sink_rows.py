"""Enriched events and merges to ClickHouse rows; the DDL's column list matches the writer's."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from sinks import batches, clickhouse, rows
from sinks.anomaly_monitor import AnomalyMonitor
from tests.report_data import event, line, merge
from touchline.settings import Settings


def test_event_row_follows_columns_with_utc_timestamps_and_nested_lines() -> None:
    e = event(
        occurred_at=1_735_689_600_123,
        lines=[line(store_id="s1", amount_minor=5), line(service_id="cut", quantity=2)],
        attributes={"k": "v"},
    )
    row = dict(zip(rows.COLUMNS, rows.to_row(e), strict=True))
    # UTC epoch ms, DateTime64(3)'s own ticks (stored as they are: see test_clickhouse_migrate)
    assert row["occurred_at"] == 1_735_689_600_123
    assert batches.month_of(row["occurred_at"]) == 202501
    assert row["session_started_at"] is None
    assert row["lines.store_id"] == ["s1", None]
    assert row["lines.quantity"] == [1, 2]
    assert row["lines.amount_minor"] == [5, 0]
    assert row["attributes"] == {"k": "v"}
    assert row["own_channel"] == "direct"  # an event enriched before own_channel: its channel
    assert rows.to_row({**e, "own_channel": "email"})[-2] == "email"
    # external_ids: none from a worker before the column, else as the worker emitted them
    assert row["external_ids"] == []
    assert rows.to_row({**e, "external_ids": ["crm:7"]})[-1] == ["crm:7"]


def test_the_anomaly_monitor_reads_the_writers_rows() -> None:
    monitor = AnomalyMonitor(CollectorRegistry(), Settings())
    e = event(occurred_at=1_735_689_600_123, account_id="acc", source="studio_system")
    monitor.observe([rows.to_row(e)])
    assert monitor.last_event[("acc", "studio_system")] == 1_735_689_600_123


def test_merge_row() -> None:
    m = merge("acc", "a", "b", 1_735_689_600_000)
    row = dict(zip(rows.MERGE_COLUMNS, rows.merge_to_row(m), strict=True))
    assert row["from_client_id"] == "a" and row["to_client_id"] == "b"
    assert row["merged_at"] == datetime(2025, 1, 1, tzinfo=UTC)


def _ddl_columns(table: str) -> list[str]:
    text = "\n".join(sql for _, _, sql in clickhouse.ddl_files())
    body = text.split(f"CREATE TABLE IF NOT EXISTS {{db}}.{table}\n(", 1)[1].split("\n)", 1)[0]
    created = [
        re.match(r"\s*`?([\w.]+)`?", ln).group(1)  # type: ignore[union-attr]
        for ln in body.splitlines()
        if ln.strip() and not ln.strip().startswith("--")
    ]
    # later migrations append columns (ALTER TABLE ... ADD COLUMN without AFTER), in file order;
    # an ALIAS column is computed when read, never written
    added = re.findall(
        rf"^ALTER TABLE {{db}}\.{table} ADD COLUMN IF NOT EXISTS `?([\w.]+)`?(\s+\w+\s+ALIAS)?",
        text,
        re.MULTILINE,
    )
    return created + [name for name, alias in added if not alias]


def test_writer_columns_are_the_tables_columns() -> None:
    assert _ddl_columns("events") == list(rows.COLUMNS)
    assert _ddl_columns("identity_merges") == list(rows.MERGE_COLUMNS)
    # the sink writes each split's key (023) after the IdentitySplit fields
    assert _ddl_columns("identity_splits") == [*rows.SPLIT_COLUMNS, "split_key"]


def test_ddl_files_are_versioned_in_order() -> None:
    versions = [v for v, _, _ in clickhouse.ddl_files()]
    assert versions == sorted(set(versions)) and versions[0] == 1
