-- Shared by the presence scripts (prepended to each by roboscope.realtime.scripts).
--
-- KEYS[1] devices  ZSET  cjson([user_id, device_id]) -> expiry (ms, server time)
-- KEYS[2] users    HASH  user_id -> cjson({j = joined us (text), s = last beat ms,
--                                          v = {device_id = expiry ms}})
-- KEYS[3] profiles HASH  user_id -> JSON {display_name, meta} from the latest beat (opaque here)
--
-- Expiry uses Redis server time so every API process agrees on who is present.
local devices_key, users_key, profiles_key = KEYS[1], KEYS[2], KEYS[3]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- Join instants order the user list; microseconds as text (exact, unlike cjson's 14 digits).
local now_us_text = clock[1] .. string.format('%06d', tonumber(clock[2]))

local function load_state(user)
  local raw = redis.call('HGET', users_key, user)
  if raw then
    return cjson.decode(raw)
  end
  return nil
end

-- Write a user's state back; a user with no device left is gone.
local function store_state(user, state)
  if next(state.v) == nil then
    redis.call('HDEL', users_key, user)
    redis.call('HDEL', profiles_key, user)
  else
    redis.call('HSET', users_key, user, cjson.encode(state))
  end
end

-- Drop every device whose expiry has passed; returns true when something changed.
local function prune()
  local expired = redis.call('ZRANGEBYSCORE', devices_key, '-inf', now)
  if #expired == 0 then
    return false
  end
  local touched = {}
  for _, member in ipairs(expired) do
    local pair = cjson.decode(member)
    local state = touched[pair[1]] or load_state(pair[1])
    if state then
      state.v[pair[2]] = nil
      touched[pair[1]] = state
    end
  end
  redis.call('ZREMRANGEBYSCORE', devices_key, '-inf', now)
  for user, state in pairs(touched) do
    store_state(user, state)
  end
  return true
end

-- Let the whole session vanish when its last device expires, even if nobody calls again.
local function refresh_expiry()
  local top = redis.call('ZRANGE', devices_key, -1, -1, 'WITHSCORES')
  if #top == 0 then
    redis.call('DEL', devices_key, users_key, profiles_key)
    return
  end
  local at = string.format('%.0f', tonumber(top[2]))
  redis.call('PEXPIREAT', devices_key, at)
  redis.call('PEXPIREAT', users_key, at)
  redis.call('PEXPIREAT', profiles_key, at)
end

-- Counts come from HLEN and ZCARD: O(1), whatever the size of the session.
local function snapshot()
  return {
    now,
    redis.call('HLEN', users_key),
    redis.call('ZCARD', devices_key),
    redis.call('HGETALL', users_key),
    redis.call('HGETALL', profiles_key),
  }
end
