"""Materialised event-time touches and attribution paths: what keeps ``event_time_touches``
(sql/ddl/015) equal to the query-time derivation (sql/fragments/event_time_touches.sql), so the
funnel's channel / campaign breakdowns read stored touches instead of re-deriving every client,
and ``event_time_paths`` (sql/ddl/024) equal to the paths attribution builds from them
(sql/fragments/attribution_paths.sql), so attribution reads one row per conversion.

* :func:`rederive`: after rows are inserted (events, merges, splits), the canonical clients those
  rows name are derived again from all their stored events (``sql/derive/touches_of_clients.sql``),
  one row per touch, version = the derivation's start; an event of theirs that stopped being a
  touch gets a tombstone; then the paths of those clients' conversions, for the lookback of the
  settings (``sql/derive/paths_of_clients.sql``). ``clickhouse.insert_*`` call it; the sink
  calls it once per batch, after its inserts and before it commits the batch's offsets, so a
  crash in between redelivers the batch and derives again.
* :func:`ensure_derived`: a report reads the stored touches for a session timeout only after a
  full derivation with that timeout has finished (``event_time_derivations``), and the stored
  paths only for the lookback that derivation covered; ``migrate`` runs one when none exists for
  the settings' timeout and lookback (after migration 015 or 024 on a database with history, or
  the first time they are configured), ``touchline db rederive`` runs one on demand. The sink
  keeps one lookback current, that of the latest full derivation: a report asking for another
  builds its paths itself.

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


def _lookback() -> int:
    """The lookback the stored attribution paths cover: the reports' default (sinks/parameters)."""
    return int(parameters.FROM_SETTINGS["lookback_days"](get_settings()))


_WITH_PATHS: set[str] = set()  # databases known to have event_time_paths (a table stays)


def _paths_table(client: Client, database: str) -> bool:
    """Whether migration 024 has run (a database migrated only part of the way, as tests of
    older files make, derives touches alone)."""
    if database not in _WITH_PATHS and client.command(
        f"EXISTS TABLE `{database}`.event_time_paths"
    ):
        _WITH_PATHS.add(database)
    return database in _WITH_PATHS


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
    arrays = {
        "canonical": sorted(canonical),
        "stitched": sorted(held),
        "splits": [(a, e, sc) for a, e, sc, _st in splits],
        "links": sorted((a, c, to) for (a, c), to in links.items()),
    }
    for name in ("touches_of_clients", "paths_of_clients")[: 1 + _paths_table(client, database)]:
        _derive(client, database, name, timeout, **arrays)


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
    with_paths = _paths_table(client, database)
    if client.query(f"SELECT 1 FROM `{database}`.events LIMIT 1").result_rows:
        for name in ("touches_of_all", "paths_of_all")[: 1 + with_paths]:
            _derive(client, database, name, timeout)  # nothing to derive on a new one
    finished = datetime.fromtimestamp(clock.now_ms() / 1000, UTC)
    row = {"session_timeout_minutes": timeout, "started_at": started, "finished_at": finished}
    if with_paths:  # the latest full derivation's lookback is the one whose paths are current
        row["lookback_days"] = _lookback()
    client.insert(
        f"`{database}`.event_time_derivations", [list(row.values())], column_names=list(row)
    )


def complete(
    client: Client, database: str, session_timeout_minutes: int | None = None, paths: bool = False
) -> bool:
    """Whether a full derivation with this session timeout has finished (``paths``: and the
    latest one stored the attribution paths of the configured lookback)."""
    timeout = _timeout(session_timeout_minutes)
    paths = paths and _paths_table(client, database)
    lookback = "argMax(lookback_days, finished_at) = {l:UInt32}" if paths else "1"
    result = client.query(
        f"SELECT count() > 0 AND {lookback} FROM `{database}`.event_time_derivations "
        "WHERE session_timeout_minutes = {t:UInt32}",
        parameters={"t": timeout, "l": _lookback()},
    )
    return bool(result.result_rows[0][0])


def ensure_derived(
    client: Client, database: str, session_timeout_minutes: int | None = None
) -> bool:
    """Run a full derivation unless one with this timeout and the configured lookback has
    finished; True if it ran."""
    if complete(client, database, session_timeout_minutes, paths=True):
        return False
    derive_all(client, database, session_timeout_minutes)
    return True
