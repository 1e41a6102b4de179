-- The entries of lookedupvia:<k> (pipeline/lookups.py reads and writes the same): one per event
-- that carried the usable identifier k alone, field = the event id, value = the client it is
-- stored with, its time and its own client (the tail). Included by split.lua after
-- split_client_id and new_client_id.
--
-- The hash's field DEFAULT ('\1') holds the client of its first entry; an entry stored with that
-- client leaves it out (a byte 1, the time in 6 bytes, the tail): most events looked up through
-- one identifier are stored with its one owner, so this saves the client's 11 bytes on each.

-- A lookup's hash field: a canonical UUID event id as a zero byte and its 16 bytes, any other id
-- as it is; lookup_event_id reads it back.
local UUID = '^' .. string.rep('[0-9a-f]', 8) .. '%-' .. string.rep('[0-9a-f]', 4) .. '%-'
  .. string.rep('[0-9a-f]', 4) .. '%-' .. string.rep('[0-9a-f]', 4) .. '%-'
  .. string.rep('[0-9a-f]', 12) .. '$'
local function lookup_field(event_id)
  local known = KNOWN_FIELDS[event_id]
  if known then return known end
  if not string.match(event_id, UUID) then return event_id end
  local hex = string.gsub(event_id, '-', '')
  return '\0' .. string.gsub(hex, '%x%x', function(h) return string.char(tonumber(h, 16)) end)
end

local function lookup_event_id(field)
  if #field ~= 17 or string.byte(field, 1) ~= 0 then return field end
  local hex = string.gsub(string.sub(field, 2), '.', function(c)
    return string.format('%02x', string.byte(c))
  end)
  return string.sub(hex, 1, 8) .. '-' .. string.sub(hex, 9, 12) .. '-' .. string.sub(hex, 13, 16)
    .. '-' .. string.sub(hex, 17, 20) .. '-' .. string.sub(hex, 21, 32)
end

local DEFAULT = '\1'  -- the field naming the client an entry without one is stored with
local TIME_LIMIT = 281474976710656  -- 2^48

local function time_bytes(n)
  local time = {}
  for i = 6, 1, -1 do
    time[i] = string.char(n % 256)
    n = math.floor(n / 256)
  end
  return table.concat(time)
end

local function time_of(text, from)
  local n = 0
  for i = from, from + 5 do n = n * 256 + string.byte(text, i) end
  return string.format('%.0f', n)
end

-- A lookup's value: with the hash's default client, a byte 1, the time (ms, 6 bytes, big-endian)
-- and the tail (own: '', 's' or a client id); else a zero byte, the client (a client id Touchline
-- makes: its letter and 19 hex digits in 10 bytes), the time, the tail; as text
-- '<client> <at>[ <tail>]' when it does not fit.
local function lookup_text(client, at, tail, default)
  local n = tonumber(at)
  if not (n and n < TIME_LIMIT and string.format('%.0f', n) == at) then
    return client .. ' ' .. at .. (tail == '' and '' or ' ' .. tail)
  end
  if client == default then return '\1' .. time_bytes(n) .. tail end
  if string.match(client, '^[cs]' .. string.rep('[0-9a-f]', 19) .. '$') then
    local packed = string.gsub(string.sub(client, 2) .. '0', '%x%x', function(h)
      return string.char(tonumber(h, 16))
    end)
    return '\0' .. string.sub(client, 1, 1) .. packed .. time_bytes(n) .. tail
  end
  return client .. ' ' .. at .. (tail == '' and '' or ' ' .. tail)
end

-- client, at and tail of a lookup's value (any layout; `default`: the hash's DEFAULT field)
local function lookup_parts(text, default)
  if #text >= 7 and string.byte(text, 1) == 1 then
    return default, time_of(text, 2), string.sub(text, 8)
  end
  if #text >= 18 and string.byte(text, 1) == 0 then
    local hex = string.gsub(string.sub(text, 3, 12), '.', function(c)
      return string.format('%02x', string.byte(c))
    end)
    return string.sub(text, 2, 2) .. string.sub(hex, 1, 19), time_of(text, 13),
      string.sub(text, 19)
  end
  return string.match(text, '^(%S+) (%S+) ?(%S*)$')
end

-- A lookup's value under its event id: own is left out when it is the client the event makes
-- alone, `s` when it is the one it made through its identifier.
local function lookup_value(account, event_id, client, own, at, default)
  local tail = own
  if own == new_client_id(account, event_id) then
    tail = ''
  elseif own == split_client_id(account, 'event:' .. event_id) then
    tail = 's'
  end
  return lookup_text(client, at, tail, default)
end

-- {event_id, client, own, at} of a lookup kept as field -> text (or, in the layout before, a JSON
-- array as the field).
local function lookup_entry(account, raw, text, default)
  if string.sub(raw, 1, 1) == '[' then return cjson.decode(raw) end
  local field = lookup_event_id(raw)
  local client, at, own = lookup_parts(text, default)
  if own == '' then
    own = new_client_id(account, field)
  elseif own == 's' then
    own = split_client_id(account, 'event:' .. field)
  end
  return {field, client, own, at}
end

-- Records event_id's lookup through identifier key `key` (a hash of at most `cap` entries); true
-- when it was not there yet. The first entry names the hash's default client.
local function add_lookup(key, cap, account, event_id, client, own, at)
  local default = redis.call('HGET', key, DEFAULT)
  if redis.call('HLEN', key) >= cap + (default and 1 or 0) then return false end
  local text = lookup_value(account, event_id, client, own, at, default or client)
  if redis.call('HSETNX', key, lookup_field(event_id), text) == 0 then return false end
  if not default then redis.call('HSET', key, DEFAULT, client) end
  return true
end

-- Every lookup of the hash `key`, sorted by event id, then client.
local function lookups_of(account, key)
  local flat = redis.call('HGETALL', key)
  local default, out = nil, {}
  for i = 1, #flat, 2 do
    if flat[i] == DEFAULT then default = flat[i + 1] end
  end
  for i = 1, #flat, 2 do
    if flat[i] ~= DEFAULT then
      out[#out + 1] = lookup_entry(account, flat[i], flat[i + 1], default)
    end
  end
  table.sort(out, function(x, y)
    if x[1] ~= y[1] then return x[1] < y[1] end
    return x[2] < y[2]
  end)
  return out
end

-- The entry of event_id in `key` says it is stored with `client` now.
local function restore_lookup(key, event_id, text, client)
  local default = redis.call('HGET', key, DEFAULT)
  local _, at, tail = lookup_parts(text, default)
  redis.call('HSET', key, lookup_field(event_id), lookup_text(client, at, tail, default))
end
