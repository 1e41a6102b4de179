"""Anchors: the strong identifiers (emails, source-system ids) seen with an identifier, which tell
when it is shared (``identity_max_share`` of one kind). pipeline/lua/anchors.lua keeps them in
Redis, as a field of the ``anchors:<shard>`` hash per identifier holding space-separated entries
``<kind>=<first 10 hex digits of the strong identifier's SHA-1>``; this module is the same form in
Python (erasure removes a person's entries from everyone's anchors)."""

from __future__ import annotations

import hashlib

from pipeline.keys import account_key, id_shard


def strong_kind(identifier: str) -> str | None:
    """``email`` or ``ext.<system>`` for a strong identifier, else None (phones, web ids)."""
    if identifier.startswith("email:"):
        return "email"
    if identifier.startswith("ext."):
        return identifier[: identifier.index(":", 4)]
    return None


def entry(identifier: str) -> str | None:
    """The anchor entry of a strong identifier (None for one that is not strong)."""
    kind = strong_kind(identifier)
    if kind is None:
        return None
    return f"{kind}={hashlib.sha1(identifier.encode()).hexdigest()[:10]}"


def key(prefix: str, account: str, identifier: str, shards: int) -> str:
    """The ``anchors:<shard>`` hash holding ``identifier``'s anchors (sharded as its owner)."""
    return account_key(prefix, account, "anchors:" + id_shard(identifier, shards))
