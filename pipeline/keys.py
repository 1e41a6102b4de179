"""The Redis key layout of the worker's client store: the one definition in Python (the Lua scripts
build the same form in ``pipeline/lua/common.lua``, ``run_batch``; a test holds the two equal).

Every key of one account lives under ``<prefix>:{<account>}:``. The braces are a Redis Cluster
hash tag: only ``<account>`` is hashed, so all of an account's keys share one hash slot and each
Lua call, which touches many of them, stays on one node. On a standalone Redis the braces are
just characters. Everything under ``<prefix>:`` belongs to one deployment (``topic_prefix``): a
scan for ``<prefix>:*`` finds all of it.

``ids:<shard>`` (hash)         identifier (``email:a@b.de``, ``cid:1.2``, ...) -> its owner client;
                               ``shard`` = :func:`id_shard` (``identity_id_shards`` of them per
                               account): a field of a small hash (a compact listpack) costs a
                               few bytes where a key of its own cost ~140 B
``id:<identifier>``            the layout before (one key per identifier): still read, and moved
                               into its ``ids:`` hash by the first script that looks it up
                               (``pipeline/lua/ids.lua``)
``merged`` (hash)              merged client -> the client it was merged into (chains are chased)
``anchors:<shard>`` (hash)     identifier -> the strong identifiers (emails, source-system ids)
                               seen with it, hashed (``pipeline/anchors.py``), sharded like
                               ``ids:``; removed once it is shared (``anchors:<identifier>``, a
                               hash per identifier, is the layout before: still read and moved)
``shared:<identifier>``        set once the identifier is shared (its value: the strong kind it was
                               seen with too many of); it then links and resolves no one
``sharedtags`` (set)           the hit tags of every shared identifier (4 bytes each): a hit or
                               counter part whose tags are all in it is an event of its own
                               (``pipeline/lua/all_shared.lua``)
``card:<client>`` (hash)       the client card: first contact (name, phone), counters, last
                               location, ``revenue:<currency>`` totals; ``parts:<client>`` (hash)
                               the revenue and contacts per identifier set, so a split moves them
                               (``pipeline/lua/parts.lua``)
``hits:<client>`` (zset)       web hits, contacts and leads (``pipeline.touches.Hit``) scored by
                               time, pruned to the lookback and ``hit_cap``: the card's touches
                               are derived from them in event time (a canonical UUID event id is
                               kept in its 16 bytes, the rest without JSON: ``Hit.from_member``);
                               tagged with the event's source-system ids, email, phone and
                               cid (4 bytes each) so a split moves them with those identifiers
``session:<client>``           the client's recent visits (a JSON list of rows); a merge carries
                               the merged client's visits to the canonical client
``seen:<generation>:<shard>``  (hash) the applied events, ~26 B each, and ``inflight:<event_id>``
                               an applied event's result until Kafka confirmed its outputs: every
                               later delivery is a no-op (``pipeline/dedupe.py``);
                               ``lettered:<event_id>`` marks one whose outcome is a dead letter
``pending:<event_id>`` (list)  merges ``resolve`` made for the event, until ``record`` reports them
``links:<client>`` (hash)      the identifier sets the client's events carried (JSON) -> the
                               earliest event time; ``lookedupvia:<identifier>`` (hash) events
                               that carried that identifier alone (``pipeline/lua/lookups.lua``):
                               when it proves shared, the client is regrouped into the connected
                               components of its links without it (``lookup:<event_id>`` says
                               where a lookup's entry is until the event is recorded, so the
                               entry names the client it is stored with);
                               ``splits:<event_id>`` (list) the splits ``resolve`` made for the
                               event, until ``record`` reports them
"""

from __future__ import annotations

import glob
import hashlib

# A script call names one real key of the batch's account as KEYS[1], for a cluster client to
# route the call to the node holding the account's slot (pipeline.store).
ROUTING_KEY = "merged"


def id_shard(identifier: str, shards: int) -> str:
    """Which ``ids:<shard>`` hash holds ``identifier``'s owner: the first 32 bits of its SHA-1
    modulo ``shards``, in hex (``pipeline/lua/ids.lua`` computes the same with redis.sha1hex)."""
    return format(int(hashlib.sha1(identifier.encode()).hexdigest()[:8], 16) % shards, "x")


def id_key(prefix: str, account: str, identifier: str, shards: int) -> str:
    """The hash whose field ``identifier`` holds its owner client."""
    return account_key(prefix, account, "ids:" + id_shard(identifier, shards))


def legacy_id_key(prefix: str, account: str, identifier: str) -> str:
    """``id:<identifier>``, the key an identifier's owner had before the ``ids:`` hashes."""
    return account_key(prefix, account, "id:" + identifier)


def account_base(prefix: str, account: str) -> str:
    """``<prefix>:{<account>}:``, the start of every key of ``account``."""
    return f"{prefix}:{{{account}}}:"


def account_key(prefix: str, account: str, name: str) -> str:
    """The key ``name`` (``card:<client>``, ``id:<identifier>``, ...) of ``account``."""
    return account_base(prefix, account) + name


def deployment_pattern(prefix: str) -> str:
    """A SCAN pattern matching every key of the deployment ``prefix`` (and nothing else)."""
    return glob.escape(prefix) + ":*"


def account_pattern(prefix: str, account: str, kind: str) -> str:
    """A SCAN pattern for the keys of one ``kind`` (``id``, ``anchors``, ...) of ``account``."""
    return glob.escape(account_base(prefix, account)) + kind + ":*"
