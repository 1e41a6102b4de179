"""The migrations' DDL for a ClickHouse cluster. Pure: statements in, statements out.

The files in ``sql/ddl/`` are written for one server. With ``TOUCHLINE_CLICKHOUSE_CLUSTER`` set,
:func:`for_cluster` turns each of their statements into its cluster form:

* ``CREATE TABLE T (...) ENGINE = XMergeTree(args) ...`` becomes the shard-local table ``T_local``
  with ``ReplicatedXMergeTree('<replica path>', '{replica}', args)`` and ``T`` a ``Distributed``
  table over it, sharded by ``TOUCHLINE_CLICKHOUSE_SHARD_KEY`` (default: the account, so an
  account's events, merges and derived rows share a shard: ``FINAL``, the per-client windows and the
  alias joins stay shard-local). The sink inserts into ``T`` and reports read ``T`` unchanged.
* A materialized view reads and writes the local tables (it runs where the rows land, on each
  shard); its backfill, made from the single-node statement, goes through the Distributed tables.
* ``ALTER TABLE`` of indexes goes to the local table; ``ADD COLUMN`` to both, local first (a
  ``MODIFY ORDER BY`` with it to the local table alone);
  ``TRUNCATE TABLE`` to the local table.
* Views, databases and the rest get ``ON CLUSTER``; every DDL statement runs on every node.

Without a cluster nothing here runs: the single-node statements are exactly the files'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from touchline.settings import Settings

LOCAL = "_local"


@dataclass(frozen=True)
class Cluster:
    name: str
    replica_path: str  # ClickHouse expands {shard}, {replica} (server macros), {database}, {table}
    shard_key: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Cluster | None:
        if not settings.clickhouse_cluster:
            return None
        return cls(
            settings.clickhouse_cluster,
            settings.clickhouse_replica_path,
            settings.clickhouse_shard_key,
        )

    @property
    def on(self) -> str:
        return f"ON CLUSTER `{self.name}`"


_CREATE_TABLE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS (?P<db>`[^`]+`)\.(?P<table>\w+)\s*(?P<body>\(.*\))\s*"
    r"ENGINE = (?P<engine>\w*MergeTree)(?:\((?P<args>[^)]*)\))?(?P<rest>.*)$",
    re.DOTALL,
)
_CREATE_MV = re.compile(
    r"^CREATE MATERIALIZED VIEW IF NOT EXISTS (?P<name>\S+) TO (?P<db>`[^`]+`)\.(?P<to>\w+) AS"
    r"(?P<select>\s.*)$",
    re.DOTALL,
)
_CREATE_VIEW = re.compile(r"^(CREATE (?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?\S+)(\s)", re.DOTALL)
_ALTER = re.compile(r"^ALTER TABLE (?P<db>`[^`]+`)\.(?P<table>\w+) (?P<action>.*)$", re.DOTALL)
_CREATE_DATABASE = re.compile(r"^(CREATE DATABASE IF NOT EXISTS \S+)$")
_TRUNCATE = re.compile(r"^TRUNCATE TABLE IF EXISTS (?P<db>`[^`]+`)\.(?P<table>\w+)$")


def replicated_tables(statements: list[str]) -> set[str]:
    """Names of the MergeTree tables the statements create (each gets a ``_local`` twin)."""
    return {m["table"] for s in statements if (m := _CREATE_TABLE.match(s))}


def for_cluster(statement: str, cluster: Cluster, tables: set[str]) -> list[str]:
    """The cluster form of one single-node statement (already rendered for its database)."""
    if m := _CREATE_TABLE.match(statement):
        return _table(m, cluster)
    if m := _CREATE_MV.match(statement):
        select = _localise(m["select"], m["db"], tables)
        return [
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {m['name']} {cluster.on} "
            f"TO {m['db']}.{m['to']}{LOCAL} AS{select}"
        ]
    if m := _ALTER.match(statement):
        local = f"ALTER TABLE {m['db']}.{m['table']}{LOCAL} {cluster.on} {m['action']}"
        if m["action"].startswith("ADD COLUMN"):  # a sorting key is the local table's alone
            add = re.split(r",\s*MODIFY ORDER BY", m["action"], maxsplit=1)[0]
            return [local, f"ALTER TABLE {m['db']}.{m['table']} {cluster.on} {add}"]
        return [local]
    if m := _CREATE_VIEW.match(statement):
        return [f"{m[1]} {cluster.on}{m[2]}{statement[m.end() :]}"]
    if m := _CREATE_DATABASE.match(statement):
        return [f"{m[1]} {cluster.on}"]
    if m := _TRUNCATE.match(statement):  # the rows are in the shard-local tables
        return [f"TRUNCATE TABLE IF EXISTS {m['db']}.{m['table']}{LOCAL} {cluster.on}"]
    raise ValueError(f"no cluster form for this DDL statement: {statement[:80]!r}")


def _table(m: re.Match[str], cluster: Cluster) -> list[str]:
    db, table = m["db"], m["table"]
    args = ", ".join(a for a in (f"'{cluster.replica_path}'", "'{replica}'", m["args"]) if a)
    engine = f"Replicated{m['engine']}({args})"
    local = (
        f"CREATE TABLE IF NOT EXISTS {db}.{table}{LOCAL} {cluster.on} {m['body']}\n"
        f"ENGINE = {engine}{m['rest']}"
    )
    distributed = (
        f"CREATE TABLE IF NOT EXISTS {db}.{table} {cluster.on} AS {db}.{table}{LOCAL}\n"
        f"ENGINE = Distributed(`{cluster.name}`, {db}, {table}{LOCAL}, {cluster.shard_key})"
    )
    return [local, distributed]


def _localise(select: str, db: str, tables: set[str]) -> str:
    """A materialized view's SELECT reading the local twins of the replicated tables."""
    pattern = re.compile(re.escape(db) + r"\.(\w+)\b")
    return pattern.sub(lambda t: f"{db}.{t[1]}{LOCAL}" if t[1] in tables else t[0], select)


def migrations_table(database: str, cluster: Cluster | None) -> str:
    """The DDL of ``schema_migrations``: replicated to every node (one shard) on a cluster."""
    head = f"CREATE TABLE IF NOT EXISTS `{database}`.schema_migrations"
    columns = "(version UInt32, name String, applied_at DateTime64(3, 'UTC'))"
    if cluster is None:
        return f"{head} {columns} ENGINE = MergeTree ORDER BY version"
    path = "/clickhouse/tables/{database}/schema_migrations"
    return (
        f"{head} {cluster.on} {columns} "
        f"ENGINE = ReplicatedMergeTree('{path}', '{{replica}}') ORDER BY version"
    )
