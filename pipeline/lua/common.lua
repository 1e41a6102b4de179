-- Shared by every script (each includes this file first).
local P  -- key prefix of the event being handled: <prefix>:{<account>}:
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
-- Two clients' recent sessions (JSON text: the list of visits, or an object {"sessions": [...]}
-- stored before; false / '' for none) as one list: every session of a, then those of b that a
-- does not have (by session id: a visit is a row whose first value is its id,
-- pipeline/record_context.py SESSION_ROW, or an object stored before rows).
local function session_id(one) return one.session_id or one[1] end
local function visits(text)
  local v = cjson.decode(text)
  if v[1] == nil and type(v.sessions) == 'table' then return v.sessions end
  return v
end
local function union_sessions(a, b)
  if not b or b == '' then return a end
  if not a or a == '' then return b end
  local list, have = visits(a), {}
  for _, one in ipairs(list) do have[session_id(one)] = true end
  for _, one in ipairs(visits(b)) do
    if not have[session_id(one)] then list[#list + 1] = one end
  end
  return cjson.encode(list)
end
-- Binary values of the batch's items (pipeline/store.py, bins): after the other arguments,
-- BIN_PER values per item in the batch's order, the first at ARGV[BIN_AT] (each script sets
-- both). Bytes that JSON cannot carry, so Lua need not convert them from text.
local BIN_AT, BIN_PER = 0, 0
local function bin(i, j) return ARGV[BIN_AT + (i - 1) * BIN_PER + j - 1] end
-- event id -> its lookup field (split.lua lookup_field), for the batch's events, from their bins
local KNOWN_FIELDS = {}
-- The exactly-once state (pipeline/dedupe.py). GEN: the worker clock's dedup generation.
local GEN = tonumber(ARGV[4])
local function hex(b)
  return (string.gsub(b, '.', function(c) return string.format('%02x', string.byte(c)) end))
end
-- An event already applied: its whole result while its outputs await Kafka's confirmation
-- (inflight:), else the fingerprint its entry keeps (seen:<generation>:<shard>: as hex, or as
-- the base64 an entry of the layout before keeps), else nothing.
-- mark: {shard, field of the layout before} of the event's entry; field: its field (bytes).
local function applied(event_id, mark, field)
  local full = redis.call('GET', P .. 'inflight:' .. event_id)
  if full then return full, nil end
  for g = GEN, GEN - 1, -1 do
    local key = P .. 'seen:' .. g .. ':' .. mark[1]
    local fp = redis.call('HGET', key, field)
    if fp then return nil, hex(fp) end
    fp = redis.call('HGET', key, mark[2])
    if fp then return nil, fp end
  end
  return nil, nil
end
-- field and fp: the entry's field and the short fingerprint, as bytes
local function mark_applied(event_id, mark, field, fp, result, window)
  local key = P .. 'seen:' .. GEN .. ':' .. mark[1]
  redis.call('HSET', key, field, fp)
  redis.call('EXPIRE', key, 2 * window, 'NX')
  redis.call('SET', P .. 'inflight:' .. event_id, result, 'EX', window)
end
local function run_batch(handle)
  local prefix, batch, out = ARGV[1], cjson.decode(ARGV[3]), {}
  for i, item in ipairs(batch) do
    -- the same form as pipeline/keys.py account_base (test_lua_scripts holds them equal): the
    -- braces are a Redis Cluster hash tag, so all keys of one account share a slot
    P = prefix .. ':{' .. item[1] .. '}:'
    local ok, res = pcall(handle, item, i)
    if ok then
      out[i] = res
    else
      out[i] = {'error', type(res) == 'table' and tostring(res.err) or tostring(res)}
    end
  end
  return out
end
