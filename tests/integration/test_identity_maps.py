"""The materialised identity maps (sinks/identity_maps.py, sql/ddl/017) on chDB: whatever order
and batching the events, merges, unmerges and splits arrive in (each insert refreshing the maps,
as the sink's derivation does), the maps end equal to the views that define them; a refresh with
nothing new writes nothing; an alias that an unmerge removes is hidden by its tombstone."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from sinks import clickhouse, identity_maps, rows
from tests.integration.test_touch_derivation import load_shuffled
from tests.report_data import T0, generate, split
from tests.report_data import merge as merge_

ALIASES_VIEW = "SELECT account_id, client_id, canonical_id FROM {db}.client_aliases"
ALIASES_MAP = "SELECT account_id, client_id, canonical_id FROM {db}.client_alias_map FINAL"
SPLITS_VIEW = (
    "SELECT split_account_id, toString(split_event_id), split_client_id, split_stitched_id "
    "FROM {db}.split_events"
)
SPLITS_MAP = (
    "SELECT account_id, toString(event_id), split_client_id, split_stitched_id "
    "FROM {db}.split_event_map FINAL"
)


def _set(client: Client, db: str, sql: str) -> set[tuple[Any, ...]]:
    return {tuple(r) for r in client.query(clickhouse.render(sql, db)).result_rows}


def _count(client: Client, db: str, table: str) -> int:
    return int(client.query(f"SELECT count() FROM `{db}`.{table}").result_rows[0][0])


@pytest.mark.parametrize("seed", range(2))
def test_the_maps_equal_their_views_whatever_the_insert_order(chdb_dir: Path, seed: int) -> None:
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"maps{uuid.uuid4().hex[:8]}"
    clickhouse.migrate(client, db)
    load_shuffled(client, db, seed)
    aliases = _set(client, db, ALIASES_MAP)
    assert len(aliases) > 20
    assert aliases == _set(client, db, ALIASES_VIEW)
    split_events = _set(client, db, SPLITS_MAP)
    assert len(split_events) > 20
    assert split_events == _set(client, db, SPLITS_VIEW)
    # the refresh writes differences only: nothing new, nothing written
    written = (_count(client, db, "client_alias_map"), _count(client, db, "split_event_map"))
    identity_maps.refresh(client, db)
    assert (_count(client, db, "client_alias_map"), _count(client, db, "split_event_map")) == (
        written
    )


def test_an_unmerge_leaves_a_tombstone_and_a_later_merge_wins_again(chdb_dir: Path) -> None:
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"maps{uuid.uuid4().hex[:8]}"
    clickhouse.migrate(client, db)
    chain = [merge_("acc1", "a", "b", T0), merge_("acc1", "b", "c", T0 + 1000)]
    clickhouse.insert_merges(client, db, [rows.merge_to_row(m) for m in chain])
    assert _set(client, db, ALIASES_MAP) == {("acc1", "a", "c"), ("acc1", "b", "c")}

    undo = split("acc1", "unmerge", "c", "b", [], T0 + 2000)  # b is its own client again
    clickhouse.insert_splits(client, db, [rows.split_to_row(undo)])
    assert _set(client, db, ALIASES_MAP) == {("acc1", "a", "b")} == _set(client, db, ALIASES_VIEW)
    tombstones = client.query(
        f"SELECT client_id FROM `{db}`.client_alias_map WHERE is_deleted = 1"
    ).result_rows
    assert [r[0] for r in tombstones] == ["b"]

    again = merge_("acc1", "b", "c", T0 + 3000)
    clickhouse.insert_merges(client, db, [rows.merge_to_row(again)])
    assert _set(client, db, ALIASES_MAP) == {("acc1", "a", "c"), ("acc1", "b", "c")}


def test_a_repeated_refresh_skips_only_what_cannot_have_changed(chdb_dir: Path) -> None:
    """IdentityMaps (the sink's): the aliases are refreshed again only when the merges or splits
    changed; the split events every time while a split exists, since a new event can carry a
    split identifier."""
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"maps{uuid.uuid4().hex[:8]}"
    clickhouse.migrate(client, db)
    calls: list[tuple[str, bool]] = []
    maps = identity_maps.IdentityMaps(on_refresh=lambda name, done: calls.append((name, done)))
    maps.refresh(client, db)
    maps.refresh(client, db)
    assert (maps.refreshed, maps.skipped) == (2, 2)  # nothing stored: the second one skipped
    assert calls == [
        ("aliases", True),
        ("split_events", True),
        ("aliases", False),
        ("split_events", False),
    ]

    chain = [merge_("acc1", "a", "b", T0)]
    clickhouse.insert_merges(client, db, [rows.merge_to_row(m) for m in chain], derive=False)
    maps.refresh(client, db)
    assert _set(client, db, ALIASES_MAP) == {("acc1", "a", "b")}

    claim = split("acc1", "claim", "b", "s1", ["email:x@example.com"], T0 + 1000)
    clickhouse.insert_splits(client, db, [rows.split_to_row(claim)], derive=False)
    maps.refresh(client, db)
    before = maps.refreshed
    event = generate(seed=1, clients=1).events[0]
    late = {**event, "account_id": "acc1", "client_id": "b", "email": "x@example.com"}
    clickhouse.insert_events(client, db, [rows.to_row(late)], derive=False)
    maps.refresh(client, db)
    assert maps.refreshed == before + 1  # the split events only: merges and splits unchanged
    assert _set(client, db, SPLITS_MAP) == {("acc1", late["event_id"], "s1", "b")}
    assert _set(client, db, SPLITS_MAP) == _set(client, db, SPLITS_VIEW)


def test_migrate_refreshes_the_maps_of_rows_stored_without_the_sink(chdb_dir: Path) -> None:
    """A bulk load (or history stored before 017) bypasses the refresh: `touchline db migrate`
    (which the sink runs at start) brings the maps up to the views."""
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"maps{uuid.uuid4().hex[:8]}"
    clickhouse.migrate(client, db)
    chain = [merge_("acc1", "a", "b", T0)]
    clickhouse.insert_merges(client, db, [rows.merge_to_row(m) for m in chain], derive=False)
    assert _set(client, db, ALIASES_MAP) == set()

    assert clickhouse.migrate(client, db) == []  # nothing to apply, a full derivation exists
    assert _set(client, db, ALIASES_MAP) == {("acc1", "a", "b")}
