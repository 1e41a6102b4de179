-- Identifier -> owner client (pipeline/keys.py): a field of the hash ids:<shard>, shard = the
-- first 32 bits of the identifier's SHA-1 modulo ID_SHARDS, in hex (keys.id_shard). Included by
-- resolve.lua and record.lua after common.lua (split.lua moves owners with it). ID_SHARDS comes
-- in ARGV[6] of both.
local ID_SHARDS = tonumber(ARGV[6])
-- The shard of k (keys.id_shard), in hex: ids:<shard> holds its owner, anchors:<shard> its anchors.
local function id_shard(k)
  return string.format('%x', tonumber(string.sub(redis.sha1hex(k), 1, 8), 16) % ID_SHARDS)
end
local function ids_key(k) return P .. 'ids:' .. id_shard(k) end
-- The owner of k, or false. An owner stored in the layout before (one key id:<identifier>) is
-- moved into its hash here, on the first lookup, so older deployments keep every identity.
local function owner_of(k)
  local key = ids_key(k)
  local o = redis.call('HGET', key, k)
  if o then return o end
  local legacy = P .. 'id:' .. k
  o = redis.call('GET', legacy)
  if o then
    redis.call('HSET', key, k, o)
    redis.call('DEL', legacy)
  end
  return o
end
local function set_owner(k, client)
  redis.call('HSET', ids_key(k), k, client)
end
