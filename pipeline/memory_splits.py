"""``pipeline/lua/split.lua`` over :class:`pipeline.memory_store.MemoryStore`'s dicts, for unit
tests without Redis: provenance of links that depended on one identifier, and their split when it
proves shared. ``tests/unit/test_memory_splits.py`` runs the same scenarios as the Lua tests."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from pipeline.memory_store import _Account


def _add_capped(members: set[str], member: str, cap: int) -> None:
    if len(members) < cap:
        members.add(member)


def record_provenance(
    a: _Account,
    ids: list[str],
    owner_of: dict[str, str],
    client: str,
    merged: list[str],
    created_of: dict[str, int],
    at: int,
    cap: int,
    event: tuple[str, str],  # the event's id and the client it would get alone
) -> None:
    supports: dict[str, list[str]] = {}
    claimed = []
    for k in ids:
        if k in owner_of:
            supports.setdefault(owner_of[k], []).append(k)
        else:
            claimed.append(k)
    mine = supports.get(client)
    if len(ids) == 1 and not claimed and not merged and mine:
        entry = orjson.dumps([event[0], client, event[1], str(at)]).decode()
        _add_capped(a.lookedupvia.setdefault(ids[0], set()), entry, cap)
    if claimed and not merged and mine and len(mine) == 1:
        group = orjson.dumps([client, str(at), *claimed]).decode()
        _add_capped(a.claimedvia.setdefault(mine[0], set()), group, cap)
    for o in merged:
        theirs = supports.get(o, [])
        text = orjson.dumps([o, client, str(created_of.get(o, at)), *theirs]).decode()
        if mine and len(mine) == 1:
            _add_capped(a.mergedvia.setdefault(mine[0], set()), text, cap)
        if len(theirs) == 1:
            _add_capped(a.mergedvia.setdefault(theirs[0], set()), text, cap)


def split_client_id(account: str, identifier: str) -> str:
    return "s" + hashlib.sha1(f"{account}|{identifier}".encode()).hexdigest()[:19]


def _undo_merge(a: _Account, entry: list[str], shared_id: str, via: str) -> dict[str, Any] | None:
    o, into = entry[0], entry[1]
    if a.merged.get(o) != into:
        return None
    del a.merged[o]
    a.card(o).setdefault("created_at", entry[2])
    return {
        "kind": "unmerge",
        "to_client_id": o,
        "from_client_id": a.canonical(into),
        "identifiers": [k for k in entry[3:] if k != shared_id],
        "via": via,
    }


def _move_claim(
    a: _Account, account: str, group: list[str], via: str, budget: int, out: list[dict[str, Any]]
) -> None:
    owner, at = group[0], group[1]
    new = split_client_id(account, group[2])
    moved: list[str] = []
    merges: list[tuple[str, list[str]]] = []
    queue, head = [group], 0
    while head < len(queue) and len(moved) < budget:
        g = queue[head]
        head += 1
        for k in g[2:]:
            if a.ids.get(k) == g[0] and k not in a.shared:
                a.ids[k] = new
                moved.append(k)
                queue.extend(orjson.loads(m) for m in sorted(a.claimedvia.pop(k, set())))
                merges.extend((k, orjson.loads(m)) for m in sorted(a.mergedvia.pop(k, set())))
    if not moved:
        return
    a.card(new).setdefault("created_at", at)
    out.append(
        {
            "kind": "claim",
            "to_client_id": new,
            "from_client_id": a.canonical(owner),
            "identifiers": moved,
            "via": via,
        }
    )
    for k, entry in merges:
        split = _undo_merge(a, entry, k, via)
        if split:
            out.append(split)


def _move_lookup(a: _Account, entry: list[str], via: str) -> dict[str, Any]:
    event_id, client, own, at = entry
    hits = a.zset("hits", a.canonical(client))
    for member in [m for m in hits if m.startswith(f'["{event_id}"')]:
        a.zset("hits", own)[member] = hits.pop(member)
    a.card(own).setdefault("created_at", at)
    return {
        "kind": "lookup",
        "to_client_id": own,
        "from_client_id": client,
        "identifiers": [f"event:{event_id}"],
        "via": via,
    }


def split_through(a: _Account, account: str, event_id: str, k: str, cap: int) -> int:
    via = k.split(":", 1)[0]
    out: list[dict[str, Any]] = []
    for m in sorted(a.mergedvia.pop(k, set())):
        split = _undo_merge(a, orjson.loads(m), k, via)
        if split:
            out.append(split)
    for c in sorted(a.claimedvia.pop(k, set())):
        _move_claim(a, account, orjson.loads(c), via, cap, out)
    out.extend(_move_lookup(a, orjson.loads(x), via) for x in sorted(a.lookedupvia.pop(k, set())))
    a.splits.setdefault(event_id, []).extend(orjson.dumps(s).decode() for s in out)
    return len(out)
