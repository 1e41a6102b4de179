"""Erasing one person's identity cluster from ClickHouse: every row of every table that holds
their clients (events, the derived tables, client profiles, identity merges and splits), the daily
aggregates recomputed without them, each table verified by a count, and the erasure log.

The SQL is in ``sinks/sql/privacy/``; deletes are lightweight ``DELETE FROM`` (rows masked at
once, dropped by later merges), which chDB and any current ClickHouse server run.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sinks.clickhouse import SQL, render
from touchline import clock
from touchline.errors import TouchlineError
from touchline.privacy import Cluster, LogEntry

# Tables with a client_id column (the stitched id) that hold a person's rows.
CLIENT_TABLES = ("events", "touches", "order_lines", "booking_steps", "client_profiles")
MAX_ROUNDS = 32  # merge chains are short; a cycle cannot grow the cluster forever


def _sql(name: str, database: str, table: str = "") -> str:
    text = render((SQL / "privacy" / f"{name}.sql").read_text(), database)
    return text.replace("{table}", f"`{table}`") if table else text


def _rows(client: Any, name: str, database: str, **params: Any) -> list[tuple[Any, ...]]:
    result = client.query(_sql(name, database), parameters=params)
    return [tuple(r) for r in result.result_rows]


def find_cluster(
    client: Any, database: str, account: str, clients: set[str], identifier_keys: set[str]
) -> Cluster:
    """The clients of the events carrying the identifiers, plus ``clients``, closed over the
    identity merges (both directions), with the identifiers and event ids of their events."""
    by_kind: dict[str, list[str]] = {"email": [], "phone": [], "cid": []}
    for key in identifier_keys:
        kind, _, value = key.partition(":")
        if kind in by_kind:
            by_kind[kind].append(value)
    found = set(clients)
    if any(by_kind.values()):
        found |= {
            r[0]
            for r in _rows(
                client,
                "cluster_by_identifier",
                database,
                account=account,
                emails=by_kind["email"],
                phones=by_kind["phone"],
                cids=by_kind["cid"],
            )
        }
    for _ in range(MAX_ROUNDS):
        if not found:
            break
        edges = _rows(client, "cluster_merges", database, account=account, clients=sorted(found))
        grown = found | {c for edge in edges for c in edge}
        if grown == found:
            break
        found = grown
    cluster = Cluster(clients=found)
    if found:
        emails, phones, cids, events = _rows(
            client, "cluster_identifiers", database, account=account, clients=sorted(found)
        )[0]
        cluster.emails, cluster.phones, cluster.cids = set(emails), set(phones), set(cids)
        cluster.event_ids = set(events)
    return cluster


def count(client: Any, database: str, account: str, clients: list[str]) -> dict[str, int]:
    """Rows of the clients in every table (``clickhouse.<table>``)."""
    out = {}
    for table in CLIENT_TABLES:
        result = client.query(
            _sql("count_rows", database, table), parameters={"account": account, "clients": clients}
        )
        out[f"clickhouse.{table}"] = int(result.result_rows[0][0])
    merges = _rows(client, "count_merges", database, account=account, clients=clients)
    out["clickhouse.identity_merges"] = int(merges[0][0])
    splits = _rows(client, "count_splits", database, account=account, clients=clients)
    out["clickhouse.identity_splits"] = int(splits[0][0])
    return out


def erase(client: Any, database: str, account: str, clients: set[str]) -> dict[str, int]:
    """Delete every row of the clients and recompute the daily aggregates of their days; returns
    the rows found per table. Raises if a count afterwards is not zero."""
    ids = sorted(clients)
    if not ids:
        return {}
    before = count(client, database, account, ids)
    days: list[date] = [
        r[0] for r in _rows(client, "days_of_clients", database, account=account, clients=ids)
    ]
    params = {"account": account, "clients": ids}
    for table in CLIENT_TABLES:
        if before[f"clickhouse.{table}"]:
            client.command(_sql("delete_rows", database, table), parameters=params)
    if before["clickhouse.identity_merges"]:
        client.command(_sql("delete_merges", database), parameters=params)
    if before["clickhouse.identity_splits"]:
        client.command(_sql("delete_splits", database), parameters=params)
    if days:
        day_params = {"account": account, "days": days}
        client.command(_sql("delete_daily", database), parameters=day_params)
        client.command(_sql("recompute_daily", database), parameters=day_params)
        before["clickhouse.daily_events.days_recomputed"] = len(days)
    after = count(client, database, account, ids)
    left = {k: v for k, v in after.items() if v}
    if days:
        wrong = _rows(client, "count_daily", database, account=account, days=days)[0][0]
        if wrong:
            left["clickhouse.daily_events.days_disagreeing"] = int(wrong)
    if left:
        raise TouchlineError(f"erase incomplete in ClickHouse: rows left {left}")
    return before


def log(client: Any, database: str, entry: LogEntry) -> str:
    """Append the request to the erasure log; returns its request id."""
    request_id = str(uuid.uuid4())
    client.insert(
        f"`{database}`.erasure_log",
        [
            [
                entry.requested_at,
                datetime.fromtimestamp(clock.now_ms() / 1000, tz=UTC),
                request_id,
                entry.account,
                entry.requested_by,
                sorted(entry.identifier_hashes),
                sorted(entry.client_hashes),
                entry.counts,
                entry.verified,
            ]
        ],
        column_names=[
            "requested_at",
            "finished_at",
            "request_id",
            "account_id",
            "requested_by",
            "identifier_hashes",
            "client_hashes",
            "counts",
            "verified",
        ],
    )
    return request_id
