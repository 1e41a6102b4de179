"""Erasing one person's identity cluster from Redis (key layout in :mod:`pipeline.keys`): the
identifiers they own (their fields in ``ids:<shard>``, and ``id:`` keys of the layout before),
the strong identifiers seen with them (their ``anchors:<shard>`` fields, and the entries of their
email or source ids in anyone else's anchors), each client's card, hits and visits, their entries
in ``merged``, the dedup state of their events (``inflight:``, ``pending:``, ``splits:``, their
entries in ``seen:``), and the split provenance (``links:`` of their clients, ``lookedupvia:``
under their identifiers) and any entry of it naming their clients or identifiers. Shared
identifiers (``shared:``) belong to no one person and stay.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from pipeline import anchors, lookups
from pipeline.keys import account_base, account_pattern, id_key
from pipeline.store import ClientStore
from pipeline.touches import Hit
from touchline.privacy import RedisCluster
from touchline.settings import Settings

PER_CLIENT = ("card", "hits", "session", "links", "parts")
# "id": the key per identifier of the layout before the ids:<shard> hashes (pipeline/keys.py);
# lookedupvia (and links: per client): pipeline/lua/split.lua's provenance
PER_IDENTIFIER = ("id", "lookedupvia")
PER_EVENT = ("inflight", "lettered", "pending", "splits", "lookup")
MAX_HOPS = 64


def _base(store: ClientStore, account: str) -> str:
    return account_base(store.prefix, account)


async def _merged(store: ClientStore, account: str) -> dict[str, str]:
    raw = await store.redis.hgetall(_base(store, account) + "merged")
    return {k.decode(): v.decode() for k, v in raw.items()}


def _canonical(merged: dict[str, str], client: str) -> str:
    for _ in range(MAX_HOPS):
        nxt = merged.get(client)
        if nxt is None:
            return client
        client = nxt
    return client


async def find_cluster(
    store: ClientStore, account: str, clients: Iterable[str], identifier_keys: Iterable[str]
) -> RedisCluster:
    """The clients owning the identifiers plus ``clients``, with every client merged into or
    from them, the identifiers they own and their events' ids."""
    base = _base(store, account)
    found = set(clients)
    for key in identifier_keys:
        owner = await store.lookup(account, key)
        if owner is not None:
            found.add(owner)
    merged = await _merged(store, account)
    canon = {_canonical(merged, c) for c in found}
    found |= canon | {m for m in merged if _canonical(merged, m) in canon}
    cluster = RedisCluster(clients=found)
    if not found:
        return cluster
    cluster.identifiers |= await _owned_by(store, account, found)
    for ident in cluster.identifiers:
        if await store.redis.exists(base + "shared:" + ident):
            cluster.shared.add(ident)
    for c in found:
        for member, score in await store.redis.zrange(base + "hits:" + c, 0, -1, withscores=True):
            cluster.event_ids.add(Hit.from_member(member, score).event_id)
    return cluster


async def _owned_by(store: ClientStore, account: str, clients: set[str]) -> set[str]:
    """The identifiers ``clients`` own: fields of the ``ids:<shard>`` hashes, and ``id:`` keys
    of the layout before."""
    base, owned = _base(store, account), set()
    async for raw in store.redis.scan_iter(
        match=account_pattern(store.prefix, account, "ids"), count=10_000
    ):
        async for ident, owner in store.redis.hscan_iter(raw, count=1000):
            if owner.decode() in clients:
                owned.add(ident.decode())
    async for raw in store.redis.scan_iter(
        match=account_pattern(store.prefix, account, "id"), count=10_000
    ):
        key = raw.decode()
        owner = await store.redis.get(key)
        if owner is not None and owner.decode() in clients:
            owned.add(key[len(base) + 3 :])
    return owned


def _id_fields(store: ClientStore, account: str, identifiers: set[str]) -> dict[str, list[str]]:
    """The identifiers by the ``ids:<shard>`` hash holding their owners."""
    fields: dict[str, list[str]] = {}
    for ident in sorted(identifiers):
        key = id_key(store.prefix, account, ident, store.id_shards)
        fields.setdefault(key, []).append(ident)
    return fields


def _keys(base: str, clients: set[str], identifiers: set[str], event_ids: set[str]) -> list[str]:
    keys = [f"{base}{kind}:{c}" for c in sorted(clients) for kind in PER_CLIENT]
    keys += [f"{base}{kind}:{i}" for i in sorted(identifiers) for kind in PER_IDENTIFIER]
    keys += [f"{base}{kind}:{e}" for e in sorted(event_ids) for kind in PER_EVENT]
    return keys


async def erase(
    store: ClientStore,
    account: str,
    clients: set[str],
    identifiers: set[str],
    event_ids: set[str],
) -> int:
    """Delete the cluster's keys and entries; returns how many keys, hash fields and set members
    went."""
    base = _base(store, account)
    removed = 0
    keys = _keys(base, clients, identifiers, event_ids)
    for start in range(0, len(keys), 500):
        removed += int(await store.redis.delete(*keys[start : start + 500]))
    for key, idents in _id_fields(store, account, identifiers).items():
        removed += int(await store.redis.hdel(key, *idents))
    removed += await store.unmark(account, event_ids)
    merged = await _merged(store, account)
    fields = [m for m, to in merged.items() if m in clients or to in clients]
    if fields:
        removed += int(await store.redis.hdel(base + "merged", *fields))
    removed += await _erase_anchors(store, account, identifiers)
    return removed + await _erase_provenance(store, account, clients | identifiers)


async def _erase_anchors(store: ClientStore, account: str, identifiers: set[str]) -> int:
    """Anchors (pipeline/anchors.py): the identifiers' own go whole; their strong identifiers
    (email, source ids) leave everyone else's."""
    base, removed = _base(store, account), 0
    gone = {e for i in identifiers if (e := anchors.entry(i)) is not None}
    pattern = account_pattern(store.prefix, account, "anchors")
    async for raw in store.redis.scan_iter(match=pattern, count=10_000):
        key = raw.decode()
        name = key[len(base) + len("anchors:") :]
        if ":" in name:  # the layout before: a hash per identifier (strong identifier -> kind)
            if name in identifiers:
                removed += int(await store.redis.delete(key))
            elif identifiers:
                removed += int(await store.redis.hdel(key, *sorted(identifiers)))
            continue
        for field, text in (await store.redis.hgetall(key)).items():
            entries = text.decode().split()
            kept = [e for e in entries if e not in gone]
            if field.decode() in identifiers or not kept:
                removed += int(await store.redis.hdel(key, field))
            elif len(kept) < len(entries):
                await store.redis.hset(key, field, " ".join(kept))
                removed += len(entries) - len(kept)
    return removed


async def _provenance_naming(
    store: ClientStore, account: str, names: set[str]
) -> list[tuple[bytes, list[bytes]]]:
    """Provenance entries that name any of ``names``, by key: links of any client (JSON arrays of
    identifiers), lookups under any identifier (naming the client an event is stored with or its
    own: pipeline/lookups.py)."""
    out = []
    pattern = account_pattern(store.prefix, account, "links")
    async for raw in store.redis.scan_iter(match=pattern, count=10_000):
        members = await store.redis.hkeys(raw)
        naming = [m for m in members if names & set(orjson.loads(m))]
        if naming:
            out.append((raw, naming))
    pattern = account_pattern(store.prefix, account, "lookedupvia")
    async for raw in store.redis.scan_iter(match=pattern, count=10_000):
        entries = await store.redis.hgetall(raw)
        naming = [f for f, x in lookups.entries(account, entries) if {x.client, x.own} & names]
        default = entries.get(lookups.DEFAULT)
        # the default client goes with the entries: when it is erased (they name it), or last
        if default is not None and (default.decode() in names or len(naming) == len(entries) - 1):
            naming.append(lookups.DEFAULT)
        if naming:
            out.append((raw, naming))
    return out


async def _erase_provenance(store: ClientStore, account: str, names: set[str]) -> int:
    removed = 0
    for key, members in await _provenance_naming(store, account, names):
        removed += int(await store.redis.hdel(key, *members))
    return removed


async def remaining(
    store: ClientStore,
    account: str,
    clients: set[str],
    identifiers: set[str],
    event_ids: set[str],
) -> int:
    """Keys and ``merged`` entries of the cluster still in Redis (0 after :func:`erase`)."""
    base = _base(store, account)
    keys = _keys(base, clients, identifiers, event_ids)
    left = 0
    for start in range(0, len(keys), 500):
        left += int(await store.redis.exists(*keys[start : start + 500]))
    for key, idents in _id_fields(store, account, identifiers).items():
        for ident in idents:
            left += int(await store.redis.hexists(key, ident))
    for event_id in event_ids:
        left += int(await store.applied(account, event_id))
    merged = await _merged(store, account)
    left += sum(len(m) for _, m in await _provenance_naming(store, account, clients | identifiers))
    left += await _anchors_left(store, account, identifiers)
    return left + sum(1 for m, to in merged.items() if m in clients or to in clients)


async def _anchors_left(store: ClientStore, account: str, identifiers: set[str]) -> int:
    """The identifiers' anchors, and anchor entries of their strong identifiers, still kept."""
    gone = {e for i in identifiers if (e := anchors.entry(i)) is not None}
    left = 0
    pattern = account_pattern(store.prefix, account, "anchors")
    async for raw in store.redis.scan_iter(match=pattern, count=10_000):
        if await store.redis.type(raw) != b"hash":
            continue
        for field, text in (await store.redis.hgetall(raw)).items():
            left += field.decode() in identifiers
            left += len(gone & set(text.decode().split()))
    return left


class RedisEraser:
    """The Redis side of :mod:`touchline.privacy`."""

    def __init__(self, store: ClientStore) -> None:
        self.store = store

    @classmethod
    def from_settings(cls, url: str, settings: Settings) -> RedisEraser:
        return cls(ClientStore.from_settings(url, settings))

    async def find(self, account: str, clients: set[str], keys: set[str]) -> RedisCluster:
        return await find_cluster(self.store, account, clients, keys)

    async def erase(self, account: str, cluster: RedisCluster, event_ids: set[str]) -> int:
        return await erase(self.store, account, cluster.clients, cluster.identifiers, event_ids)

    async def remaining(self, account: str, cluster: RedisCluster, event_ids: set[str]) -> int:
        return await remaining(self.store, account, cluster.clients, cluster.identifiers, event_ids)

    async def close(self) -> None:
        await self.store.close()
