-- Splits (issue 10, item 4): links made through an identifier that later proves shared are undone.
-- Included by resolve.lua (provenance, split) and record.lua (take_splits) after common.lua and
-- ids.lua.
--
-- Provenance, written by resolve when a link depended on exactly one identifier k of the event
-- (the only usable identifier the event carried that some client already owned):
--   claimedvia:<k> (hash) JSON [client, claimed_at, id, ...]: identifiers one event claimed for
--                         client through k
--   mergedvia:<k>  (hash) JSON [merged, into, merged_created_at, id, ...]: client merged into
--                         `into` through k; the ids are those the event carried that merged owned
--   lookedupvia:<k> (hash) JSON [event_id, client, own_client, at]: an event that carried nothing
--                         usable but k (a call from a phone alone) and so went to k's owner,
--                         `client`; own_client is the client it gets when k is shared
-- Each (a hash: member -> '', stored as a compact listpack, unlike a set of strings) holds at
-- most `cap` members (further links through k are not recorded, and so not
-- split). When k proves shared, all three are consumed: every claim group moves to a client of
-- its own (id derived from account and the group's first identifier: a retry gives the same id),
-- the groups claimed through a moved identifier follow it, every merge is undone (those made
-- through a moved identifier alone too), and every event looked up through k alone goes to the
-- client it would have had had it arrived after k proved shared (its own, from its event id),
-- its hit with it: so the outcome does not depend on whether it arrived before or after. The splits wait
-- in splits:<event_id> (JSON texts) for record.lua to put them in the event's stored result, so
-- the worker emits them once, and again from that result on redelivery.
local function add_capped(key, member, cap)
  if redis.call('HLEN', key) < cap then redis.call('HSETNX', key, member, '') end
end

-- ids: the usable identifiers of the event; owner_of[k]: canonical owner of the owned ones (before
-- the merges); client: the event's client; merged: clients merged into it, created_of[o] their
-- creation times; at: event time; event_id and own: the event and the client it would get alone
local function record_provenance(ids, owner_of, client, merged, created_of, at, cap, event_id, own)
  local supports, claimed = {}, {}
  for _, k in ipairs(ids) do
    if owner_of[k] then
      supports[owner_of[k]] = supports[owner_of[k]] or {}
      table.insert(supports[owner_of[k]], k)
    else
      claimed[#claimed + 1] = k
    end
  end
  local mine = supports[client]
  if #ids == 1 and #claimed == 0 and #merged == 0 and mine then
    add_capped(P .. 'lookedupvia:' .. ids[1], cjson.encode({event_id, client, own, tostring(at)}), cap)
  end
  if #claimed > 0 and #merged == 0 and mine and #mine == 1 then
    local group = {client, tostring(at)}
    for _, k in ipairs(claimed) do group[#group + 1] = k end
    add_capped(P .. 'claimedvia:' .. mine[1], cjson.encode(group), cap)
  end
  for _, o in ipairs(merged) do
    local theirs = supports[o] or {}
    local entry = {o, client, tostring(created_of[o] or at)}
    for _, k in ipairs(theirs) do entry[#entry + 1] = k end
    local text = cjson.encode(entry)
    if mine and #mine == 1 then add_capped(P .. 'mergedvia:' .. mine[1], text, cap) end
    if #theirs == 1 then add_capped(P .. 'mergedvia:' .. theirs[1], text, cap) end
  end
end

local function split_client_id(account, identifier)
  return 's' .. string.sub(redis.sha1hex(account .. '|' .. identifier), 1, 19)
end

-- Undo one merge: the merged client is its own canonical again (its card restarts from its
-- creation time: the hits, touches and revenue it brought stay on the client it was merged into).
local function undo_merge(entry, shared_id, via)
  local o, into = entry[1], entry[2]
  if redis.call('HGET', P .. 'merged', o) ~= into then return nil end
  redis.call('HDEL', P .. 'merged', o)
  redis.call('HSETNX', P .. 'card:' .. o, 'created_at', entry[3])
  local ids = {}
  for i = 4, #entry do
    if entry[i] ~= shared_id then ids[#ids + 1] = entry[i] end
  end
  return {kind = 'unmerge', to_client_id = o, from_client_id = canonical(into),
          identifiers = ids, via = via}
end

-- Move one claim group (and, breadth first, the groups claimed through its identifiers) to a
-- client of its own, appending its split to out; the merges made through a moved identifier
-- alone are undone too (they rested on a link that now belongs to someone else).
local function move_claim(account, group, via, budget, out)
  local owner, at = group[1], group[2]
  local new = split_client_id(account, group[3])
  local moved, merges, queue, head = {}, {}, {group}, 1
  while head <= #queue and #moved < budget do
    local g = queue[head]
    head = head + 1
    for i = 3, #g do
      local k = g[i]
      if owner_of(k) == g[1] and redis.call('EXISTS', P .. 'shared:' .. k) == 0 then
        set_owner(k, new)
        moved[#moved + 1] = k
        local follow = redis.call('HKEYS', P .. 'claimedvia:' .. k)
        table.sort(follow)
        for _, m in ipairs(follow) do queue[#queue + 1] = cjson.decode(m) end
        local through = redis.call('HKEYS', P .. 'mergedvia:' .. k)
        table.sort(through)
        for _, m in ipairs(through) do merges[#merges + 1] = {k, cjson.decode(m)} end
        redis.call('DEL', P .. 'claimedvia:' .. k, P .. 'mergedvia:' .. k)
      end
    end
  end
  if #moved == 0 then return end
  redis.call('HSETNX', P .. 'card:' .. new, 'created_at', at)
  out[#out + 1] = {kind = 'claim', to_client_id = new, from_client_id = canonical(owner),
                   identifiers = moved, via = via}
  for _, m in ipairs(merges) do
    local split = undo_merge(m[2], m[1], via)
    if split then out[#out + 1] = split end
  end
end

-- An event looked up through the now shared identifier alone goes to its own client, with its hit
-- (the hits' members start with the event id: pipeline/touches.py).
local function move_lookup(entry, via)
  local event_id, client, own, at = entry[1], entry[2], entry[3], entry[4]
  local from = canonical(client)
  local hits = P .. 'hits:' .. from
  local found = redis.call('ZSCAN', hits, 0, 'MATCH', '\\["' .. event_id .. '"*', 'COUNT', 1000)
  repeat
    for i = 1, #found[2], 2 do
      redis.call('ZREM', hits, found[2][i])
      redis.call('ZADD', P .. 'hits:' .. own, found[2][i + 1], found[2][i])
    end
    if found[1] == '0' then break end
    found = redis.call('ZSCAN', hits, found[1], 'MATCH', '\\["' .. event_id .. '"*', 'COUNT', 1000)
  until false
  redis.call('HSETNX', P .. 'card:' .. own, 'created_at', at)
  return {kind = 'lookup', to_client_id = own, from_client_id = client,
          identifiers = {'event:' .. event_id}, via = via}
end

-- k has just proved shared: undo what was linked through it; the splits are queued for record.
local function split_through(account, event_id, k, cap)
  local via = string.match(k, '^([^:]*)')
  local out = {}
  local merges = redis.call('HKEYS', P .. 'mergedvia:' .. k)
  table.sort(merges)
  for _, m in ipairs(merges) do
    local split = undo_merge(cjson.decode(m), k, via)
    if split then out[#out + 1] = split end
  end
  local claims = redis.call('HKEYS', P .. 'claimedvia:' .. k)
  table.sort(claims)
  for _, c in ipairs(claims) do move_claim(account, cjson.decode(c), via, cap, out) end
  local lookups = redis.call('HKEYS', P .. 'lookedupvia:' .. k)
  table.sort(lookups)
  for _, l in ipairs(lookups) do out[#out + 1] = move_lookup(cjson.decode(l), via) end
  redis.call('DEL', P .. 'mergedvia:' .. k, P .. 'claimedvia:' .. k, P .. 'lookedupvia:' .. k)
  for _, split in ipairs(out) do
    redis.call('RPUSH', P .. 'splits:' .. event_id, cjson.encode(split))
  end
  if #out > 0 then redis.call('EXPIRE', P .. 'splits:' .. event_id, 604800) end
  return #out
end

-- The splits an event caused, for its stored result (JSON texts), removed from the queue.
local function take_splits(event_id)
  local splits = redis.call('LRANGE', P .. 'splits:' .. event_id, 0, -1)
  redis.call('DEL', P .. 'splits:' .. event_id)
  return splits
end
