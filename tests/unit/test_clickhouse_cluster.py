"""The migrations' cluster DDL (TOUCHLINE_CLICKHOUSE_CLUSTER): replicated local tables, Distributed
tables over them, ON CLUSTER everywhere; and without a cluster, exactly the single-node DDL."""

from __future__ import annotations

import re

import pytest

from sinks import clickhouse
from sinks.cluster import Cluster, for_cluster, migrations_table
from touchline.settings import Settings

DB = "tl"
CLUSTER = Cluster("prod", "/clickhouse/tables/{shard}/{database}/{table}", "cityHash64(account_id)")


def test_without_a_cluster_the_ddl_is_the_files_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOUCHLINE_CLICKHOUSE_CLUSTER", raising=False)
    assert Cluster.from_settings(Settings()) is None
    for (version, name, plan), (v, n, sql) in zip(
        clickhouse.planned(DB), clickhouse.ddl_files(), strict=True
    ):
        expected = []
        for statement in clickhouse._statements(clickhouse.render(sql, DB)):
            expected.append(statement)
            backfill = clickhouse._backfill(statement)
            if backfill:
                expected.append(backfill)
        assert (version, name, plan) == (v, n, expected)
    assert migrations_table(DB, None) == (
        "CREATE TABLE IF NOT EXISTS `tl`.schema_migrations "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC')) "
        "ENGINE = MergeTree ORDER BY version"
    )


def _cluster_plan() -> list[str]:
    return [s for *_, plan in clickhouse.planned(DB, CLUSTER) for s in plan]


def test_every_table_is_replicated_with_a_distributed_table_over_it() -> None:
    plan = _cluster_plan()
    tables = re.findall(
        r"^CREATE TABLE IF NOT EXISTS `tl`\.(\w+)_local ON CLUSTER `prod`", "\n".join(plan), re.M
    )
    assert set(tables) >= {"events", "identity_merges", "touches", "order_lines", "daily_events"}
    for t in tables:
        local = next(s for s in plan if s.startswith(f"CREATE TABLE IF NOT EXISTS `tl`.{t}_local "))
        assert re.search(
            r"ENGINE = Replicated\w*MergeTree\("
            r"'/clickhouse/tables/\{shard\}/\{database\}/\{table\}', '\{replica\}'",
            local,
        ), local
        distributed = (
            f"CREATE TABLE IF NOT EXISTS `tl`.{t} ON CLUSTER `prod` AS `tl`.{t}_local\n"
            f"ENGINE = Distributed(`prod`, `tl`, {t}_local, cityHash64(account_id))"
        )
        assert distributed in plan
    profiles = next(s for s in plan if "`tl`.client_profiles_local ON" in s)
    assert "'{replica}', updated_at)" in profiles  # the engine's own argument is kept


def test_every_ddl_statement_runs_on_cluster_and_views_write_locally() -> None:
    for statement in _cluster_plan():
        if statement.startswith("INSERT INTO"):
            # a backfill: through the Distributed tables, so each row lands on its shard
            assert "_local" not in statement, statement
            continue
        assert " ON CLUSTER `prod`" in statement, statement
        if statement.startswith("CREATE MATERIALIZED VIEW"):
            assert re.search(r" TO `tl`\.\w+_local AS", statement), statement
            assert re.search(r"FROM `tl`\.\w+_local", statement), statement
        if statement.startswith("ALTER TABLE") and "INDEX" in statement:
            assert "`tl`.events_local " in statement
        if statement.startswith("TRUNCATE"):  # the rows are in the local tables
            assert re.match(r"TRUNCATE TABLE IF EXISTS `tl`\.\w+_local ON", statement), statement
    truncated = [s for s in _cluster_plan() if s.startswith("TRUNCATE")]
    derivations = "TRUNCATE TABLE IF EXISTS `tl`.event_time_derivations_local ON CLUSTER `prod`"
    assert truncated == [derivations] * 4  # 018, 019, 020 and 022
    columns = [s for s in _cluster_plan() if "ADD COLUMN" in s]
    # own_channel (006), external_ids (020), identifier_count (022), split_key (023),
    # event_time_derivations.lookback_days (024)
    assert [s.split(" ON ")[0] for s in columns] == [
        "ALTER TABLE `tl`.events_local",
        "ALTER TABLE `tl`.events",
    ] * 3 + [
        "ALTER TABLE `tl`.identity_splits_local",
        "ALTER TABLE `tl`.identity_splits",
        "ALTER TABLE `tl`.event_time_derivations_local",
        "ALTER TABLE `tl`.event_time_derivations",
    ]
    # split_key (023): the sorting key is the local table's; the Distributed one gets the column
    assert "MODIFY ORDER BY" in columns[-4] and "MODIFY ORDER BY" not in columns[-3]
    assert columns[-3].endswith("ADD COLUMN IF NOT EXISTS split_key String")
    assert columns[-1].endswith("ADD COLUMN IF NOT EXISTS lookback_days UInt32")
    assert (
        "ReplicatedMergeTree('/clickhouse/tables/{database}/schema_migrations', '{replica}')"
        in (migrations_table(DB, CLUSTER))
    )


def test_a_statement_without_a_cluster_form_is_refused() -> None:
    with pytest.raises(ValueError, match="no cluster form"):
        for_cluster("DROP TABLE `tl`.events", CLUSTER, {"events"})


def test_cluster_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHLINE_CLICKHOUSE_CLUSTER", "prod")
    assert Cluster.from_settings(Settings()) == CLUSTER
