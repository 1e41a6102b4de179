"""Identities and client cards in Redis, changed only by two Lua scripts (atomic across workers):
``pipeline/lua/resolve.lua`` and ``pipeline/lua/record.lua`` (with ``common.lua`` included).

Keys, all under ``<prefix>:<account>:``:

``id:<identifier>``            owner client of an identifier (``email:a@b.de``, ``cid:1.2``, ...)
``merged`` (hash)              merged client -> the client it was merged into (chains are chased)
``anchors:<identifier>:<kind>`` distinct strong identifiers (emails, source-system ids) seen with it
``shared:<identifier>``        set once the identifier is shared (its value: the strong kind it was
                               seen with too many of); it then links and resolves no one
``card:<client>`` (hash)       the client card: first touch, first contact (name, phone), counters,
                               last location, ``revenue:<currency>`` totals
``contacts:<client>`` (zset)   inbound contacts by time (time since the previous contact)
``hits:<client>`` (zset)       web hits, contacts and leads (``pipeline.touches.Hit``) scored by
                               time, pruned to the lookback and ``hit_cap``: the card's touches
                               are derived from them in event time
``session:<client>``           the client's recent visits (JSON); a merge carries the merged
                               client's visits to the canonical client
``seen:<generation>:<shard>``  (hash) the applied events, ~20-60 B each, and ``inflight:<event_id>``
                               an applied event's result until Kafka confirmed its outputs: every
                               later delivery is a no-op (``pipeline/dedupe.py``)

``resolve`` links identifiers to one client (merging clients that an event shows to be one person)
and returns the client's live session; ``record`` applies the event to the card once. A crash
between the two is harmless: ``resolve``'s links and merges are idempotent and the merges it made
wait in ``pending:<event_id>`` for ``record`` to report them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from pipeline import dedupe
from pipeline.touches import Hit
from touchline import clock
from touchline.settings import Settings, default

# Both scripts (pipeline/lua/resolve.lua, record.lua) take a whole batch (one JSON array in ARGV[3])
# and handle its events in order, each in a pcall: one event's error comes back in its slot instead
# of failing the batch. One script call per batch instead of one per event: the per-command
# packing, round trips and JSON were most of the worker's time. A script runs atomically, so a
# batch is never interleaved with another worker's; every effect is still applied once per
# event_id, so a retried batch is harmless.
LUA_DIR = Path(__file__).parent / "lua"
_INCLUDE = re.compile(r"\s*-- include: (\w+)\s*")


def lua(name: str) -> str:
    """The script ``pipeline/lua/<name>.lua`` with each ``-- include: NAME`` line replaced by
    ``NAME.lua`` (read at start; the files are the one definition of the identity rules)."""
    lines = []
    for line in (LUA_DIR / f"{name}.lua").read_text().splitlines():
        include = _INCLUDE.fullmatch(line)
        lines.append(lua(include.group(1)) if include else line)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ResolveRequest:
    account: str
    event_id: str
    new_client: str
    occurred_at: int
    identifiers: list[str]


@dataclass(frozen=True)
class Resolution:
    client_id: str
    session: dict[str, Any] | None
    # when the event was applied before: its stored result while its outputs were unconfirmed,
    # else ``{"applied": <short fingerprint>}`` (its outputs are in Kafka already)
    prior: dict[str, Any] | None
    shared_identifiers: int = 0
    merged: tuple[str, ...] = ()  # clients this event merged into client_id


class Store(Protocol):
    """What the processor needs from a client store: :class:`ClientStore` (Redis, the Lua
    scripts) or :class:`pipeline.memory_store.MemoryStore` (unit tests without Redis)."""

    async def resolve_many(
        self, requests: list[ResolveRequest]
    ) -> list[Resolution | Exception]: ...

    async def record_many(
        self, requests: list[tuple[str, str, str, dict[str, Any]]]
    ) -> list[dict[str, Any] | Exception]: ...

    async def forget(self, applied: list[tuple[str, str]]) -> None:
        """(account, event_id) of events whose outputs Kafka has confirmed: their whole results
        are no longer needed, only the compact entry that they were applied."""


def _failure(reply: list[bytes]) -> Exception:
    """The slot of an event whose script failed: ``['error', message]``."""
    return ResponseError(reply[1].decode(errors="replace"))


def _resolution(reply: Any) -> Resolution | Exception:
    if reply[0] == b"error":
        return _failure(reply)
    if reply[0] == b"seen":
        prior = decode_result(reply[1])
        return Resolution(prior["client_id"], None, prior)
    if reply[0] == b"applied":
        return Resolution("", None, {"applied": reply[1].decode()})
    session = orjson.loads(reply[2]) if reply[2] else None
    merged = tuple(m.decode() for m in _list(reply[4])) if len(reply) > 4 else ()
    return Resolution(reply[1].decode(), session, None, int(reply[3]), merged)


def _list(value: Any) -> list[Any]:
    """cjson encodes an empty Lua table as ``{}``."""
    return list(value) if isinstance(value, list) else []


_AS_TEXT = ("session", "enrichment")  # context entries handed to Lua as JSON text


def decode_result(raw: bytes | str) -> dict[str, Any]:
    result = dict(orjson.loads(raw))
    if "applied" in result:  # applied and confirmed before: nothing else is kept
        return result
    if isinstance(result.get("enrichment"), str):  # stored as JSON text inside the result
        result["enrichment"] = orjson.loads(result["enrichment"])
    result["merged_from"] = _list(result.get("merged_from"))
    return result


class ClientStore:
    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        max_share: int = default("identity_max_share"),
        dedupe_window_s: int = default("worker_dedupe_days") * 86400,
        dedupe_shards: int = default("worker_dedupe_shards"),
    ) -> None:
        self.redis: Any = aioredis.Redis.from_url(url)
        self.prefix = prefix
        self.max_share = max_share
        self.window_s = dedupe_window_s
        self.shards = dedupe_shards
        self._resolve = self.redis.register_script(lua("resolve"))
        self._record = self.redis.register_script(lua("record"))

    @classmethod
    def from_settings(cls, url: str, settings: Settings) -> ClientStore:
        """The store as the settings configure it: ``topic_prefix`` names its keys,
        ``identity_max_share``, ``worker_dedupe_days`` and ``worker_dedupe_shards`` its rules."""
        return cls(
            url,
            settings.topic_prefix,
            max_share=settings.identity_max_share,
            dedupe_window_s=settings.worker_dedupe_days * 86400,
            dedupe_shards=settings.worker_dedupe_shards,
        )

    def _generation(self) -> int:
        return dedupe.generation(clock.now_ms(), self.window_s)

    async def resolve_many(self, requests: list[ResolveRequest]) -> list[Resolution | Exception]:
        """Resolve a batch, in order, with one script call. An event's script error comes back in
        its slot; a connection failure raises (the caller retries the batch)."""
        if not requests:
            return []
        batch = [
            [
                r.account,
                r.event_id,
                r.new_client,
                r.occurred_at,
                list(r.identifiers),
                dedupe.mark(r.event_id, self.shards).lua(),
            ]
            for r in requests
        ]
        args: list[Any] = [self.prefix, self.max_share, orjson.dumps(batch), self._generation()]
        replies = await self._resolve(args=args)
        return [_resolution(reply) for reply in replies]

    async def record_many(
        self, requests: list[tuple[str, str, str, dict[str, Any]]]
    ) -> list[dict[str, Any] | Exception]:
        """Record a batch of (account, event_id, client_id, context), in order, with one script
        call."""
        if not requests:
            return []
        batch = orjson.dumps(
            [
                [
                    account,
                    event_id,
                    client_id,
                    {k: v for k, v in ctx.items() if k not in _AS_TEXT},
                    orjson.dumps(ctx["session"]).decode() if ctx.get("session") else "",
                    orjson.dumps(ctx.get("enrichment")).decode(),
                    dedupe.mark(event_id, self.shards).lua(),
                    dedupe.short_fingerprint((ctx.get("enrichment") or {}).get("fingerprint", "")),
                ]
                for account, event_id, client_id, ctx in requests
            ]
        )
        replies = await self._record(args=[self.prefix, self.window_s, batch, self._generation()])
        return [_failure(r) if isinstance(r, list) else decode_result(r) for r in replies]

    async def forget(self, applied: list[tuple[str, str]]) -> None:
        """Delete the whole results of events whose outputs Kafka has confirmed (one call)."""
        if applied:
            await self.redis.delete(*(f"{self.prefix}:{a}:inflight:{e}" for a, e in applied))

    async def unmark(self, account: str, event_ids: Iterable[str]) -> int:
        """Delete the dedup entries of ``event_ids`` (erasure); how many went."""
        base, now = f"{self.prefix}:{account}:", clock.now_ms()
        fields: dict[str, list[str]] = {}
        for event_id in event_ids:
            for key, field in dedupe.entries(base, event_id, now, self.window_s, self.shards):
                fields.setdefault(key, []).append(field)
        removed = 0
        for key, names in fields.items():
            removed += int(await self.redis.hdel(key, *names))
        return removed

    async def applied(self, account: str, event_id: str) -> bool:
        """Whether the worker has applied ``event_id`` (within the dedup window)."""
        base = f"{self.prefix}:{account}:"
        for key, field in dedupe.entries(
            base, event_id, clock.now_ms(), self.window_s, self.shards
        ):
            if await self.redis.hexists(key, field):
                return True
        return False

    async def lookup(self, account: str, identifier: str) -> str | None:
        """The client that owns ``identifier`` (``phone:+49...``, ``email:...``, ``cid:...``)."""
        owner = await self.redis.get(f"{self.prefix}:{account}:id:{identifier}")
        return owner.decode() if owner is not None else None

    async def card(self, account: str, client_id: str) -> dict[str, Any]:
        """The client card as stored (for the CLI and tests)."""
        base = f"{self.prefix}:{account}:"
        client = client_id
        for _ in range(64):
            nxt = await self.redis.hget(base + "merged", client)
            if nxt is None:
                break
            client = nxt.decode()
        raw = await self.redis.hgetall(base + "card:" + client)
        card = {k.decode(): v.decode() for k, v in raw.items()}
        hits = await self.redis.zrange(base + "hits:" + client, 0, -1, withscores=True)
        return {
            "client_id": client,
            "card": card,
            "hits": [Hit.from_member(m, s) for m, s in hits],
        }

    async def close(self) -> None:
        await self.redis.aclose()
