-- Splits (issue 10, item 4): clients are the connected components of events linked by identifiers
-- that are not shared. Included by resolve.lua (provenance, split) and record.lua (take_splits)
-- after common.lua and ids.lua.
--
-- Kept by resolve for every event:
--   links:<client>  (hash) JSON sorted array of identifiers -> earliest event time: the usable
--                   identifier sets the client's events carried (an event with two or more, or
--                   one nobody owned yet); at most `cap` sets per client; a merge carries the
--                   merged client's links to the canonical client
--   lookedupvia:<k> (hash) event id -> client, at, own (lookup_text): an event that carried
--                   nothing usable but k (a call from a phone alone): it went to k's owner, or
--                   made `client` through k; own is the client it gets when k is shared: the
--                   client it gets when it resolves to no one (new_client_id, left out), or for
--                   one that made its client `s` + a hash of account and event:<event_id> (`s`);
--                   at most `cap` per k; record rewrites `client` to the client the event is
--                   stored with (lookup:<event_id>); the hash names its first entry's client
--                   once, and entries stored with it leave it out (lookups.lua);
--                   pipeline/lookups.py reads the same entries (and the layouts before:
--                   '<client> <at>[ s| <own>]', and JSON [event_id, client, own, at] as the field)
-- When k proves shared, its owner's links are regrouped into their connected components without
-- the shared identifiers: the oldest component stays with the client, each other one moves to a
-- client of its own (`s` + a hash of account, k and the component's first identifier: a retry
-- gives the same id), as a split of kind `claim` naming its identifiers; k itself is `release`d
-- (no client: a claim that moved it before no longer pulls its events along); every event looked
-- up through k alone goes to its own client with its hit (kind `lookup`). So the outcome is the
-- same whether an event arrived before or after k proved shared. The splits wait in
-- splits:<event_id> (JSON texts, each with the time it was made, `at`, strictly after the
-- account's earlier splits) for record.lua to put them in the event's stored result, so the
-- worker emits them once, and again from that result on redelivery.
local function add_link(client, text, at, cap)
  local key = P .. 'links:' .. client
  local had = redis.call('HGET', key, text)
  if had then
    if at < tonumber(had) then redis.call('HSET', key, text, at) end
  elseif redis.call('HLEN', key) < cap then
    redis.call('HSET', key, text, at)
  end
end

local function split_client_id(account, identifier)
  return 's' .. string.sub(redis.sha1hex(account .. '|' .. identifier), 1, 19)
end

-- The client an event makes when it resolves to no one (pipeline/client_ids.py).
local function new_client_id(account, event_id)
  return 'c' .. string.sub(redis.sha1hex(account .. '|' .. event_id), 1, 19)
end

-- The client of an event whose identifiers, two or more, all proved shared: its own, however it
-- arrived (pipeline/client_ids.py own_client_id; the reports' split_events, 022).
local function own_client_id(account, event_id)
  return split_client_id(account, 'event:' .. string.lower(event_id))
end

-- include: lookups
-- include: hits
-- include: parts
-- include: all_shared

-- ids: the usable identifiers of the event; owner_of[k]: canonical owner of the owned ones (before
-- the merges); client: the event's client; merged: clients merged into it; at: event time;
-- account, event_id and own: the event and the client it gets when it resolves to no one
local function record_provenance(ids, owner_of, client, merged, at, cap, account, event_id, own)
  if #ids == 1 and #merged == 0 then
    -- it made its client through ids[1] alone: its own client once ids[1] is shared is another
    -- (the client it made keeps the identifiers others linked to ids[1] meanwhile)
    if not owner_of[ids[1]] then own = split_client_id(account, 'event:' .. event_id) end
    local key = P .. 'lookedupvia:' .. ids[1]
    if add_lookup(key, cap, account, event_id, client, own, tostring(at)) then
      redis.call('SET', P .. 'lookup:' .. event_id, cjson.encode({ids[1], own}), 'EX', 604800)
    end
  end
  if #ids > 1 or (#ids == 1 and not owner_of[ids[1]]) then
    local sorted = {}
    for i, k in ipairs(ids) do sorted[i] = k end
    table.sort(sorted)
    add_link(client, cjson.encode(sorted), at, cap)
  end
end

-- A client's link sets (texts) in sorted order and the earliest time of each.
local function sorted_links(client)
  local flat = redis.call('HGETALL', P .. 'links:' .. client)
  local texts, at_of = {}, {}
  for i = 1, #flat, 2 do
    texts[#texts + 1] = flat[i]
    at_of[flat[i]] = tonumber(flat[i + 1])
  end
  table.sort(texts)
  return texts, at_of
end

-- The merged client's links go on as the canonical client's.
local function merge_links(client, other, cap)
  local texts, at_of = sorted_links(other)
  for _, text in ipairs(texts) do add_link(client, text, at_of[text], cap) end
  redis.call('DEL', P .. 'links:' .. other)
end

local function is_shared(k) return redis.call('EXISTS', P .. 'shared:' .. k) == 1 end

-- The connected components of client's links without the shared identifiers, oldest first:
-- {at = earliest link time, ids = sorted identifiers, sets = {text, at, ...}}.
local function components(client)
  local texts, at_of = sorted_links(client)
  local parent, shared, kept = {}, {}, {}
  local function root(x)
    while parent[x] ~= x do x = parent[x] end
    return x
  end
  for _, text in ipairs(texts) do
    local ids = {}
    for _, k in ipairs(cjson.decode(text)) do
      if shared[k] == nil then shared[k] = is_shared(k) end
      if not shared[k] then ids[#ids + 1] = k end
    end
    if #ids > 0 then
      kept[#kept + 1] = {ids, at_of[text]}
      for _, k in ipairs(ids) do
        if not parent[k] then parent[k] = k end
      end
      for j = 2, #ids do
        local ra, rb = root(ids[1]), root(ids[j])
        if ra ~= rb then
          if ra < rb then parent[rb] = ra else parent[ra] = rb end
        end
      end
    end
  end
  local groups, order = {}, {}
  for _, one in ipairs(kept) do
    local r = root(one[1][1])
    local g = groups[r]
    if not g then
      g = {at = one[2], ids = {}, sets = {}}
      groups[r] = g
      order[#order + 1] = r
    end
    if one[2] < g.at then g.at = one[2] end
    g.sets[#g.sets + 1] = cjson.encode(one[1])
    g.sets[#g.sets + 1] = one[2]
  end
  for k in pairs(parent) do table.insert(groups[root(k)].ids, k) end
  local out = {}
  for _, r in ipairs(order) do
    table.sort(groups[r].ids)
    out[#out + 1] = groups[r]
  end
  table.sort(out, function(x, y)
    if x.at ~= y.at then return x.at < y.at end
    return x.ids[1] < y.ids[1]
  end)
  return out
end

-- client's identifiers regrouped into the components of its links without the shared
-- identifiers: the oldest stays, each other one moves to a client of its own, with the hits and
-- the counters (parts.lua) of the events that carried its identifiers.
local function resplit(account, client, k, out)
  local parts = components(client)
  redis.call('DEL', P .. 'links:' .. client)
  local via = string.match(k, '^([^:]*)')
  for n, part in ipairs(parts) do
    local to = client
    if n > 1 then to = split_client_id(account, k .. '|' .. part.ids[1]) end
    redis.call('HSET', P .. 'links:' .. to, unpack(part.sets))
    if to ~= client then
      local moved = {}
      for _, i in ipairs(part.ids) do
        local o = owner_of(i)
        if o and canonical(o) == client then
          set_owner(i, to)
          moved[#moved + 1] = i
        end
      end
      redis.call('HSETNX', P .. 'card:' .. to, 'created_at', part.at)
      local tags = tag_set(part.ids)
      move_tagged(P .. 'hits:' .. client, P .. 'hits:' .. to, tags)
      move_parts(client, to, function(key) return key_has_tag(key, tags) end)
      if #moved > 0 then
        out[#out + 1] = {kind = 'claim', to_client_id = to, from_client_id = client,
                         identifiers = moved, via = via}
      end
    end
  end
end

-- An event looked up through the now shared identifier alone goes to its own client, with its hit
-- (the hits' members start with the event id: as text, or its 16 bytes after a byte 1, or after a
-- zero byte and before '[' in the form before: hit_prefix) and its counters, from `source`.
local function move_lookup_from(source, event_id, own)
  local hits, to = P .. 'hits:' .. source, P .. 'hits:' .. own
  local mine = '@' .. event_id
  move_parts(source, own, function(key) return string.sub(key, -#mine) == mine end)
  move_matching(hits, to, '\\["' .. glob_literal(event_id) .. '"*')
  if string.match(event_id, UUID) then
    move_matching(hits, to, hit_glob(event_id))
    move_matching(hits, to, glob_literal(lookup_field(event_id) .. '[') .. '*')
  end
end

-- The lookup's hit is with the client it was stored with, or, if a claim moved the identifier
-- (and with it the hits tagged with it) before it proved shared, with the identifier's owner
-- (`holder`, canonical; nil when none). The split names the client it was stored with, as the
-- reports find the event by it.
local function move_lookup(entry, via, holder)
  local event_id, client, own, at = entry[1], entry[2], entry[3], entry[4]
  local stored = canonical(client)
  move_lookup_from(stored, event_id, own)
  if holder and holder ~= stored then move_lookup_from(holder, event_id, own) end
  redis.call('HSETNX', P .. 'card:' .. own, 'created_at', at)
  return {kind = 'lookup', to_client_id = own, from_client_id = client,
          identifiers = {'event:' .. event_id}, via = via}
end

-- When splits are made (UTC ms): Redis's clock, strictly later than the account's previous splits
-- (splitclock), so the latest split of an identifier is the one made last, whichever worker made
-- it and however close together.
local function split_clock()
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local last = tonumber(redis.call('GET', P .. 'splitclock') or '0')
  if now <= last then now = last + 1 end
  redis.call('SET', P .. 'splitclock', now)
  return now
end

-- k has just proved shared: regroup its owner, move its lookups, then the events whose
-- identifiers all proved shared now (all_shared.lua); the splits are queued for record.
-- A `release` names k itself with no client: a claim that moved k before it proved shared no
-- longer says where the events that carry it belong.
local function split_through(account, event_id, k)
  local via = string.match(k, '^([^:]*)')
  local out = {}
  local o = owner_of(k)
  local holder = o and canonical(o)
  redis.call('SADD', P .. 'sharedtags', tag_of(k))
  if holder then
    resplit(account, holder, k, out)
    out[#out + 1] = {kind = 'release', to_client_id = '', from_client_id = holder,
                     identifiers = {k}, via = via}
  end
  for _, l in ipairs(lookups_of(account, P .. 'lookedupvia:' .. k)) do
    out[#out + 1] = move_lookup(l, via, holder)
  end
  redis.call('DEL', P .. 'lookedupvia:' .. k)
  if holder then move_all_shared(account, holder) end
  local at = #out > 0 and split_clock()
  for _, split in ipairs(out) do
    split.at = at
    redis.call('RPUSH', P .. 'splits:' .. event_id, cjson.encode(split))
  end
  if #out > 0 then redis.call('EXPIRE', P .. 'splits:' .. event_id, 604800) end
  return #out
end

-- The client record stores an event with (resolved: the client resolve gave it, client: that
-- client's canonical now). An event recorded under lookedupvia: (lookup:<event_id> says where,
-- and its own client) keeps its entry naming the client it is stored with, so a lookup split
-- finds it there; if its identifier proved shared since it was resolved (in the same batch), the
-- split has moved it already and it is stored with its own client.
local function lookup_client(event_id, resolved, client)
  local mark = redis.call('GET', P .. 'lookup:' .. event_id)
  if not mark then return client, false end
  redis.call('DEL', P .. 'lookup:' .. event_id)
  local k, own = unpack(cjson.decode(mark))
  -- a mark of the layout before named the entry: [event_id, client, own, at]
  if string.sub(own, 1, 1) == '[' then own = cjson.decode(own)[3] end
  local key = P .. 'lookedupvia:' .. k
  local text = redis.call('HGET', key, lookup_field(event_id))
  if text then
    if client ~= resolved then restore_lookup(key, event_id, text, client) end
    return client, true
  end
  if redis.call('EXISTS', P .. 'shared:' .. k) == 1 then return own, true end
  return client, true
end

-- An event resolved before a split moved its identifiers (in the same batch, or by another
-- worker) belongs where they went, as the reports' split_events places it: the canonical owner
-- of its first identifier (ctx.ids: its ext ids, email, phone, cid) that is not shared; its own
-- client if they are two or more and all shared now (all_shared.lua), unless it was looked up
-- (lookup_client gave it the client its lookup split names). Read only when the account's
-- splitclock moved since the event was resolved (ctx.split_clock; read once per account and call:
-- record.lua makes no splits).
local SPLIT_CLOCKS = {}
local function split_since(ctx, client, account, event_id, looked_up)
  if not ctx.ids then return client end
  local now = SPLIT_CLOCKS[P] or tonumber(redis.call('GET', P .. 'splitclock') or '0')
  SPLIT_CLOCKS[P] = now
  if now == ctx.split_clock then return client end
  local all = #ctx.ids >= 2 and not looked_up
  for _, k in ipairs(ctx.ids) do
    if not is_shared(k) then
      all = false
      local o = owner_of(k)
      if o then return canonical(o) end
    end
  end
  if not all then return client end
  local own = own_client_id(account, event_id)
  redis.call('HSETNX', P .. 'card:' .. own, 'created_at', ctx.occurred_at)
  return own
end

-- The splits an event caused, for its stored result (JSON texts), removed from the queue.
local function take_splits(event_id)
  local splits = redis.call('LRANGE', P .. 'splits:' .. event_id, 0, -1)
  redis.call('DEL', P .. 'splits:' .. event_id)
  return splits
end
