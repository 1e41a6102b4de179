"""ClickHouse retention: a TTL per table from ``TOUCHLINE_CLICKHOUSE_TTL_DAYS`` (0 = forever),
applied after the migrations by ``touchline db migrate`` and by the sink at start."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sinks.clickhouse import SQL, render
from touchline.errors import TouchlineError

# a table derived from another keeps its rows as long, unless set itself
FOLLOWS = {"event_time_touches": "events", "event_time_paths": "events"}
# table -> the time column its TTL counts from
TTL_COLUMNS = {
    "events": "occurred_at",
    "touches": "occurred_at",
    "order_lines": "occurred_at",
    "booking_steps": "occurred_at",
    "event_time_touches": "occurred_at",
    "event_time_paths": "occurred_at",
    "client_profiles": "updated_at",
    "daily_events": "day",
    "identity_merges": "merged_at",
    "identity_splits": "split_at",
    "erasure_log": "requested_at",
}


def _sql(name: str, database: str, **names: str) -> str:
    text = render((SQL / "privacy" / f"{name}.sql").read_text(), database)
    lines = [line for line in text.splitlines() if not line.startswith("--")]
    out = "\n".join(lines)
    for key, value in names.items():
        out = out.replace("{" + key + "}", value)
    return out


def apply_ttl(client: Any, database: str, days: Mapping[str, int]) -> dict[str, int]:
    """Set (or remove) each table's TTL; returns the days applied per table."""
    unknown = sorted(set(days) - set(TTL_COLUMNS))
    if unknown:
        raise TouchlineError(
            f"TOUCHLINE_CLICKHOUSE_TTL_DAYS: no table {unknown[0]!r} "
            f"(tables: {', '.join(TTL_COLUMNS)})"
        )
    applied = {}
    for table, column in TTL_COLUMNS.items():
        n = int(days.get(table, days.get(FOLLOWS.get(table, ""), 0)))
        if n < 0:
            raise TouchlineError(f"TOUCHLINE_CLICKHOUSE_TTL_DAYS: {table} must be >= 0, got {n}")
        has_ttl = client.query(
            "SELECT position(engine_full, ' TTL ') > 0 FROM system.tables "
            "WHERE database = {db:String} AND name = {t:String}",
            parameters={"db": database, "t": table},
        ).result_rows
        if not has_ttl:
            continue
        if n:
            name = "modify_ttl"
            client.command(_sql(name, database, table=table, column=column, days=str(n)))
        elif has_ttl[0][0]:
            client.command(_sql("remove_ttl", database, table=table))
        applied[table] = n
    return applied
