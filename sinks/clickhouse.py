"""ClickHouse access through clickhouse-connect: a chDB directory in-process, or a server by URL.

chDB lets one process open a data directory at a time. The sink process owns it while it runs;
reports open it after the sink stops (``touchline report`` says so if it is locked).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from touchline.errors import TouchlineError

SQL = Path(__file__).resolve().parent / "sql"


def connect(dsn: str) -> Client:
    try:
        return clickhouse_connect.get_client(dsn=dsn)
    except Exception as exc:
        raise TouchlineError(f"cannot open ClickHouse at {dsn}: {exc}") from exc


def render(sql: str, database: str) -> str:
    return sql.replace("{db}", f"`{database}`")


def ddl_files() -> list[tuple[int, str, str]]:
    out = []
    for entry in sorted((SQL / "ddl").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            out.append((version, entry.name, entry.read_text()))
    return out


def migrate(client: Client, database: str) -> list[str]:
    """Apply the DDL files not applied yet, in order; returns the names applied."""
    client.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    client.command(
        f"CREATE TABLE IF NOT EXISTS `{database}`.schema_migrations "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC')) "
        "ENGINE = MergeTree ORDER BY version"
    )
    done = {
        row[0]
        for row in client.query(f"SELECT version FROM `{database}`.schema_migrations").result_rows
    }
    applied = []
    for version, name, sql in ddl_files():
        if version in done:
            continue
        for statement in _statements(render(sql, database)):
            client.command(statement)
        client.insert(
            f"`{database}`.schema_migrations",
            [[version, name, datetime.now(UTC)]],
            column_names=["version", "name", "applied_at"],
        )
        applied.append(name)
    return applied


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def query(
    client: Client, name: str, database: str, **params: Any
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sinks/sql/queries/<name>.sql``; returns (column names, rows)."""
    path = SQL / "queries" / f"{name}.sql"
    if not path.is_file():
        raise TouchlineError(f"no report named {name!r}")
    result = client.query(render(path.read_text(), database), parameters=params)
    return list(result.column_names), [tuple(r) for r in result.result_rows]
