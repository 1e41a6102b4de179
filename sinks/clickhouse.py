"""ClickHouse access through clickhouse-connect: a chDB directory in-process, or a server by URL.

chDB lets one process open a data directory at a time. The sink process owns it while it runs;
reports open it after the sink stops (``touchline report`` says so if it is locked).
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from sinks import cluster as cluster_ddl
from sinks import parameters
from sinks.cluster import Cluster
from touchline import clock
from touchline.errors import TouchlineError

SQL = Path(__file__).resolve().parent / "sql"


class ChdbLocked(TouchlineError):
    """Another process (normally the sink) has the chDB data directory open."""


def chdb_dir(dsn: str) -> Path | None:
    return Path(dsn.removeprefix("chdb://")) if dsn.startswith("chdb://") else None


def chdb_owner(directory: Path) -> int | None:
    """PID of the process holding the chDB directory's lock, or None if it is free."""
    status = directory / "status"
    try:
        with status.open("rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                text = status.read_text(errors="replace")
                pid = text.split("PID:", 1)[1].split()[0] if "PID:" in text else "0"
                return int(pid) if pid.isdigit() else 0
            fcntl.flock(f, fcntl.LOCK_UN)
    except FileNotFoundError:
        return None
    return None


def connect(dsn: str) -> Client:
    directory = chdb_dir(dsn)
    if directory is not None:
        owner = chdb_owner(directory)
        if owner is not None and owner != os.getpid():
            raise ChdbLocked(
                f"process {owner} (normally `touchline sink`) has the chDB directory {directory} "
                "open; stop it first, or run reports while it serves them"
            )
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


def planned(database: str, cluster: Cluster | None = None) -> list[tuple[int, str, list[str]]]:
    """Each DDL file as (version, name, the statements that apply it, in order): a materialized
    view is followed by the backfill of its target. With a cluster, each statement's cluster form
    (:mod:`sinks.cluster`); without one, exactly the files' statements."""
    files = [(v, n, _statements(render(sql, database))) for v, n, sql in ddl_files()]
    tables = (
        cluster_ddl.replicated_tables([s for *_, st in files for s in st]) if cluster else set()
    )
    out = []
    for version, name, statements in files:
        plan: list[str] = []
        for statement in statements:
            if cluster is None:
                plan.append(statement)
            else:
                plan.extend(cluster_ddl.for_cluster(statement, cluster, tables))
            backfill = _backfill(statement)  # through the Distributed tables on a cluster
            if backfill:
                plan.append(backfill)
        out.append((version, name, plan))
    return out


def migrate(client: Client, database: str, cluster: Cluster | None = None) -> list[str]:
    """Apply the DDL files not applied yet, in order; returns the names applied. With a cluster
    (``TOUCHLINE_CLICKHOUSE_CLUSTER``), their cluster forms, ``ON CLUSTER``."""
    on = f" {cluster.on}" if cluster else ""
    client.command(f"CREATE DATABASE IF NOT EXISTS `{database}`{on}")
    client.command(cluster_ddl.migrations_table(database, cluster))
    done = {
        row[0]
        for row in client.query(f"SELECT version FROM `{database}`.schema_migrations").result_rows
    }
    applied = []
    for version, name, statements in planned(database, cluster):
        if version in done:
            continue
        for statement in statements:
            client.command(statement)
        client.insert(
            f"`{database}`.schema_migrations",
            [[version, name, datetime.fromtimestamp(clock.now_ms() / 1000, UTC)]],
            column_names=["version", "name", "applied_at"],
        )
        applied.append(name)
    from sinks import identity_maps, touch_derivation  # they read the SQL through this module

    # (a schema migrated only part of the way, as a test of a later file makes it, has no table)
    derived = bool(client.command(f"EXISTS TABLE `{database}`.event_time_derivations"))
    derived = derived and touch_derivation.ensure_derived(client, database)  # refreshes the maps
    if not derived and identity_maps.ready(client, database):
        identity_maps.refresh(client, database)
    return applied


_MATERIALIZED_VIEW = re.compile(
    r"CREATE MATERIALIZED VIEW (?:IF NOT EXISTS )?\S+ TO (\S+) AS\s+(SELECT\b.*)", re.DOTALL
)


def _backfill(statement: str) -> str | None:
    """A materialized view only sees rows inserted after it exists: the statement that fills its
    target from the rows already in its source, so a view added by a later migration covers the
    history too (on a new database it inserts nothing)."""
    match = _MATERIALIZED_VIEW.match(statement)
    return f"INSERT INTO {match[1]} {match[2]}" if match else None


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def query(
    client: Client,
    name: str,
    database: str,
    params: Mapping[str, Any] | None = None,
    **more: Any,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sinks/sql/queries/<name>.sql`` with its parameters (missing ones take the defaults in
    :mod:`sinks.parameters`); returns (column names, rows)."""
    sql = query_sql(name)
    values = parameters.resolve(sql, {**(params or {}), **more})
    result = client.query(render(sql, database), parameters=values)
    return list(result.column_names), [tuple(r) for r in result.result_rows]


def query_names() -> list[str]:
    return sorted(p.stem for p in (SQL / "queries").glob("*.sql"))


_INCLUDE = re.compile(r"^[ \t]*-- include: (\w+)[ \t]*$", re.MULTILINE)


def query_sql(name: str) -> str:
    """The text of a query, with each ``-- include: NAME`` line replaced by
    ``sql/fragments/NAME.sql`` (SQL that several queries share, kept once)."""
    if name not in query_names():  # a name, never a path: "../x" must not reach other files
        raise TouchlineError(f"no query named {name!r} (known: {', '.join(query_names())})")
    path = SQL / "queries" / f"{name}.sql"
    return _expand(path.read_text(), ())


def derive_sql(name: str) -> str:
    """The text of ``sql/derive/<name>.sql`` (what keeps event_time_touches current), includes
    expanded."""
    return _expand((SQL / "derive" / f"{name}.sql").read_text(), ())


def _expand(text: str, within: tuple[str, ...]) -> str:
    """``text`` with its includes replaced; a fragment may include others, never itself."""
    return _INCLUDE.sub(lambda m: _fragment(m[1], within), text)


def _fragment(name: str, within: tuple[str, ...]) -> str:
    path = SQL / "fragments" / f"{name}.sql"
    if not path.is_file():
        raise TouchlineError(f"a query includes {name!r}, but {path} does not exist")
    if name in within:
        raise TouchlineError(f"fragment {name!r} includes itself ({' -> '.join(within)})")
    return _expand(path.read_text().rstrip("\n"), (*within, name))


def insert_events(
    client: Client, database: str, batch: list[list[Any]], derive: bool = True
) -> None:
    """Insert rows made by :func:`sinks.rows.to_row` into ``events``, row-oriented (the driver
    transposes them in compiled code: a column-oriented insert of the same rows transposed here
    in Python took 1.25x as long, same process, 100k rows); then, unless ``derive`` is False
    (the sink derives once per batch), re-derive their clients' touches."""
    from sinks import rows, touch_derivation

    client.insert(f"`{database}`.events", batch, column_names=list(rows.COLUMNS))
    if derive:
        touch_derivation.rederive(client, database, touch_derivation.named(events=batch))


def insert_merges(
    client: Client, database: str, batch: list[list[Any]], derive: bool = True
) -> None:
    """Insert rows made by :func:`sinks.rows.merge_to_row` into ``identity_merges`` (then
    re-derive both sides' touches unless ``derive`` is False)."""
    from sinks import rows, touch_derivation

    client.insert(f"`{database}`.identity_merges", batch, column_names=list(rows.MERGE_COLUMNS))
    if derive:
        touch_derivation.rederive(client, database, touch_derivation.named(merges=batch))


def insert_splits(
    client: Client, database: str, batch: list[list[Any]], derive: bool = True
) -> None:
    """Insert rows made by :func:`sinks.rows.split_to_row` into ``identity_splits`` (then
    re-derive both sides' touches unless ``derive`` is False)."""
    from sinks import rows, touch_derivation

    keyed = [[*row, rows.split_key(row)] for row in batch]
    columns = [*rows.SPLIT_COLUMNS, "split_key"]
    client.insert(f"`{database}`.identity_splits", keyed, column_names=columns)
    if derive:
        ids = touch_derivation.named(splits=batch)
        touch_derivation.rederive(client, database, ids, splits=batch)
