"""Erasing one person's identity cluster from ClickHouse, their rows selected the way the reports
attribute them: an event belongs to the split's client when it carries a split identifier, else
to its stored (stitched) client, then merges resolve it (``events_canonical_raw``, 013), and the
cluster grows only through today's merges (a merge an unmerge split undid joins no one). So where
an identifier proved shared and a person was split off a client, erasing either of them takes
exactly their rows: theirs stored under the other's client id go, the other's stored under theirs
stay.

What goes: the selected events and the rows derived from them (``touches``, ``order_lines``,
``booking_steps``, ``event_time_touches``, ``event_time_paths`` (a conversion's path: the touches
of its own canonical client), ``split_event_map``, by event id; the touches and paths of the
clients left are derived again without them), ``client_profiles`` rows made from their profile
events or stored under the erased clients (the rows of the stitched clients concerned are made
again from the profile events left: another person's profile event stored under an erased client
id is that person's, like the event), the ``identity_merges`` and ``client_alias_map`` rows
naming the erased clients, the ``identity_splits`` naming them (a split from an erased client
to someone else carries that person's identifiers: it stays, with its from_client_id blanked);
the daily aggregates of their days recomputed; every table verified by counting the same
selection, and the erasure log.

The SQL is in ``sinks/sql/privacy/``; deletes are lightweight ``DELETE FROM`` (rows masked at
once, dropped by later merges), which chDB and any current ClickHouse server run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sinks import identity_maps, touch_derivation
from sinks.clickhouse import SQL, render
from touchline import clock
from touchline.errors import TouchlineError
from touchline.privacy import Cluster, LogEntry

# Tables whose rows are the selected events' (each row carries its event's event_id); events last.
EVENT_TABLES = (
    "touches",
    "order_lines",
    "booking_steps",
    "event_time_touches",
    "event_time_paths",
    "split_event_map",
    "events",
)
MAX_ROUNDS = 32  # merge chains are short; a cycle cannot grow the cluster forever
# Event ids per statement: query parameters travel in the URL of an HTTP request (ClickHouse's
# http_max_uri_size is 1 MiB by default; 5,000 UUIDs take about 200 KB).
CHUNK = 5_000


def _sql(name: str, database: str, table: str = "") -> str:
    text = render((SQL / "privacy" / f"{name}.sql").read_text(), database)
    return text.replace("{table}", f"`{table}`") if table else text


def _rows(client: Any, name: str, database: str, **params: Any) -> list[tuple[Any, ...]]:
    result = client.query(_sql(name, database), parameters=params)
    return [tuple(r) for r in result.result_rows]


def find_cluster(
    client: Any, database: str, account: str, clients: set[str], identifier_keys: set[str]
) -> Cluster:
    """The clients the events carrying the identifiers belong to (as the reports attribute them),
    plus ``clients``, closed over today's merges (both directions), with the identifiers of their
    events that no other client's events carry (a shared phone belongs to no one) and their event
    ids."""
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
        params = {"account": account, "clients": sorted(found)}
        ids = {"emails": emails, "phones": phones, "cids": cids}
        others = _rows(client, "shared_identifiers", database, **params, **ids)
        cluster.emails = set(emails) - {r[0] for r in others}
        cluster.phones = set(phones) - {r[1] for r in others}
        cluster.cids = set(cids) - {r[2] for r in others}
        cluster.event_ids = set(events)
    return cluster


@dataclass
class Selection:
    """The rows of one person: their clients, their events (as the reports attribute them), the
    ``client|ms`` keys of their profile events' client_profiles rows, the stitched clients whose
    client_profiles rows are made again (theirs and those their profile events are stored under),
    and the days of their events."""

    clients: list[str]
    events: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    stitched: set[str] = field(default_factory=set)
    days: list[date] = field(default_factory=list)


def select(client: Any, database: str, account: str, clients: set[str]) -> Selection:
    """The person's rows, as the reports attribute them."""
    sel = Selection(sorted(clients))
    rows = _rows(client, "selected_events", database, account=account, clients=sel.clients)
    sel.events = sorted({r[0] for r in rows})
    sel.profiles = sorted({f"{r[1]}|{r[3]}" for r in rows if r[2]})
    sel.stitched = {r[1] for r in rows if r[2]} | clients
    sel.days = sorted({r[4] for r in rows})
    return sel


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)] or [[]]


def count(client: Any, database: str, account: str, sel: Selection) -> dict[str, int]:
    """Rows of the selection in every table (``clickhouse.<table>``)."""
    out = {}
    for table in EVENT_TABLES:
        out[f"clickhouse.{table}"] = sum(
            int(client.query(_sql("count_rows", database, table), parameters=p).result_rows[0][0])
            for p in ({"account": account, "events": ids} for ids in _chunks(sel.events))
        )
    params = {"account": account, "clients": sel.clients}
    profiles = _rows(client, "count_profiles", database, **params, profiles=sel.profiles)
    out["clickhouse.client_profiles"] = int(profiles[0][0])
    out["clickhouse.identity_merges"] = int(_rows(client, "count_merges", database, **params)[0][0])
    out["clickhouse.identity_splits"] = int(_rows(client, "count_splits", database, **params)[0][0])
    aliases = _rows(client, "count_aliases", database, **params)
    out["clickhouse.client_alias_map"] = int(aliases[0][0])
    return out


def erase(client: Any, database: str, account: str, clients: set[str]) -> dict[str, int]:
    """Delete the person's rows (selected as the reports attribute them) and recompute the daily
    aggregates of their days; returns the rows found per table. Raises if a count of the same
    selection afterwards is not zero."""
    if not clients:
        return {}
    identity_maps.refresh(client, database)  # the reports' attribution as of every stored row
    sel = select(client, database, account, clients)
    before = count(client, database, account, sel)
    for table in EVENT_TABLES:
        if before[f"clickhouse.{table}"]:
            for ids in _chunks(sel.events):
                params = {"account": account, "events": ids}
                client.command(_sql("delete_rows", database, table), parameters=params)
    params = {"account": account, "clients": sel.clients}
    if before["clickhouse.client_profiles"]:
        again = {"account": account, "clients": sorted(sel.stitched)}
        client.command(_sql("delete_profiles", database), parameters=again)
        client.command(_sql("recompute_profiles", database), parameters=again)
    # merges and splits last: until now they decided which rows are the person's
    if before["clickhouse.identity_merges"]:
        client.command(_sql("delete_merges", database), parameters=params)
    if before["clickhouse.identity_splits"]:
        client.command(_sql("keep_splits", database), parameters=params)
        client.command(_sql("delete_splits", database), parameters=params)
    if before["clickhouse.client_alias_map"]:
        client.command(_sql("delete_aliases", database), parameters=params)
    if sel.days:
        day_params = {"account": account, "days": sel.days}
        client.command(_sql("delete_daily", database), parameters=day_params)
        client.command(_sql("recompute_daily", database), parameters=day_params)
        before["clickhouse.daily_events.days_recomputed"] = len(sel.days)
    # the people left in the cluster: their sessions and touches without the erased events
    left_ids = {(account, c) for c in sel.stitched | set(sel.clients)}
    touch_derivation.rederive(client, database, left_ids)
    after = count(client, database, account, sel)
    after["clickhouse.events.attributed"] = int(
        _rows(client, "count_selected", database, **params)[0][0]
    )
    left = {k: v for k, v in after.items() if v}
    if sel.days:
        wrong = _rows(client, "count_daily", database, account=account, days=sel.days)[0][0]
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
