-- Anchors: the strong identifiers (emails, source-system ids) seen with an identifier, to tell
-- when it is shared (resolve.lua, step 1). Included by resolve.lua after common.lua and ids.lua.
--   anchors:<shard> (hash; the shard as in ids.lua) identifier -> its anchors, space-separated
--                   '<kind>=<first 10 hex digits of the strong identifier's SHA-1>'
--                   (pipeline/anchors.py): a field of a compact hash where a key of its own cost
--                   ~175 B, and hashed so long identifiers keep the value short. Removed once
--                   the identifier proves shared (shared:<identifier> says so from then on).
--   anchors:<identifier> (hash strong identifier -> kind): the layout before; moved into its
--                   shard the first time the identifier's anchors are read.
local function anchors_key(k) return P .. 'anchors:' .. id_shard(k) end

local function anchor_entry(kind, strong)
  return kind .. '=' .. string.sub(redis.sha1hex(strong), 1, 10)
end

-- k's anchors, a list of entries.
local function anchors_of(k)
  local list = {}
  local text = redis.call('HGET', anchors_key(k), k)
  if text then
    for entry in string.gmatch(text, '%S+') do list[#list + 1] = entry end
    return list
  end
  local legacy = P .. 'anchors:' .. k
  local flat = redis.call('HGETALL', legacy)
  if #flat == 0 then return list end
  for i = 1, #flat, 2 do list[#list + 1] = anchor_entry(flat[i + 1], flat[i]) end
  table.sort(list)
  redis.call('HSET', anchors_key(k), k, table.concat(list, ' '))
  redis.call('DEL', legacy)
  return list
end

-- Add strong (of kind) to k's anchors (list, from anchors_of); how many of that kind it holds
-- then, or false if it held strong already.
local function add_anchor(list, kind, strong)
  local entry, prefix, same = anchor_entry(kind, strong), kind .. '=', 0
  for _, e in ipairs(list) do
    if e == entry then return false end
    if string.sub(e, 1, #prefix) == prefix then same = same + 1 end
  end
  list[#list + 1] = entry
  return same + 1
end
