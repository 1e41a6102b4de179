#!lua
-- The shebang without flags (Redis 7.0+): every key the script touches must hash to one slot,
-- KEYS[1]'s (one account's key, for a cluster client to route the call; pipeline/keys.py). Keys
-- built from ARGV are allowed so long as they stay in that slot; a standalone Redis checks nothing.
-- include: common
-- include: ids
-- include: anchors
-- include: split
-- ARGV: prefix, max_share, batch, generation (pipeline/dedupe.py), provenance_cap (split.lua),
-- id_shards (ids.lua), then per item: its dedup field, its lookup field (bins)
-- batch: [[account, event_id, new_client, occurred_at, [identifiers], mark]]
BIN_AT, BIN_PER = 7, 2
local max_share = tonumber(ARGV[2])
local provenance_cap = tonumber(ARGV[5])
local function strong_kind(k)
  if string.sub(k, 1, 6) == 'email:' then return 'email' end
  if string.sub(k, 1, 4) == 'ext.' then
    local colon = string.find(k, ':', 5, true)
    return string.sub(k, 1, colon - 1)
  end
  return nil
end

local function resolve(item, i)
  local event_id, at, ids = item[2], tonumber(item[4]), item[5]
  local n = #ids
  KNOWN_FIELDS[event_id] = bin(i, 2)
  local prior, fp = applied(event_id, item[6], bin(i, 1))
  if prior then return {'seen', prior} end
  if fp then return {'applied', fp} end

  -- 1. identifiers seen with more distinct strong identifiers of one kind than max_share are
  -- shared, for good (shared:<identifier>): a shared identifier neither merges anyone nor
  -- resolves an event that carries nothing else (a call from the front-desk phone gets a client
  -- of its own instead of landing on whoever used the phone first)
  -- the strong identifiers seen with each identifier are its anchors (anchors.lua); a shared
  -- one needs no more of them
  local usable, shared = {}, 0
  for i = 1, n do
    local k = ids[i]
    local was_shared = redis.call('EXISTS', P .. 'shared:' .. k) == 1
    local too_many, anchors, changed = was_shared, nil, false
    for j = 1, n do
      local kind = strong_kind(ids[j])
      if not too_many and j ~= i and kind and kind ~= strong_kind(k) then
        anchors = anchors or anchors_of(k)
        local same = add_anchor(anchors, kind, ids[j])
        changed = changed or same ~= false
        if same and same > max_share then
          too_many = true
          redis.call('SET', P .. 'shared:' .. k, kind)
        end
      end
    end
    if too_many and not was_shared then
      redis.call('HDEL', anchors_key(k), k)
    elseif changed then
      redis.call('HSET', anchors_key(k), k, table.concat(anchors, ' '))
    end
    if too_many then shared = shared + 1 else usable[#usable + 1] = k end
    if too_many and not was_shared then split_through(item[1], event_id, k) end
  end

  -- 2. owners of the usable identifiers
  local owners, owned = {}, {}
  for _, k in ipairs(usable) do
    local o = owner_of(k)
    if o then
      o = canonical(o)
      owned[k] = o
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
    if #usable == 0 and shared >= 2 then client = own_client_id(item[1], event_id) end
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
      redis.call('ZUNIONSTORE', P .. 'hits:' .. client, 2, P .. 'hits:' .. client,
                 P .. 'hits:' .. o, 'AGGREGATE', 'MIN')
      -- the merged client's visits go on as the canonical client's (a page after the merge
      -- joins the visit it belongs to instead of opening a second touch)
      local carried = union_sessions(redis.call('GET', P .. 'session:' .. client),
                                     redis.call('GET', P .. 'session:' .. o))
      if carried then redis.call('SET', P .. 'session:' .. client, carried) end
      merge_links(client, o, provenance_cap)
      merge_parts(client, o)
      redis.call('DEL', other, P .. 'session:' .. o, P .. 'hits:' .. o)
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
    if not owned[k] then set_owner(k, client) end
  end
  record_provenance(usable, owned, client, merges, at, provenance_cap, item[1], event_id,
                    item[3])
  local session = redis.call('GET', P .. 'session:' .. client) or ''
  -- the account's splitclock as the event was resolved: record.lua's split_since compares it
  local clock = redis.call('GET', P .. 'splitclock') or '0'
  return {'new', client, session, tostring(shared), merges, clock}
end
return run_batch(resolve)
