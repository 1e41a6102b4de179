"""Identities and client cards in Redis, changed only by two Lua scripts (atomic across workers):
``pipeline/lua/resolve.lua`` and ``pipeline/lua/record.lua`` (with ``common.lua`` included).

Keys: ``pipeline/keys.py`` (all of one account's under ``<prefix>:{<account>}:``, one Redis
Cluster hash slot per account); the exactly-once part of them: ``pipeline/dedupe.py``.

``resolve`` links identifiers to one client (merging clients that an event shows to be one person)
and returns the client's live session; ``record`` applies the event to the card once. A crash
between the two is harmless: ``resolve``'s links and merges are idempotent and the merges it made
wait in ``pending:<event_id>`` for ``record`` to report them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import orjson
from redis.crc import key_slot
from redis.exceptions import NoScriptError, ResponseError

from pipeline import dedupe, keys, lookups
from pipeline.record_context import stored_visits, visits_text
from pipeline.touches import Hit, stored_member
from touchline import clock, redis_client
from touchline.settings import Settings, default

# Both scripts (pipeline/lua/resolve.lua, record.lua) take a whole batch (one JSON array in ARGV[3])
# and handle its events in order, each in a pcall: one event's error comes back in its slot. One
# call per batch, not per event: per-command packing, round trips and JSON were most of the
# worker's time. A script runs atomically, so a batch is never interleaved with another worker's;
# each effect is applied once per event_id, so a retried batch is harmless. On a Redis Cluster a
# call touches one hash slot: a batch goes in one call per slot (its accounts' events in order),
# each routed by a key of its account in KEYS[1], in one cluster pipeline (ClientStore._per_slot).
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
    split_clock: int = 0  # the account's splitclock when it was resolved (split.lua)


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

    async def letter(self, lettered: list[tuple[str, str, str]]) -> None:
        """(account, event_id, reason): these applied events are to be dead-lettered, not
        stored (pipeline/emission.py); written before their letters go out, so a redelivery
        before :meth:`forget` emits the letter again, never the result."""

    async def unletter(self, applied: list[tuple[str, str]]) -> None:
        """Delete :meth:`letter` marks: of letters Kafka refused for good (those events have no
        outcome yet, and their redelivery emits their results again), or after :meth:`forget`."""


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
    session = stored_visits(orjson.loads(reply[2])) if reply[2] else None
    merged = tuple(m.decode() for m in _list(reply[4])) if len(reply) > 4 else ()
    clock = int(reply[5]) if len(reply) > 5 else 0
    return Resolution(reply[1].decode(), session, None, int(reply[3]), merged, clock)


def _list(value: Any) -> list[Any]:
    """cjson encodes an empty Lua table as ``{}``."""
    return list(value) if isinstance(value, list) else []


def split_entries(value: Any) -> list[dict[str, Any]]:
    """The splits of a stored result (JSON texts, see ``pipeline/lua/split.lua``) as dicts, their
    identifiers a list (cjson writes an empty one as ``{}``)."""
    out = []
    for text in _list(value):
        split = dict(orjson.loads(text)) if isinstance(text, str | bytes) else dict(text)
        split["identifiers"] = _list(split.get("identifiers"))
        out.append(split)
    return out


# context entries handed to Lua apart: as JSON text (session, enrichment), as bytes (hit)
_NOT_IN_CONTEXT = ("session", "enrichment", "hit")


def decode_result(raw: bytes | str) -> dict[str, Any]:
    result = dict(orjson.loads(raw))
    if "applied" in result:  # applied and confirmed before: nothing else is kept
        return result
    if isinstance(result.get("enrichment"), str):  # stored as JSON text inside the result
        result["enrichment"] = orjson.loads(result["enrichment"])
    result["merged_from"] = _list(result.get("merged_from"))
    result["splits"] = split_entries(result.get("splits"))
    return result


@lru_cache(maxsize=65536)
def _slot(prefix: str, account: str) -> int:
    """The hash slot of every key of ``account``."""
    return key_slot(keys.account_key(prefix, account, keys.ROUTING_KEY).encode())


class ClientStore:
    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        max_share: int = default("identity_max_share"),
        provenance_cap: int = default("identity_provenance_cap"),
        dedupe_window_s: int = default("worker_dedupe_days") * 86400,
        dedupe_shards: int = default("worker_dedupe_shards"),
        id_shards: int = default("identity_id_shards"),
    ) -> None:
        self.redis: Any = redis_client.connect_async(url)
        self.cluster = redis_client.is_cluster(self.redis)
        self.prefix = prefix
        self.max_share = max_share
        self.provenance_cap = provenance_cap
        self.window_s = dedupe_window_s
        self.shards = dedupe_shards
        self.id_shards = id_shards
        self._resolve = self.redis.register_script(lua("resolve"))
        self._record = self.redis.register_script(lua("record"))

    @classmethod
    def from_settings(cls, url: str, settings: Settings) -> ClientStore:
        """The store as the settings configure it: ``topic_prefix`` names its keys,
        ``identity_max_share``, ``identity_id_shards``, ``worker_dedupe_days`` and
        ``worker_dedupe_shards`` its rules."""
        return cls(
            url,
            settings.topic_prefix,
            max_share=settings.identity_max_share,
            provenance_cap=settings.identity_provenance_cap,
            dedupe_window_s=settings.worker_dedupe_days * 86400,
            dedupe_shards=settings.worker_dedupe_shards,
            id_shards=settings.identity_id_shards,
        )

    def _generation(self) -> int:
        return dedupe.generation(clock.now_ms(), self.window_s)

    async def resolve_many(self, requests: list[ResolveRequest]) -> list[Resolution | Exception]:
        """Resolve a batch, in order, with one script call (on a cluster one per hash slot). An
        event's script error comes back in its slot; a connection failure raises (the caller
        retries the batch)."""
        if not requests:
            return []
        batch, bins = [], []
        for r in requests:
            mark = dedupe.mark(r.event_id, self.shards)
            batch.append(
                [
                    r.account,
                    r.event_id,
                    r.new_client,
                    r.occurred_at,
                    list(r.identifiers),
                    mark.lua(),
                ]
            )
            bins.append([mark.field, lookups.field(r.event_id)])
        head = [self.prefix, self.max_share]
        tail = [self._generation(), self.provenance_cap, self.id_shards]
        replies = await self._per_slot(self._resolve, head, batch, tail, bins)
        out = [_resolution(reply) for reply in replies]
        await self._lettered(list(zip(requests, out, strict=True)))
        return out

    async def _lettered(self, resolved: list[tuple[ResolveRequest, Any]]) -> None:
        """A redelivered event whose result still waits in ``inflight:`` (rare) may have a letter
        mark: its prior result then says ``lettered`` (one pipelined GET per such event)."""
        waiting = [(r, o.prior) for r, o in resolved if isinstance(o, Resolution) and o.prior
                   and "applied" not in o.prior]  # fmt: skip
        if waiting:
            pipe = self.redis.pipeline(transaction=False)
            for r, _ in waiting:
                pipe.get(keys.account_key(self.prefix, r.account, f"lettered:{r.event_id}"))
            for (_, prior), reason in zip(waiting, await pipe.execute(), strict=True):
                if reason is not None:
                    prior["lettered"] = reason.decode()

    async def record_many(
        self, requests: list[tuple[str, str, str, dict[str, Any]]]
    ) -> list[dict[str, Any] | Exception]:
        """Record a batch of (account, event_id, client_id, context), in order, with one script
        call (on a cluster one per hash slot)."""
        if not requests:
            return []
        batch, bins = [], []
        for account, event_id, client_id, ctx in requests:
            mark = dedupe.mark(event_id, self.shards)
            batch.append(
                [
                    account,
                    event_id,
                    client_id,
                    {k: v for k, v in ctx.items() if k not in _NOT_IN_CONTEXT},
                    visits_text(ctx["session"]) if ctx.get("session") else "",
                    orjson.dumps(ctx.get("enrichment")).decode(),
                    mark.lua(),
                ]
            )
            fingerprint = (ctx.get("enrichment") or {}).get("fingerprint", "")
            hit = stored_member(ctx["hit"]) if ctx.get("hit") else b""
            bins.append([mark.field, dedupe.short(fingerprint), lookups.field(event_id), hit])
        head = [self.prefix, self.window_s]  # ARGV[5], [6] as resolve's (record.lua)
        tail = [self._generation(), self.provenance_cap, self.id_shards]
        replies = await self._per_slot(self._record, head, batch, tail, bins)
        return [_failure(r) if isinstance(r, list) else decode_result(r) for r in replies]

    def _group(self, account: str) -> int:
        """Which script call an account's events go in: on a cluster, one per hash slot (a call
        may touch one slot only); on a standalone Redis, one for the whole batch."""
        return _slot(self.prefix, account) if self.cluster else 0

    async def _per_slot(
        self,
        script: Any,
        head: list[Any],
        batch: list[list[Any]],
        tail: list[Any],
        bins: list[list[bytes]],
    ) -> list[Any]:
        """Run ``script`` with ARGV ``head`` + the JSON of a part of ``batch`` (items starting
        with their account) + ``tail`` + the part's ``bins`` (each item's binary values, the
        same number for every item: common.lua ``bin``), one call per :meth:`_group`, each
        account's items in their order, with a key of the group's first account as KEYS[1] (a
        cluster client routes the call by it); the replies come back in the batch's order. A
        failed call raises its error once the others are done (the caller retries the batch,
        which is harmless)."""
        groups: dict[int, list[int]] = {}
        for i, item in enumerate(batch):
            groups.setdefault(self._group(item[0]), []).append(i)
        calls = [
            (
                keys.account_key(self.prefix, batch[idx[0]][0], keys.ROUTING_KEY),
                [*head, orjson.dumps([batch[i] for i in idx]), *tail]
                + [value for i in idx for value in bins[i]],
            )
            for idx in groups.values()
        ]
        if self.cluster:
            results = await self._pipelined(script, calls)
        else:
            results = [await script(keys=[key], args=args) for key, args in calls]
        replies: list[Any] = [None] * len(batch)
        for idx, result in zip(groups.values(), results, strict=True):
            if isinstance(result, BaseException):
                raise result
            for i, reply in zip(idx, result, strict=True):
                replies[i] = reply
        return replies

    async def _pipelined(self, script: Any, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """The calls as one cluster pipeline: redis-py sends each node its calls together (routed
        by KEYS[1], following MOVED and ASK), far cheaper than a command each. A node without the
        script (new, or a replica just promoted) gets it loaded and its calls once more."""
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for _ in range(2):
            pipe = self.redis.pipeline(transaction=False)
            for i in todo:
                # (redis-py blocks the evalsha method of a cluster pipeline; the command itself
                # routes by KEYS[1] like any keyed command)
                pipe.execute_command("EVALSHA", script.sha, 1, calls[i][0], *calls[i][1])
            for i, result in zip(todo, await pipe.execute(raise_on_error=False), strict=True):
                results[i] = result
            todo = [i for i in todo if isinstance(results[i], NoScriptError)]
            if not todo:
                break
            await self.redis.script_load(script.script)
        return results

    async def forget(self, applied: list[tuple[str, str]]) -> None:
        """Delete the results of events whose outputs Kafka confirmed (one command)."""
        await self._delete(applied, ("inflight",))

    async def letter(self, lettered: list[tuple[str, str, str]]) -> None:
        pipe = self.redis.pipeline(transaction=False)  # kept as long as a result is
        for account, event_id, reason in lettered:
            key = keys.account_key(self.prefix, account, f"lettered:{event_id}")
            pipe.set(key, reason, ex=self.window_s)
        await pipe.execute()

    async def unletter(self, applied: list[tuple[str, str]]) -> None:
        await self._delete(applied, ("lettered",))

    async def _delete(self, applied: list[tuple[str, str]], kinds: tuple[str, ...]) -> None:
        if applied:  # one command (a cluster client splits it by slot)
            await self.redis.delete(
                *(keys.account_key(self.prefix, a, f"{k}:{e}") for a, e in applied for k in kinds)
            )

    async def unmark(self, account: str, event_ids: Iterable[str]) -> int:
        """Delete the dedup entries of ``event_ids`` (erasure); how many went."""
        base, now = keys.account_base(self.prefix, account), clock.now_ms()
        fields: dict[str, list[bytes]] = {}
        for event_id in event_ids:
            for key, field in dedupe.entries(base, event_id, now, self.window_s, self.shards):
                fields.setdefault(key, []).append(field)
        removed = 0
        for key, names in fields.items():
            removed += int(await self.redis.hdel(key, *names))
        return removed

    async def applied(self, account: str, event_id: str) -> bool:
        """Whether the worker has applied ``event_id`` (within the dedup window)."""
        base = keys.account_base(self.prefix, account)
        for key, field in dedupe.entries(
            base, event_id, clock.now_ms(), self.window_s, self.shards
        ):
            if await self.redis.hexists(key, field):
                return True
        return False

    async def lookup(self, account: str, identifier: str) -> str | None:
        """The client that owns ``identifier`` (``phone:+49...``, ``email:...``, ``cid:...``): its
        field in ``ids:<shard>``, else the key of the layout before (``id:<identifier>``, moved
        into the hash by the next script that looks it up)."""
        key = keys.id_key(self.prefix, account, identifier, self.id_shards)
        owner = await self.redis.hget(key, identifier)
        if owner is None:
            owner = await self.redis.get(keys.legacy_id_key(self.prefix, account, identifier))
        return owner.decode() if owner is not None else None

    async def card(self, account: str, client_id: str) -> dict[str, Any]:
        """The client card as stored (for the CLI and tests)."""
        base = keys.account_base(self.prefix, account)
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
