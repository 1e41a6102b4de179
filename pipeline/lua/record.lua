#!lua
-- The shebang without flags (Redis 7.0+): every key the script touches must hash to one slot,
-- KEYS[1]'s (one account's key, for a cluster client to route the call; pipeline/keys.py). Keys
-- built from ARGV are allowed so long as they stay in that slot; a standalone Redis checks nothing.
-- include: common
-- include: ids
-- include: split
-- ARGV: prefix, window_s, batch, generation (pipeline/dedupe.py), provenance_cap (unused here),
-- id_shards (ids.lua: split_since looks owners up), then per item (bins): its dedup field, its
-- short fingerprint, its lookup field, its hit as stored ('' for none)
-- batch: [[account, event_id, client, context, session, enrichment, mark]]
-- session and enrichment arrive as JSON text: Lua stores / returns them without decoding them.
BIN_AT, BIN_PER = 7, 4
local window_s = tonumber(ARGV[2])
local function record(item, i)
  local event_id = item[2]
  KNOWN_FIELDS[event_id] = bin(i, 3)
  local prior, fp = applied(event_id, item[7], bin(i, 1))
  if prior then return prior end
  if fp then return cjson.encode({applied = fp}) end
  local ctx = item[4]
  local looked_up, client
  client, looked_up = lookup_client(event_id, item[3], canonical(item[3]))
  client = split_since(ctx, client, item[1], event_id, looked_up)
  -- the part its counters go in (parts.lua): its identifiers', and a lookup's own (the worker
  -- gives one with weak identifiers alone, pipeline/touches.py part_key, its own already)
  local part = ctx.part or ''
  if looked_up and not string.find(part, '@', 1, true) then part = part .. '@' .. event_id end
  local at = ctx.occurred_at
  local card = P .. 'card:' .. client

  -- how many touches the worker has seen on arrival (the enriched event's touch_seq); the card's
  -- touches, first touch and multichannel contacts are derived from its hits in event time
  local touch_seq = tonumber(redis.call('HGET', card, 'touch_count') or '0')
  if ctx.is_touch then touch_seq = redis.call('HINCRBY', card, 'touch_count', 1) end

  -- the hit itself (web hit, contact, lead): the card derives its touches from these in event
  -- time (pipeline/touches.py), so they come out the same in any arrival order
  local hit = bin(i, 4)
  if hit ~= '' then
    local hkey = P .. 'hits:' .. client
    redis.call('ZADD', hkey, at, hit)
    local newest = redis.call('ZREVRANGE', hkey, 0, 0, 'WITHSCORES')
    redis.call('ZREMRANGEBYSCORE', hkey, '-inf', '(' .. (tonumber(newest[2]) - ctx.lookback_ms))
    redis.call('ZREMRANGEBYRANK', hkey, 0, -(ctx.hit_cap + 1))
  end

  local contact_seq = 0
  if ctx.is_contact then
    contact_seq = redis.call('HINCRBY', card, 'contact_count', 1)
    local fc = redis.call('HGET', card, 'fc_at')
    if not fc or at < tonumber(fc) then
      redis.call('HSET', card, 'fc_at', at, 'name', s(ctx.name), 'phone', s(ctx.phone))
    end
    local lc = redis.call('HGET', card, 'lc_at')
    if not lc or at >= tonumber(lc) then
      redis.call('HSET', card, 'lc_at', at)
      if s(ctx.location) ~= '' then redis.call('HSET', card, 'location', ctx.location) end
    end
    add_contact_part(client, part, at, s(ctx.name), s(ctx.phone), s(ctx.location))
  end
  if ctx.revenue_minor ~= 0 and s(ctx.currency) ~= '' then
    redis.call('HINCRBY', card, 'revenue:' .. ctx.currency, ctx.revenue_minor)
    add_revenue_part(client, part, ctx.currency, ctx.revenue_minor)
  end
  if item[5] ~= '' then
    local skey = P .. 'session:' .. client
    if client ~= item[3] then  -- merged since it was resolved: keep the canonical's visits too
      redis.call('SET', skey, union_sessions(item[5], redis.call('GET', skey)))
    else
      redis.call('SET', skey, item[5])
    end
  end

  local merged = redis.call('LRANGE', P .. 'pending:' .. event_id, 0, -1)
  redis.call('DEL', P .. 'pending:' .. event_id)
  local result = {
    client_id = client, touch_seq = touch_seq, contact_seq = contact_seq,
    merged_from = merged, splits = take_splits(event_id), enrichment = item[6],
  }
  local encoded = cjson.encode(result)
  mark_applied(event_id, item[7], bin(i, 1), bin(i, 2), encoded, window_s)
  return encoded
end
return run_batch(record)
