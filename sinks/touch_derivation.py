"""Materialised event-time touches: what keeps ``event_time_touches`` (sql/ddl/015) equal to the
query-time derivation (sql/fragments/event_time_touches.sql), so attribution and the funnel's
channel / campaign breakdowns read stored touches instead of re-deriving every client.

* :func:`rederive`: after rows are inserted (events, merges, splits), the canonical clients those
  rows name are derived again from all their stored events (``sql/derive/touches_of_clients.sql``),
  one row per touch, version = the derivation's start; an event of theirs that stopped being a
  touch gets a tombstone. ``clickhouse.insert_*`` call it; the sink calls it once per batch, after
  its inserts and before it commits the batch's offsets, so a crash in between redelivers the
  batch and derives again.
* :func:`ensure_derived`: a report reads the stored touches for a session timeout only after a
  full derivation with that timeout has finished (``event_time_derivations``); ``migrate`` runs
  one when none exists (after migration 015 on a database with history, or the first time a
  timeout is configured), ``touchline db rederive`` runs one on demand.

Order does not matter: a derivation reads everything stored when it starts, and the highest
version wins per event, so the table after the last derivation equals the derivation of all
stored events, whatever order the rows and identity changes were inserted in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks import clickhouse, identity_maps, parameters, rows
from touchline import clock
from touchline.settings import get_settings

Ids = set[tuple[str, str]]

_EVENT = (rows.COLUMNS.index("account_id"), rows.COLUMNS.index("client_id"))
_SIDES = ("account_id", "from_client_id", "to_client_id")
_MERGE = tuple(rows.MERGE_COLUMNS.index(c) for c in _SIDES)
_SPLIT = tuple(rows.SPLIT_COLUMNS.index(c) for c in _SIDES)


def named(
    events: Iterable[Sequence[Any]] = (),
    merges: Iterable[Sequence[Any]] = (),
    splits: Iterable[Sequence[Any]] = (),
) -> Ids:
    """The (account, client id) pairs that inserted rows name: each event's stitched client, both
    sides of each merge and split (:func:`rederive` adds the clients a split's identifiers move
    events between)."""
    account, client = _EVENT
    out: Ids = {(e[account], e[client]) for e in events}
    a, f, t = _MERGE
    for m in merges:
        out |= {(m[a], m[f]), (m[a], m[t])}
    sa, sf, st = _SPLIT
    for s in splits:
        out |= {(s[sa], s[sf]), (s[sa], s[st])}
    return {(str(x), str(y)) for x, y in out if y}


def _timeout(session_timeout_minutes: int | None) -> int:
    if session_timeout_minutes is not None:
        return session_timeout_minutes
    return int(get_settings().session_timeout_minutes)


Split = tuple[str, str, str, str]  # account, event id, split client, stitched client


def plan(
    named_ids: Ids, splits: Sequence[Split], links: dict[tuple[str, str], str]
) -> tuple[Ids, Ids]:
    """(canonical clients to derive, stitched ids that can hold their events). Pure.

    ``named_ids`` widened by the split clients of the split events stitched to them and the
    stitched ids of the split events whose split client is one of them, then mapped through the
    merges (``links``: client -> canonical id). Stitched ids: the canonical ids, every id merged
    into one of them, and the stitched ids of the split events whose split client ends in one."""

    def canon(account: str, client: str) -> str:
        return links.get((account, client), client)

    widened = set(named_ids)
    for account, _event, split_client, stitched in splits:
        if (account, stitched) in named_ids:
            widened.add((account, split_client))
        if (account, split_client) in named_ids:
            widened.add((account, stitched))
    canonical = {(a, canon(a, c)) for a, c in widened}
    held = set(canonical) | {(a, c) for (a, c), to in links.items() if (a, to) in canonical}
    held |= {(a, st) for a, _e, sc, st in splits if (a, canon(a, sc)) in canonical}
    return canonical, held


def _sql(database: str, name: str) -> str:
    return clickhouse.render(clickhouse.derive_sql(name), database)


def _rows(client: Client, database: str, name: str, **params: Any) -> list[tuple[Any, ...]]:
    sql = _sql(database, name)
    return [tuple(r) for r in client.query(sql, parameters=params).result_rows]


def _derive(client: Client, database: str, name: str, timeout: int, **arrays: Any) -> None:
    sql = _sql(database, name)
    values = parameters.resolve(sql, {"session_timeout_minutes": timeout})
    values.update(arrays)  # array parameters: not report flags, passed as they are
    client.command(sql, parameters=values)


def _rederive_chunk(client: Client, database: str, ids: Ids, timeout: int) -> None:
    accounts = sorted({a for a, _ in ids})
    splits: list[Split] = [
        (str(a), str(e), str(sc), str(st))
        for a, e, sc, st in _rows(client, database, "split_events_of_accounts", accounts=accounts)
    ]
    hit = sorted(ids | {(a, x) for a, _e, sc, st in splits for x in (sc, st)})
    links = {
        (str(a), str(c)): str(to)
        for a, c, to in _rows(client, database, "alias_groups", accounts=accounts, ids=hit)
    }
    canonical, held = plan(ids, splits, links)
    _derive(
        client,
        database,
        "touches_of_clients",
        timeout,
        canonical=sorted(canonical),
        stitched=sorted(held),
        splits=[(a, e, sc) for a, e, sc, _st in splits],
        links=sorted((a, c, to) for (a, c), to in links.items()),
    )


def split_identifiers(splits: Iterable[Sequence[Any]]) -> dict[str, list[str]]:
    """account -> the identifiers the split rows name (as stored: 'email:x', 'event:<id>')."""
    account, identifiers = (rows.SPLIT_COLUMNS.index(c) for c in ("account_id", "identifiers"))
    out: dict[str, set[str]] = {}
    for s in splits:
        out.setdefault(str(s[account]), set()).update(str(i) for i in s[identifiers] or ())
    return {a: sorted(ids) for a, ids in out.items() if ids}


def neighbours(client: Client, database: str, identifiers: dict[str, list[str]]) -> Ids:
    """The clients that split identifiers move events between (``derive/split_neighbours.sql``):
    the stitched clients of the events carrying them, both sides of every split naming them."""
    out: Ids = set()
    for account, ids in identifiers.items():
        found = _rows(client, database, "split_neighbours", accounts=[account], identifiers=ids)
        out |= {(str(a), str(c)) for a, c in found}
    return out


def rederive(
    client: Client,
    database: str,
    ids: Ids,
    session_timeout_minutes: int | None = None,
    splits: Iterable[Sequence[Any]] = (),
    maps: identity_maps.IdentityMaps | None = None,
) -> None:
    """Derive again the touches of the canonical clients of ``ids`` and, for inserted ``splits``
    rows, of the clients their identifiers move events between (see the module doc), in queries
    of at most ``TOUCHLINE_TOUCH_DERIVATION_IDS`` ids. The identity maps are refreshed first
    (:mod:`sinks.identity_maps`; through ``maps``, which skips what has not changed, if given):
    the derivation and the reports read them."""
    if maps is None:
        identity_maps.refresh(client, database)
    else:
        maps.refresh(client, database)
    identifiers = split_identifiers(splits)
    if identifiers:
        ids = ids | neighbours(client, database, identifiers)
    timeout = _timeout(session_timeout_minutes)
    chunk = max(1, int(get_settings().touch_derivation_ids))
    ordered = sorted(ids)
    for i in range(0, len(ordered), chunk):
        _rederive_chunk(client, database, set(ordered[i : i + chunk]), timeout)


def derive_all(client: Client, database: str, session_timeout_minutes: int | None = None) -> None:
    """Derive every client's touches and record the complete derivation (the identity maps
    refreshed first)."""
    identity_maps.refresh(client, database)
    timeout = _timeout(session_timeout_minutes)
    started = datetime.fromtimestamp(clock.now_ms() / 1000, UTC)
    if client.query(f"SELECT 1 FROM `{database}`.events LIMIT 1").result_rows:
        _derive(client, database, "touches_of_all", timeout)  # nothing to derive on a new one
    finished = datetime.fromtimestamp(clock.now_ms() / 1000, UTC)
    client.insert(
        f"`{database}`.event_time_derivations",
        [[timeout, started, finished]],
        column_names=["session_timeout_minutes", "started_at", "finished_at"],
    )


def complete(client: Client, database: str, session_timeout_minutes: int | None = None) -> bool:
    """Whether a full derivation with this session timeout has finished."""
    timeout = _timeout(session_timeout_minutes)
    result = client.query(
        f"SELECT count() FROM `{database}`.event_time_derivations "
        "WHERE session_timeout_minutes = {t:UInt32}",
        parameters={"t": timeout},
    )
    return bool(result.result_rows[0][0])


def ensure_derived(
    client: Client, database: str, session_timeout_minutes: int | None = None
) -> bool:
    """Run a full derivation unless one with this timeout has finished; True if it ran."""
    if complete(client, database, session_timeout_minutes):
        return False
    derive_all(client, database, session_timeout_minutes)
    return True
