"""Who an event belongs to: identity splits, then merges, applied to the stored (stitched) client
ids, as the canonical views of sinks/sql/ddl/013_identity_splits.sql do. Pure."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from reference.selection import Event


def canonical_map(merges: list[Event], splits: Sequence[Event] = ()) -> dict[tuple[str, str], str]:
    """Each merged-away client with its canonical client: the latest of a client's merges and
    unmerges (identity splits of kind ``unmerge``; at equal times the unmerge) decides, an unmerged
    client is no alias; chains are followed."""
    latest: dict[tuple[str, str], tuple[tuple[Any, ...], str]] = {}

    def consider(key: tuple[str, str], order: tuple[Any, ...], target: str) -> None:
        if key not in latest or order > latest[key][0]:
            latest[key] = (order, target)

    for m in merges:
        if m["from_client_id"] != m["to_client_id"]:
            key = (m["account_id"], m["from_client_id"])
            consider(key, (m["merged_at"], 0, m["event_id"]), m["to_client_id"])
    for x in splits:
        if x["kind"] == "unmerge":
            key = (x["account_id"], x["to_client_id"])
            consider(key, (x["split_at"], 1, x["event_id"]), x["to_client_id"])
    links = {key: target for key, (_, target) in latest.items() if key[1] != target}
    out = {}
    for (account, src), target in links.items():
        for _ in range(7):
            nxt = links.get((account, target))
            if nxt is None:
                break
            target = nxt
        out[(account, src)] = target
    return out


def split_owner(splits: Sequence[Event]) -> dict[tuple[str, str], str]:
    """(account, identifier) -> the client its events belong to: the latest split naming it."""
    latest: dict[tuple[str, str], tuple[tuple[Any, ...], str]] = {}
    for x in splits:
        for identifier in x["identifiers"]:
            key, order = (x["account_id"], identifier), (x["split_at"], x["event_id"])
            if key not in latest or order > latest[key][0]:
                latest[key] = (order, x["to_client_id"])
    return {key: client for key, (_, client) in latest.items()}


def canonical(
    events: list[Event], merges: list[Event], splits: Sequence[Event] = ()
) -> list[Event]:
    """Distinct events (by event_id) with client_id resolved: an event named by a lookup split
    (``event:<event_id>``) or carrying a split identifier that names a client (its source-system
    ids in sorted order, else email, else phone, else cid; a released one passed over) belongs
    to that split's client; one whose identifiers, two or more, are all released to its own;
    then merges are followed."""
    cmap = canonical_map(merges, splits)
    owners = split_owner(splits)
    seen: dict[str, Event] = {}
    for e in events:
        client = e["client_id"]
        keys = _split_keys(e)
        for identifier in keys:
            owner = owners.get((e["account_id"], identifier))
            if owner:  # a released identifier ('': shared, names no one) is passed over
                client = owner
                break
        else:
            released = [owners.get((e["account_id"], k)) == "" for k in keys[1:]]
            if len(released) >= 2 and all(released):  # its identifiers all proved shared
                client = _own_client(e["account_id"], e["event_id"])
        seen[e["event_id"]] = {
            **e,
            "stitched_client_id": e["client_id"],
            "client_id": cmap.get((e["account_id"], client), client),
        }
    return list(seen.values())


def _own_client(account: str, event_id: str) -> str:
    """The client of an event whose identifiers, two or more, all proved shared: its own
    (``s`` + a hash of its account and ``event:<event_id>``, as split_events 022 makes it)."""
    return "s" + hashlib.sha1(f"{account}|event:{event_id.lower()}".encode()).hexdigest()[:19]


def _split_keys(e: Event) -> list[str]:
    """The identifiers a split may name an event by, in the order ``split_events`` ranks them."""
    keys = [f"event:{e['event_id']}"]
    keys += [f"ext.{x}" for x in sorted(e.get("external_ids") or ())]
    keys += [f"{kind}:{e[kind]}" for kind in ("email", "phone", "cid") if e.get(kind)]
    return keys
