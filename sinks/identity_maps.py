"""The materialised identity maps (sql/ddl/017): what keeps ``client_alias_map`` and
``split_event_map`` equal to the views that define them, ``client_aliases`` (merges and unmerges,
followed through chains) and ``split_events`` (the events that carry a split identifier).

The canonical views every report reads (``events_canonical``, ``events_canonical_raw``,
``booking_steps_canonical``) join the maps, so a report no longer computes both identity views
again in each of its subqueries. :func:`refresh` writes the difference between each view and its
map (``sql/derive/refresh_*.sql``): a row per key whose value changed, a tombstone per key that
left the view, version = the refresh's start (``now64``); FINAL reads each key's latest version.

When it runs: at the start of every touch derivation (:func:`sinks.touch_derivation.rederive`,
which the sink runs for its stored batches before it commits their offsets, and
``clickhouse.insert_*`` after their inserts), of a full derivation (``touchline db rederive``,
:func:`sinks.touch_derivation.derive_all`), of an erasure, and after ``touchline db migrate``.
Between a batch's insert and that refresh (at most ``TOUCHLINE_SINK_DERIVE_SECONDS``), the
reports see the batch's rows with the identities of the previous refresh, as they see its touches
derived as of the previous derivation; once the sink has caught up, both are exact.

Order does not matter: each refresh compares the whole view with the map's latest versions, so
after the last one the map equals the view, whatever happened in between (two sinks refreshing at
once: the later refresh started later, saw at least as much, and its version wins).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks import clickhouse

MAPS = ("client_alias_map", "split_event_map")
Inputs = tuple[Any, ...]


def refresh(client: Client, database: str) -> None:
    """Bring both maps up to the views (:mod:`module doc <sinks.identity_maps>`)."""
    for name in ("refresh_aliases", "refresh_split_events"):
        _run(client, database, name)


def _run(client: Client, database: str, name: str) -> None:
    client.command(clickhouse.render(clickhouse.derive_sql(name), database))


def ready(client: Client, database: str) -> bool:
    """Whether the schema has the maps yet (a test may migrate only part of the way)."""
    return all(client.command(f"EXISTS TABLE `{database}`.{table}") for table in MAPS)


@dataclass
class IdentityMaps:
    """:func:`refresh` for a caller that refreshes again and again (the sink, before each
    derivation): it skips what cannot have changed since its own last refresh. The aliases depend
    on the merges and splits only, so they are refreshed when either table's (count, hash of event
    ids) moved (~10 ms to read, against ~150 ms for a refresh on 1 M events); the split events
    also depend on the events, so they are refreshed every time while any split exists. The
    inputs (``sql/derive/identity_inputs.sql``) are read before the refresh, so a change after
    that read is seen the next time."""

    on_refresh: Callable[[str, bool], None] | None = None  # (map, refreshed): for metrics
    seen: Inputs | None = None
    refreshed: int = 0
    skipped: int = 0

    def refresh(self, client: Client, database: str) -> None:
        now = _inputs(client, database)
        due = {"aliases": now != self.seen, "split_events": now != self.seen or now[1][0] > 0}
        for name, run in due.items():
            if run:
                _run(client, database, f"refresh_{name}")
            self.refreshed += run
            self.skipped += not run
            if self.on_refresh is not None:
                self.on_refresh(name, run)
        self.seen = now


def _inputs(client: Client, database: str) -> Inputs:
    sql = clickhouse.render(clickhouse.derive_sql("identity_inputs"), database)
    row = client.query(sql).result_rows[0]
    return tuple(tuple(int(x) for x in part) for part in row)
