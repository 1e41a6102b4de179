-- Events whose identifiers, two or more, all proved shared (the desk phone and the desk tablet's
-- web client id on one form): no one's identifiers say whose they are, so each is a client of its
-- own (own_client_id), as the reports' split_events gives it (022) and as resolve.lua gives one
-- that arrives after. split.lua includes this after hits.lua and parts.lua; split_through runs
-- move_all_shared when an identifier proves shared, on its owner, where the claims of the
-- event's other identifiers took its hit and counters before.

-- An identifier's tag as a hit keeps it (4 bytes; pipeline/touches.py identifier_tag).
local function tag_of(k) return from_hex(string.sub(redis.sha1hex(k), 1, 8)) end

-- The event id of a hit's member: its 16 bytes after a byte 1 or 2, else the JSON form's first.
local function hit_event_id(member)
  local first = string.byte(member, 1)
  if first == 1 or first == 2 then return lookup_event_id('\0' .. string.sub(member, 2, 17)) end
  local ok, fields = pcall(cjson.decode, member)
  if ok and type(fields) == 'table' then return fields[1] end
  return nil
end

-- Whether `tags` (4 bytes each) are two or more, all in `shared` (a set).
local function all_in(tags, shared)
  if #tags < 8 then return false end
  for j = 1, #tags - 3, 4 do
    if not shared[string.sub(tags, j, j + 3)] then return false end
  end
  return true
end

-- The hits of `client` whose tags are all shared, each to its event's own client.
local function move_shared_hits(account, client, shared)
  local from = P .. 'hits:' .. client
  local flat = redis.call('ZRANGE', from, 0, -1, 'WITHSCORES')
  for n = 1, #flat, 2 do
    local event_id = all_in(tags_of_hit(flat[n]), shared) and hit_event_id(flat[n])
    if event_id then
      local own = own_client_id(account, event_id)
      redis.call('ZREM', from, flat[n])
      redis.call('ZADD', P .. 'hits:' .. own, flat[n + 1], flat[n])
      redis.call('HSETNX', P .. 'card:' .. own, 'created_at', flat[n + 1])
    end
  end
end

-- The parts of `client` of an event of its own (key: hex tags, '@', its id: pipeline/touches.py
-- part_key) whose tags are all shared, to that event's own client.
local function move_shared_parts(account, client, shared)
  local keys = {}
  for _, f in ipairs(redis.call('HKEYS', P .. 'parts:' .. client)) do
    local hex, event_id = string.match(f, '^.|(%x*)@([^|]*)')
    if event_id and all_in(from_hex(hex), shared) then keys[hex .. '@' .. event_id] = event_id end
  end
  for key, event_id in pairs(keys) do
    move_parts(client, own_client_id(account, event_id), function(k) return k == key end)
  end
end

-- The account's sharedtags: the tags of every identifier that proved shared.
local function move_all_shared(account, client)
  local shared = {}
  for _, t in ipairs(redis.call('SMEMBERS', P .. 'sharedtags')) do shared[t] = true end
  move_shared_hits(account, client, shared)
  move_shared_parts(account, client, shared)
end
