-- The card's hits (hits:<client>, sorted sets scored by event time) moved between clients by
-- splits (split.lua includes this after lookups.lua, for lookup_field): a lookup's one event by its
-- id, the events of identifiers split off by their tags.

-- A glob (ZSCAN MATCH) that matches s itself: its special characters escaped.
local function glob_literal(s) return (string.gsub(s, '[%*%?%[%]\\]', '\\%0')) end

-- A hit's stored member starts with its event id (pipeline/touches.py stored_member: record.lua
-- gets it ready made): a canonical UUID as a byte 1 and its 16 bytes (then flags, channel and
-- campaign key split by a byte 31; a byte 2 instead of 1 when tags follow the 16 bytes), in the
-- form before as a zero byte and the 16 bytes then '[', any other id as the JSON array
-- '["<event id>",...]'. The glob of the first form.
local function hit_glob(event_id)
  return '[\1\2]' .. glob_literal(string.sub(lookup_field(event_id), 2)) .. '*'
end

-- Move the members of sorted set `from` that match `pattern` to `to`, with their scores.
local function move_matching(from, to, pattern)
  local cursor = '0'
  repeat
    local found = redis.call('ZSCAN', from, cursor, 'MATCH', pattern, 'COUNT', 1000)
    for i = 1, #found[2], 2 do
      redis.call('ZREM', from, found[2][i])
      redis.call('ZADD', to, found[2][i + 1], found[2][i])
    end
    cursor = found[1]
  until cursor == '0'
end

-- The tags of ids' source-system ids, emails, phones and web client ids (pipeline/touches.py
-- identifier_tag: the first 8 hex digits of each one's SHA-1), as a set.
local TAGGED = {'ext.', 'email:', 'phone:', 'cid:'}  -- pipeline/touches.py TAGGED_KINDS
local function tag_set(ids)
  local set = {}
  for _, i in ipairs(ids) do
    for _, kind in ipairs(TAGGED) do
      if string.sub(i, 1, #kind) == kind then set[string.sub(redis.sha1hex(i), 1, 8)] = true end
    end
  end
  return set
end
local function from_hex(hex)
  return (string.gsub(hex, '..', function(h) return string.char(tonumber(h, 16)) end))
end

-- A hit's tags, 4 bytes each: after its byte 2, 16 bytes and their number where Redis keeps it
-- (pipeline/touches.py stored_member), sixth as hex in the JSON form; '' for none.
local function tags_of_hit(member)
  local first = string.byte(member, 1)
  if first == 2 then return string.sub(member, 19, 18 + 4 * string.byte(member, 18)) end
  if first == 91 then  -- '[': the JSON form
    local ok, fields = pcall(cjson.decode, member)
    if ok and type(fields[6]) == 'string' then return from_hex(fields[6]) end
  end
  return ''
end

-- The hits of sorted set `from` whose events carry one of the identifiers split off to `to`
-- (`tags`: their tag_set) move there, with their scores, as the reports' split_events moves the
-- events (the shared identifier, in no component, moves nothing: an event that carried it and a
-- split identifier goes with the split one). An event's identifiers other than the shared one
-- were linked by it, so they are in one component. `from` is capped (record.lua): read whole.
local function move_tagged(from, to, tags)
  local set = {}
  for t in pairs(tags) do set[from_hex(t)] = true end
  local flat = redis.call('ZRANGE', from, 0, -1, 'WITHSCORES')
  for n = 1, #flat, 2 do
    local tags = tags_of_hit(flat[n])
    for j = 1, #tags - 3, 4 do
      local t = string.sub(tags, j, j + 3)
      if set[t] then
        redis.call('ZREM', from, flat[n])
        redis.call('ZADD', to, flat[n + 1], flat[n])
        break
      end
    end
  end
end
