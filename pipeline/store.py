"""Identities and client cards in Redis, changed only by two Lua scripts (atomic across workers).

Keys, all under ``<prefix>:<account>:``:

``id:<identifier>``            owner client of an identifier (``email:a@b.de``, ``cid:1.2``, ...)
``merged`` (hash)              merged client -> the client it was merged into (chains are chased)
``anchors:<identifier>:<kind>`` distinct strong identifiers (emails, source-system ids) seen with it
``card:<client>`` (hash)       the client card: first touch, first contact (name, phone), counters,
                               last location, ``revenue:<currency>`` totals
``touches:<client>`` (zset)    ``event_id|channel`` scored by time, pruned to the lookback and cap
``contacts:<client>`` (zset)   inbound contacts by time (time since the previous contact)
``channels:<client>`` (set)    every channel that touched the client
``session:<client>``           the live session (JSON)
``seen:<event_id>``            the event's enrichment result; its presence makes every later
                               delivery of the same event a no-op that returns the same result

``resolve`` links identifiers to one client (merging clients that an event shows to be one person)
and returns the client's live session; ``record`` applies the event to the card once. A crash
between the two is harmless: ``resolve``'s links and merges are idempotent and the merges it made
wait in ``pending:<event_id>`` for ``record`` to report them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

# Both scripts take a whole batch (one JSON array in ARGV[3]) and handle its events in order, each
# in a pcall: one event's error comes back in its slot instead of failing the batch. One script
# call per batch instead of one per event: the per-command packing, round trips and JSON were most
# of the worker's time. A script runs atomically, so a batch is never interleaved with another
# worker's; every effect is still applied once per event_id, so a retried batch is harmless.
_COMMON = """
local P  -- key prefix of the event being handled: <prefix>:<account>:
local function s(v)  -- JSON null arrives as cjson.null, which Redis commands refuse
  if v == nil or v == cjson.null then return '' end
  return v
end
local function canonical(c)
  for _ = 1, 64 do
    local nxt = redis.call('HGET', P .. 'merged', c)
    if not nxt then return c end
    c = nxt
  end
  return c
end
local function run_batch(handle)
  local prefix, batch, out = ARGV[1], cjson.decode(ARGV[3]), {}
  for i, item in ipairs(batch) do
    P = prefix .. ':' .. item[1] .. ':'
    local ok, res = pcall(handle, item)
    if ok then
      out[i] = res
    else
      out[i] = {'error', type(res) == 'table' and tostring(res.err) or tostring(res)}
    end
  end
  return out
end
"""

_RESOLVE = (
    _COMMON
    + """
-- ARGV: prefix, max_share, batch: [[account, event_id, new_client, occurred_at, [identifiers]]]
local max_share = tonumber(ARGV[2])
local function strong_kind(k)
  if string.sub(k, 1, 6) == 'email:' then return 'email' end
  if string.sub(k, 1, 4) == 'ext.' then
    local colon = string.find(k, ':', 5, true)
    return string.sub(k, 1, colon - 1)
  end
  return nil
end

local function resolve(item)
  local event_id, at, ids = item[2], tonumber(item[4]), item[5]
  local n = #ids
  local seen = redis.call('GET', P .. 'seen:' .. event_id)
  if seen then return {'seen', seen} end

  -- 1. identifiers seen with more distinct strong identifiers of one kind than max_share are shared
  local usable, shared = {}, 0
  for i = 1, n do
    local k = ids[i]
    local too_many = false
    for j = 1, n do
      local kind = strong_kind(ids[j])
      if j ~= i and kind and kind ~= strong_kind(k) then
        local akey = P .. 'anchors:' .. k .. ':' .. kind
        redis.call('SADD', akey, ids[j])
        if redis.call('SCARD', akey) > max_share then too_many = true end
      end
    end
    if too_many then shared = shared + 1 else usable[#usable + 1] = k end
  end

  -- 2. owners of the usable identifiers
  local owners, owned = {}, {}
  for _, k in ipairs(usable) do
    local o = redis.call('GET', P .. 'id:' .. k)
    if o then
      o = canonical(o)
      owned[k] = true
      local dup = false
      for _, x in ipairs(owners) do if x == o then dup = true end end
      if not dup then owners[#owners + 1] = o end
    end
  end

  local function created(c)
    return tonumber(redis.call('HGET', P .. 'card:' .. c, 'created_at') or '0') or 0
  end
  local client
  if #owners == 0 then
    client = item[3]
    redis.call('HSETNX', P .. 'card:' .. client, 'created_at', at)
  else
    client = owners[1]
    for i = 2, #owners do
      local o = owners[i]
      if created(o) < created(client) or (created(o) == created(client) and o < client) then
        client = o
      end
    end
  end

  -- 3. merge every other owner into the canonical (oldest) client
  local function min_field(card, other, f, extra)
    local a, b = redis.call('HGET', card, f), redis.call('HGET', other, f)
    if b and (not a or tonumber(b) < tonumber(a)) then
      redis.call('HSET', card, f, b)
      for _, e in ipairs(extra) do
        local v = redis.call('HGET', other, e)
        if v then redis.call('HSET', card, e, v) else redis.call('HDEL', card, e) end
      end
    end
  end
  local merges = {}
  for _, o in ipairs(owners) do
    if o ~= client then
      local card, other = P .. 'card:' .. client, P .. 'card:' .. o
      min_field(card, other, 'created_at', {})
      min_field(card, other, 'ft_at', {'ft_channel', 'ft_source', 'ft_medium', 'ft_campaign'})
      min_field(card, other, 'fc_at', {'name', 'phone'})
      local lc_a, lc_b = redis.call('HGET', card, 'lc_at'), redis.call('HGET', other, 'lc_at')
      if lc_b and (not lc_a or tonumber(lc_b) > tonumber(lc_a)) then
        redis.call('HSET', card, 'lc_at', lc_b)
        local loc = redis.call('HGET', other, 'location')
        if loc then redis.call('HSET', card, 'location', loc) end
      end
      local flat = redis.call('HGETALL', other)
      for i = 1, #flat, 2 do
        local f = flat[i]
        if f == 'touch_count' or f == 'contact_count' or string.sub(f, 1, 8) == 'revenue:' then
          redis.call('HINCRBY', card, f, flat[i + 1])
        end
      end
      for _, z in ipairs({'touches:', 'contacts:'}) do
        redis.call('ZUNIONSTORE', P .. z .. client, 2, P .. z .. client, P .. z .. o,
                   'AGGREGATE', 'MIN')
      end
      redis.call('SUNIONSTORE', P .. 'channels:' .. client, P .. 'channels:' .. client,
                 P .. 'channels:' .. o)
      redis.call('DEL', other, P .. 'touches:' .. o, P .. 'contacts:' .. o, P .. 'channels:' .. o,
                 P .. 'session:' .. o)
      redis.call('HSET', P .. 'merged', o, client)
      merges[#merges + 1] = o
    end
  end
  if #merges > 0 then
    for _, o in ipairs(merges) do redis.call('RPUSH', P .. 'pending:' .. event_id, o) end
    redis.call('EXPIRE', P .. 'pending:' .. event_id, 604800)
  end

  -- 4. claim the usable identifiers nobody owns yet
  for _, k in ipairs(usable) do
    if not owned[k] then redis.call('SET', P .. 'id:' .. k, client) end
  end
  local session = redis.call('GET', P .. 'session:' .. client) or ''
  return {'new', client, session, tostring(shared)}
end
return run_batch(resolve)
"""
)

_RECORD = (
    _COMMON
    + """
-- ARGV: prefix, ttl_s, batch: [[account, event_id, client, context, session, enrichment]]
-- session and enrichment arrive as JSON text: Lua stores / returns them without decoding them.
local ttl = tonumber(ARGV[2])
local function record(item)
  local event_id = item[2]
  local seen_key = P .. 'seen:' .. event_id
  local prior = redis.call('GET', seen_key)
  if prior then return prior end
  local client = canonical(item[3])
  local ctx = item[4]
  local at = ctx.occurred_at
  local card = P .. 'card:' .. client
  local tkey = P .. 'touches:' .. client

  -- channels of the touches in [at - lookback, at)
  local before, seen_ch = {}, {}
  local window = redis.call('ZRANGEBYSCORE', tkey, at - ctx.lookback_ms, '(' .. at)
  for _, member in ipairs(window) do
    local ch = string.match(member, '|(.*)$')
    if ch and not seen_ch[ch] then seen_ch[ch] = true; before[#before + 1] = ch end
  end

  local touch_seq = tonumber(redis.call('HGET', card, 'touch_count') or '0')
  if ctx.is_touch then
    touch_seq = redis.call('HINCRBY', card, 'touch_count', 1)
    redis.call('ZADD', tkey, at, event_id .. '|' .. ctx.channel)
    redis.call('SADD', P .. 'channels:' .. client, ctx.channel)
    local ft = redis.call('HGET', card, 'ft_at')
    if not ft or at < tonumber(ft) then
      redis.call('HSET', card, 'ft_at', at, 'ft_channel', ctx.channel, 'ft_source',
                 s(ctx.utm_source), 'ft_medium', s(ctx.utm_medium), 'ft_campaign',
                 s(ctx.utm_campaign))
    end
    local newest = redis.call('ZREVRANGE', tkey, 0, 0, 'WITHSCORES')
    redis.call('ZREMRANGEBYSCORE', tkey, '-inf', '(' .. (tonumber(newest[2]) - ctx.lookback_ms))
    redis.call('ZREMRANGEBYRANK', tkey, 0, -(ctx.touch_cap + 1))
  end

  local since_prev, contact_seq = -1, 0
  if ctx.is_contact then
    local ckey = P .. 'contacts:' .. client
    contact_seq = redis.call('HINCRBY', card, 'contact_count', 1)
    local prev = redis.call('ZREVRANGEBYSCORE', ckey, '(' .. at, '-inf', 'WITHSCORES',
                            'LIMIT', 0, 1)
    if #prev > 0 then since_prev = at - tonumber(prev[2]) end
    redis.call('ZADD', ckey, at, event_id)
    local fc = redis.call('HGET', card, 'fc_at')
    if not fc or at < tonumber(fc) then
      redis.call('HSET', card, 'fc_at', at, 'name', s(ctx.name), 'phone', s(ctx.phone))
    end
    local lc = redis.call('HGET', card, 'lc_at')
    if not lc or at >= tonumber(lc) then
      redis.call('HSET', card, 'lc_at', at)
      if s(ctx.location) ~= '' then redis.call('HSET', card, 'location', ctx.location) end
    end
  end
  if ctx.revenue_minor ~= 0 and s(ctx.currency) ~= '' then
    redis.call('HINCRBY', card, 'revenue:' .. ctx.currency, ctx.revenue_minor)
  end
  if item[5] ~= '' then
    redis.call('SET', P .. 'session:' .. client, item[5])
  end

  local merged = redis.call('LRANGE', P .. 'pending:' .. event_id, 0, -1)
  redis.call('DEL', P .. 'pending:' .. event_id)
  local result = {
    client_id = client, touch_seq = touch_seq, contact_seq = contact_seq,
    since_prev_contact_ms = since_prev, channels_before = before,
    multichannel = ctx.is_contact and #before >= ctx.min_channels,
    merged_from = merged, enrichment = item[6],
  }
  local encoded = cjson.encode(result)
  redis.call('SET', seen_key, encoded, 'EX', ttl)
  return encoded
end
return run_batch(record)
"""
)


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
    prior: dict[str, Any] | None  # the stored result when the event was processed before
    shared_identifiers: int = 0


def _failure(reply: list[bytes]) -> Exception:
    """The slot of an event whose script failed: ``['error', message]``."""
    return ResponseError(reply[1].decode(errors="replace"))


def _resolution(reply: Any) -> Resolution | Exception:
    if reply[0] == b"error":
        return _failure(reply)
    if reply[0] == b"seen":
        prior = decode_result(reply[1])
        return Resolution(prior["client_id"], None, prior)
    session = orjson.loads(reply[2]) if reply[2] else None
    return Resolution(reply[1].decode(), session, None, int(reply[3]))


def _list(value: Any) -> list[Any]:
    """cjson encodes an empty Lua table as ``{}``."""
    return list(value) if isinstance(value, list) else []


_AS_TEXT = ("session", "enrichment")  # context entries handed to Lua as JSON text


def decode_result(raw: bytes | str) -> dict[str, Any]:
    result = dict(orjson.loads(raw))
    if isinstance(result.get("enrichment"), str):  # stored as JSON text inside the result
        result["enrichment"] = orjson.loads(result["enrichment"])
    result["channels_before"] = _list(result.get("channels_before"))
    result["merged_from"] = _list(result.get("merged_from"))
    return result


class ClientStore:
    def __init__(
        self, url: str, prefix: str, *, max_share: int = 2, dedupe_ttl_s: int = 30 * 86400
    ) -> None:
        self.redis: Any = aioredis.Redis.from_url(url)
        self.prefix = prefix
        self.max_share = max_share
        self.ttl = dedupe_ttl_s
        self._resolve = self.redis.register_script(_RESOLVE)
        self._record = self.redis.register_script(_RECORD)

    async def resolve_many(self, requests: list[ResolveRequest]) -> list[Resolution | Exception]:
        """Resolve a batch, in order, with one script call. An event's script error comes back in
        its slot; a connection failure raises (the caller retries the batch)."""
        if not requests:
            return []
        batch = [
            [r.account, r.event_id, r.new_client, r.occurred_at, list(r.identifiers)]
            for r in requests
        ]
        replies = await self._resolve(args=[self.prefix, self.max_share, orjson.dumps(batch)])
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
                ]
                for account, event_id, client_id, ctx in requests
            ]
        )
        replies = await self._record(args=[self.prefix, self.ttl, batch])
        return [_failure(r) if isinstance(r, list) else decode_result(r) for r in replies]

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
        touches = await self.redis.zrange(base + "touches:" + client, 0, -1, withscores=True)
        channels = await self.redis.smembers(base + "channels:" + client)
        return {
            "client_id": client,
            "card": card,
            "touches": [(m.decode(), int(s)) for m, s in touches],
            "channels": sorted(c.decode() for c in channels),
        }

    async def close(self) -> None:
        await self.redis.aclose()
