-- The card's counters per identifier set (parts:<client>, a hash), so a split can take a
-- person's revenue and contacts with them, as it takes their hits (hits.lua). Included by
-- split.lua; record.lua adds to them, resolve.lua unions them on a merge.
-- A part's key: the hex tags of the event's source-system ids, email, phone and cid (hit_tags;
-- '' for none), then '@' and the event id for an event looked up through one identifier alone
-- (a claim moves it by its tags, move_lookup by its id). Fields:
--   r|<key>|<currency>  revenue (minor units)      c|<key>  contacts
--   f|<key>  first contact: at, name, phone        l|<key>  last contact: at, location
-- (values split by a byte 31). Counters stored before parts existed stay on the card as they
-- are and do not move.
local SEP = '\31'

local function part_at(value) return tonumber(string.match(value, '^[^\31]*')) end

local function add_revenue_part(client, key, currency, amount)
  redis.call('HINCRBY', P .. 'parts:' .. client, 'r|' .. key .. '|' .. currency, amount)
end

local function add_contact_part(client, key, at, name, phone, location)
  local pk, when = P .. 'parts:' .. client, string.format('%.0f', at)
  redis.call('HINCRBY', pk, 'c|' .. key, 1)
  local first = redis.call('HGET', pk, 'f|' .. key)
  if not first or at < part_at(first) then
    redis.call('HSET', pk, 'f|' .. key, when .. SEP .. name .. SEP .. phone)
  end
  local last = redis.call('HGET', pk, 'l|' .. key)
  if not last or at >= part_at(last) then
    redis.call('HSET', pk, 'l|' .. key, when .. SEP .. location)
  end
end

-- Field f with value v into hash `into`: counters add up, the earliest first and latest last
-- contact win.
local function fold_part(into, f, v)
  local kind = string.sub(f, 1, 1)
  if kind == 'r' or kind == 'c' then return redis.call('HINCRBY', into, f, v) end
  local cur = redis.call('HGET', into, f)
  if not cur or (kind == 'f' and part_at(v) < part_at(cur))
     or (kind == 'l' and part_at(v) >= part_at(cur)) then
    redis.call('HSET', into, f, v)
  end
end

-- A merge: the merged client's parts become the canonical client's.
local function merge_parts(client, other)
  local from = P .. 'parts:' .. other
  local flat = redis.call('HGETALL', from)
  for i = 1, #flat, 2 do fold_part(P .. 'parts:' .. client, flat[i], flat[i + 1]) end
  redis.call('DEL', from)
end

-- A card counter moved by `by`; gone when it reaches nothing.
local function add_to_card(card, field, by)
  if redis.call('HINCRBY', card, field, by) <= 0 and by < 0 then
    redis.call('HDEL', card, field)
  end
end

-- The card's first and last contact again from its parts (after the part they came from left).
local function contacts_from_parts(client)
  local card, flat = P .. 'card:' .. client, redis.call('HGETALL', P .. 'parts:' .. client)
  local first, last
  for i = 1, #flat, 2 do
    local kind, v = string.sub(flat[i], 1, 1), flat[i + 1]
    if kind == 'f' and (not first or part_at(v) < part_at(first)) then first = v end
    if kind == 'l' and (not last or part_at(v) > part_at(last)) then last = v end
  end
  redis.call('HDEL', card, 'fc_at', 'name', 'phone', 'lc_at', 'location')
  if first then
    local at, name, phone = string.match(first, '^([^\31]*)\31([^\31]*)\31(.*)$')
    redis.call('HSET', card, 'fc_at', at, 'name', name, 'phone', phone)
  end
  if last then
    local at, location = string.match(last, '^([^\31]*)\31(.*)$')
    redis.call('HSET', card, 'lc_at', at)
    if location ~= '' then redis.call('HSET', card, 'location', location) end
  end
end

-- Parts of `from` whose key `match`es move to `to`, and their counters from one card to the other.
local function move_parts(from, to, match)
  local pf, cf, ct = P .. 'parts:' .. from, P .. 'card:' .. from, P .. 'card:' .. to
  local flat = redis.call('HGETALL', pf)
  local moved = false
  for i = 1, #flat, 2 do
    local f, v = flat[i], flat[i + 1]
    local kind, key = string.sub(f, 1, 1), string.match(f, '^.|([^|]*)')
    if match(key) then
      moved = true
      redis.call('HDEL', pf, f)
      fold_part(P .. 'parts:' .. to, f, v)
      if kind == 'r' then
        local field = 'revenue:' .. string.match(f, '^r|[^|]*|(.*)$')
        add_to_card(cf, field, -tonumber(v))
        add_to_card(ct, field, tonumber(v))
      elseif kind == 'c' then
        add_to_card(cf, 'contact_count', -tonumber(v))
        add_to_card(ct, 'contact_count', tonumber(v))
      end
    end
  end
  if moved then
    contacts_from_parts(from)
    contacts_from_parts(to)
  end
end

-- A part key's tags (8 hex digits each, before any '@') include one of `tags` (a set).
local function key_has_tag(key, tags)
  key = string.match(key, '^[^@]*')
  for j = 1, #key - 7, 8 do
    if tags[string.sub(key, j, j + 7)] then return true end
  end
  return false
end
