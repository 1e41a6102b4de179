"""``pipeline/lua/split.lua`` over :class:`pipeline.memory_store.MemoryStore`'s dicts, for unit
tests without Redis: each client's links (the identifier sets its events carried) and lookups,
and the split when an identifier proves shared: the client's identifiers regrouped into the
connected components of its links without the shared identifiers.
``tests/unit/test_memory_splits.py`` runs the same scenarios as the Lua tests."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from pipeline import lookups, memory_parts
from pipeline.client_ids import own_client_id, split_client_id
from pipeline.lookups import Lookup
from pipeline.touches import TAG_LENGTH, TAGGED_KINDS, Hit, identifier_tag
from touchline import clock

if TYPE_CHECKING:
    from pipeline.memory_store import _Account

_DEFAULT = lookups.DEFAULT.decode()  # a lookups hash's default client, among its event ids


def add_link(a: _Account, client: str, text: str, at: int, cap: int) -> None:
    """split.lua's add_link: the identifier set ``text`` (a sorted JSON array) on ``client``'s
    links, at the earliest time it was seen; at most ``cap`` sets per client."""
    links = a.links.setdefault(client, {})
    if text in links:
        links[text] = min(links[text], at)
    elif len(links) < cap:
        links[text] = at


def record_provenance(
    a: _Account,
    ids: list[str],
    owner_of: dict[str, str],
    client: str,
    merged: list[str],
    at: int,
    cap: int,
    event: tuple[str, str, str],  # the event's account, id and the client it gets alone
) -> None:
    if len(ids) == 1 and not merged:  # looked up through it alone, or created through it alone
        account, event_id = event[0], event[1]
        own = event[2] if ids[0] in owner_of else split_client_id(account, f"event:{event_id}")
        members = a.lookedupvia.setdefault(ids[0], {})
        default = members.get(_DEFAULT)
        if len(members) < cap + (default is not None) and event_id not in members:
            lookup = Lookup(event_id, client, own, str(at))
            members[event_id] = lookups.value(
                account, lookup, default.decode() if default else client
            )
            members.setdefault(_DEFAULT, client.encode())
            a.lookup_marks[event_id] = (ids[0], own)
    if len(ids) > 1 or (ids and ids[0] not in owner_of):
        add_link(a, client, orjson.dumps(sorted(ids)).decode(), at, cap)


def merge_links(a: _Account, client: str, other: str, cap: int) -> None:
    """The merged client's links go on as the canonical client's."""
    for text, at in sorted(a.links.pop(other, {}).items()):
        add_link(a, client, text, at, cap)


def lookup_client(a: _Account, event_id: str, resolved: str, client: str) -> tuple[str, bool]:
    """split.lua's lookup_client: the client to record an event with (``client``: the canonical
    of the ``resolved`` one); a lookup's entry names it, or, if the identifier proved shared
    since the event was resolved, the event goes to its own client; and whether it was a
    lookup."""
    mark = a.lookup_marks.pop(event_id, None)
    if mark is None:
        return client, False
    k, own = mark
    members = a.lookedupvia.get(k, {})
    if event_id in members:
        if client != resolved:
            default = members[_DEFAULT].decode()
            _, at, tail = lookups.parts(members[event_id], default)
            members[event_id] = lookups.packed(client, at, tail, default)
        return client, True
    if k in a.shared:
        return own, True
    return client, True


def components(
    links: dict[str, int], shared: set[str]
) -> list[tuple[int, list[str], dict[str, int]]]:
    """The connected components of ``links`` without the ``shared`` identifiers, oldest first:
    (earliest link time, sorted identifiers, the component's links)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    kept: list[tuple[list[str], int]] = []
    for text, at in sorted(links.items()):
        ids = [k for k in orjson.loads(text) if k not in shared]
        if not ids:
            continue
        kept.append((ids, at))
        for k in ids:
            parent.setdefault(k, k)
        for k in ids[1:]:
            ra, rb = root(ids[0]), root(k)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, tuple[int, list[str], dict[str, int]]] = {}
    for ids, at in kept:
        r = root(ids[0])
        first, members, sets = groups.get(r, (at, [], {}))
        sets[orjson.dumps(ids).decode()] = at
        groups[r] = (min(first, at), members, sets)
    for k in parent:
        groups[root(k)][1].append(k)
    return sorted((at, sorted(m), sets) for at, m, sets in groups.values())


def split_since(
    a: _Account, ctx: dict[str, Any], client: str, event: tuple[str, str], looked_up: bool
) -> str:
    """split.lua's split_since: an event resolved before a split moved its identifiers belongs
    to the canonical owner of its first identifier (``ctx["ids"]``) that is not shared; to its
    own client (``event``: its account and id) if they are two or more and all shared now,
    unless it was looked up (its lookup split names its client)."""
    if not ctx.get("ids") or ctx.get("split_clock") == a.split_clock:
        return client
    for k in ctx["ids"]:
        if k not in a.shared and k in a.ids:
            return a.canonical(a.ids[k])
    if looked_up or len(ctx["ids"]) < 2 or any(k not in a.shared for k in ctx["ids"]):
        return client
    own = own_client_id(*event)
    a.card(own).setdefault("created_at", ctx["occurred_at"])
    return own


def _resplit(a: _Account, account: str, client: str, k: str) -> list[dict[str, Any]]:
    """``client``'s identifiers regrouped into the components of its links without the shared
    identifiers: the oldest component stays, each other one moves to a client of its own, with
    the hits tagged with its identifiers."""
    out = []
    via = k.split(":", 1)[0]
    for n, (at, ids, sets) in enumerate(components(a.links.pop(client, {}), a.shared)):
        to = client if n == 0 else split_client_id(account, f"{k}|{ids[0]}")
        a.links[to] = sets
        if to == client:
            continue
        moved = [i for i in ids if i in a.ids and a.canonical(a.ids[i]) == client]
        for i in moved:
            a.ids[i] = to
        a.card(to).setdefault("created_at", at)
        tags = {identifier_tag(i) for i in ids if i.startswith(TAGGED_KINDS)}
        _move_tagged(a.zset("hits", client), a.zset("hits", to), tags)
        memory_parts.move(a, client, to, partial(memory_parts.has_tag, tags=tags))
        if moved:
            split = {"kind": "claim", "to_client_id": to, "from_client_id": client}
            out.append({**split, "identifiers": moved, "via": via})
    return out


def _move_tagged(hits: dict[str, int], to: dict[str, int], wanted: set[str]) -> None:
    """split.lua's move_tagged: the hits tagged with one of ``wanted`` (the tags of a split-off
    component's emails, phones and web client ids: :func:`pipeline.touches.hit_tags`) move to
    ``to``."""
    for member in list(hits):
        if memory_parts.has_tag(Hit.from_member(member, 0).tags, wanted):
            to[member] = hits.pop(member)


def _move_lookup(a: _Account, lookup: Lookup, via: str, holder: str | None) -> dict[str, Any]:
    """split.lua's move_lookup: an event looked up through the now shared identifier alone goes
    to its own client, with its hit and counters, from the client it was stored with or from the
    identifier's owner (``holder``), where a claim moved them."""
    event_id, client, own, at = lookup
    stored = a.canonical(client)
    for source in dict.fromkeys(c for c in (stored, holder) if c):
        memory_parts.move(a, source, own, lambda key: key.endswith(f"@{event_id}"))
        hits = a.zset("hits", source)
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


def _all_in(tags: str, shared: set[str]) -> bool:
    """all_shared.lua's all_in: ``tags`` (hex) are two or more, all in ``shared``."""
    split = [tags[j : j + TAG_LENGTH] for j in range(0, len(tags), TAG_LENGTH)]
    return len(split) >= 2 and all(t in shared for t in split)


def _move_all_shared(a: _Account, account: str, client: str) -> None:
    """all_shared.lua's move_all_shared: the hits and own counters on ``client`` of events whose
    identifiers, two or more, are all shared now go each to its event's own client."""
    shared = {identifier_tag(k) for k in a.shared}
    hits = a.zset("hits", client)
    for member in list(hits):
        hit = Hit.from_member(member, hits[member])
        if _all_in(hit.tags, shared):
            own = own_client_id(account, hit.event_id)
            a.zset("hits", own)[member] = hits.pop(member)
            a.card(own).setdefault("created_at", hit.at)
    keys = {f[2:].split("|", 1)[0] for f in a.parts.get(client, {})}
    for key in sorted(k for k in keys if "@" in k and _all_in(k.split("@", 1)[0], shared)):
        own = own_client_id(account, key.split("@", 1)[1])
        memory_parts.move(a, client, own, key.__eq__)


def _split_clock(a: _Account) -> int:
    """split.lua's split_clock: now (UTC ms), strictly later than the account's previous splits."""
    a.split_clock = max(clock.now_ms(), a.split_clock + 1)
    return a.split_clock


def split_through(a: _Account, account: str, event_id: str, k: str) -> int:
    via = k.split(":", 1)[0]
    out = []
    holder = a.canonical(a.ids[k]) if k in a.ids else None
    if holder is not None:
        out = _resplit(a, account, holder, k)
        release = {"kind": "release", "to_client_id": "", "from_client_id": holder}
        out.append({**release, "identifiers": [k], "via": via})
    kept = a.lookedupvia.pop(k, {})
    found = sorted(x for _, x in lookups.entries(account, {f.encode(): v for f, v in kept.items()}))
    out += [_move_lookup(a, lookup, via, holder) for lookup in found]
    if holder is not None:
        _move_all_shared(a, account, holder)
    if out:
        at = _split_clock(a)
        out = [{**split, "at": at} for split in out]
    a.splits.setdefault(event_id, []).extend(orjson.dumps(s).decode() for s in out)
    return len(out)
