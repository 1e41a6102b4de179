-- The card's counters per identifier set (parts:<client>, a hash), so a split can take a
-- person's revenue and contacts with them, as it takes their hits (hits.lua). Included by
-- split.lua; record.lua adds to them, resolve.lua unions them on a merge.
-- A part's key: the hex tags of the event's source-system ids, email, phone and cid (hit_tags;
-- '' for none), then '@' and the event id for an event looked up through one identifier alone
-- (a claim moves it by its tags, move_lookup by its id). Fields:
--   r|<key>|<currency>  revenue (minor units)
--   k|<key>  contacts: count, first contact (at, name, phone), last contact (at, location)
-- (values split by a byte 31). The layout before kept a contact part in three fields, c|<key>
-- (count), f|<key> (at, name, phone) and l|<key> (at, location): still read, folded and moved.
-- Counters stored before parts existed stay on the card as they are and do not move.
local SEP = '\31'

local function part_at(value) return tonumber(string.match(value, '^[^\31]*')) end

local function add_revenue_part(client, key, currency, amount)
  redis.call('HINCRBY', P .. 'parts:' .. client, 'r|' .. key .. '|' .. currency, amount)
end

-- A contact part's value: count, first at, name, phone, last at, location.
local function contact_fields(v)
  return string.match(v, '^([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31(.*)$')
end

-- Contact part v folded into field f of hash `into`: counts add up, the earliest first and the
-- latest last contact win (the one there first on a tie, the one added on a tie for the last).
local function fold_contact(into, f, v)
  local cur = redis.call('HGET', into, f)
  if not cur then return redis.call('HSET', into, f, v) end
  local n, fa, name, phone, la, loc = contact_fields(cur)
  local n2, fa2, name2, phone2, la2, loc2 = contact_fields(v)
  if tonumber(fa2) < tonumber(fa) then fa, name, phone = fa2, name2, phone2 end
  if tonumber(la2) >= tonumber(la) then la, loc = la2, loc2 end
  n = string.format('%.0f', tonumber(n) + tonumber(n2))
  redis.call('HSET', into, f, table.concat({n, fa, name, phone, la, loc}, SEP))
end

local function add_contact_part(client, key, at, name, phone, location)
  local when = string.format('%.0f', at)
  fold_contact(P .. 'parts:' .. client, 'k|' .. key,
               table.concat({'1', when, name, phone, when, location}, SEP))
end

-- Field f with value v into hash `into`: counters add up, the earliest first and latest last
-- contact win.
local function fold_part(into, f, v)
  local kind = string.sub(f, 1, 1)
  if kind == 'r' or kind == 'c' then return redis.call('HINCRBY', into, f, v) end
  if kind == 'k' then return fold_contact(into, f, v) end
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
    local f, l
    if kind == 'k' then
      local _, fa, name, phone, la, loc = contact_fields(v)
      f, l = table.concat({fa, name, phone}, SEP), la .. SEP .. loc
    elseif kind == 'f' then f = v
    elseif kind == 'l' then l = v end
    if f and (not first or part_at(f) < part_at(first)) then first = f end
    if l and (not last or part_at(l) > part_at(last)) then last = l end
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
      elseif kind == 'c' or kind == 'k' then
        local n = tonumber(string.match(v, '^[^\31]*'))
        add_to_card(cf, 'contact_count', -n)
        add_to_card(ct, 'contact_count', n)
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
